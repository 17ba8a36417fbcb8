//! `hytrace graph`: record the function_graph of chosen functions, print their call
//! trees (over a threshold) and where the time went.

use std::{io::Write, time::Duration};

use anyhow::{Context, Result, bail};

use ftrace_common::hist::Outlier;

use super::{args::GraphArgs, record::is_root};
use crate::{
    bpf::latency::{LatencyAggregator, Scope},
    graph::{
        self, GraphSymbols,
        render::render,
        trees::{FunctionTime, function_times, split_trees},
    },
    hist::{Snapshot, Spec, render, syscall_names::syscall_name},
    private_files::{OutputFile, PrivateDir},
    record::{RecordOptions, TracerOptions, child::GatedChild, flight::FlightRecorder, record},
    session::{EndSignals, StopReason, wait_for_end, wait_until},
    trace::Recording,
};

pub fn run(args: &GraphArgs) -> Result<i32> {
    if !is_root() {
        bail!("graph needs root: it creates a tracefs instance");
    }
    let duration = super::hist::seconds("--duration", args.duration)?;
    let threshold_ns = match args.threshold {
        Some(us) if !(us.is_finite() && us >= 0.0) => {
            bail!("--threshold must be a number of microseconds, not {us}")
        }
        Some(us) => Some((us * 1000.0) as u64),
        None => None,
    };
    if let Some(trigger) = &args.on_outlier {
        return on_outlier(args, trigger, duration);
    }
    // Without -o the recording lives in a private temporary directory, removed at the
    // end.
    let temporary = match &args.output {
        Some(_) => None,
        None => Some(PrivateDir::temporary("graph")?),
    };
    let output = match (&args.output, &temporary) {
        (Some(path), _) => args.output_file.at(path),
        (None, Some(dir)) => OutputFile::private(dir.path_of("graph.dat")),
        (None, None) => unreachable!("a temporary directory is made when -o is absent"),
    };
    let options = RecordOptions {
        output: output.clone(),
        events: Vec::new(),
        pids: args.pids.clone(),
        only_command: false,
        children: false,
        cpumask: None,
        buffer_kb: args.buffer_kb,
        clock: "mono".into(),
        duration,
        bpf: false,
        probes: Vec::new(),
        tracer: Some(TracerOptions::function_graph(&args.functions)),
        hists: Vec::new(),
        command: args.command.clone(),
        progress: false,
    };
    let runtime = super::runtime()?;
    let (summary, _) = runtime.block_on(record(&options))?;
    eprintln!(
        "hytrace: recorded {} function_graph events, {} lost",
        summary.total_records(),
        summary.total_lost()
    );
    print(args, &output.path, threshold_ns)
}

fn print(args: &GraphArgs, file: &std::path::Path, threshold_ns: Option<u64>) -> Result<i32> {
    let recording = Recording::open(file)?;
    let (symbols, events) = graph::load::load(&recording)?;
    let trees = split_trees(&events);
    let total = trees.len();
    let shown: Vec<_> = trees
        .into_iter()
        .filter(|t| threshold_ns.is_none_or(|limit| t.duration_ns.is_some_and(|d| d > limit)))
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(graph::HEADER.as_bytes())?;
    let events: Vec<_> = shown
        .iter()
        .flat_map(|t| t.events.iter().cloned())
        .collect();
    out.write_all(render(&events, recording.file.cpu_count.max(1), &symbols).as_bytes())?;
    let functions = args.functions.join(", ");
    match threshold_ns {
        Some(limit) => writeln!(
            out,
            "\n# {} of {total} calls of {functions} took over {:.3} us",
            shown.len(),
            limit as f64 / 1000.0
        )?,
        None => writeln!(out, "\n# {total} calls of {functions}")?,
    }
    write_function_times(&mut out, &function_times(&shown), args.top, &symbols)?;
    out.flush()?;
    Ok(0)
}

/// Where the time of the printed trees went: self and total time per function.
fn write_function_times(
    out: &mut impl Write,
    times: &[FunctionTime],
    top: usize,
    symbols: &dyn GraphSymbols,
) -> std::io::Result<()> {
    if times.is_empty() {
        return Ok(());
    }
    writeln!(out, "# where the time went (self time, top {top}):")?;
    writeln!(
        out,
        "# {:>12} {:>12} {:>8}  function",
        "self us", "total us", "calls"
    )?;
    for time in times.iter().take(top) {
        writeln!(
            out,
            "# {:>12.3} {:>12.3} {:>8}  {}",
            time.self_ns as f64 / 1000.0,
            time.total_ns as f64 / 1000.0,
            time.calls,
            symbols.function(time.func)
        )?;
    }
    Ok(())
}

/// `SPEC:USECS` → (spec, threshold in ns).
fn parse_trigger(text: &str) -> Result<(Spec, u64)> {
    let (spec, usecs) = text
        .rsplit_once(':')
        .context("--on-outlier takes SPEC:USECS, e.g. syscalls:5000")?;
    let usecs: f64 = usecs
        .parse()
        .ok()
        .filter(|u: &f64| u.is_finite() && *u > 0.0)
        .with_context(|| {
            format!("--on-outlier: '{usecs}' is not a positive number of microseconds")
        })?;
    Ok((spec.parse::<Spec>()?, (usecs * 1000.0) as u64))
}

fn on_outlier(args: &GraphArgs, trigger: &str, duration: Option<Duration>) -> Result<i32> {
    let (spec, threshold_ns) = parse_trigger(trigger)?;
    let runtime = super::runtime()?;
    runtime.block_on(wait_for_outlier(args, &spec, threshold_ns, duration))
}

async fn wait_for_outlier(
    args: &GraphArgs,
    spec: &Spec,
    threshold_ns: u64,
    duration: Option<Duration>,
) -> Result<i32> {
    // Snapshots are written in a private directory beside -o FILE (kept ones are renamed
    // into place), else in a temporary one.
    let snapshots = match &args.output {
        Some(path) => {
            let output = args.output_file.at(path);
            output.check()?;
            PrivateDir::beside(&output)?
        }
        None => PrivateDir::temporary("outlier")?,
    };
    let mut signals =
        EndSignals::install().map_err(|(name, e)| anyhow::anyhow!("cannot catch {name}: {e}"))?;
    let mut command = if args.command.is_empty() {
        None
    } else {
        Some(GatedChild::spawn(&args.command)?)
    };
    let mut pids = args.pids.clone();
    if let Some(child) = &command {
        pids.push(child.pid);
    }
    let tracer = TracerOptions::function_graph(&args.functions);
    let mut recorder = FlightRecorder::start(&tracer, &pids, args.buffer_kb)?;
    let scope = Scope {
        tgid: command
            .as_ref()
            .map(|c| c.pid)
            .or(args.pids.first().copied())
            .unwrap_or(0),
        comm: None,
    };
    let mut aggregator = LatencyAggregator::start_with_outliers(spec, &scope, threshold_ns)
        .with_context(|| format!("cannot start the {spec} histogram"))?;
    if let Some(note) = &aggregator.note {
        eprintln!("hytrace: {spec}: {note}");
    }
    eprintln!(
        "hytrace: waiting for a {spec} sample over {:.3} us; graphing {}",
        threshold_ns as f64 / 1000.0,
        args.functions.join(", ")
    );
    if let Some(child) = command.as_mut() {
        child.release()?;
    }
    // Every outlier while COMMAND runs; else the first, unless --count says.
    let limit = args
        .count
        .or(if command.is_none() { Some(1) } else { None });
    let result = watch(
        args,
        spec,
        threshold_ns,
        duration,
        &mut signals,
        command.as_mut(),
        &mut recorder,
        &mut aggregator,
        &snapshots,
        limit,
    )
    .await;
    recorder.stop()?;
    drop(aggregator);
    drop(snapshots);
    // The command goes on to its end.
    if let Some(child) = command.as_mut()
        && child.child.try_wait().ok().flatten().is_none()
    {
        let _ = wait_for_end(Some(child), None, &mut signals, None, || {}).await;
    }
    result
}

/// Waits for outliers; each one takes a snapshot of the flight recorder. Those whose
/// thread ran FUNC inside them are printed (up to `limit`); others are said and
/// skipped.
#[allow(clippy::too_many_arguments)]
async fn watch(
    args: &GraphArgs,
    spec: &Spec,
    threshold_ns: u64,
    duration: Option<Duration>,
    signals: &mut EndSignals,
    mut command: Option<&mut GatedChild>,
    recorder: &mut FlightRecorder,
    aggregator: &mut LatencyAggregator,
    snapshots: &PrivateDir,
    limit: Option<u64>,
) -> Result<i32> {
    const SNAPSHOT: &str = "snapshot.dat";
    let file = snapshots.path_of(SNAPSHOT);
    let deadline = duration.map(|d| std::time::Instant::now() + d);
    let mut printed = 0u64;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let mut seen: Vec<Outlier> = Vec::new();
        let mut poll_error = None;
        let reason = wait_until(
            command.as_deref_mut(),
            left,
            signals,
            Some(Duration::from_millis(20)),
            || match aggregator.outliers() {
                Ok(outliers) => {
                    seen = outliers;
                    !seen.is_empty()
                }
                Err(e) => {
                    poll_error.get_or_insert(e);
                    true
                }
            },
        )
        .await?;
        if let Some(error) = poll_error {
            return Err(error.into());
        }
        if reason != StopReason::Triggered {
            // A sample that ended just as the command did is still in the ring.
            seen = aggregator.outliers()?;
        }
        if !seen.is_empty() {
            recorder.snapshot(snapshots, SNAPSHOT)?;
            let snapshot = Snapshot {
                spec: spec.to_string(),
                time_ns: 0,
                keys: aggregator.histograms()?,
                lost: aggregator.lost()?,
            };
            for outlier in &seen {
                if !print_outlier(args, &file, spec, outlier, threshold_ns, &snapshot)? {
                    continue;
                }
                printed += 1;
                if let Some(output) = &args.output {
                    let kept = match printed {
                        1 => output.clone(),
                        n => {
                            let mut name = output.clone().into_os_string();
                            name.push(format!(".{n}"));
                            name.into()
                        }
                    };
                    keep_snapshot(snapshots, SNAPSHOT, &args.output_file.at(&kept))?;
                    eprintln!("hytrace: outlier {printed} recorded in {}", kept.display());
                }
                if limit.is_some_and(|limit| printed >= limit) {
                    return Ok(0);
                }
            }
        }
        if reason != StopReason::Triggered {
            if printed > 0 {
                return Ok(0);
            }
            eprintln!(
                "hytrace: no {spec} sample over the threshold had a call of {} inside it",
                args.functions.join(", ")
            );
            return Ok(1);
        }
    }
}

/// Copies the snapshot `name` to a new private file and renames that over `output`
/// (the snapshot stays for the other outliers it holds).
fn keep_snapshot(snapshots: &PrivateDir, name: &str, output: &OutputFile) -> Result<()> {
    const KEPT: &str = "kept.dat";
    snapshots.remove(KEPT)?;
    let mut copy = snapshots.create(KEPT)?;
    std::io::copy(&mut snapshots.open(name)?, &mut copy)
        .and_then(|_| copy.sync_all())
        .with_context(|| format!("cannot write {}", snapshots.path_of(KEPT).display()))?;
    snapshots.publish(KEPT, output)?;
    Ok(())
}

/// Prints `outlier` with FUNC's tree of its thread within the sample, the self times
/// and the histogram; false (and a line on stderr) when no FUNC call of that thread
/// lies within the sample.
fn print_outlier(
    args: &GraphArgs,
    file: &std::path::Path,
    spec: &Spec,
    outlier: &Outlier,
    threshold_ns: u64,
    snapshot: &Snapshot,
) -> Result<bool> {
    let recording = Recording::open(file)?;
    // A gated recorder holds nothing until FUNC has run.
    let (symbols, events) = graph::load::load_or_empty(&recording)?;
    let tid = (outlier.pid_tgid & 0xffff_ffff) as i32;
    let key = snapshot
        .keys
        .iter()
        .find(|k| outlier_key_matches(spec, outlier.key, &k.key))
        .map(|k| k.key.clone())
        .unwrap_or_else(|| outlier.key.to_string());
    // FUNC's tree of that thread within the sample (both sides read the monotonic
    // clock): the one overlapping it most, by at least half its length. (A record
    // reserved while an interrupt wrote one can carry the previous record's time, so
    // a call right at the start of the sample may seem to begin a little before it.)
    let (span_start, span_end) = (
        outlier.end_ns.saturating_sub(outlier.delta_ns),
        outlier.end_ns,
    );
    let tree = split_trees(&events)
        .into_iter()
        .filter(|t| {
            matches!(t.events.first(), Some(graph::GraphEvent::Entry { pid, .. }) if *pid == tid)
        })
        .filter_map(|t| {
            let end = t.end_ts?;
            let overlap = end.min(span_end).checked_sub(t.start_ts.max(span_start))?;
            (overlap > 0 && overlap * 2 >= end.saturating_sub(t.start_ts)).then_some((overlap, t))
        })
        .max_by_key(|(overlap, _)| *overlap)
        .map(|(_, tree)| tree);
    let Some(tree) = tree else {
        eprintln!(
            "hytrace: {spec} {key} took {:.3} us (tid {tid}) without calling {}; waiting for \
             the next outlier",
            outlier.delta_ns as f64 / 1000.0,
            args.functions.join(", ")
        );
        return Ok(false);
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "# outlier: {spec} {key} took {:.3} us (tid {tid}; threshold {:.3} us)",
        outlier.delta_ns as f64 / 1000.0,
        threshold_ns as f64 / 1000.0
    )?;
    out.write_all(graph::HEADER.as_bytes())?;
    out.write_all(render(&tree.events, recording.file.cpu_count.max(1), &symbols).as_bytes())?;
    write_function_times(&mut out, &function_times([&tree]), args.top, &symbols)?;
    writeln!(out, "# {spec} so far:")?;
    write!(out, "{}", render::table(snapshot, 5))?;
    out.flush()?;
    Ok(true)
}

/// Whether histogram key `name` is the outlier's raw key (syscall names for syscalls).
fn outlier_key_matches(spec: &Spec, raw: u64, name: &str) -> bool {
    match spec {
        Spec::Syscalls { by_comm: false } => name == syscall_name(raw),
        _ => name == raw.to_string() || name.starts_with(&format!("{raw} ")),
    }
}
