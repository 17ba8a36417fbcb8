//! Latency of a user function per call: uprobe at its entry, uretprobe at its return,
//! matched per thread (a recursive call's inner entry replaces the outer one). One key.

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{map, uprobe, uretprobe},
    maps::{Array, LruHashMap, PerCpuArray},
    programs::{ProbeContext, RetProbeContext},
};
use ftrace_common::hist::{CAPPED_SLOTS, KeyTotals, PairStart, capped_slot_of, lost};

#[map(name = "FUNC_START")]
static FUNC_START: LruHashMap<u32, PairStart> = LruHashMap::with_max_entries(65536, 0);
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
    let start = PairStart {
        // SAFETY: bpf_ktime_get_ns has no preconditions.
        ts_ns: unsafe { bpf_ktime_get_ns() },
        key: 0,
    };
    if FUNC_START.insert(tid, start, 0).is_err() {
        count_lost(&ctx, lost::START_MAP_FULL);
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
    let Some(start) = FUNC_START.get_ptr_mut(tid) else {
        count_lost(&ctx, lost::END_WITHOUT_START);
        return 0;
    };
    // SAFETY: the thread's own entry; only this thread writes it.
    let start = unsafe { &mut *start };
    if start.ts_ns == 0 {
        count_lost(&ctx, lost::END_WITHOUT_START);
        return 0;
    }
    let delta = now.saturating_sub(start.ts_ns);
    crate::outliers::check(0, delta);
    crate::stack_samples::at_end(&ctx, u64::from(tid), 0, delta);
    start.ts_ns = 0;
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
