//! Latency between a begin and an end tracepoint that cannot interleave on one CPU
//! (hard irq handler entry/exit, softirq entry/exit), keyed by the begin's first
//! argument (irq number, softirq vector). The start lives in a per-CPU slot; tables are
//! laid out as in syscall_latency.rs. Each spec loads its own copy of the object, so
//! each gets its own maps.

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::{map, raw_tracepoint},
    maps::{Array, PerCpuArray},
    programs::RawTracePointContext,
};
use ftrace_common::hist::{CAPPED_SLOTS, CpuPairStart, KeyTotals, PAIR_KEYS, capped_slot_of, lost};

#[map(name = "PAIR_CPU_START")]
static PAIR_CPU_START: PerCpuArray<CpuPairStart> = PerCpuArray::with_max_entries(1, 0);
#[map(name = "PAIR_SLOTS")]
static PAIR_SLOTS: Array<u64> = Array::with_max_entries(PAIR_KEYS * CAPPED_SLOTS, 0);
#[map(name = "PAIR_TOTALS")]
static PAIR_TOTALS: PerCpuArray<KeyTotals> = PerCpuArray::with_max_entries(PAIR_KEYS, 0);
#[map(name = "PAIR_LOST")]
static PAIR_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(lost::COUNT, 0);

#[inline(always)]
fn count_lost<C: EbpfContext>(ctx: &C, what: u32) {
    crate::diagnostics::sample_lost(ctx, &PAIR_LOST, what);
}

#[raw_tracepoint]
pub fn cpu_pair_begin(ctx: RawTracePointContext) -> i32 {
    let key: u64 = ctx.arg(0);
    // Keyed by CPU: begin and end of a handler run on one CPU.
    // SAFETY: bpf_get_smp_processor_id has no preconditions.
    crate::stack_samples::at_begin(&ctx, u64::from(unsafe { bpf_get_smp_processor_id() }));
    if let Some(slot) = PAIR_CPU_START.get_ptr_mut(0) {
        // SAFETY: this CPU's slot; begin and end cannot interleave on one CPU.
        unsafe {
            *slot = CpuPairStart {
                tid: 0,
                _pad: 0,
                ts_ns: bpf_ktime_get_ns(),
                key: key & 0xffff_ffff,
            };
        }
    }
    0
}

#[raw_tracepoint]
pub fn cpu_pair_end(ctx: RawTracePointContext) -> i32 {
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(slot) = PAIR_CPU_START.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's slot.
    let slot = unsafe { &mut *slot };
    if slot.ts_ns == 0 {
        count_lost(&ctx, lost::END_WITHOUT_START);
        return 0;
    }
    let (began, key) = (slot.ts_ns, slot.key);
    slot.ts_ns = 0;
    if key >= u64::from(PAIR_KEYS) {
        count_lost(&ctx, lost::KEY_OUT_OF_RANGE);
        return 0;
    }
    let delta = now.saturating_sub(began);
    crate::outliers::check(key, delta);
    // SAFETY: bpf_get_smp_processor_id has no preconditions.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    crate::stack_samples::at_end(&ctx, u64::from(cpu), key, delta);
    if let Some(count) = PAIR_SLOTS.get_ptr_mut(key as u32 * CAPPED_SLOTS + capped_slot_of(delta)) {
        // SAFETY: a valid, aligned u64 of the array; other CPUs may add at the same
        // time, hence the atomic add.
        unsafe {
            core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
                count, 1,
            )
        };
    }
    if let Some(totals) = PAIR_TOTALS.get_ptr_mut(key as u32) {
        // SAFETY: this CPU's entry of a per-CPU array.
        unsafe { (*totals).add(delta) };
    }
    0
}
