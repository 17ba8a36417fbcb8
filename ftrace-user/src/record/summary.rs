//! The end-of-record summary: events, bytes and losses per CPU, and each event's
//! recorded count beside its in-kernel BPF hit count (printed by
//! [`crate::output::record_summary`]).

use std::path::PathBuf;

use thiserror::Error;

use crate::{
    bpf::{
        hit_counter::HitCounterError,
        user_stacks::{UserStackCapture, UserStackError},
    },
    capture::CpuCaptureResult,
    hist::codec::StoredSnapshot,
    stacks::UserStacks,
    tracefs::{CpuStats, EventId},
};

/// One CPU's share of a recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuSummary {
    pub cpu: u32,
    pub records: u64,
    pub data_bytes: u64,
    /// Lost events the page headers counted.
    pub missed_in_pages: u64,
    /// Pages whose header flagged a loss without a count.
    pub pages_with_unknown_loss: u64,
    /// per_cpu/cpuN/stats at the end: overwritten and dropped events.
    pub overrun: u64,
    pub dropped: u64,
}

impl CpuSummary {
    /// Events known to be lost on this CPU. Overruns and page-header counts describe the
    /// same losses seen from two sides, so the larger is taken, plus drops.
    pub fn lost(&self) -> u64 {
        self.missed_in_pages.max(self.overrun) + self.dropped
    }
}

/// One recorded event's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    /// SYSTEM:EVENT
    pub name: String,
    pub recorded: u64,
    /// Hits the BPF counter saw (all tasks, all CPUs), or why there is no counter.
    pub bpf_hits: Result<u64, NoHitCount>,
}

/// Why an event has no BPF hit count; shown in the summary as `- (WHY)`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoHitCount {
    /// The counter could not attach: the event is not a raw tracepoint (ftrace's own
    /// events, probes).
    #[error("not a raw tracepoint")]
    NotRawTracepoint,
    /// The recording ran with `--no-bpf`.
    #[error("--no-bpf")]
    Disabled,
    /// The counter failed otherwise (loading, reading its map).
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<&HitCounterError> for NoHitCount {
    fn from(error: &HitCounterError) -> NoHitCount {
        match error {
            HitCounterError::Attach { .. } => NoHitCount::NotRawTracepoint,
            other => NoHitCount::Failed {
                reason: other.to_string(),
            },
        }
    }
}

/// One histogram aggregated beside the recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistSummary {
    pub spec: String,
    pub samples: u64,
    pub keys: usize,
    /// Samples lost, all reasons together (ends without a start included).
    pub lost: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordSummary {
    pub output: PathBuf,
    pub seconds: f64,
    pub file_bytes: u64,
    pub cpus: Vec<CpuSummary>,
    pub events: Vec<EventSummary>,
    pub histograms: Vec<HistSummary>,
    pub user_stacks: Option<UserStackSummary>,
    /// The per-CPU buffer the session recorded with (KB).
    pub buffer_kb: u64,
    /// CPUs whose pages stopped reaching the disk, and why (the session ended there).
    pub write_errors: Vec<(u32, String)>,
}

/// What `--user-stack` captured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserStackSummary {
    /// Hits the program sent (with a stack or the reason it has none).
    pub samples: u64,
    /// Of those, hits without a stack (kernel threads, errors), by reason.
    pub without_stack: Vec<(String, u64)>,
    pub distinct_stacks: usize,
    pub objects: usize,
    /// Objects newly kept in the build-id cache, and where.
    pub cached: u64,
    pub cache_dir: Option<PathBuf>,
    pub cache_failures: Vec<String>,
    /// Stacks the ring buffer had no room for.
    pub lost: u64,
    /// Events the program could not be attached to, and why.
    pub not_attached: Vec<(String, String)>,
}

impl UserStackSummary {
    /// Finishes the capture: the stacks for the file and their summary.
    pub(crate) fn of(
        capture: UserStackCapture,
    ) -> Result<(UserStacks, UserStackSummary), UserStackError> {
        let not_attached = capture.not_attached.clone();
        let cache_dir = capture.cache_dir();
        let (stacks, stats) = capture.finish()?;
        let mut without: std::collections::BTreeMap<String, u64> = Default::default();
        for sample in &stacks.samples {
            if let Err(why) = sample.stack {
                *without.entry(why.describe()).or_default() += 1;
            }
        }
        let summary = UserStackSummary {
            samples: stacks.samples.len() as u64,
            without_stack: without.into_iter().collect(),
            distinct_stacks: stacks.stacks.len(),
            objects: stacks.objects.len(),
            cached: stats.cached,
            cache_dir,
            cache_failures: stats.cache_failures,
            lost: stacks.lost,
            not_attached,
        };
        Ok((stacks, summary))
    }
}

/// Each CPU's events, bytes and losses: what its reader copied beside what the
/// kernel's per-CPU statistics say.
pub(crate) fn cpu_summaries(captured: &[CpuCaptureResult], stats: &[CpuStats]) -> Vec<CpuSummary> {
    captured
        .iter()
        .zip(stats)
        .map(|(c, s)| CpuSummary {
            cpu: c.cpu,
            records: c.records,
            data_bytes: c.data_bytes,
            missed_in_pages: c.missed_events,
            pages_with_unknown_loss: c.pages_with_unknown_loss,
            overrun: s.overrun,
            dropped: s.dropped_events,
        })
        .collect()
}

/// Each event's recorded count (by its type id, looked up while the session's probes
/// existed) beside its BPF hit count.
pub(crate) fn event_summaries(
    events: &[(EventId, Option<String>)],
    type_ids: &[Option<u16>],
    captured: &[CpuCaptureResult],
    bpf_totals: &[Result<u64, NoHitCount>],
) -> Vec<EventSummary> {
    let mut by_type: Vec<u64> = Vec::new();
    for cpu in captured {
        if cpu.records_by_type.len() > by_type.len() {
            by_type.resize(cpu.records_by_type.len(), 0);
        }
        for (id, n) in cpu.records_by_type.iter().enumerate() {
            by_type[id] += n;
        }
    }
    events
        .iter()
        .enumerate()
        .map(|(index, (id, _))| EventSummary {
            name: id.to_string(),
            recorded: type_ids[index]
                .and_then(|type_id| by_type.get(usize::from(type_id)).copied())
                .unwrap_or(0),
            bpf_hits: bpf_totals
                .get(index)
                .cloned()
                .unwrap_or(Err(NoHitCount::Disabled)),
        })
        .collect()
}

/// Samples, keys and losses of each stored histogram.
pub(crate) fn hist_summaries(histograms: &[StoredSnapshot]) -> Vec<HistSummary> {
    histograms
        .iter()
        .map(|h| HistSummary {
            spec: h.snapshot.spec.clone(),
            samples: h.snapshot.keys.iter().map(|k| k.count).sum(),
            keys: h.snapshot.keys.len(),
            lost: h.snapshot.lost.iter().map(|(_, n)| n).sum(),
        })
        .collect()
}

impl RecordSummary {
    pub fn total_records(&self) -> u64 {
        self.cpus.iter().map(|c| c.records).sum()
    }

    pub fn total_lost(&self) -> u64 {
        self.cpus.iter().map(CpuSummary::lost).sum()
    }

    /// Any page flagged a loss of unknown size.
    pub fn unknown_loss(&self) -> bool {
        self.cpus.iter().any(|c| c.pages_with_unknown_loss > 0)
    }
}
