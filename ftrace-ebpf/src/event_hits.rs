//! `count_event_hits`: one raw tracepoint program attached to every recorded event,
//! each attachment carrying its event's slot as the BPF cookie, counting per CPU what
//! the tracefs instance could have recorded: only while the controller holds the gate
//! open (around the instance's tracing_on), only on the CPUs of its cpumask and, when
//! the recording is limited to threads, only theirs; with -c (the instance's
//! event-fork) `follow_hit_forks` adds each child of a counted thread, as the kernel
//! adds it to the instance's pid list.

use aya_ebpf::{
    EbpfContext,
    helpers::{
        bpf_get_current_pid_tgid, bpf_get_smp_processor_id, generated::bpf_get_attach_cookie,
    },
    macros::{map, raw_tracepoint, tracepoint},
    maps::{Array, HashMap, PerCpuArray},
    programs::{RawTracePointContext, TracePointContext},
};
use ftrace_common::event_hits::{CPU_MASK_WORDS, GATE_OPEN, TIDS_FULL_SLOT};

/// One counter per recorded event (the loader sizes it), per CPU.
#[map(name = "EVENT_HITS")]
static EVENT_HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);
/// Slot 0: GATE_OPEN while the recording window is open.
#[map(name = "EVENT_HITS_GATE")]
static EVENT_HITS_GATE: Array<u32> = Array::with_max_entries(1, 0);
/// The thread ids counted when EVENT_HITS_ONLY_TIDS is set (the instance's
/// set_event_pid list); the loader sizes it.
#[map(name = "EVENT_HITS_TIDS")]
static EVENT_HITS_TIDS: HashMap<u32, u32> = HashMap::with_max_entries(1, 0);

/// Slot TIDS_FULL_SLOT: children that did not fit in EVENT_HITS_TIDS.
#[map(name = "EVENT_HITS_MISSED")]
static EVENT_HITS_MISSED: Array<u64> = Array::with_max_entries(1, 0);

/// Offsets of sched_process_fork's parent_pid and child_pid in its record (from the
/// event's format file).
#[unsafe(no_mangle)]
static EVENT_HITS_FORK_PARENT_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static EVENT_HITS_FORK_CHILD_OFFSET: u32 = 0;

/// Non-zero: count only the threads in EVENT_HITS_TIDS.
#[unsafe(no_mangle)]
static EVENT_HITS_ONLY_TIDS: u32 = 0;
/// The CPUs counted, one bit each (CPU 0 is bit 0 of word 0); CPUs beyond the mask
/// are counted.
#[unsafe(no_mangle)]
static EVENT_HITS_CPUS: [u64; CPU_MASK_WORDS] = [u64::MAX; CPU_MASK_WORDS];

#[raw_tracepoint]
pub fn count_event_hits(ctx: RawTracePointContext) -> i32 {
    if EVENT_HITS_GATE.get(0).copied() != Some(GATE_OPEN) {
        return 0;
    }
    // SAFETY: the helper only reads the current CPU's number; the rest are reads of
    // constant globals the loader may have overridden.
    let (cpu, only_tids, mask) = unsafe {
        (
            bpf_get_smp_processor_id() as usize,
            core::ptr::read_volatile(&EVENT_HITS_ONLY_TIDS),
            core::ptr::read_volatile(&EVENT_HITS_CPUS),
        )
    };
    if let Some(word) = mask.get(cpu / 64)
        && word & (1u64 << (cpu % 64)) == 0
    {
        return 0;
    }
    if only_tids != 0 {
        let tid = bpf_get_current_pid_tgid() as u32;
        // SAFETY: a lookup whose value is not kept past the check.
        if unsafe { EVENT_HITS_TIDS.get(&tid) }.is_none() {
            return 0;
        }
    }
    // SAFETY: the helper reads the attachment's cookie; the context is this program's.
    let slot = unsafe { bpf_get_attach_cookie(ctx.as_ptr()) } as u32;
    if let Some(count) = EVENT_HITS.get_ptr_mut(slot) {
        // SAFETY: this CPU's slot of a per-CPU array; programs do not migrate CPUs
        // while running, and the kernel does not run this program nested in itself on
        // one CPU (an interrupt's hit meanwhile is skipped and counted in the
        // program's recursion misses, which the summary reports).
        unsafe { *count += 1 };
    }
    0
}

/// On sched:sched_process_fork: a child (process or thread) of a counted thread is
/// counted too.
#[tracepoint]
pub fn follow_hit_forks(ctx: TracePointContext) -> u32 {
    // SAFETY: reads of constant globals the loader set, and of the record's pid_t
    // fields at those offsets.
    let (parent, child) = unsafe {
        let parent = core::ptr::read_volatile(&EVENT_HITS_FORK_PARENT_OFFSET) as usize;
        let child = core::ptr::read_volatile(&EVENT_HITS_FORK_CHILD_OFFSET) as usize;
        (ctx.read_at::<u32>(parent), ctx.read_at::<u32>(child))
    };
    let (Ok(parent), Ok(child)) = (parent, child) else {
        return 0;
    };
    // SAFETY: a lookup whose value is not kept past the check.
    if unsafe { EVENT_HITS_TIDS.get(&parent) }.is_none() {
        return 0;
    }
    if EVENT_HITS_TIDS.insert(&child, &1, 0).is_err()
        && let Some(missed) = EVENT_HITS_MISSED.get_ptr_mut(TIDS_FULL_SLOT)
    {
        // SAFETY: a slot of a shared array; the atomic add keeps concurrent forks on
        // other CPUs from losing counts.
        unsafe {
            core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
                missed, 1,
            )
        };
    }
    0
}
