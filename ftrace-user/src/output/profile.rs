//! `report --profile` as text: per task, run time, run-queue waits (count, p50, p99)
//! and blocked time, then where it blocked (kernel frames, then user frames), largest
//! first.

use std::fmt::Write as _;

use super::histogram::human_ns;

use super::user_stack::write_stack_lines;
use crate::report::profile::TaskProfile;

/// The profiles, at most `top_stacks` blocked stacks per task.
pub fn text(profiles: &[TaskProfile], top_stacks: usize) -> String {
    let mut out = String::new();
    for task in profiles {
        let _ = write!(
            out,
            "{}-{}: run {}, blocked {}, run-queue waits {}",
            task.comm,
            task.pid,
            human_ns(task.run_ns),
            human_ns(task.blocked_ns),
            task.runq_waits_ns.len()
        );
        if let (Some(p50), Some(p99)) = (task.runq_percentile(50.0), task.runq_percentile(99.0)) {
            let _ = write!(out, " (p50 {}, p99 {})", human_ns(p50), human_ns(p99));
        }
        out.push('\n');
        for stack in task.blocked.iter().take(top_stacks) {
            let _ = writeln!(
                out,
                "  blocked {} in {} waits at:",
                human_ns(stack.total_ns),
                stack.count
            );
            write_stack_lines(&mut out, &stack.kernel, &stack.user);
        }
        if task.blocked.len() > top_stacks {
            let _ = writeln!(out, "  … {} more stacks", task.blocked.len() - top_stacks);
        }
    }
    out
}
