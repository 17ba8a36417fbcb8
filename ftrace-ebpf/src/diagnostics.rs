//! The aggregators' lost-sample counters, and their rare failures reported through
//! aya-log: a start or histogram table full, a key beyond its table, a stack table or
//! ring buffer without room, a kernel stack not captured. Every loss is counted in its
//! aggregator's per-CPU counters, which userspace reads and prints as before; the log
//! record adds when and where, at the 1st, 2nd, 4th, 8th… failure of a kind on a CPU,
//! so a table that stays full costs one record per doubling and nothing on the paths
//! that succeed. An end without its start is no failure (the begin came before the
//! session) and is only counted. Userspace reads the records with `-v`, and otherwise
//! loads the programs with AYA_LOG_LEVEL 0, which skips them here.

use aya_ebpf::{EbpfContext, maps::PerCpuArray};
use aya_log_ebpf::warn;
use ftrace_common::{hist::lost, stack::stack_lost};

/// Adds one to `what` in this CPU's slot of `counts`; the new count (0 if the slot is
/// missing).
#[inline(always)]
fn bump(counts: &PerCpuArray<u64>, what: u32) -> u64 {
    let Some(counter) = counts.get_ptr_mut(what) else {
        return 0;
    };
    // SAFETY: this CPU's slot of a per-CPU array; programs do not migrate while running.
    unsafe {
        *counter += 1;
        *counter
    }
}

/// Whether a count has just reached a power of two.
#[inline(always)]
fn doubling(count: u64) -> bool {
    count != 0 && count & (count - 1) == 0
}

/// Counts a lost histogram sample of kind `what` (see `ftrace_common::hist::lost`),
/// and logs the failure at each doubling of its count (userspace names the spec: each
/// aggregator is an object of its own).
#[inline(always)]
pub fn sample_lost<C: EbpfContext>(ctx: &C, counts: &PerCpuArray<u64>, what: u32) {
    let count = bump(counts, what);
    if !doubling(count) {
        return;
    }
    let failure = match what {
        lost::START_MAP_FULL => "start table full, a begin was not kept",
        lost::KEY_OUT_OF_RANGE => "key beyond the table, a sample was dropped",
        lost::HIST_MAP_FULL => "histogram table full, a sample was dropped",
        _ => return,
    };
    warn!(ctx, "{} ({} on this CPU)", failure, count);
}

/// Counts a stack of `hist --stacks` lost for reason `what` (see
/// `ftrace_common::stack::stack_lost`), and logs it at each doubling of its count.
#[inline(always)]
pub fn stack_lost<C: EbpfContext>(ctx: &C, counts: &PerCpuArray<u64>, what: u32) {
    let count = bump(counts, what);
    if !doubling(count) {
        return;
    }
    let failure = match what {
        stack_lost::BEGIN_MAP_FULL => "stack begin table full, a stack was not kept",
        stack_lost::TOTALS_MAP_FULL => "stack totals table full, a sample was not keyed",
        stack_lost::RING_FULL => "stack ring buffer full, a stack was dropped",
        stack_lost::NO_KERNEL_STACK => "kernel stack not captured",
        _ => return,
    };
    warn!(ctx, "--stacks: {} ({} on this CPU)", failure, count);
}
