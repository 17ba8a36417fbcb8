//! Run-queue latency: from a task's wakeup (sched_wakeup / sched_wakeup_new), or from
//! being switched out while still runnable, to its switch-in; keyed by the CPU it runs
//! on, or (`runq:by-comm`) by task in the hashed tables, with its command name.
//!
//! Raw tracepoints: the programs get the kernel's own arguments (task_struct
//! pointers) and read the task's pid and comm at offsets the loader takes from the
//! kernel's BTF.

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_smp_processor_id, bpf_ktime_get_ns, bpf_probe_read_kernel},
    macros::{map, raw_tracepoint},
    maps::{Array, LruHashMap, PerCpuArray},
    programs::RawTracePointContext,
};
use ftrace_common::hist::{CAPPED_SLOTS, KeyTotals, PAIR_KEYS, capped_slot_of, lost};

use crate::hashed_tables::{record, remember_comm_of};

/// Offsets of `pid` and `comm` in struct task_struct, from BTF.
#[unsafe(no_mangle)]
static RUNQ_TASK_PID_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static RUNQ_TASK_COMM_OFFSET: u32 = 0;
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
fn count_lost<C: EbpfContext>(ctx: &C, what: u32) {
    crate::diagnostics::sample_lost(ctx, &RUNQ_LOST, what);
}

#[inline(always)]
fn enqueued<C: EbpfContext>(ctx: &C, pid: u32) {
    if pid == 0 {
        return;
    }
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if RUNQ_START.insert(pid, now, 0).is_err() {
        count_lost(ctx, lost::START_MAP_FULL);
    }
}

/// A task's pid (0 when unreadable).
#[inline(always)]
fn task_pid(task: *const u8) -> u32 {
    // SAFETY: bpf_probe_read_kernel checks the address; a fault reads as 0.
    unsafe {
        bpf_probe_read_kernel(task.wrapping_add(global(&RUNQ_TASK_PID_OFFSET)) as *const i32)
            .unwrap_or(0) as u32
    }
}

/// sched_wakeup(struct task_struct *p), sched_wakeup_new(struct task_struct *p)
#[raw_tracepoint]
pub fn runq_wakeup(ctx: RawTracePointContext) -> i32 {
    enqueued(&ctx, task_pid(ctx.arg(0)));
    0
}

/// sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next,
/// unsigned int prev_state)
#[raw_tracepoint]
pub fn runq_switch(ctx: RawTracePointContext) -> i32 {
    let preempt: u64 = ctx.arg(0);
    let prev_state: u64 = ctx.arg(3);
    // A task switched out while runnable (preempted, or yielding) waits on the run
    // queue again.
    if preempt & 0xff != 0 || prev_state & 0xffff_ffff == 0 {
        enqueued(&ctx, task_pid(ctx.arg(1)));
    }
    let next: *const u8 = ctx.arg(2);
    let next_pid = task_pid(next);
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
        // SAFETY: bpf_probe_read_kernel checks the address of the task's comm.
        let comm = unsafe {
            bpf_probe_read_kernel(
                next.wrapping_add(global(&RUNQ_TASK_COMM_OFFSET)) as *const [u8; 16]
            )
        };
        if let Ok(comm) = comm {
            remember_comm_of(next_pid, comm);
        }
        record(&ctx, u64::from(next_pid), delta);
        return 0;
    }
    // SAFETY: no preconditions.
    let cpu = unsafe { bpf_get_smp_processor_id() };
    if cpu >= PAIR_KEYS {
        count_lost(&ctx, lost::KEY_OUT_OF_RANGE);
        return 0;
    }
    crate::outliers::check(u64::from(cpu), delta);
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
        unsafe { (*totals).add(delta) };
    }
    0
}
