//! Latency of a user function per call: uprobe at its entry, uretprobe at its return,
//! each return paired with its own entry through the thread's stack of call starts
//! (call_stacks.rs), so recursive and nested calls are each measured. One key.

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{map, uprobe, uretprobe},
    maps::{Array, LruHashMap, PerCpuArray},
    programs::{ProbeContext, RetProbeContext},
};
use ftrace_common::hist::{CAPPED_SLOTS, CallStack, KeyTotals, capped_slot_of, lost};

/// The calls each thread is inside.
#[map(name = "FUNC_CALLS")]
static FUNC_CALLS: LruHashMap<u32, CallStack> = LruHashMap::with_max_entries(8192, 0);
#[map(name = "FUNC_SLOTS")]
static FUNC_SLOTS: Array<u64> = Array::with_max_entries(CAPPED_SLOTS, 0);
#[map(name = "FUNC_TOTALS")]
static FUNC_TOTALS: PerCpuArray<KeyTotals> = PerCpuArray::with_max_entries(1, 0);
#[map(name = "FUNC_LOST")]
static FUNC_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(lost::COUNT, 0);

#[inline(always)]
fn count_lost<C: EbpfContext>(ctx: &C, what: u32) {
    crate::diagnostics::sample_lost(ctx, &FUNC_LOST, what);
}

#[uprobe]
pub fn func_latency_entry(ctx: ProbeContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if !crate::scope::in_scope(pid_tgid) {
        return 0;
    }
    let tid = pid_tgid as u32;
    crate::stack_samples::at_begin(&ctx, u64::from(tid));
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Err(what) = crate::call_stacks::push(&FUNC_CALLS, tid, now) {
        count_lost(&ctx, what);
    }
    0
}

#[uretprobe]
pub fn func_latency_exit(ctx: RetProbeContext) -> u32 {
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let pid_tgid = bpf_get_current_pid_tgid();
    if !crate::scope::in_scope(pid_tgid) {
        return 0;
    }
    let tid = pid_tgid as u32;
    let began = match crate::call_stacks::pop(&FUNC_CALLS, tid) {
        Ok(Some(began)) => began,
        Ok(None) => return 0,
        Err(what) => {
            count_lost(&ctx, what);
            return 0;
        }
    };
    let delta = now.saturating_sub(began);
    crate::outliers::check(0, delta);
    crate::stack_samples::at_end(&ctx, u64::from(tid), 0, delta);
    if let Some(count) = FUNC_SLOTS.get_ptr_mut(capped_slot_of(delta)) {
        // SAFETY: a valid, aligned u64 of the array; other CPUs may add at the same
        // time, hence the atomic add.
        unsafe {
            core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
                count, 1,
            )
        };
    }
    if let Some(totals) = FUNC_TOTALS.get_ptr_mut(0) {
        // SAFETY: this CPU's entry of a per-CPU array.
        unsafe { (*totals).add(delta) };
    }
    0
}
