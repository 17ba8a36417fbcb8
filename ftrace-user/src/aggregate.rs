//! `hytrace hist`'s work: the eBPF latency aggregators of some specs over one measuring
//! session, a snapshot of every histogram each interval and at the end.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use thiserror::Error;

use crate::{
    bpf::latency::{
        AggregatorError, LatencyAggregator, Scope, StartError,
        stacks::{StackOptions, StackSamples},
        start_all_with,
    },
    hist::{
        Snapshot, Spec,
        stacks::{StackEntry, StackReport},
    },
    metrics_server::{self, Render},
    notes,
    session::{Session, SessionError, StopReason},
    stacks::gather::candidate_files,
    symbolize::{
        KernelSymbols,
        kallsyms::is_tracing_frame,
        user::{ObjectSearch, UserFrame, symbolize_stacks},
    },
};

#[derive(Debug, Error)]
pub enum AggregateError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("cannot read the {spec} histogram")]
    Read {
        spec: String,
        #[source]
        source: Box<AggregatorError>,
    },
    #[error("cannot print the histograms")]
    Print(#[source] std::io::Error),
}

/// What to aggregate, and for how long.
#[derive(Debug, Clone)]
pub struct AggregateOptions {
    pub specs: Vec<Spec>,
    /// One process to measure (else COMMAND's, else every process).
    pub pid: Option<u32>,
    /// One command name to measure (names the threads itself: COMMAND is then not the
    /// default scope).
    pub comm: Option<String>,
    pub interval: Option<Duration>,
    pub duration: Option<Duration>,
    pub command: Vec<String>,
    /// Also key the samples by the kernel and user stacks at the begin hook.
    pub stacks: bool,
}

/// What a session aggregated: the last snapshots, the stack tables (with --stacks),
/// and why it ended.
#[derive(Debug)]
pub struct Aggregated {
    pub snapshots: Vec<Snapshot>,
    pub stacks: Vec<StackReport>,
    pub reason: StopReason,
}

/// How snapshots become the `/metrics` text.
pub type MetricsText = Box<dyn Fn(&[Snapshot]) -> String + Send + Sync>;

/// `hist --serve`: the bound listener, and its text.
pub struct Serving {
    pub listener: tokio::net::TcpListener,
    pub render: MetricsText,
}

/// Aggregates until the session ends, handing every interval's snapshots to
/// `on_interval` (and, with `serving`, a fresh snapshot to each `/metrics` request);
/// returns the final snapshots and why the session ended.
pub async fn aggregate(
    options: &AggregateOptions,
    serving: Option<Serving>,
    mut on_interval: impl FnMut(&[Snapshot]) -> std::io::Result<()>,
) -> Result<Aggregated, AggregateError> {
    let mut session = Session::prepare(&options.command, options.duration)?;
    let scope = Scope {
        tgid: options
            .pid
            .or(session.command_pid().filter(|_| options.comm.is_none()))
            .unwrap_or(0),
        comm: options.comm.clone(),
    };
    let stack_options = options.stacks.then(|| StackOptions {
        candidate_files: candidate_files(&options.command),
    });
    let aggregators = start_all_with(&options.specs, &scope, stack_options.as_ref())?;
    // Shared with the /metrics requests, which read the maps at their own moment.
    let shared = Arc::new(Mutex::new(aggregators));
    let started = std::time::Instant::now();
    let server = serving.map(|serving| {
        let shared = shared.clone();
        let render: Render = Arc::new(move || {
            let aggregators = shared
                .lock()
                .map_err(|_| "the aggregators' lock is poisoned")?;
            let snapshots =
                snapshots(&aggregators, started.elapsed()).map_err(|e| notes::chain(&e))?;
            Ok((serving.render)(&snapshots))
        });
        tokio::spawn(metrics_server::serve(serving.listener, render))
    });
    session.start()?;
    let mut tick_error = None;
    let reason = session
        .wait(options.interval, || {
            let Ok(mut aggregators) = shared.lock() else {
                return;
            };
            for aggregator in aggregators.iter_mut() {
                aggregator.print_diagnostics();
            }
            let printed = snapshots(&aggregators, started.elapsed())
                .and_then(|s| on_interval(&s).map_err(AggregateError::Print));
            if let Err(error) = printed {
                tick_error.get_or_insert(error);
            }
        })
        .await?;
    if let Some(server) = server {
        server.abort();
    }
    if let Some(error) = tick_error {
        return Err(error);
    }
    let mut aggregators = match Arc::try_unwrap(shared) {
        Ok(mutex) => mutex
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        Err(shared) => std::mem::take(
            &mut *shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ),
    };
    for aggregator in &mut aggregators {
        aggregator.print_diagnostics();
    }
    let snapshots = snapshots(&aggregators, started.elapsed())?;
    let mut stacks = Vec::new();
    for aggregator in &mut aggregators {
        let samples = aggregator
            .take_stack_samples()
            .map_err(|source| AggregateError::Read {
                spec: aggregator.spec.to_string(),
                source: Box::new(source),
            })?;
        if let Some(samples) = samples {
            stacks.push(stack_report(&aggregator.spec.to_string(), samples));
        }
    }
    Ok(Aggregated {
        snapshots,
        stacks,
        reason,
    })
}

/// An aggregator's stack tables with every frame named: kernel frames from
/// /proc/kallsyms, user frames with blazesym.
fn stack_report(spec: &str, samples: StackSamples) -> StackReport {
    let kallsyms = KernelSymbols::parse(&std::fs::read("/proc/kallsyms").unwrap_or_default());
    let user_frames = symbolize_stacks(&samples.user, &ObjectSearch::default());
    let kernel_name = |addr: u64| match kallsyms.lookup(addr) {
        Some((name, _)) => name.to_string(),
        None => format!("0x{addr:x}"),
    };
    let mut report = StackReport {
        spec: spec.to_string(),
        entries: Vec::new(),
        lost: samples.lost,
    };
    for (key, key_name, totals) in samples.totals {
        let kernel: Vec<String> = samples
            .kernel_stacks
            .get(&key.kernel_stack)
            .map(|frames| {
                frames
                    .iter()
                    .map(|&a| kernel_name(a))
                    .skip_while(|name| is_tracing_frame(name))
                    .collect()
            })
            .unwrap_or_default();
        let user: Vec<&UserFrame> = match samples.user_by_hash.get(&key.user_stack) {
            Some(Ok(index)) => user_frames.stack(*index).unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut folded: Vec<String> = user.iter().rev().map(|f| f.folded_name()).collect();
        folded.extend(kernel.iter().rev().map(|name| format!("{name}_[k]")));
        report.entries.push(StackEntry {
            key: key_name,
            count: totals.count,
            total_ns: totals.total_ns,
            kernel,
            user: user.into_iter().cloned().collect(),
            folded,
        });
    }
    report.sort();
    report
}

/// Every aggregator's snapshot, `elapsed` into the session.
fn snapshots(
    aggregators: &[LatencyAggregator],
    elapsed: Duration,
) -> Result<Vec<Snapshot>, AggregateError> {
    aggregators
        .iter()
        .map(|a| {
            a.snapshot(elapsed.as_nanos() as u64)
                .map_err(|source| AggregateError::Read {
                    spec: a.spec.to_string(),
                    source: Box::new(source),
                })
        })
        .collect()
}
