//! The end-of-record summary as text: the file, events, bytes and losses per CPU, each
//! event's recorded count beside its BPF hit count, the histograms stored.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use crate::record::{
    audit::{EventAudit, Verdict, audit_cpus, audit_events},
    summary::RecordSummary,
};

/// `= recorded`, or the difference with what explains it.
fn verdict_text(verdict: &Verdict, equal: &str) -> String {
    match verdict {
        Verdict::Equal => equal.to_string(),
        Verdict::Differs { by, reasons } => {
            let size = if *by > 0 {
                format!("{by} more")
            } else {
                format!("{} fewer", by.unsigned_abs())
            };
            if reasons.is_empty() {
                format!("{size} (unexplained)")
            } else {
                format!("{size} ({})", reasons.join("; "))
            }
        }
    }
}

/// Up to this many events, every event has its line; beyond it (`-e all`), events
/// whose count equals the kernel's are one line, and those without a count are named
/// once per reason.
const EVENT_LINES: usize = 64;

/// Each event's recorded count beside the kernel's hits, then per-CPU totals when
/// events were lost.
fn write_audit(out: &mut String, summary: &RecordSummary) {
    if summary.events.is_empty() {
        return;
    }
    let audits = audit_events(summary);
    let folded = audits.len() > EVENT_LINES;
    let shown: Vec<&EventAudit> = audits
        .iter()
        .filter(|a| !folded || matches!(a.verdict, Some(Verdict::Differs { .. })))
        .collect();
    let width = shown
        .iter()
        .map(|a| a.event.name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    if !shown.is_empty() {
        let _ = writeln!(
            out,
            "  {:<width$} {:>12} {:>12}",
            "event", "recorded", "kernel hits"
        );
    }
    for audit in &shown {
        let (hits, verdict) = match (&audit.kernel_hits, &audit.verdict) {
            (Ok(hits), Some(verdict)) => (hits.to_string(), verdict_text(verdict, "= recorded")),
            (Err(why), _) => ("-".to_string(), format!("({why})")),
            (Ok(hits), None) => (hits.to_string(), String::new()),
        };
        let _ = writeln!(
            out,
            "  {:<width$} {:>12} {:>12}  {verdict}",
            audit.event.name, audit.event.recorded, hits
        );
    }
    if folded {
        write_folded(out, &audits);
    }
    if let Some(window) = &summary.count_window {
        let _ = writeln!(
            out,
            "  kernel hits: counted in the recording's scope for {:.3} s, from {:.1} µs before \
             tracing_on to {:.1} µs after it went off{}",
            window.window_ns as f64 / 1e9,
            window.before_ns as f64 / 1e3,
            window.after_ns as f64 / 1e3,
            if window.system_wide {
                " (system-wide)"
            } else {
                ""
            }
        );
    }
    if summary.total_lost() == 0 && !summary.unknown_loss() {
        return;
    }
    let Some(cpus) = audit_cpus(summary) else {
        return;
    };
    let _ = writeln!(
        out,
        "  kernel hits per CPU (the kernel's loss counts do not say which event was lost):"
    );
    for cpu in cpus {
        let unknown = if cpu.unknown_loss { "+?" } else { "" };
        let total = cpu.recorded + cpu.lost;
        let line = match &cpu.verdict {
            Verdict::Equal => " = kernel hits".to_string(),
            other => format!(
                "; kernel hits {}, {}",
                cpu.kernel_hits,
                verdict_text(other, "")
            ),
        };
        let _ = writeln!(
            out,
            "    cpu {}: {} recorded + {}{unknown} lost = {total}{line}",
            cpu.cpu, cpu.recorded, cpu.lost
        );
    }
}

/// The events a long table leaves out: those whose count equals the kernel's as one
/// line, those without a count grouped by reason and named once.
fn write_folded(out: &mut String, audits: &[EventAudit<'_>]) {
    let equal: Vec<&EventAudit> = audits
        .iter()
        .filter(|a| matches!(a.verdict, Some(Verdict::Equal)))
        .collect();
    if !equal.is_empty() {
        let recorded: u64 = equal.iter().map(|a| a.event.recorded).sum();
        let silent = equal.iter().filter(|a| a.event.recorded == 0).count();
        let _ = writeln!(
            out,
            "  {} events: recorded = kernel hits ({recorded} records in all; {silent} of these \
             neither recorded nor hit)",
            equal.len()
        );
    }
    // Reason -> the events without a count for it.
    let mut by_reason: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for audit in audits {
        if let Err(why) = &audit.kernel_hits {
            by_reason
                .entry(why.to_string())
                .or_default()
                .push(&audit.event.name);
        }
    }
    for (why, names) in &by_reason {
        let _ = writeln!(
            out,
            "  {} events not counted ({why}): {}",
            names.len(),
            names_by_system(names, audits)
        );
    }
}

/// `SYSTEM:*` for a system all of whose recorded events are in `names`, else each
/// name; comma-separated.
fn names_by_system(names: &[&str], audits: &[EventAudit<'_>]) -> String {
    let system_of = |name: &str| name.split_once(':').map_or(name, |(s, _)| s).to_string();
    let mut in_system: BTreeMap<String, usize> = BTreeMap::new();
    for audit in audits {
        *in_system.entry(system_of(&audit.event.name)).or_default() += 1;
    }
    let mut named: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for name in names {
        named.entry(system_of(name)).or_default().push(name);
    }
    let mut parts = Vec::new();
    for (system, events) in &named {
        if in_system.get(system) == Some(&events.len()) && events.len() > 1 {
            parts.push(format!("{system}:* ({})", events.len()));
        } else {
            parts.extend(events.iter().map(ToString::to_string));
        }
    }
    parts.join(", ")
}

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
    write_audit(&mut out, summary);
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
    use super::*;
    use crate::record::summary::{HistSummary, fixture};

    #[test]
    fn renders_cpus_events_the_audit_and_losses() {
        let mut summary = fixture::lossy_summary();
        summary.histograms = vec![HistSummary {
            spec: "syscalls".into(),
            samples: 100,
            keys: 3,
            lost: 1,
        }];
        assert_eq!(summary.total_lost(), 5);
        let text = text(&summary);
        let expected = "\
hytrace: recorded 15 events (1.5 MB) in 1.50 s to /tmp/a.dat (3.0 MB)
   cpu       events         MB       lost    overrun    dropped
     0           10       1.00          0          0          0
     1            5       0.50          5          4          1
  event                      recorded  kernel hits
  raw_syscalls:sys_enter           12           18  6 more (events were lost: see the CPU totals)
  ftrace:print                      3            -  (not a raw tracepoint)
  kernel hits: counted in the recording's scope for 1.400 s, from 20.0 µs before tracing_on to 110.0 µs after it went off
  kernel hits per CPU (the kernel's loss counts do not say which event was lost):
    cpu 0: 8 recorded + 0 lost = 8 = kernel hits
    cpu 1: 4 recorded + 5 lost = 9; kernel hits 10, 1 more (unexplained)
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
