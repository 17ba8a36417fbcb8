//! `hist --stacks` as text: per key, its stacks by total latency, each with its
//! samples, total and mean, then its frames innermost first (kernel, then user).

use std::fmt::Write as _;

use super::{histogram::human_ns, user_stack::write_stack_lines};

use crate::hist::stacks::StackReport;

/// The stacks of `report`, at most `top` per key.
pub fn text(report: &StackReport, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: where the latency began (the stacks at the begin hook), by total latency",
        report.spec
    );
    let mut key: Option<&str> = None;
    let mut shown = 0;
    let mut hidden = 0u64;
    for entry in &report.entries {
        if key != Some(entry.key.as_str()) {
            if hidden > 0 {
                let _ = writeln!(out, "  … {hidden} more stacks");
            }
            key = Some(&entry.key);
            shown = 0;
            hidden = 0;
            let _ = writeln!(out, "\n{}", entry.key);
        }
        if shown == top {
            hidden += 1;
            continue;
        }
        shown += 1;
        let _ = writeln!(
            out,
            "  {} samples, total {}, mean {}",
            entry.count,
            human_ns(entry.total_ns),
            human_ns(entry.total_ns / entry.count.max(1))
        );
        write_stack_lines(&mut out, &entry.kernel, &entry.user);
    }
    if hidden > 0 {
        let _ = writeln!(out, "  … {hidden} more stacks");
    }
    let lost: Vec<String> = report
        .lost
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    if !lost.is_empty() {
        let _ = writeln!(out, "\nstack samples not kept: {}", lost.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hist::stacks::StackEntry;

    #[test]
    fn prints_the_top_stacks_of_each_key_with_their_frames() {
        let entry = |total_ns, user: &str| StackEntry {
            key: "getppid".into(),
            count: 1000,
            total_ns,
            kernel: vec!["do_syscall_64".into()],
            user: vec![crate::symbolize::user::UserFrame::Named {
                function: user.into(),
                offset: 0x2b,
                file_offset: 0x1160,
                location: Some(("deep.c".into(), 20)),
                inlined: false,
                object: "/tmp/deep".into(),
            }],
            folded: Vec::new(),
        };
        let report = StackReport {
            spec: "syscalls".into(),
            entries: vec![entry(350_000, "recurse"), entry(1_000, "x")],
            lost: vec![("stack_ring_full".into(), 0), ("no_kernel_stack".into(), 2)],
        };
        assert_eq!(
            text(&report, 1),
            "syscalls: where the latency began (the stacks at the begin hook), by total latency\n\
             \n\
             getppid\n  \
             1000 samples, total 350.0 us, mean 350 ns\n    \
             do_syscall_64 [kernel]\n    \
             recurse+0x2b (deep.c:20) [/tmp/deep]\n  \
             … 1 more stacks\n\
             \n\
             stack samples not kept: no_kernel_stack 2\n"
        );
    }
}
