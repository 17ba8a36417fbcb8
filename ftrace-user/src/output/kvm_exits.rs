//! `hytrace kvm`'s exit table: per exit reason, count, share, time in the kernel and
//! in QEMU (avg, p50, p99, max), the QEMU events seen; then what did not pair.

use std::fmt::Write as _;

use super::histogram::human_ns;
use crate::kvm::{
    log_match::LogMatch,
    pairing::{Losses, Unit, Unpaired},
    summary::{Distribution, KvmSummary},
};

/// What a unit of the table is, said once above it as `# ` lines.
pub fn unit_note(unit: Unit) -> String {
    let text = match unit {
        Unit::KvmExit => {
            "each exit: kvm_exit -> kvm_entry; kernel = the exit less QEMU's part, QEMU = \
             KVM_RUN's return to the next KVM_RUN call"
        }
        Unit::KvmRun => {
            "kvm:kvm_exit did not fire in this recording (this kernel's KVM backend does not \
             call it), so each row is a KVM_RUN round trip by its kvm_userspace_exit reason: \
             kernel = the whole KVM_RUN call (guest time included), QEMU = its return to the \
             next KVM_RUN call"
        }
    };
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split(' ') {
        if line.len() + 1 + word.len() > 88 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn times(d: &Distribution) -> String {
    format!(
        "{:>9} {:>9} {:>9} {:>9}",
        human_ns(d.avg),
        human_ns(d.p50),
        human_ns(d.p99),
        human_ns(d.max)
    )
}

/// The table of `summary` under the `title` line.
pub fn table(summary: &KvmSummary, title: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{title}: {} exits on {} vCPU thread{}",
        summary.exits,
        summary.vcpus,
        if summary.vcpus == 1 { "" } else { "s" }
    );
    let groups = format!(
        "{:<24} {:>8} {:>7}   {:^39}   {:^39}",
        "", "", "", "in the kernel", "in QEMU"
    );
    let _ = writeln!(out, "{}", groups.trim_end());
    let _ = writeln!(
        out,
        "{:<24} {:>8} {:>7}   {:>9} {:>9} {:>9} {:>9}   {:>9} {:>9} {:>9} {:>9}   qemu events",
        "reason", "count", "share", "avg", "p50", "p99", "max", "avg", "p50", "p99", "max"
    );
    for row in &summary.rows {
        let events: Vec<String> = row
            .qemu_events
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        let line = format!(
            "{:<24} {:>8} {:>6.2}%   {}   {}   {}",
            row.reason,
            row.count,
            row.share,
            times(&row.kernel_ns),
            times(&row.user_ns),
            events.join(", ")
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// The non-zero counters of what did not pair and what was lost, one line each.
pub fn leftovers(unpaired: &Unpaired, lost: &Losses) -> String {
    let counters = [
        ("exits without kvm_entry", unpaired.exit_without_entry),
        (
            "kvm_entry without an exit (a thread's first entry, or after a loss)",
            unpaired.entry_without_exit,
        ),
        (
            "kvm_userspace_exit without an exit",
            unpaired.userspace_exit_without_exit,
        ),
        (
            "kernel handling events without an exit",
            unpaired.handling_without_exit,
        ),
        (
            "QEMU events of vCPU threads outside an exit",
            unpaired.qemu_outside_exits,
        ),
        ("QEMU events of other threads", unpaired.qemu_other_threads),
        (
            "KVM_RUN returns without kvm_userspace_exit",
            unpaired.run_without_userspace_exit,
        ),
        ("exits still open at the end", unpaired.open_at_end),
        ("reports of lost events", lost.reports),
        (
            "exits incomplete because events were lost (not in the table)",
            lost.incomplete_exits,
        ),
    ];
    let mut out = String::new();
    for (what, count) in counters.into_iter().filter(|(_, n)| *n > 0) {
        let _ = writeln!(out, "  {what}: {count}");
    }
    if !out.is_empty() {
        out.insert_str(0, "unpaired and lost:\n");
    }
    out
}

/// How QEMU's log lines were attached, one line.
pub fn log_lines(log: &LogMatch) -> String {
    format!(
        "QEMU log: {} lines, {} attached to exits, {} of vCPU threads outside exits, {} of other \
         threads, {} without thread or time (wall clock placed on the recording's clock to \
         ±{}; matched within {} of each exit's QEMU part: that and the log's microsecond \
         stamps)\n",
        log.lines,
        log.attached,
        log.outside_exits,
        log.other_threads,
        log.unplaced,
        human_ns(log.uncertainty_ns),
        human_ns(log.tolerance_ns)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvm::summary::ReasonRow;

    #[test]
    fn table_lists_reasons_with_times_and_qemu_events() {
        let d = Distribution {
            avg: 1500,
            p50: 1400,
            p99: 2_000_000,
            max: 3000,
        };
        let summary = KvmSummary {
            unit: Unit::KvmExit,
            vcpus: 1,
            exits: 1000,
            rows: vec![ReasonRow {
                reason: "io".into(),
                count: 1000,
                share: 100.0,
                kernel_ns: d,
                user_ns: d,
                to_userspace: 1000,
                qemu_events: vec![("cpu_out".into(), 1000)],
            }],
            unpaired: Unpaired::default(),
            lost: Losses::default(),
        };
        let text = table(&summary, "VM exits");
        assert!(
            text.starts_with("VM exits: 1000 exits on 1 vCPU thread\n"),
            "{text}"
        );
        let row = text.lines().nth(3).unwrap();
        assert!(
            text.lines().nth(2).unwrap().starts_with("reason "),
            "{text}"
        );
        assert!(row.starts_with("io "), "{row}");
        assert!(row.contains("1000 100.00%"), "{row}");
        assert!(row.contains("1.5 us    1.4 us   2.00 ms"), "{row}");
        assert!(row.ends_with("cpu_out 1000"), "{row}");
        let mut unpaired = Unpaired::default();
        assert_eq!(leftovers(&unpaired, &Losses::default()), "");
        unpaired.open_at_end = 1;
        assert_eq!(
            leftovers(&unpaired, &Losses::default()),
            "unpaired and lost:\n  exits still open at the end: 1\n"
        );
    }
}
