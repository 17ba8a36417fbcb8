//! The end-of-record summary: events, bytes and losses per CPU, and each event's
//! recorded count beside its in-kernel BPF hit count (printed by
//! [`crate::output::record_summary`]).

use std::path::PathBuf;

use thiserror::Error;

use crate::{
    bpf::user_stacks::{UserStackCapture, UserStackError},
    capture::CpuCaptureResult,
    hist::codec::StoredSnapshot,
    stacks::UserStacks,
    store::hit_audit::{CpuHits as StoredCpuHits, EventHits as StoredEventHits, HitAudit},
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
    /// Recorded on each CPU, in the order of [`RecordSummary::cpus`].
    pub recorded_per_cpu: Vec<u64>,
    /// The kernel's hits over the recording window in the recording's scope, indexed
    /// by CPU number, or why there is no count.
    pub kernel_hits: Result<Vec<u64>, NoHitCount>,
    /// The event had a filter, which the counter does not apply.
    pub filtered: bool,
    /// The recording is limited to threads and the kernel records this event also when
    /// the other task it names is one of them (sched_switch's next, a wakeup's woken
    /// task); the counter sees only the current task.
    pub either_task: bool,
}

impl EventSummary {
    /// The kernel's hits on all CPUs.
    pub fn kernel_total(&self) -> Option<u64> {
        self.kernel_hits.as_ref().ok().map(|c| c.iter().sum())
    }
}

/// Why an event has no kernel hit count; shown in the summary as `- (WHY)`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoHitCount {
    /// The counter could not attach: the event is not a raw tracepoint (ftrace's own
    /// events, probes).
    #[error("not a raw tracepoint")]
    NotRawTracepoint,
    /// The recording ran with `--no-bpf`.
    #[error("--no-bpf")]
    Disabled,
    /// The counters failed otherwise (loading, reading their map).
    #[error("{reason}")]
    Failed { reason: String },
}

/// When the kernel hit counters counted, beside the recording's own window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountWindow {
    /// From the counters' start to their stop.
    pub window_ns: u64,
    /// Counted before tracing_on had gone to 1 (the write included).
    pub before_ns: u64,
    /// Counted after tracing_on began going to 0 (the write included).
    pub after_ns: u64,
    /// No thread limit: other tasks' hits in those two gaps are counted, not recorded.
    pub system_wide: bool,
    /// -c: the kernel records the children, the counters only the first threads
    /// (sched_process_fork's pid fields were not found).
    pub children_not_counted: bool,
    /// -c: children the counters' thread map had no room for.
    pub children_missed: u64,
    /// Hits skipped because the counter was already running on that CPU.
    pub recursion_misses: Option<u64>,
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
    /// When the kernel hit counters counted (None without counters).
    pub count_window: Option<CountWindow>,
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
/// existed), per CPU and in total, beside its kernel hit count.
pub(crate) fn event_summaries(
    events: &[(EventId, Option<String>)],
    type_ids: &[Option<u16>],
    captured: &[CpuCaptureResult],
    kernel_hits: Vec<Result<Vec<u64>, NoHitCount>>,
    thread_limited: bool,
) -> Vec<EventSummary> {
    let mut kernel_hits = kernel_hits.into_iter();
    events
        .iter()
        .zip(type_ids)
        .map(|((id, filter), type_id)| {
            let recorded_per_cpu: Vec<u64> = captured
                .iter()
                .map(|cpu| {
                    type_id
                        .and_then(|t| cpu.records_by_type.get(usize::from(t)).copied())
                        .unwrap_or(0)
                })
                .collect();
            EventSummary {
                name: id.to_string(),
                recorded: recorded_per_cpu.iter().sum(),
                recorded_per_cpu,
                kernel_hits: kernel_hits.next().unwrap_or(Err(NoHitCount::Disabled)),
                filtered: filter.is_some(),
                either_task: thread_limited && names_two_tasks(id),
            }
        })
        .collect()
}

/// Events the kernel's pid filter lets through when either of the two tasks they name
/// is traced (kernel/trace/trace_events.c's sched_switch and wakeup probes).
fn names_two_tasks(id: &EventId) -> bool {
    id.system == "sched"
        && matches!(
            id.name.as_str(),
            "sched_switch" | "sched_wakeup" | "sched_wakeup_new" | "sched_waking"
        )
}

/// One CPU's totals over the events that have a kernel hit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountedOnCpu {
    pub cpu: u32,
    pub recorded: u64,
    pub lost: u64,
    pub kernel_hits: u64,
}

/// Per CPU, over the events with a count: recorded, lost (all events: the kernel's
/// loss counts do not say which), hits. None when no event has a count.
pub fn counted_per_cpu(cpus: &[CpuSummary], events: &[EventSummary]) -> Option<Vec<CountedOnCpu>> {
    let counted: Vec<(&EventSummary, &Vec<u64>)> = events
        .iter()
        .filter_map(|e| Some((e, e.kernel_hits.as_ref().ok()?)))
        .collect();
    if counted.is_empty() {
        return None;
    }
    let totals = cpus
        .iter()
        .enumerate()
        .map(|(index, cpu)| CountedOnCpu {
            cpu: cpu.cpu,
            recorded: counted
                .iter()
                .map(|(e, _)| e.recorded_per_cpu.get(index).copied().unwrap_or(0))
                .sum(),
            lost: cpu.lost(),
            kernel_hits: counted
                .iter()
                .map(|(_, hits)| hits.get(cpu.cpu as usize).copied().unwrap_or(0))
                .sum(),
        })
        .collect();
    Some(totals)
}

/// The audit the file stores: each event's recorded count and kernel hits, each CPU's
/// totals over the counted events, the window. None without counters.
pub(crate) fn stored_audit(
    cpus: &[CpuSummary],
    events: &[EventSummary],
    window: Option<&CountWindow>,
) -> Option<HitAudit> {
    let window = window?;
    Some(HitAudit {
        window_ns: window.window_ns,
        before_ns: window.before_ns,
        after_ns: window.after_ns,
        system_wide: window.system_wide,
        events: events
            .iter()
            .map(|e| StoredEventHits {
                name: e.name.clone(),
                recorded: e.recorded,
                kernel_hits: e.kernel_total(),
            })
            .collect(),
        cpus: counted_per_cpu(cpus, events)
            .unwrap_or_default()
            .into_iter()
            .map(|c| StoredCpuHits {
                cpu: c.cpu,
                recorded: c.recorded,
                lost: c.lost,
                kernel_hits: c.kernel_hits,
            })
            .collect(),
    })
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

/// Summaries the tests of the audit and its printers share.
#[cfg(test)]
pub(crate) mod fixture {
    use std::path::PathBuf;

    use super::*;

    /// Two CPUs, CPU 1 lost 5 events; sys_enter recorded 8 + 4 and hit 8 + 10 times
    /// (one hit more than CPU 1 accounts for), ftrace:print without a counter.
    pub fn lossy_summary() -> RecordSummary {
        RecordSummary {
            user_stacks: None,
            output: PathBuf::from("/tmp/a.dat"),
            seconds: 1.5,
            file_bytes: 3_000_000,
            cpus: vec![
                CpuSummary {
                    cpu: 0,
                    records: 10,
                    data_bytes: 1_000_000,
                    ..Default::default()
                },
                CpuSummary {
                    cpu: 1,
                    records: 5,
                    data_bytes: 500_000,
                    missed_in_pages: 3,
                    overrun: 4,
                    dropped: 1,
                    ..Default::default()
                },
            ],
            events: vec![
                EventSummary {
                    name: "raw_syscalls:sys_enter".into(),
                    recorded: 12,
                    recorded_per_cpu: vec![8, 4],
                    kernel_hits: Ok(vec![8, 10]),
                    filtered: false,
                    either_task: false,
                },
                EventSummary {
                    name: "ftrace:print".into(),
                    recorded: 3,
                    recorded_per_cpu: vec![2, 1],
                    kernel_hits: Err(NoHitCount::NotRawTracepoint),
                    filtered: false,
                    either_task: false,
                },
            ],
            count_window: Some(CountWindow {
                window_ns: 1_400_000_000,
                before_ns: 20_000,
                after_ns: 110_000,
                system_wide: false,
                children_not_counted: false,
                children_missed: 0,
                recursion_misses: Some(0),
            }),
            histograms: Vec::new(),
            buffer_kb: 4096,
            write_errors: Vec::new(),
        }
    }
}
