//! The end-of-record summary as text: the file, events, bytes and losses per CPU, each
//! event's recorded count beside its BPF hit count, the histograms stored.

use std::fmt::Write as _;

use crate::record::summary::RecordSummary;

/// The summary, as `record` prints it on stderr.
pub fn text(summary: &RecordSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "hytrace: recorded {} events ({:.1} MB) in {:.2} s to {} ({:.1} MB)",
        summary.total_records(),
        summary.cpus.iter().map(|c| c.data_bytes).sum::<u64>() as f64 / 1e6,
        summary.seconds,
        summary.output.display(),
        summary.file_bytes as f64 / 1e6,
    );
    let _ = writeln!(
        out,
        "  {:>4} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "cpu", "events", "MB", "lost", "overrun", "dropped"
    );
    for cpu in &summary.cpus {
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
    if !summary.events.is_empty() {
        let width = summary
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
        for event in &summary.events {
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
    for hist in &summary.histograms {
        let _ = writeln!(
            out,
            "  histogram {}: {} samples in {} keys, {} lost (hytrace report --hist)",
            hist.spec, hist.samples, hist.keys, hist.lost
        );
    }
    if let Some(stacks) = &summary.user_stacks {
        let _ = writeln!(
            out,
            "  user stacks: {} captured ({} distinct, {} objects), {} lost (ring buffer full)",
            stacks.samples, stacks.distinct_stacks, stacks.objects, stacks.lost
        );
        for (why, n) in &stacks.without_stack {
            let _ = writeln!(out, "    {n} without a stack: {why}");
        }
        for (event, why) in &stacks.not_attached {
            let _ = writeln!(out, "    not captured at {event}: {why}");
        }
        if let Some(dir) = &stacks.cache_dir {
            let _ = writeln!(
                out,
                "    build-id cache {}: {} objects added",
                dir.display(),
                stacks.cached
            );
        }
        for failure in &stacks.cache_failures {
            let _ = writeln!(out, "    not kept in the build-id cache: {failure}");
        }
    }
    let unknown = if summary.unknown_loss() {
        " (and pages that lost an unknown number)"
    } else {
        ""
    };
    let _ = writeln!(out, "  lost events: {}{unknown}", summary.total_lost());
    // After a write error the readers stopped: the losses are not the buffer's fault.
    if (summary.total_lost() > 0 || summary.unknown_loss()) && summary.write_errors.is_empty() {
        let _ = writeln!(
            out,
            "  (the kernel's buffer overflowed before it was read: a -b larger than {} KB per CPU keeps more)",
            summary.buffer_kb
        );
    }
    for (cpu, why) in &summary.write_errors {
        let _ = writeln!(
            out,
            "  stopped early: the pages of CPU {cpu} could not be written ({why}); the file holds every page written before"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::record::summary::{CpuSummary, EventSummary, HistSummary, NoHitCount};

    #[test]
    fn renders_cpus_events_and_losses() {
        let summary = RecordSummary {
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
                    bpf_hits: Ok(14),
                },
                EventSummary {
                    name: "ftrace:print".into(),
                    recorded: 3,
                    bpf_hits: Err(NoHitCount::NotRawTracepoint),
                },
                EventSummary {
                    name: "sched:sched_switch".into(),
                    recorded: 7,
                    bpf_hits: Err(NoHitCount::Disabled),
                },
            ],
            histograms: vec![HistSummary {
                spec: "syscalls".into(),
                samples: 100,
                keys: 3,
                lost: 1,
            }],
            buffer_kb: 4096,
            write_errors: Vec::new(),
        };
        assert_eq!(summary.total_lost(), 5);
        let text = text(&summary);
        let expected = "\
hytrace: recorded 15 events (1.5 MB) in 1.50 s to /tmp/a.dat (3.0 MB)
   cpu       events         MB       lost    overrun    dropped
     0           10       1.00          0          0          0
     1            5       0.50          5          4          1
  event                      recorded   bpf hits (all)
  raw_syscalls:sys_enter           12               14
  ftrace:print                      3 - (not a raw tracepoint)
  sched:sched_switch                7     - (--no-bpf)
  histogram syscalls: 100 samples in 3 keys, 1 lost (hytrace report --hist)
  lost events: 5
  (the kernel's buffer overflowed before it was read: a -b larger than 4096 KB per CPU keeps more)
";
        assert_eq!(text, expected);

        // Stopped by a write error: said per CPU, and no buffer advice.
        let stopped = RecordSummary {
            write_errors: vec![(1, "No space left on device (os error 28)".into())],
            ..summary
        };
        let stopped_text = super::text(&stopped);
        assert!(stopped_text.ends_with(
            "  lost events: 5
  stopped early: the pages of CPU 1 could not be written (No space left on device (os error 28)); the file holds every page written before
"
        ), "{stopped_text}");
    }
}
