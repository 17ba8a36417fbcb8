//! Histogram tables for sparse keys (pids, devices, field values), shared by the
//! aggregators that match a begin and an end per thread or per request: samples per
//! (key, slot) and totals per key in per-CPU hashes, a per-thread start table, and
//! the loss counters. Each aggregator loads its own copy of the object, so each has
//! its own tables.

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::map,
    maps::{LruHashMap, PerCpuArray, PerCpuHashMap},
    programs::tracing::StackIdContext,
};
use ftrace_common::hist::{CallStack, KeyTotals, PairStart, SlotKey, capped_slot_of, lost};

/// Begin timestamps waiting for their end, per thread; `ts_ns == 0` once consumed.
#[map(name = "THREAD_START")]
static THREAD_START: LruHashMap<u32, PairStart> = LruHashMap::with_max_entries(65536, 0);
/// The calls of a probed kernel function each thread is inside (`func:`).
#[map(name = "THREAD_CALLS")]
static THREAD_CALLS: LruHashMap<u32, CallStack> = LruHashMap::with_max_entries(8192, 0);
/// Command names of the threads whose ids are keys (for the per-thread aggregators).
#[map(name = "THREAD_COMM")]
static THREAD_COMM: LruHashMap<u32, [u8; 16]> = LruHashMap::with_max_entries(16384, 0);
#[map(name = "HASHED_SLOTS")]
static HASHED_SLOTS: PerCpuHashMap<SlotKey, u64> = PerCpuHashMap::with_max_entries(65536, 0);
#[map(name = "HASHED_TOTALS")]
static HASHED_TOTALS: PerCpuHashMap<u64, KeyTotals> = PerCpuHashMap::with_max_entries(4096, 0);
#[map(name = "HASHED_LOST")]
static HASHED_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(lost::COUNT, 0);

#[inline(always)]
pub fn count_lost<C: EbpfContext>(ctx: &C, what: u32) {
    crate::diagnostics::sample_lost(ctx, &HASHED_LOST, what);
}

#[inline(always)]
pub fn now_ns() -> u64 {
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    unsafe { bpf_ktime_get_ns() }
}

/// Whether the current thread is one the aggregator measures (see scope.rs).
#[inline(always)]
pub fn current_is_target() -> bool {
    crate::scope::in_scope(bpf_get_current_pid_tgid())
}

/// Notes the current thread's command name the first time it is seen.
#[inline(always)]
pub fn remember_comm() {
    let tid = bpf_get_current_pid_tgid() as u32;
    if THREAD_COMM.get_ptr(tid).is_none()
        && let Ok(comm) = bpf_get_current_comm()
    {
        let _ = THREAD_COMM.insert(tid, comm, 0);
    }
}

/// Notes thread `tid`'s command name as it is now (a thread renamed by exec or
/// prctl is counted under its latest name).
#[inline(always)]
pub fn remember_comm_of(tid: u32, comm: [u8; 16]) {
    let _ = THREAD_COMM.insert(tid, comm, 0);
}

/// Stores the current thread's begin, keyed by `key` (and its stacks, with `hist
/// --stacks`).
#[inline(always)]
pub fn thread_begin<C: EbpfContext + StackIdContext>(ctx: &C, key: u64) {
    let tid = bpf_get_current_pid_tgid() as u32;
    crate::stack_samples::at_begin(ctx, u64::from(tid));
    let start = PairStart {
        ts_ns: now_ns(),
        key,
    };
    if THREAD_START.insert(tid, start, 0).is_err() {
        count_lost(ctx, lost::START_MAP_FULL);
    }
}

/// Pushes the start of the current thread's call of the probed function onto its stack
/// of calls (nested and recursive calls each get theirs; see call_stacks.rs).
#[inline(always)]
pub fn call_begin<C: EbpfContext + StackIdContext>(ctx: &C) {
    let tid = bpf_get_current_pid_tgid() as u32;
    crate::stack_samples::at_begin(ctx, u64::from(tid));
    if let Err(what) = crate::call_stacks::push(&THREAD_CALLS, tid, now_ns()) {
        count_lost(ctx, what);
    }
}

/// Pops the current thread's innermost call and records its latency (key 0).
#[inline(always)]
pub fn call_end<C: EbpfContext>(ctx: &C) {
    let now = now_ns();
    let tid = bpf_get_current_pid_tgid() as u32;
    match crate::call_stacks::pop(&THREAD_CALLS, tid) {
        Ok(Some(began)) => {
            let delta = now.saturating_sub(began);
            crate::stack_samples::at_end(ctx, u64::from(tid), 0, delta);
            record(ctx, 0, delta);
        }
        Ok(None) => {}
        Err(what) => count_lost(ctx, what),
    }
}

/// Ends the current thread's pair, if it began, and records its latency.
#[inline(always)]
pub fn thread_end<C: EbpfContext>(ctx: &C) {
    let now = now_ns();
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(start) = THREAD_START.get_ptr_mut(tid) else {
        count_lost(ctx, lost::END_WITHOUT_START);
        return;
    };
    // SAFETY: the thread's own entry; only this thread writes it.
    let start = unsafe { &mut *start };
    if start.ts_ns == 0 {
        count_lost(ctx, lost::END_WITHOUT_START);
        return;
    }
    let delta = now.saturating_sub(start.ts_ns);
    let key = start.key;
    start.ts_ns = 0;
    crate::stack_samples::at_end(ctx, u64::from(tid), key, delta);
    record(ctx, key, delta);
}

/// Adds one sample of `delta_ns` to `key`'s histogram.
#[inline(always)]
pub fn record<C: EbpfContext>(ctx: &C, key: u64, delta_ns: u64) {
    crate::outliers::check(key, delta_ns);
    let slot = SlotKey {
        key,
        slot: capped_slot_of(delta_ns),
        _pad: 0,
    };
    if !bump(&HASHED_SLOTS, &slot) || !add_to_totals(&HASHED_TOTALS, &key, delta_ns) {
        count_lost(ctx, lost::HIST_MAP_FULL);
    }
}

/// Adds one to this CPU's count of `key` in a per-CPU hash; false when the hash is full.
#[inline(always)]
pub fn bump<K>(counts: &PerCpuHashMap<K, u64>, key: &K) -> bool {
    match counts.get_ptr_mut(key) {
        // SAFETY: this CPU's value of a per-CPU map entry.
        Some(count) => unsafe { *count += 1 },
        None => return counts.insert(key, &1, 0).is_ok(),
    }
    true
}

/// Adds one sample to this CPU's totals of `key` in a per-CPU hash; false when the hash
/// is full.
#[inline(always)]
pub fn add_to_totals<K>(totals: &PerCpuHashMap<K, KeyTotals>, key: &K, delta_ns: u64) -> bool {
    match totals.get_ptr_mut(key) {
        // SAFETY: this CPU's value of a per-CPU map entry.
        Some(entry) => unsafe { (*entry).add(delta_ns) },
        None => return totals.insert(key, &KeyTotals::of(delta_ns), 0).is_ok(),
    }
    true
}
