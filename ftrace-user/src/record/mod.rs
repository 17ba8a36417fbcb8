//! A recording session: private instance, events, BPF counters, per-CPU readers, the
//! traced command, and the trace.dat written at the end.
//!
//! Spools and the file being written live in a [`PrivateDir`] beside the output; the
//! finished file is renamed over it (see [`crate::private_files`]).
//!
//! - [`audit`]: the recording checked against the kernel's hit counts.
//! - [`flight`]: a function_graph flight recorder, snapshot on demand.
//! - [`graph_gate`]: function_graph recorded only while FUNC runs, where an instance
//!   cannot filter the graph itself.
//! - [`hit_counts`]: the kernel hit counters, counting what the instance could record.
//! - [`meta`]: what the file stores besides the pages (formats, symbols, cmdlines).
//! - [`recovery`]: the metadata written first, so a killed recording can be recovered
//!   (`hytrace recover`).
//! - [`summary`]: the end-of-record summary.

pub mod audit;
pub mod flight;
pub mod graph_gate;
mod hit_counts;
pub mod meta;
pub mod recovery;
pub mod session_notes;
pub mod space;
pub mod summary;

use std::{
    collections::BTreeSet,
    io::Seek,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use thiserror::Error;

pub use crate::session::StopReason;
use crate::{
    bpf::{
        latency::{AggregatorError, LatencyAggregator, Scope, StartError, start_all},
        user_stacks::{UserStackCapture, UserStackError},
    },
    capture::{
        CaptureError, CpuCapture, CpuProgress, SpoolFile, StopSignal, WATERMARK_PERCENT, progress,
    },
    decode::PageLayout,
    graph::select::GraphSelection,
    hist::{
        Spec,
        codec::{self, StoredSnapshot},
    },
    notes,
    private_files::{OutputFile, PrivateDir, PrivateFileError},
    session::{Session, SessionError},
    stacks::{
        build_ids::BuildIdCache,
        codec as stack_codec,
        gather::{Gatherer, candidate_files},
    },
    store::{self, StoreError},
    tracefs::{
        EventId, Instance, Tracefs, TracefsError,
        dynamic_events::{ProbeError, ProbeSpec, SessionProbes},
        resolve_events,
    },
};
use summary::RecordSummary;

/// The instance's tracer and its settings.
#[derive(Debug, Clone)]
pub struct TracerOptions {
    pub name: String,
    pub graph_functions: Vec<String>,
    pub limit_functions: Vec<String>,
    pub notrace_functions: Vec<String>,
    pub max_graph_depth: Option<u32>,
    /// Instance options to set (true) or clear (false).
    pub options: Vec<(String, bool)>,
}

impl TracerOptions {
    /// function_graph of what `functions` call, with nothing else set.
    pub fn function_graph(functions: &[String]) -> TracerOptions {
        TracerOptions {
            name: "function_graph".into(),
            graph_functions: functions.to_vec(),
            limit_functions: Vec::new(),
            notrace_functions: Vec::new(),
            max_graph_depth: None,
            options: Vec::new(),
        }
    }
}

/// What to record, as the command line asked.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    pub output: OutputFile,
    /// Event specs, each with the filter that followed it.
    pub events: Vec<(String, Option<String>)>,
    pub pids: Vec<u32>,
    pub only_command: bool,
    pub children: bool,
    /// A kernel_stack record after every event (the instance's stacktrace option).
    pub kernel_stacks: bool,
    /// The user stack at every hit of the recorded tracepoints, by eBPF, stored in the
    /// file; objects are kept in this build-id cache (None: not kept).
    pub user_stacks: Option<UserStackOptions>,
    pub cpumask: Option<String>,
    pub buffer_kb: u64,
    pub clock: String,
    pub duration: Option<Duration>,
    pub bpf: bool,
    /// Dynamic probes to create for the session and record.
    pub probes: Vec<ProbeSpec>,
    /// A tracer (function_graph, function) besides the events.
    pub tracer: Option<TracerOptions>,
    /// Latency histograms aggregated in eBPF beside the capture.
    pub hists: Vec<Spec>,
    pub command: Vec<String>,
    /// Print a progress line on stderr every second.
    pub progress: bool,
    /// The command's writes to `<tracefs>/trace_marker` and `tracing_on` go into the
    /// instance (a private mount namespace; see `session::private_markers`).
    pub markers_into_instance: bool,
    /// The instance records each task's process id (`record-tgid`), so the file's saved
    /// tgids group threads into processes.
    pub record_tgids: bool,
}

/// How user stacks are captured.
#[derive(Debug, Clone)]
pub struct UserStackOptions {
    /// Where each object a stack points into is kept (None: nowhere).
    pub build_id_cache: Option<BuildIdCache>,
    /// Capture at these events only (`SYSTEM:EVENT`; None: at every recorded event).
    pub only_events: Option<Vec<String>>,
}

#[derive(Debug, Error)]
pub enum RecordError {
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    PrivateFile(#[from] PrivateFileError),
    #[error(transparent)]
    Recovery(#[from] Box<recovery::RecoveryError>),
    #[error("{error}; the recording stays in {kept}")]
    Kept {
        kept: PathBuf,
        #[source]
        error: PrivateFileError,
    },
    #[error("cannot write {path}")]
    Store {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error("cannot write {path}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set aside {megabytes:.1} MB for the file's header in {dir}")]
    Reserve {
        dir: PathBuf,
        megabytes: f64,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    HistogramStart(#[from] StartError),
    #[error(transparent)]
    UserStacks(#[from] UserStackError),
    #[error("cannot read the {spec} histogram")]
    Histogram {
        spec: String,
        #[source]
        source: Box<AggregatorError>,
    },
    #[error(
        "interrupted by {signal} while setting up: what was set up is removed, the command \
         was not started, nothing was recorded"
    )]
    Interrupted { signal: &'static str },
}

/// Stops set-up when an end signal came meanwhile.
fn check_interrupted(session: &mut Session) -> Result<(), RecordError> {
    match session.interrupted() {
        Some(signal) => Err(RecordError::Interrupted { signal }),
        None => Ok(()),
    }
}

/// During set-up, the end signals are looked for after every this many events.
const SIGNAL_CHECK_EVENTS: usize = 64;

/// Records as `options` says and writes the file; returns the summary.
///
/// The phases: [`plan`] (the output, the events, the probes: everything that can be
/// refused before anything runs), [`start`] (the instance, the eBPF programs, the
/// readers, tracing on, the command released), the wait, and [`finish`] (readers
/// joined, the file written and put in place, the summary).
pub async fn record(options: &RecordOptions) -> Result<(RecordSummary, StopReason), RecordError> {
    // First: from here on Ctrl-C, SIGTERM and SIGHUP end the session through the normal
    // path, which removes the instance.
    let mut session = Session::prepare(&options.command, options.duration)?;
    let plan = plan(options)?;
    // Tells `hytrace reset` where to look if this process is killed.
    let _note = session_notes::SessionNote::leave(plan.work.path(), &options.output.path);
    let mut running = start(options, &plan, &mut session)?;
    let reason = wait(options, &mut session, &mut running).await?;
    let summary = finish(options, plan, running, &session)?;
    Ok((summary, reason))
}

/// What a session records, settled before anything is switched on.
struct Plan {
    /// Private directory beside the output: spools and the file being written.
    work: PrivateDir,
    tracefs: Tracefs,
    events: Vec<(EventId, Option<String>)>,
    /// Dynamic probes of the session (removed after the instance: an enabled event
    /// cannot be deleted).
    probes: SessionProbes,
}

/// Checks the output, resolves the events and creates the session's probes.
fn plan(options: &RecordOptions) -> Result<Plan, RecordError> {
    // A bad -o fails at once, not after the recording.
    options.output.check()?;
    let work = PrivateDir::beside(&options.output)?;
    let tracefs = Tracefs::open()?;
    let mut events = resolve_all(&tracefs, &options.events)?;
    let probes = SessionProbes::create(&tracefs, &options.probes)?;
    events.extend(probes.events().into_iter().map(|id| (id, None)));
    Ok(Plan {
        work,
        tracefs,
        events,
        probes,
    })
}

/// What runs while the session records.
struct Running {
    instance: Instance,
    graph_selection: Option<GraphSelection>,
    counters: hit_counts::HitCounts,
    user_stacks: Option<UserStackCapture>,
    aggregators: Vec<LatencyAggregator>,
    /// The process the per-thread histograms are limited to (0: every process).
    hist_tgid: u32,
    cpus: Vec<u32>,
    page_size: usize,
    readers: Vec<CpuCapture>,
    stop: Arc<StopSignal>,
    progress: Vec<Arc<CpuProgress>>,
    /// The recovery header, which becomes the finished file, with room reserved for
    /// the final header.
    output_file: std::fs::File,
}

/// Sets the instance up, loads the eBPF programs, starts the readers, then turns
/// tracing on and releases the command.
fn start(
    options: &RecordOptions,
    plan: &Plan,
    session: &mut Session,
) -> Result<Running, RecordError> {
    // Shown once set-up has taken half a second.
    let mut setup_progress = notes::StepProgress::new(options.progress);
    let instance = Instance::create(&plan.tracefs, &format!("hytrace-{}", std::process::id()))?;
    let graph_selection = configure(
        &instance,
        options,
        &plan.events,
        &mut setup_progress,
        &mut || check_interrupted(session),
    )?;
    let command_pid = session.command_pid();
    let mut pids = options.pids.clone();
    if options.only_command {
        pids.extend(command_pid);
    }
    if !pids.is_empty() {
        instance.set_event_pids(&pids)?;
    }
    if graph_selection
        .as_ref()
        .is_some_and(|s| !s.roots.is_empty())
    {
        follow_graph_processes(&instance, &options.pids, command_pid)?;
    }
    let counters = hit_counts::HitCounts::start(
        &plan.tracefs,
        options.bpf,
        &plan.events,
        &pids,
        options.cpumask.as_deref(),
        options.children,
        &mut setup_progress,
    )?;
    check_interrupted(session)?;
    // Histograms are scoped like `hytrace hist`: the command's process, else one -P
    // process, else every process.
    let hist_tgid = match (command_pid, options.pids.as_slice()) {
        (Some(pid), _) => pid,
        (None, [pid]) => *pid,
        _ => 0,
    };
    let aggregators = start_all(
        &options.hists,
        &Scope {
            tgid: hist_tgid,
            comm: None,
        },
    )?;
    // After the events are enabled: see stacks::join for why the order matters.
    let user_stacks = match &options.user_stacks {
        None => None,
        Some(stack_options) => {
            let mut tracepoints = Vec::new();
            let wanted = |id: &EventId| {
                stack_options
                    .only_events
                    .as_ref()
                    .is_none_or(|only| only.contains(&id.to_string()))
            };
            for (id, _) in plan.events.iter().filter(|(id, _)| wanted(id)) {
                tracepoints.push((
                    id.system.clone(),
                    id.name.clone(),
                    plan.tracefs.event_id(id)?,
                ));
            }
            // Limited like the instance where that is one process (-F, or one -P
            // without -c); stacks of other processes are left unjoined and counted.
            let tgid = match (options.only_command, command_pid, options.pids.as_slice()) {
                _ if options.children => 0,
                (true, Some(pid), []) => pid,
                (_, None, [pid]) => *pid,
                _ => 0,
            };
            let gatherer = Gatherer::new("/proc", stack_options.build_id_cache.clone())
                .with_candidates(candidate_files(&options.command));
            Some(UserStackCapture::start(&tracepoints, tgid, gatherer)?)
        }
    };

    let cpus = plan.tracefs.online_cpus()?;
    let page_size = page_size();
    // Before any page is read: what `hytrace recover` needs if this process is killed.
    let header = meta::gather(
        &plan.tracefs,
        &plan.events,
        &options.clock,
        &cpus,
        &[],
        session.command(),
        page_size as u32,
    )?;
    let header_len = recovery::write_meta(&plan.work, &header).map_err(Box::new)?;
    let output_file = reserve_output(&plan.work, header_len)?;
    let stop = Arc::new(StopSignal::new().map_err(CaptureError::StopSignal)?);
    let mut readers = Vec::new();
    let mut progress = Vec::new();
    for &cpu in &cpus {
        let counter = Arc::new(CpuProgress::default());
        progress.push(counter.clone());
        readers.push(CpuCapture::start(
            cpu,
            &instance.trace_pipe_raw_path(cpu),
            create_spool(&plan.work, cpu)?,
            page_size,
            PageLayout::LP64,
            stop.clone(),
            counter,
        )?);
    }
    // The last look before the command is released.
    check_interrupted(session)?;
    drop(setup_progress);
    let mut counters = counters;
    counters.turn_on(&instance)?;
    if options.markers_into_instance {
        session.redirect_markers(instance.dir());
    }
    session.start()?;
    Ok(Running {
        instance,
        graph_selection,
        counters,
        user_stacks,
        aggregators,
        hist_tgid,
        cpus,
        page_size,
        readers,
        stop,
        progress,
        output_file,
    })
}

/// Opens the recovery header, which the finished file will overwrite, with room for
/// the final header set aside beyond its end, so that pages filling the filesystem
/// still leave a file that reads.
fn reserve_output(work: &PrivateDir, header_len: u64) -> Result<std::fs::File, RecordError> {
    let file = work.open_rw(recovery::RECOVERY_META)?;
    let len = space::reservation(header_len);
    space::reserve(&file, len).map_err(|source| RecordError::Reserve {
        dir: work.path().to_path_buf(),
        megabytes: len as f64 / 1e6,
        source,
    })?;
    Ok(file)
}

/// Where the kernel cannot pick graph roots in the instance: records everything the
/// command (and its children) or the -P processes call, to pick when reading.
fn follow_graph_processes(
    instance: &Instance,
    pids: &[u32],
    command_pid: Option<u32>,
) -> Result<(), RecordError> {
    let mut traced = pids.to_vec();
    traced.extend(command_pid);
    if traced.is_empty() {
        return Err(TracefsError::Missing {
            what: "set_graph_function in tracefs instances".into(),
            detail: "-g then selects the trees when reading, which needs a process to \
                     follow: give a COMMAND or -P PID"
                .into(),
        }
        .into());
    }
    instance.set_ftrace_pids(&traced, true)?;
    Ok(())
}

/// How often the wait looks at the readers (a spool that could not be written ends
/// the session).
const READER_CHECK: Duration = Duration::from_millis(100);

/// Waits for the end, with a progress line every second if asked; turns tracing off.
/// A reader whose spool could not be written (the disk is full) ends the session
/// early: the pages already written are kept and finished into the file.
async fn wait(
    options: &RecordOptions,
    session: &mut Session,
    running: &mut Running,
) -> Result<StopReason, RecordError> {
    let mut last = (Instant::now(), 0u64);
    let reason = session
        .wait_until(Some(READER_CHECK), || {
            let now = Instant::now();
            if options.progress && now.duration_since(last.0) >= Duration::from_secs(1) {
                let totals = progress::ProgressTotals::of(running.progress.iter().map(|c| &**c));
                let elapsed = now.duration_since(last.0).as_secs_f64();
                let rate = ((totals.records - last.1) as f64 / elapsed) as u64;
                last = (now, totals.records);
                notes::progress(&progress::progress_line(totals, rate));
            }
            running
                .progress
                .iter()
                .any(|c| c.write_failed.load(std::sync::atomic::Ordering::Acquire))
        })
        .await?;
    running.counters.turn_off(&running.instance)?;
    running.instance.disable_events()?;
    if options.progress {
        notes::progress_done();
    }
    Ok(reason)
}

/// Joins the readers, reads the counters and histograms, writes the file, puts it in
/// place, removes the instance and the probes, and sums it all up.
fn finish(
    options: &RecordOptions,
    plan: Plan,
    running: Running,
    session: &Session,
) -> Result<RecordSummary, RecordError> {
    let seconds = session.elapsed().as_secs_f64();
    let mut stats = Vec::new();
    for &cpu in &running.cpus {
        stats.push(running.instance.per_cpu_stats(cpu)?);
    }
    running.stop.raise();
    let mut captured = Vec::new();
    for reader in running.readers {
        captured.push(reader.join()?);
    }
    let (kernel_hits, count_window) = running.counters.finish();
    let histograms = read_histograms(&running.aggregators, running.hist_tgid, seconds)?;
    drop(running.aggregators);
    let user_stacks = match running.user_stacks {
        Some(capture) => Some(summary::UserStackSummary::of(capture)?),
        None => None,
    };

    let mut meta = meta::gather(
        &plan.tracefs,
        &plan.events,
        &options.clock,
        &running.cpus,
        &stats,
        session.command(),
        running.page_size as u32,
    )?;
    if let Some(selection) = &running.graph_selection {
        meta.options.push(store::TraceOption::Hytrace {
            kind: store::hytrace_kind::GRAPH_SELECTION,
            data: selection.to_text().into_bytes(),
        });
    }
    if !histograms.is_empty() {
        meta.options.push(store::TraceOption::Hytrace {
            kind: store::hytrace_kind::BPF_HISTOGRAMS,
            data: codec::encode(&histograms),
        });
    }
    if let Some((stacks, _)) = &user_stacks {
        meta.options.push(store::TraceOption::Hytrace {
            kind: store::hytrace_kind::BPF_STACKS,
            data: stack_codec::encode(stacks),
        });
    }
    // Type ids while the session's probe events still exist.
    let type_ids: Vec<Option<u16>> = plan
        .events
        .iter()
        .map(|(id, _)| plan.tracefs.event_id(id).ok())
        .collect();
    let cpus = summary::cpu_summaries(&captured, &stats);
    let events = summary::event_summaries(
        &plan.events,
        &type_ids,
        &captured,
        kernel_hits,
        count_window.as_ref().is_some_and(|w| !w.system_wide),
    );
    if let Some(audit) = summary::stored_audit(&cpus, &events, count_window.as_ref()) {
        meta.options.push(store::TraceOption::Hytrace {
            kind: store::hytrace_kind::HIT_AUDIT,
            data: audit.to_text().into_bytes(),
        });
    }
    // The recovery header becomes the finished file: written over from the start,
    // then put in place.
    let file_bytes = write_file_into(
        running.output_file,
        &plan.work,
        recovery::RECOVERY_META,
        &meta,
        &captured,
    )?;
    publish(plan.work, recovery::RECOVERY_META, &options.output)?;
    running.instance.remove()?;
    drop(plan.probes);
    Ok(RecordSummary {
        output: options.output.path.clone(),
        seconds,
        file_bytes,
        cpus,
        events,
        count_window,
        histograms: summary::hist_summaries(&histograms),
        user_stacks: user_stacks.map(|(_, summary)| summary),
        buffer_kb: options.buffer_kb,
        write_errors: captured
            .iter()
            .filter_map(|c| Some((c.cpu, c.write_error.clone()?)))
            .collect(),
    })
}

/// Each aggregator's histograms and losses, as stored in the file.
fn read_histograms(
    aggregators: &[LatencyAggregator],
    hist_tgid: u32,
    seconds: f64,
) -> Result<Vec<StoredSnapshot>, RecordError> {
    aggregators
        .iter()
        .map(|aggregator| {
            let snapshot = aggregator
                .snapshot((seconds * 1e9) as u64)
                .map_err(|source| RecordError::Histogram {
                    spec: aggregator.spec.to_string(),
                    source: Box::new(source),
                })?;
            let tgid = if aggregator.spec.per_thread() {
                hist_tgid
            } else {
                0
            };
            Ok(StoredSnapshot { snapshot, tgid })
        })
        .collect()
}

/// The events of every -e, each once, with its filter.
fn resolve_all(
    tracefs: &Tracefs,
    specs: &[(String, Option<String>)],
) -> Result<Vec<(EventId, Option<String>)>, RecordError> {
    let mut seen = BTreeSet::new();
    let mut events = Vec::new();
    for (spec, filter) in specs {
        for id in resolve_events(tracefs, spec)? {
            if seen.insert(id.clone()) {
                events.push((id, filter.clone()));
            }
        }
    }
    Ok(events)
}

/// Sets the instance up; returns the graph selection the kernel could not apply.
/// Sets the instance up; `interrupted` is asked now and then whether to stop.
fn configure(
    instance: &Instance,
    options: &RecordOptions,
    events: &[(EventId, Option<String>)],
    progress: &mut notes::StepProgress,
    interrupted: &mut dyn FnMut() -> Result<(), RecordError>,
) -> Result<Option<GraphSelection>, RecordError> {
    instance.set_tracing_on(false)?;
    instance.set_buffer_size_kb(options.buffer_kb)?;
    // The readers wait in poll(2) until a CPU's buffer is this full (kernels without
    // the file wake readers on any data, which only costs wake-ups).
    if instance.has_file("buffer_percent") {
        instance.set_buffer_percent(WATERMARK_PERCENT)?;
    }
    instance.set_clock(&options.clock)?;
    if let Some(mask) = &options.cpumask {
        instance.set_cpumask(mask)?;
    }
    // Writes to the top-level trace_marker (QEMU's ftrace backend, scripts) are copied
    // into this instance where the kernel can.
    if instance.has_option("copy_trace_marker") {
        instance.set_option("copy_trace_marker", true)?;
    }
    if options.children {
        instance.set_event_fork(true)?;
    }
    if options.record_tgids && instance.has_option("record-tgid") {
        instance.set_option("record-tgid", true)?;
    }
    if options.kernel_stacks {
        if !instance.has_option("stacktrace") {
            return Err(TracefsError::Missing {
                what: "the stacktrace option in tracefs instances".into(),
                detail: "-T needs the kernel's stack trace after events (CONFIG_STACKTRACE)".into(),
            }
            .into());
        }
        instance.set_option("stacktrace", true)?;
    }
    for (n, (id, filter)) in events.iter().enumerate() {
        progress.step(|| format!("enabling {id}"), n + 1, events.len());
        if n % SIGNAL_CHECK_EVENTS == 0 {
            interrupted()?;
        }
        if let Some(filter) = filter {
            instance.set_filter(id, filter)?;
        }
        instance.enable_event(id).map_err(|e| match e {
            TracefsError::Write { source, .. } if id.system.starts_with("hytrace_") => {
                TracefsError::ProbeNotEnabled {
                    name: id.name.clone(),
                    reason: source.to_string(),
                }
            }
            other => other,
        })?;
    }
    match &options.tracer {
        Some(tracer) => configure_tracer(instance, tracer),
        None => Ok(None),
    }
}

/// Sets the instance's tracer after its filters, depth and options (tracing is still
/// off, so nothing is recorded before the start).
pub(crate) fn configure_tracer(
    instance: &Instance,
    tracer: &TracerOptions,
) -> Result<Option<GraphSelection>, RecordError> {
    let available = instance.available_tracers()?;
    if !available.contains(&tracer.name) {
        return Err(TracefsError::Missing {
            what: format!("{} tracer in tracefs instances", tracer.name),
            detail: format!(
                "an instance offers only: {}; the kernel was built without it or keeps it to \
                 the top level. Static events (-e), uprobes and `hytrace hist` work without \
                 it; `hytrace doctor` lists what this kernel has",
                available.join(" ")
            ),
        }
        .into());
    }
    // Instances of some kernels (6.12) have neither set_graph_function nor
    // max_graph_depth: those are then applied when reading.
    let mut selection = GraphSelection::default();
    if instance.has_file("set_graph_function") {
        instance.set_function_list("set_graph_function", &tracer.graph_functions)?;
    } else {
        selection.roots = tracer.graph_functions.clone();
    }
    instance.set_function_list("set_ftrace_filter", &tracer.limit_functions)?;
    instance.set_function_list("set_ftrace_notrace", &tracer.notrace_functions)?;
    if let Some(depth) = tracer.max_graph_depth {
        if instance.has_file("max_graph_depth") {
            instance.set_max_graph_depth(depth)?;
        } else {
            selection.max_depth = Some(depth);
        }
    }
    instance.set_tracer(&tracer.name).map_err(|e| match e {
        TracefsError::Write { source, .. } if source.raw_os_error() == Some(libc::EPERM) => {
            TracefsError::Missing {
                what: format!("usable {} tracer", tracer.name),
                detail: format!(
                    "it is listed, but setting it is refused: {source} (kernel lockdown or \
                     ftrace disabled); static events (-e), uprobes and `hytrace hist` work \
                     without it"
                ),
            }
        }
        other => other,
    })?;
    // Tracer options (funcgraph-*, func_stack_trace) exist once the tracer is set.
    for (name, on) in &tracer.options {
        if !instance.has_option(name) {
            return Err(TracefsError::Missing {
                what: format!("option {name}"),
                detail: format!(
                    "not in the instance's options with the {} tracer",
                    tracer.name
                ),
            }
            .into());
        }
        instance.set_option(name, *on)?;
    }
    Ok((!selection.roots.is_empty() || selection.max_depth.is_some()).then_some(selection))
}

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}

/// The name of the file being written in a session's private directory.
pub(crate) const OUTPUT_NAME: &str = "trace.dat";

/// The spool file of `cpu` in a session's private directory.
pub(crate) fn spool_name(cpu: u32) -> String {
    format!("cpu{cpu}.pages")
}

/// Creates the (new, private) spool file of `cpu` in `work`.
pub(crate) fn create_spool(work: &PrivateDir, cpu: u32) -> Result<SpoolFile, PrivateFileError> {
    let name = spool_name(cpu);
    Ok(SpoolFile {
        file: work.create(&name)?,
        path: work.path_of(&name),
    })
}

/// Writes the trace file `name` in `work` from the spools of `captured` (in `work`);
/// returns its size.
pub(crate) fn write_file(
    work: &PrivateDir,
    name: &str,
    meta: &store::TraceMeta,
    captured: &[crate::capture::CpuCaptureResult],
) -> Result<u64, RecordError> {
    write_file_into(work.create(name)?, work, name, meta, captured)
}

/// [`write_file`] into `file`, created as `name` in `work` (and perhaps larger than
/// the result: it is cut to what was written). Each spool is freed behind the copy.
fn write_file_into(
    file: std::fs::File,
    work: &PrivateDir,
    name: &str,
    meta: &store::TraceMeta,
    captured: &[crate::capture::CpuCaptureResult],
) -> Result<u64, RecordError> {
    let mut sources: Vec<(u32, space::FreeingSpool, u64)> = Vec::new();
    for cpu in captured {
        // Writable, so that what has been copied can be punched out of it.
        let spool = work.open_rw(&spool_name(cpu.cpu))?;
        let len = spool.metadata().map(|m| m.len()).unwrap_or(0);
        sources.push((cpu.cpu, space::FreeingSpool::new(spool, len), len));
    }
    let path = work.path_of(name);
    let io = |source| RecordError::Output {
        path: path.clone(),
        source,
    };
    // A buffer no larger than the window the spools keep behind the copy.
    let mut writer = std::io::BufWriter::with_capacity(space::COPY_WINDOW as usize, file);
    writer.rewind().map_err(io)?;
    store::write_trace_file(&mut writer, meta, &mut sources).map_err(|source| {
        RecordError::Store {
            path: path.clone(),
            source,
        }
    })?;
    let end = writer.stream_position().map_err(io)?;
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    // What the reservation set aside beyond the end is given back.
    file.set_len(end).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(end)
}

/// Renames the finished `name` of `work` over `output`; if that fails, the directory
/// and the finished file stay and the error says where.
pub(crate) fn publish(
    mut work: PrivateDir,
    name: &str,
    output: &OutputFile,
) -> Result<(), RecordError> {
    work.publish(name, output).map_err(|error| {
        work.keep();
        RecordError::Kept {
            kept: work.path_of(name),
            error,
        }
    })
}
