//! The end-of-record summary: events, bytes and losses per CPU, and each event's
//! recorded count beside its in-kernel BPF hit count.

use std::{fmt::Write as _, path::PathBuf};

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
    pub bpf_hits: Result<u64, String>,
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

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "hytrace: recorded {} events ({:.1} MB) in {:.2} s to {} ({:.1} MB)",
            self.total_records(),
            self.cpus.iter().map(|c| c.data_bytes).sum::<u64>() as f64 / 1e6,
            self.seconds,
            self.output.display(),
            self.file_bytes as f64 / 1e6,
        );
        let _ = writeln!(
            out,
            "  {:>4} {:>12} {:>10} {:>10} {:>10} {:>10}",
            "cpu", "events", "MB", "lost", "overrun", "dropped"
        );
        for cpu in &self.cpus {
            let lost = if cpu.pages_with_unknown_loss > 0 {
                format!("{}+?", cpu.lost())
            } else {
                cpu.lost().to_string()
            };
            let _ = writeln!(
                out,
                "  {:>4} {:>12} {:>10.2} {:>10} {:>10} {:>10}",
                cpu.cpu,
                cpu.records,
                cpu.data_bytes as f64 / 1e6,
                lost,
                cpu.overrun,
                cpu.dropped
            );
        }
        if !self.events.is_empty() {
            let width = self
                .events
                .iter()
                .map(|e| e.name.len())
                .max()
                .unwrap_or(0)
                .max(5);
            let _ = writeln!(
                out,
                "  {:<width$} {:>12} {:>16}",
                "event", "recorded", "bpf hits (all)"
            );
            for event in &self.events {
                let bpf = match &event.bpf_hits {
                    Ok(hits) => hits.to_string(),
                    Err(why) => format!("- ({why})"),
                };
                let _ = writeln!(
                    out,
                    "  {:<width$} {:>12} {:>16}",
                    event.name, event.recorded, bpf
                );
            }
        }
        for hist in &self.histograms {
            let _ = writeln!(
                out,
                "  histogram {}: {} samples in {} keys, {} lost (hytrace report --hist)",
                hist.spec, hist.samples, hist.keys, hist.lost
            );
        }
        let unknown = if self.unknown_loss() {
            " (and pages that lost an unknown number)"
        } else {
            ""
        };
        let _ = writeln!(out, "  lost events: {}{unknown}", self.total_lost());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cpus_events_and_losses() {
        let summary = RecordSummary {
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
                    bpf_hits: Ok(14),
                },
                EventSummary {
                    name: "ftrace:print".into(),
                    recorded: 3,
                    bpf_hits: Err("not a tracepoint".into()),
                },
            ],
            histograms: vec![HistSummary {
                spec: "syscalls".into(),
                samples: 100,
                keys: 3,
                lost: 1,
            }],
        };
        assert_eq!(summary.total_lost(), 5);
        let text = summary.render();
        let expected = "\
hytrace: recorded 15 events (1.5 MB) in 1.50 s to /tmp/a.dat (3.0 MB)
   cpu       events         MB       lost    overrun    dropped
     0           10       1.00          0          0          0
     1            5       0.50          5          4          1
  event                      recorded   bpf hits (all)
  raw_syscalls:sys_enter           12               14
  ftrace:print                      3 - (not a tracepoint)
  histogram syscalls: 100 samples in 3 keys, 1 lost (hytrace report --hist)
  lost events: 5
";
        assert_eq!(text, expected);
    }
}
