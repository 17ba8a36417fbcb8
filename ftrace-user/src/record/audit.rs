//! The recording checked against the kernel's own hit counts over the same window and
//! scope: `recorded = kernel hits` per event when nothing was lost, `recorded + lost =
//! kernel hits` per CPU in total when something was (the kernel's loss counts do not
//! say which event was lost). Every difference carries its size and what explains it.

use super::summary::{EventSummary, NoHitCount, RecordSummary, counted_per_cpu};

/// How one count compares with the kernel's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Equal,
    /// `kernel hits − (recorded [+ lost])`, and the reasons that can explain it (none:
    /// unexplained).
    Differs {
        by: i64,
        reasons: Vec<String>,
    },
}

/// One event's audit line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAudit<'a> {
    pub event: &'a EventSummary,
    pub kernel_hits: Result<u64, &'a NoHitCount>,
    /// None without a count.
    pub verdict: Option<Verdict>,
}

/// One CPU's total, over the events that have a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuAudit {
    pub cpu: u32,
    pub recorded: u64,
    pub lost: u64,
    /// Pages flagged a loss of unknown size.
    pub unknown_loss: bool,
    pub kernel_hits: u64,
    /// Records of events without a count on this CPU (their losses are in `lost`).
    pub uncounted_records: u64,
    pub verdict: Verdict,
}

fn micros(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1e3)
}

/// What can explain `by` (kernel hits minus what the file accounts for) for `event`
/// (None: a CPU total).
fn reasons(summary: &RecordSummary, event: Option<&EventSummary>, by: i64) -> Vec<String> {
    let mut out = Vec::new();
    let lost = summary.total_lost() > 0 || summary.unknown_loss();
    if let Some(event) = event {
        if event.filtered {
            out.push("its filter is not applied to the count".to_string());
        }
        if event.either_task && by < 0 {
            out.push(
                "the kernel also records it when its other task is traced; the count \
                 sees only the current task"
                    .to_string(),
            );
        }
        if lost && by > 0 {
            out.push("events were lost: see the CPU totals".to_string());
        }
    }
    if let Some(window) = &summary.count_window {
        if window.system_wide && by > 0 {
            out.push(format!(
                "system-wide: the count ran {} before tracing_on and {} after it",
                micros(window.before_ns),
                micros(window.after_ns)
            ));
        }
        if window.children_not_counted && by < 0 {
            out.push("-c: children are recorded, counted only for the first threads".into());
        }
        if window.children_missed > 0 && by < 0 {
            out.push(format!(
                "-c: {} children did not fit in the counters' thread map",
                window.children_missed
            ));
        }
        if let Some(misses) = window.recursion_misses.filter(|m| *m > 0 && by < 0) {
            out.push(format!(
                "{misses} hits came while the counter ran on the same CPU and were skipped"
            ));
        }
    }
    out
}

fn verdict(summary: &RecordSummary, event: Option<&EventSummary>, by: i64) -> Verdict {
    if by == 0 {
        Verdict::Equal
    } else {
        Verdict::Differs {
            by,
            reasons: reasons(summary, event, by),
        }
    }
}

/// Each event's recorded count against its kernel hits.
pub fn audit_events(summary: &RecordSummary) -> Vec<EventAudit<'_>> {
    summary
        .events
        .iter()
        .map(|event| {
            let kernel_hits = event.kernel_total().ok_or_else(|| {
                event
                    .kernel_hits
                    .as_ref()
                    .expect_err("no total without an error")
            });
            let verdict = kernel_hits
                .as_ref()
                .ok()
                .map(|hits| verdict(summary, Some(event), *hits as i64 - event.recorded as i64));
            EventAudit {
                event,
                kernel_hits,
                verdict,
            }
        })
        .collect()
}

/// Per CPU, over the events that have a count: recorded + lost against the kernel's
/// hits. None when no event has a count.
pub fn audit_cpus(summary: &RecordSummary) -> Option<Vec<CpuAudit>> {
    let totals = counted_per_cpu(&summary.cpus, &summary.events)?;
    let audits = summary
        .cpus
        .iter()
        .zip(totals)
        .map(|(cpu, total)| {
            let by = total.kernel_hits as i64 - (total.recorded + total.lost) as i64;
            let uncounted_records = cpu.records.saturating_sub(total.recorded);
            let unknown_loss = cpu.pages_with_unknown_loss > 0;
            let mut verdict = verdict(summary, None, by);
            if let Verdict::Differs { reasons, .. } = &mut verdict {
                if by < 0 && uncounted_records > 0 && total.lost > 0 {
                    reasons.push(format!(
                        "{uncounted_records} records of events without a count: their \
                         losses are in the lost count too"
                    ));
                }
                if by > 0 && unknown_loss {
                    reasons.push("pages lost an unknown number of events".into());
                }
            }
            CpuAudit {
                cpu: cpu.cpu,
                recorded: total.recorded,
                lost: total.lost,
                unknown_loss,
                kernel_hits: total.kernel_hits,
                uncounted_records,
                verdict,
            }
        })
        .collect();
    Some(audits)
}

#[cfg(test)]
mod tests;
