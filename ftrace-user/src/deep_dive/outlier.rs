//! The outlier trigger (`graph --on-outlier SPEC:USECS`): an eBPF aggregator on SPEC
//! sends every sample over USECS through a ring buffer while a flight recorder keeps
//! FUNC's recent function_graph; each outlier takes a snapshot, and FUNC's call tree of
//! the outlier's thread within the sample is found in it.

use std::{path::PathBuf, str::FromStr, time::Duration};

use ftrace_common::hist::Outlier;
use thiserror::Error;

use super::DeepDiveError;
use crate::{
    bpf::latency::{AggregatorError, LatencyAggregator, Scope},
    graph::{
        GraphEvent,
        events::KallsymsGraphSymbols,
        load,
        trees::{CallTree, split_trees},
    },
    hist::{Snapshot, Spec, SpecError, syscall_names::syscall_name},
    notes,
    private_files::{OutputFile, PrivateDir, PrivateFileError},
    record::{RecordError, TracerOptions, flight::FlightRecorder},
    session::{Session, SessionError, StopReason},
    store::{
        TraceOption, hytrace_kind,
        outlier_samples::{self, OutlierSample},
    },
    trace::Recording,
};

/// How often the aggregator's outlier ring is polled.
const POLL: Duration = Duration::from_millis(20);
/// The snapshot file in the private directory.
const SNAPSHOT: &str = "snapshot.dat";
/// A kept snapshot's copy before it is renamed into place.
const KEPT: &str = "kept.dat";

#[derive(Debug, Error)]
pub enum OutlierError {
    #[error("--on-outlier takes SPEC:USECS, e.g. syscalls:5000")]
    TriggerForm,
    #[error("--on-outlier: '{usecs}' is not a positive number of microseconds")]
    TriggerMicros { usecs: String },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    PrivateFile(#[from] PrivateFileError),
    #[error(transparent)]
    DeepDive(#[from] DeepDiveError),
    #[error("the {spec} histogram failed")]
    Aggregator {
        spec: String,
        #[source]
        source: Box<AggregatorError>,
    },
    #[error("cannot copy the snapshot to {path}")]
    Keep {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot print the outlier")]
    Print(#[source] std::io::Error),
}

/// `SPEC:USECS`: the histogram to watch and its threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub spec: Spec,
    pub threshold_ns: u64,
}

impl FromStr for Trigger {
    type Err = OutlierError;

    fn from_str(text: &str) -> Result<Trigger, OutlierError> {
        let (spec, usecs) = text.rsplit_once(':').ok_or(OutlierError::TriggerForm)?;
        let usecs: f64 = usecs
            .parse()
            .ok()
            .filter(|u: &f64| u.is_finite() && *u > 0.0)
            .ok_or_else(|| OutlierError::TriggerMicros {
                usecs: usecs.to_string(),
            })?;
        Ok(Trigger {
            spec: spec.parse()?,
            threshold_ns: (usecs * 1000.0) as u64,
        })
    }
}

/// What to watch, what to graph, and what to keep.
#[derive(Debug, Clone)]
pub struct OutlierOptions {
    pub trigger: Trigger,
    /// FUNC: the functions whose trees are graphed.
    pub functions: Vec<String>,
    pub pids: Vec<u32>,
    pub buffer_kb: u64,
    pub duration: Option<Duration>,
    pub command: Vec<String>,
    /// Stop after this many outliers with a tree (None: every one while COMMAND runs;
    /// without COMMAND the first).
    pub count: Option<u64>,
    /// Keep each printed outlier's snapshot: FILE, then FILE.2, FILE.3, …
    pub output: Option<OutputFile>,
}

/// An outlier whose thread ran FUNC within the sample.
pub struct FoundOutlier<'a> {
    pub spec: &'a Spec,
    /// The histogram key's name (the syscall's, for syscalls).
    pub key: String,
    pub delta_ns: u64,
    pub tid: i32,
    pub threshold_ns: u64,
    /// FUNC's call tree of that thread within the sample.
    pub tree: &'a CallTree,
    pub symbols: &'a KallsymsGraphSymbols<'a>,
    pub cpus: u32,
    /// The histogram so far.
    pub histogram: &'a Snapshot,
}

/// Waits for outliers until the session ends or `count` of them were found; hands
/// each one with a FUNC tree to `on_found` (samples without one are said as notes and
/// skipped). Returns how many were found.
pub async fn watch(
    options: &OutlierOptions,
    mut on_found: impl FnMut(&FoundOutlier<'_>) -> std::io::Result<()>,
) -> Result<u64, OutlierError> {
    // Snapshots are written in a private directory beside -o FILE (kept ones are
    // renamed into place), else in a temporary one.
    let snapshots = match &options.output {
        Some(output) => {
            output.check()?;
            PrivateDir::beside(output)?
        }
        None => PrivateDir::temporary("outlier")?,
    };
    let mut session = Session::prepare(&options.command, options.duration)?;
    let mut pids = options.pids.clone();
    pids.extend(session.command_pid());
    let tracer = TracerOptions::function_graph(&options.functions);
    let mut recorder = FlightRecorder::start(&tracer, &pids, options.buffer_kb)?;
    let spec = &options.trigger.spec;
    let aggregator_error = |source| OutlierError::Aggregator {
        spec: spec.to_string(),
        source: Box::new(source),
    };
    let scope = Scope {
        tgid: session
            .command_pid()
            .or(options.pids.first().copied())
            .unwrap_or(0),
        comm: None,
    };
    let mut aggregator =
        LatencyAggregator::start_with_outliers(spec, &scope, options.trigger.threshold_ns)
            .map_err(aggregator_error)?;
    if let Some(note) = &aggregator.note {
        notes::note(format!("{spec}: {note}"));
    }
    notes::note(format!(
        "waiting for a {spec} sample over {:.3} us; graphing {}",
        options.trigger.threshold_ns as f64 / 1000.0,
        options.functions.join(", ")
    ));
    // Every outlier while COMMAND runs; else the first, unless --count says.
    let limit = options.count.or(if options.command.is_empty() {
        Some(1)
    } else {
        None
    });
    session.start()?;
    let mut watcher = Watcher {
        options,
        snapshots: &snapshots,
        recorder: &mut recorder,
        aggregator: &mut aggregator,
        limit,
        found: 0,
    };
    let result = watcher.run(&mut session, &mut on_found).await;
    recorder.stop()?;
    drop(aggregator);
    drop(snapshots);
    // The command goes on to its end.
    session.let_command_finish().await;
    result
}

/// The watch loop's state.
struct Watcher<'a> {
    options: &'a OutlierOptions,
    snapshots: &'a PrivateDir,
    recorder: &'a mut FlightRecorder,
    aggregator: &'a mut LatencyAggregator,
    limit: Option<u64>,
    found: u64,
}

impl Watcher<'_> {
    async fn run(
        &mut self,
        session: &mut Session,
        on_found: &mut impl FnMut(&FoundOutlier<'_>) -> std::io::Result<()>,
    ) -> Result<u64, OutlierError> {
        loop {
            let mut seen: Vec<Outlier> = Vec::new();
            let mut poll_error = None;
            let aggregator = &mut *self.aggregator;
            let reason = session
                .wait_until(Some(POLL), || match aggregator.outliers() {
                    Ok(outliers) => {
                        seen = outliers;
                        !seen.is_empty()
                    }
                    Err(e) => {
                        poll_error.get_or_insert(e);
                        true
                    }
                })
                .await?;
            if let Some(error) = poll_error {
                return Err(self.aggregator_error(error));
            }
            if reason != StopReason::Triggered {
                // A sample that ended just as the command did is still in the ring.
                seen = self
                    .aggregator
                    .outliers()
                    .map_err(|e| self.aggregator_error(e))?;
            }
            if !seen.is_empty() && self.snapshot_and_report(&seen, on_found)? {
                return Ok(self.found);
            }
            if reason != StopReason::Triggered {
                return Ok(self.found);
            }
        }
    }

    fn aggregator_error(&self, source: AggregatorError) -> OutlierError {
        OutlierError::Aggregator {
            spec: self.options.trigger.spec.to_string(),
            source: Box::new(source),
        }
    }

    /// Takes a snapshot and reports the outliers with a FUNC tree in it; true when the
    /// limit is reached.
    fn snapshot_and_report(
        &mut self,
        seen: &[Outlier],
        on_found: &mut impl FnMut(&FoundOutlier<'_>) -> std::io::Result<()>,
    ) -> Result<bool, OutlierError> {
        let histogram = self
            .aggregator
            .snapshot(0)
            .map_err(|e| self.aggregator_error(e))?;
        let spec = &self.options.trigger.spec;
        // The snapshot keeps what it was taken for.
        let samples: Vec<OutlierSample> = seen
            .iter()
            .map(|outlier| OutlierSample {
                spec: spec.to_string(),
                key: key_name(spec, outlier.key, &histogram),
                tid: outlier.pid_tgid as u32,
                tgid: (outlier.pid_tgid >> 32) as u32,
                end_ns: outlier.end_ns,
                delta_ns: outlier.delta_ns,
                threshold_ns: self.options.trigger.threshold_ns,
            })
            .collect();
        let option = TraceOption::Hytrace {
            kind: hytrace_kind::OUTLIER_SAMPLES,
            data: outlier_samples::to_text(&samples).into_bytes(),
        };
        self.recorder
            .snapshot(self.snapshots, SNAPSHOT, vec![option])?;
        let recording =
            Recording::open(&self.snapshots.path_of(SNAPSHOT)).map_err(DeepDiveError::from)?;
        // A gated recorder holds nothing until FUNC has run.
        let (symbols, events) = load::load_or_empty(&recording).map_err(DeepDiveError::from)?;
        let trees = split_trees(&events);
        for outlier in seen {
            let tid = (outlier.pid_tgid & 0xffff_ffff) as i32;
            let key = key_name(spec, outlier.key, &histogram);
            let Some(tree) = tree_within(&trees, tid, outlier) else {
                notes::note(format!(
                    "{spec} {key} took {:.3} us (tid {tid}) without calling {}; waiting for \
                     the next outlier",
                    outlier.delta_ns as f64 / 1000.0,
                    self.options.functions.join(", ")
                ));
                continue;
            };
            on_found(&FoundOutlier {
                spec,
                key,
                delta_ns: outlier.delta_ns,
                tid,
                threshold_ns: self.options.trigger.threshold_ns,
                tree,
                symbols: &symbols,
                cpus: recording.file.cpu_count.max(1),
                histogram: &histogram,
            })
            .map_err(OutlierError::Print)?;
            self.found += 1;
            if let Some(output) = &self.options.output {
                let kept = numbered(output, self.found);
                keep_snapshot(self.snapshots, &kept)?;
                notes::note(format!(
                    "outlier {} recorded in {}",
                    self.found,
                    kept.path.display()
                ));
            }
            if self.limit.is_some_and(|limit| self.found >= limit) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// FILE for the first kept snapshot, FILE.N for the Nth.
fn numbered(output: &OutputFile, n: u64) -> OutputFile {
    if n == 1 {
        return output.clone();
    }
    let mut name = output.path.clone().into_os_string();
    name.push(format!(".{n}"));
    output.with_path(name)
}

/// Copies the snapshot to a new private file and renames that over `output` (the
/// snapshot stays for the other outliers it holds).
fn keep_snapshot(snapshots: &PrivateDir, output: &OutputFile) -> Result<(), OutlierError> {
    snapshots.remove(KEPT)?;
    let mut copy = snapshots.create(KEPT)?;
    std::io::copy(&mut snapshots.open(SNAPSHOT)?, &mut copy)
        .and_then(|_| copy.sync_all())
        .map_err(|source| OutlierError::Keep {
            path: snapshots.path_of(KEPT),
            source,
        })?;
    snapshots.publish(KEPT, output)?;
    Ok(())
}

/// The histogram's name for the outlier's raw key (the syscall's name for syscalls).
fn key_name(spec: &Spec, raw: u64, histogram: &Snapshot) -> String {
    histogram
        .keys
        .iter()
        .find(|k| key_matches(spec, raw, &k.key))
        .map(|k| k.key.clone())
        .unwrap_or_else(|| raw.to_string())
}

/// Whether histogram key `name` is the outlier's raw key (syscall names for syscalls).
fn key_matches(spec: &Spec, raw: u64, name: &str) -> bool {
    match spec {
        Spec::Syscalls { by_comm: false } => name == syscall_name(raw),
        _ => name == raw.to_string() || name.starts_with(&format!("{raw} ")),
    }
}

/// FUNC's tree of thread `tid` within the sample (both sides read the monotonic
/// clock): the one overlapping it most, by at least half its length. (A record
/// reserved while an interrupt wrote one can carry the previous record's time, so a
/// call right at the start of the sample may seem to begin a little before it.)
fn tree_within<'t>(trees: &'t [CallTree], tid: i32, outlier: &Outlier) -> Option<&'t CallTree> {
    let (span_start, span_end) = (
        outlier.end_ns.saturating_sub(outlier.delta_ns),
        outlier.end_ns,
    );
    trees
        .iter()
        .filter(|t| matches!(t.events.first(), Some(GraphEvent::Entry { pid, .. }) if *pid == tid))
        .filter_map(|t| {
            let end = t.end_ts?;
            let overlap = end.min(span_end).checked_sub(t.start_ts.max(span_start))?;
            (overlap > 0 && overlap * 2 >= end.saturating_sub(t.start_ts)).then_some((overlap, t))
        })
        .max_by_key(|(overlap, _)| *overlap)
        .map(|(_, tree)| tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_parse_spec_and_microseconds() {
        let trigger: Trigger = "syscalls:5000".parse().unwrap();
        assert_eq!(trigger.threshold_ns, 5_000_000);
        assert_eq!(trigger.spec.to_string(), "syscalls");
        let trigger: Trigger = "pair:sched:a,sched:b:2.5".parse().unwrap();
        assert_eq!(trigger.threshold_ns, 2500);
        assert!(matches!(
            "syscalls".parse::<Trigger>(),
            Err(OutlierError::Spec(_) | OutlierError::TriggerForm)
        ));
        assert!(matches!(
            "syscalls:-1".parse::<Trigger>(),
            Err(OutlierError::TriggerMicros { .. })
        ));
    }

    #[test]
    fn kept_snapshots_are_numbered_after_the_first() {
        let output = OutputFile::private("/x/deep.dat");
        assert_eq!(numbered(&output, 1).path, PathBuf::from("/x/deep.dat"));
        assert_eq!(numbered(&output, 3).path, PathBuf::from("/x/deep.dat.3"));
    }
}
