//! `hytrace hist`'s work: the eBPF latency aggregators of some specs over one measuring
//! session, a snapshot of every histogram each interval and at the end.

use std::time::Duration;

use thiserror::Error;

use crate::{
    bpf::latency::{AggregatorError, LatencyAggregator, Scope, StartError, start_all},
    hist::{Snapshot, Spec},
    session::{Session, SessionError, StopReason},
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
}

/// Aggregates until the session ends, handing every interval's snapshots to
/// `on_interval`; returns the final snapshots and why the session ended.
pub async fn aggregate(
    options: &AggregateOptions,
    mut on_interval: impl FnMut(&[Snapshot]) -> std::io::Result<()>,
) -> Result<(Vec<Snapshot>, StopReason), AggregateError> {
    let mut session = Session::prepare(&options.command, options.duration)?;
    let scope = Scope {
        tgid: options
            .pid
            .or(session.command_pid().filter(|_| options.comm.is_none()))
            .unwrap_or(0),
        comm: options.comm.clone(),
    };
    let aggregators = start_all(&options.specs, &scope)?;
    session.start()?;
    let started = std::time::Instant::now();
    let mut tick_error = None;
    let reason = session
        .wait(options.interval, || {
            let printed = snapshots(&aggregators, started.elapsed())
                .and_then(|s| on_interval(&s).map_err(AggregateError::Print));
            if let Err(error) = printed {
                tick_error.get_or_insert(error);
            }
        })
        .await?;
    if let Some(error) = tick_error {
        return Err(error);
    }
    Ok((snapshots(&aggregators, started.elapsed())?, reason))
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
