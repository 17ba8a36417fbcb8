//! A recording session: private instance, events, BPF counters, per-CPU readers, the
//! traced command, and the trace.dat written at the end.
//!
//! Spools and the file being written live in a [`PrivateDir`] beside the output; the
//! finished file is renamed over it (see [`crate::private_files`]).
//!
//! - [`child`]: the traced command, held at a start gate until tracing is on.
//! - [`flight`]: a function_graph flight recorder, snapshot on demand.
//! - [`graph_gate`]: function_graph recorded only while FUNC runs, where an instance
//!   cannot filter the graph itself.
//! - [`meta`]: what the file stores besides the pages (formats, symbols, cmdlines).
//! - [`summary`]: the end-of-record summary.

pub mod child;
pub mod flight;
pub mod graph_gate;
pub mod meta;
pub mod summary;

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use thiserror::Error;

pub use crate::session::StopReason;
use crate::{
    bpf::{
        hit_counter::HitCounter,
        latency::{AggregatorError, LatencyAggregator, Scope},
    },
    capture::{CaptureError, CpuCapture, CpuProgress, SpoolFile, progress},
    decode::PageLayout,
    graph::select::GraphSelection,
    hist::{
        Snapshot, Spec,
        codec::{self, StoredSnapshot},
    },
    private_files::{OutputFile, PrivateDir, PrivateFileError},
    session::{EndSignals, wait_for_end},
    store::{self, StoreError},
    tracefs::{
        EventId, Instance, Tracefs, TracefsError,
        probes::{ProbeError, ProbeSpec, SessionProbes},
        resolve_events,
    },
};
use child::{ChildError, GatedChild};
use summary::{CpuSummary, EventSummary, HistSummary, RecordSummary};

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
    Child(#[from] ChildError),
    #[error(transparent)]
    PrivateFile(#[from] PrivateFileError),
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
    #[error("cannot create {path}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the {spec} histogram")]
    Histogram {
        spec: String,
        #[source]
        source: Box<AggregatorError>,
    },
    #[error("cannot install a handler for {0}")]
    Signal(&'static str, #[source] std::io::Error),
    #[error("cannot wait for the command")]
    Wait(#[source] std::io::Error),
}

/// Records as `options` says and writes the file; returns the summary.
pub async fn record(options: &RecordOptions) -> Result<(RecordSummary, StopReason), RecordError> {
    // Signals first: from here on Ctrl-C, SIGTERM and SIGHUP end the session through the
    // normal path, which removes the instance.
    let mut signals = EndSignals::install().map_err(|(name, e)| RecordError::Signal(name, e))?;

    // Before anything is set up: a bad -o fails at once, not after the recording.
    options.output.check()?;
    let work = PrivateDir::beside(&options.output)?;
    let tracefs = Tracefs::open()?;
    let mut events = resolve_all(&tracefs, &options.events)?;
    // Created before the instance so they are removed after it (an enabled event
    // cannot be deleted).
    let probes = SessionProbes::create(&tracefs, &options.probes)?;
    events.extend(probes.events().into_iter().map(|id| (id, None)));
    let instance = Instance::create(&tracefs, &format!("hytrace-{}", std::process::id()))?;
    let graph_selection = configure(&instance, options, &events)?;

    let mut command = if options.command.is_empty() {
        None
    } else {
        Some(GatedChild::spawn(&options.command)?)
    };
    let mut pids = options.pids.clone();
    if options.only_command
        && let Some(child) = &command
    {
        pids.push(child.pid);
    }
    if !pids.is_empty() {
        instance.set_event_pids(&pids)?;
    }
    if graph_selection
        .as_ref()
        .is_some_and(|s| !s.roots.is_empty())
    {
        // The kernel cannot pick graph roots in this instance: record everything the
        // command (and its children) or the -P processes call, and pick when reading.
        let mut traced = options.pids.clone();
        if let Some(child) = &command {
            traced.push(child.pid);
        }
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
    }

    let counters: Vec<HitCounter> = if options.bpf {
        events
            .iter()
            .map(|(id, _)| HitCounter::attach(&id.to_string(), &id.name))
            .collect()
    } else {
        Vec::new()
    };

    // Histograms are scoped like `hytrace hist`: the command's process, else one -P
    // process, else every process.
    let hist_tgid = match (&command, options.pids.as_slice()) {
        (Some(child), _) => child.pid,
        (None, [pid]) => *pid,
        _ => 0,
    };
    let mut aggregators = Vec::new();
    for spec in &options.hists {
        let aggregator = LatencyAggregator::start(
            spec,
            &Scope {
                tgid: hist_tgid,
                comm: None,
            },
        )
        .map_err(|source| RecordError::Histogram {
            spec: spec.to_string(),
            source: Box::new(source),
        })?;
        if let Some(note) = &aggregator.note {
            eprintln!("hytrace: {spec}: {note}");
        }
        aggregators.push(aggregator);
    }

    let cpus = tracefs.online_cpus()?;
    let page_size = page_size();
    let layout = PageLayout::LP64;
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    let mut progress_counters = Vec::new();
    for &cpu in &cpus {
        let counter = Arc::new(CpuProgress::default());
        progress_counters.push(counter.clone());
        readers.push(CpuCapture::start(
            cpu,
            &instance.trace_pipe_raw_path(cpu),
            create_spool(&work, cpu)?,
            page_size,
            layout,
            stop.clone(),
            counter,
        )?);
    }

    instance.set_tracing_on(true)?;
    let started = Instant::now();
    if let Some(child) = command.as_mut() {
        child.release()?;
    }

    let mut last = (started, 0u64);
    let reason = wait_for_end(
        command.as_mut(),
        options.duration,
        &mut signals,
        options.progress.then_some(Duration::from_secs(1)),
        || {
            let totals = progress::ProgressTotals::of(progress_counters.iter().map(|c| &**c));
            let now = Instant::now();
            let elapsed = now.duration_since(last.0).as_secs_f64().max(1e-3);
            let rate = ((totals.records - last.1) as f64 / elapsed) as u64;
            last = (now, totals.records);
            eprint!("\r\x1b[K{}", progress::progress_line(totals, rate));
        },
    )
    .await
    .map_err(RecordError::Wait)?;
    instance.set_tracing_on(false)?;
    let seconds = started.elapsed().as_secs_f64();
    if options.progress {
        eprint!("\r\x1b[K");
    }

    let mut stats = Vec::new();
    for &cpu in &cpus {
        stats.push(instance.per_cpu_stats(cpu)?);
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let mut captured = Vec::new();
    for reader in readers {
        captured.push(reader.join()?);
    }
    let bpf_totals: Vec<Result<u64, String>> = counters
        .iter()
        .map(|c| c.total().map_err(short_reason))
        .collect();
    drop(counters);
    let mut histograms = Vec::new();
    for aggregator in &aggregators {
        let snapshot = Snapshot {
            spec: aggregator.spec.to_string(),
            time_ns: (seconds * 1e9) as u64,
            keys: aggregator
                .histograms()
                .map_err(|source| RecordError::Histogram {
                    spec: aggregator.spec.to_string(),
                    source: Box::new(source),
                })?,
            lost: aggregator.lost().map_err(|source| RecordError::Histogram {
                spec: aggregator.spec.to_string(),
                source: Box::new(source),
            })?,
        };
        histograms.push(StoredSnapshot {
            snapshot,
            tgid: if aggregator.spec.per_thread() {
                hist_tgid
            } else {
                0
            },
        });
    }
    drop(aggregators);

    let mut meta = meta::gather(
        &tracefs,
        &events,
        &options.clock,
        &cpus,
        &stats,
        command.as_ref(),
        page_size as u32,
    )?;
    if let Some(selection) = &graph_selection {
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
    let file_bytes = write_file(&work, OUTPUT_NAME, &meta, &captured)?;
    publish(work, OUTPUT_NAME, &options.output)?;
    // Type ids while the session's probe events still exist.
    let type_ids: Vec<Option<u16>> = events
        .iter()
        .map(|(id, _)| tracefs.event_id(id).ok())
        .collect();
    instance.remove()?;
    drop(probes);

    let mut by_type: Vec<u64> = Vec::new();
    for cpu in &captured {
        if cpu.records_by_type.len() > by_type.len() {
            by_type.resize(cpu.records_by_type.len(), 0);
        }
        for (id, n) in cpu.records_by_type.iter().enumerate() {
            by_type[id] += n;
        }
    }
    let mut event_summaries = Vec::new();
    for (index, (id, _)) in events.iter().enumerate() {
        let recorded = type_ids[index]
            .and_then(|type_id| by_type.get(usize::from(type_id)).copied())
            .unwrap_or(0);
        let bpf_hits = bpf_totals
            .get(index)
            .cloned()
            .unwrap_or_else(|| Err("--no-bpf".to_string()));
        event_summaries.push(EventSummary {
            name: id.to_string(),
            recorded,
            bpf_hits,
        });
    }
    let cpus_summary = captured
        .iter()
        .zip(&stats)
        .map(|(c, s)| CpuSummary {
            cpu: c.cpu,
            records: c.records,
            data_bytes: c.data_bytes,
            missed_in_pages: c.missed_events,
            pages_with_unknown_loss: c.pages_with_unknown_loss,
            overrun: s.overrun,
            dropped: s.dropped_events,
        })
        .collect();
    Ok((
        RecordSummary {
            output: options.output.path.clone(),
            seconds,
            file_bytes,
            cpus: cpus_summary,
            events: event_summaries,
            histograms: histograms
                .iter()
                .map(|h| HistSummary {
                    spec: h.snapshot.spec.clone(),
                    samples: h.snapshot.keys.iter().map(|k| k.count).sum(),
                    keys: h.snapshot.keys.len(),
                    lost: h.snapshot.lost.iter().map(|(_, n)| n).sum(),
                })
                .collect(),
        },
        reason,
    ))
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
fn configure(
    instance: &Instance,
    options: &RecordOptions,
    events: &[(EventId, Option<String>)],
) -> Result<Option<GraphSelection>, RecordError> {
    instance.set_tracing_on(false)?;
    instance.set_buffer_size_kb(options.buffer_kb)?;
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
    for (id, filter) in events {
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

fn short_reason(error: &crate::bpf::hit_counter::HitCounterError) -> String {
    use crate::bpf::hit_counter::HitCounterError;
    match error {
        HitCounterError::Attach { .. } => "not a raw tracepoint".to_string(),
        other => other.to_string(),
    }
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
    let file = work.create(name)?;
    let mut sources: Vec<(u32, Box<dyn std::io::Read>, u64)> = Vec::new();
    for cpu in captured {
        let spool = work.open(&spool_name(cpu.cpu))?;
        let len = spool.metadata().map(|m| m.len()).unwrap_or(0);
        sources.push((cpu.cpu, Box::new(std::io::BufReader::new(spool)), len));
    }
    let path = work.path_of(name);
    let mut writer = std::io::BufWriter::new(file);
    store::write_trace_file(&mut writer, meta, &mut sources).map_err(|source| {
        RecordError::Store {
            path: path.clone(),
            source,
        }
    })?;
    let file = writer.into_inner().map_err(|e| RecordError::Output {
        path: path.clone(),
        source: e.into_error(),
    })?;
    file.sync_all()
        .map_err(|source| RecordError::Output { path, source })?;
    Ok(file.metadata().map(|m| m.len()).unwrap_or(0))
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
