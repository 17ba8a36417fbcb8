//! Latency of every system call, per syscall number, from raw_syscalls sys_enter to
//! sys_exit of the same thread, aggregated into log2/linear histograms in the kernel.
//!
//! Cost matters (it runs on every syscall), so the hot path touches only arrays: the
//! start goes into a per-CPU slot, since a thread stays on its CPU from sys_enter to
//! sys_exit unless it is switched out, and only then (in sched_switch, where the
//! outgoing thread is still current) is the start moved to a per-thread LRU hash. Slot
//! counters are one flat array indexed by (syscall, slot) bumped with an atomic add;
//! totals are a per-CPU array indexed by syscall.
//!
//! Configured at load time: the scope (scope.rs) limits it to one process or command.

use crate::{
    hashed_tables::{add_to_totals, bump},
    scope::in_scope,
};
use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{map, raw_tracepoint},
    maps::{Array, LruHashMap, PerCpuArray, PerCpuHashMap},
    programs::RawTracePointContext,
};
use ftrace_common::hist::{
    CAPPED_SLOTS, CommKey, CommSlotKey, CpuPairStart, KeyTotals, PairStart, SYSCALL_KEYS,
    capped_slot_of, lost,
};

/// Start of the syscall running on this CPU.
#[map(name = "SYSCALL_CPU_START")]
static SYSCALL_CPU_START: PerCpuArray<CpuPairStart> = PerCpuArray::with_max_entries(1, 0);
/// Starts of threads switched out inside a syscall; `ts_ns == 0` once consumed.
#[map(name = "SYSCALL_START")]
static SYSCALL_START: LruHashMap<u32, PairStart> = LruHashMap::with_max_entries(65536, 0);
/// Samples per (syscall, slot): index = nr * CAPPED_SLOTS + slot.
#[map(name = "SYSCALL_SLOTS")]
static SYSCALL_SLOTS: Array<u64> = Array::with_max_entries(SYSCALL_KEYS * CAPPED_SLOTS, 0);
/// Count, sum and max per syscall, per CPU.
#[map(name = "SYSCALL_TOTALS")]
static SYSCALL_TOTALS: PerCpuArray<KeyTotals> = PerCpuArray::with_max_entries(SYSCALL_KEYS, 0);
/// `syscalls:by-comm`: samples per (command name, syscall, slot), totals per (command
/// name, syscall).
#[map(name = "SYSCALL_COMM_SLOTS")]
static SYSCALL_COMM_SLOTS: PerCpuHashMap<CommSlotKey, u64> =
    PerCpuHashMap::with_max_entries(65536, 0);
#[map(name = "SYSCALL_COMM_TOTALS")]
static SYSCALL_COMM_TOTALS: PerCpuHashMap<CommKey, KeyTotals> =
    PerCpuHashMap::with_max_entries(8192, 0);
#[map(name = "SYSCALL_LOST")]
static SYSCALL_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(lost::COUNT, 0);

#[inline(always)]
fn count_lost<C: EbpfContext>(ctx: &C, what: u32) {
    crate::diagnostics::sample_lost(ctx, &SYSCALL_LOST, what);
}

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn syscall_latency_enter(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if !in_scope(pid_tgid) {
        return 0;
    }
    // sys_enter(struct pt_regs *regs, long id)
    let id: u64 = ctx.arg(1);
    crate::stack_samples::at_begin(&ctx, pid_tgid & 0xffff_ffff);
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Some(slot) = SYSCALL_CPU_START.get_ptr_mut(0) {
        // SAFETY: this CPU's slot; nothing else runs on this CPU meanwhile.
        unsafe {
            *slot = CpuPairStart {
                tid: pid_tgid as u32,
                _pad: 0,
                ts_ns: now,
                key: id,
            };
        }
    }
    0
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn syscall_latency_exit(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if !in_scope(pid_tgid) {
        return 0;
    }
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let tid = pid_tgid as u32;
    let Some((began, key)) = take_start(tid) else {
        count_lost(&ctx, lost::END_WITHOUT_START);
        return 0;
    };
    if key >= u64::from(SYSCALL_KEYS) {
        count_lost(&ctx, lost::KEY_OUT_OF_RANGE);
        return 0;
    }
    let delta = now.saturating_sub(began);
    crate::outliers::check(key, delta);
    crate::stack_samples::at_end(&ctx, u64::from(tid), key, delta);
    let index = key as u32 * CAPPED_SLOTS + capped_slot_of(delta);
    if let Some(count) = SYSCALL_SLOTS.get_ptr_mut(index) {
        // SAFETY: a valid, aligned u64 slot of the array; other CPUs may add to it at
        // the same time, hence the atomic add (BPF's XADD; core's AtomicU64 offers no
        // fetch_add on this target).
        unsafe {
            core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
                count, 1,
            )
        };
    }
    if let Some(totals) = SYSCALL_TOTALS.get_ptr_mut(key as u32) {
        // SAFETY: this CPU's entry of a per-CPU array.
        unsafe { (*totals).add(delta) };
    }
    0
}

/// sys_exit for `syscalls:by-comm`: the same pairing, samples keyed by the thread's
/// command name and the syscall in hashed tables.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn syscall_comm_exit(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if !in_scope(pid_tgid) {
        return 0;
    }
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let Some((began, key)) = take_start(pid_tgid as u32) else {
        count_lost(&ctx, lost::END_WITHOUT_START);
        return 0;
    };
    let delta = now.saturating_sub(began);
    crate::outliers::check(key, delta);
    let comm = bpf_get_current_comm().unwrap_or([0; 16]);
    let slot = CommSlotKey {
        comm,
        key,
        slot: capped_slot_of(delta),
        _pad: 0,
    };
    if !bump(&SYSCALL_COMM_SLOTS, &slot)
        || !add_to_totals(&SYSCALL_COMM_TOTALS, &CommKey { comm, key }, delta)
    {
        count_lost(&ctx, lost::HIST_MAP_FULL);
    }
    0
}

/// The start of `tid`'s syscall: from this CPU's slot, or from the hash if the thread
/// was switched out meanwhile. Marks it consumed.
#[inline(always)]
fn take_start(tid: u32) -> Option<(u64, u64)> {
    if let Some(slot) = SYSCALL_CPU_START.get_ptr_mut(0) {
        // SAFETY: this CPU's slot; nothing else runs on this CPU meanwhile.
        let slot = unsafe { &mut *slot };
        if slot.tid == tid && slot.ts_ns != 0 {
            let taken = (slot.ts_ns, slot.key);
            slot.ts_ns = 0;
            return Some(taken);
        }
    }
    let start = SYSCALL_START.get_ptr_mut(tid)?;
    // SAFETY: the thread's own entry; only this thread and its CPU's switch hook write it.
    let start = unsafe { &mut *start };
    if start.ts_ns == 0 {
        return None;
    }
    let taken = (start.ts_ns, start.key);
    start.ts_ns = 0;
    Some(taken)
}

/// A thread switched out inside a syscall takes its start along into the hash.
#[raw_tracepoint(tracepoint = "sched_switch")]
pub fn syscall_latency_switch(ctx: RawTracePointContext) -> i32 {
    let Some(slot) = SYSCALL_CPU_START.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's slot; nothing else runs on this CPU meanwhile.
    let slot = unsafe { &mut *slot };
    if slot.ts_ns == 0 {
        return 0;
    }
    // sched_switch fires before the switch: the current task is the one leaving.
    let tid = bpf_get_current_pid_tgid() as u32;
    if slot.tid != tid {
        return 0;
    }
    let start = PairStart {
        ts_ns: slot.ts_ns,
        key: slot.key,
    };
    slot.ts_ns = 0;
    if SYSCALL_START.insert(tid, start, 0).is_err() {
        count_lost(&ctx, lost::START_MAP_FULL);
    }
    0
}
