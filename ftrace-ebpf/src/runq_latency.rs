//! Run-queue latency: from a task's wakeup (sched_wakeup / sched_wakeup_new), or from
//! being preempted while still runnable, to its switch-in; keyed by the CPU it runs on,
//! or (`runq:by-comm`) by task in the hashed tables, with its command name.
//!
//! Classic tracepoint programs, because they see the event record, whose field offsets
//! the loader passes from the events' format files (the raw tracepoints' arguments are
//! task_struct pointers, whose layout needs BTF relocations). These events fire per
//! scheduling decision, not per syscall, so the extra cost is acceptable.

use aya_ebpf::{
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_ns},
    macros::{map, tracepoint},
    maps::{Array, LruHashMap, PerCpuArray},
    programs::TracePointContext,
};
use ftrace_common::hist::{CAPPED_SLOTS, KeyTotals, PAIR_KEYS, capped_slot_of, lost};

use crate::hashed_tables::{record, remember_comm_of};

/// Offsets in the event records, from the format files.
#[unsafe(no_mangle)]
static RUNQ_WAKEUP_PID_OFFSET: u32 = 24;
#[unsafe(no_mangle)]
static RUNQ_PREV_PID_OFFSET: u32 = 24;
#[unsafe(no_mangle)]
static RUNQ_PREV_STATE_OFFSET: u32 = 32;
#[unsafe(no_mangle)]
static RUNQ_NEXT_PID_OFFSET: u32 = 56;
#[unsafe(no_mangle)]
static RUNQ_NEXT_COMM_OFFSET: u32 = 40;
/// Non-zero: key by task (named by command in userspace) in the hashed tables instead
/// of by CPU.
#[unsafe(no_mangle)]
static RUNQ_BY_COMM: u32 = 0;

#[map(name = "RUNQ_START")]
static RUNQ_START: LruHashMap<u32, u64> = LruHashMap::with_max_entries(65536, 0);
#[map(name = "RUNQ_SLOTS")]
static RUNQ_SLOTS: Array<u64> = Array::with_max_entries(PAIR_KEYS * CAPPED_SLOTS, 0);
#[map(name = "RUNQ_TOTALS")]
static RUNQ_TOTALS: PerCpuArray<KeyTotals> = PerCpuArray::with_max_entries(PAIR_KEYS, 0);
#[map(name = "RUNQ_LOST")]
static RUNQ_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(lost::COUNT, 0);

#[inline(always)]
fn global(value: &u32) -> usize {
    // SAFETY: a read of a constant global the loader may have overridden.
    unsafe { core::ptr::read_volatile(value) as usize }
}

#[inline(always)]
fn count_lost(what: u32) {
    if let Some(counter) = RUNQ_LOST.get_ptr_mut(what) {
        // SAFETY: per-CPU slot of this CPU; programs do not migrate while running.
        unsafe { *counter += 1 };
    }
}

#[inline(always)]
fn enqueued(pid: u32) {
    if pid == 0 {
        return;
    }
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if RUNQ_START.insert(pid, now, 0).is_err() {
        count_lost(lost::START_MAP_FULL);
    }
}

#[tracepoint]
pub fn runq_wakeup(ctx: TracePointContext) -> u32 {
    // SAFETY: reading an i32 field at its offset inside the event record.
    if let Ok(pid) = unsafe { ctx.read_at::<i32>(global(&RUNQ_WAKEUP_PID_OFFSET)) } {
        enqueued(pid as u32);
    }
    0
}

#[tracepoint]
pub fn runq_switch(ctx: TracePointContext) -> u32 {
    // SAFETY: reading fields at their offsets inside the event record.
    let (prev_pid, prev_state, next_pid) = unsafe {
        (
            ctx.read_at::<i32>(global(&RUNQ_PREV_PID_OFFSET)),
            ctx.read_at::<i64>(global(&RUNQ_PREV_STATE_OFFSET)),
            ctx.read_at::<i32>(global(&RUNQ_NEXT_PID_OFFSET)),
        )
    };
    // A task preempted while runnable goes straight back on the run queue.
    if let (Ok(prev_pid), Ok(0)) = (prev_pid, prev_state) {
        enqueued(prev_pid as u32);
    }
    let Ok(next_pid) = next_pid else {
        return 0;
    };
    let next_pid = next_pid as u32;
    if next_pid == 0 {
        return 0;
    }
    // SAFETY: the value is copied out before the entry is removed.
    let Some(began) = (unsafe { RUNQ_START.get(next_pid) }).copied() else {
        return 0;
    };
    let _ = RUNQ_START.remove(next_pid);
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let delta = unsafe { bpf_ktime_get_ns() }.saturating_sub(began);
    if global(&RUNQ_BY_COMM) != 0 {
        // SAFETY: reading the 16-byte next_comm field at its offset in the record.
        if let Ok(comm) = unsafe { ctx.read_at::<[u8; 16]>(global(&RUNQ_NEXT_COMM_OFFSET)) } {
            remember_comm_of(next_pid, comm);
        }
        record(u64::from(next_pid), delta);
        return 0;
    }
    // SAFETY: no preconditions.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    if cpu >= PAIR_KEYS {
        count_lost(lost::KEY_OUT_OF_RANGE);
        return 0;
    }
    if let Some(count) = RUNQ_SLOTS.get_ptr_mut(cpu * CAPPED_SLOTS + capped_slot_of(delta)) {
        // SAFETY: a valid, aligned u64 of the array; other CPUs may add at the same
        // time, hence the atomic add.
        unsafe {
            core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
                count, 1,
            )
        };
    }
    if let Some(totals) = RUNQ_TOTALS.get_ptr_mut(cpu) {
        // SAFETY: this CPU's entry of a per-CPU array.
        let totals = unsafe { &mut *totals };
        totals.count += 1;
        totals.sum_ns += delta;
        if delta > totals.max_ns {
            totals.max_ns = delta;
        }
    }
    0
}
