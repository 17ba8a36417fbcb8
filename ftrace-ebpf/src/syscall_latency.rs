//! Latency of every system call, per syscall number, from raw_syscalls sys_enter to
//! sys_exit of the same thread, aggregated into log2/linear histograms in the kernel.
//!
//! Configured at load time: `TARGET_TGID` (0 = every process) limits it to one process.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{map, raw_tracepoint},
    maps::{HashMap, PerCpuArray, PerCpuHashMap},
    programs::RawTracePointContext,
};
use ftrace_common::hist::{KeyTotals, PairStart, SlotKey, lost, slot_of};

#[unsafe(no_mangle)]
static TARGET_TGID: u32 = 0;

#[map(name = "SYSCALL_START")]
static SYSCALL_START: HashMap<u32, PairStart> = HashMap::with_max_entries(65536, 0);
#[map(name = "SYSCALL_SLOTS")]
static SYSCALL_SLOTS: PerCpuHashMap<SlotKey, u64> = PerCpuHashMap::with_max_entries(65536, 0);
#[map(name = "SYSCALL_TOTALS")]
static SYSCALL_TOTALS: PerCpuHashMap<u64, KeyTotals> = PerCpuHashMap::with_max_entries(4096, 0);
#[map(name = "SYSCALL_LOST")]
static SYSCALL_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(lost::COUNT, 0);

#[inline(always)]
fn target_tgid() -> u32 {
    // SAFETY: a read of a constant global the loader may have overridden.
    unsafe { core::ptr::read_volatile(&TARGET_TGID) }
}

#[inline(always)]
fn count_lost(what: u32) {
    if let Some(counter) = SYSCALL_LOST.get_ptr_mut(what) {
        // SAFETY: per-CPU slot of this CPU; programs do not migrate while running.
        unsafe { *counter += 1 };
    }
}

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn syscall_latency_enter(ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let target = target_tgid();
    if target != 0 && (pid_tgid >> 32) as u32 != target {
        return 0;
    }
    // sys_enter(struct pt_regs *regs, long id)
    let id: u64 = ctx.arg(1);
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let start = PairStart {
        ts_ns: unsafe { bpf_ktime_get_ns() },
        key: id,
    };
    if SYSCALL_START.insert(pid_tgid as u32, start, 0).is_err() {
        count_lost(lost::START_MAP_FULL);
    }
    0
}

#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn syscall_latency_exit(_ctx: RawTracePointContext) -> i32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    let target = target_tgid();
    if target != 0 && (pid_tgid >> 32) as u32 != target {
        return 0;
    }
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let tid = pid_tgid as u32;
    // SAFETY: the value is copied out before the entry is removed.
    let Some(start) = (unsafe { SYSCALL_START.get(tid) }).copied() else {
        count_lost(lost::END_WITHOUT_START);
        return 0;
    };
    let _ = SYSCALL_START.remove(tid);
    let delta = now.saturating_sub(start.ts_ns);
    let slot = SlotKey {
        key: start.key,
        slot: slot_of(delta),
        _pad: 0,
    };
    match SYSCALL_SLOTS.get_ptr_mut(slot) {
        // SAFETY: this CPU's value of a per-CPU map entry.
        Some(count) => unsafe { *count += 1 },
        None => {
            if SYSCALL_SLOTS.insert(slot, 1, 0).is_err() {
                count_lost(lost::HIST_MAP_FULL);
            }
        }
    }
    match SYSCALL_TOTALS.get_ptr_mut(start.key) {
        Some(totals) => {
            // SAFETY: this CPU's value of a per-CPU map entry.
            let totals = unsafe { &mut *totals };
            totals.count += 1;
            totals.sum_ns += delta;
            if delta > totals.max_ns {
                totals.max_ns = delta;
            }
        }
        None => {
            let totals = KeyTotals {
                count: 1,
                sum_ns: delta,
                max_ns: delta,
            };
            if SYSCALL_TOTALS.insert(start.key, totals, 0).is_err() {
                count_lost(lost::HIST_MAP_FULL);
            }
        }
    }
    0
}
