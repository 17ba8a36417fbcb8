//! `hist --stacks`: latency samples also keyed by the kernel and user stack at the
//! begin hook (where the thread was when the latency began), aggregated here: count
//! and total latency per (key, kernel stack, user stack).
//!
//! Kernel stacks go into a stack-trace map (the kernel dedupes them; ids). User stacks
//! are taken whole with build-id frames (`bpf_get_stack`, as `record --user-stack`),
//! hashed, and each distinct one is sent once through a ring buffer, so userspace can
//! name its frames after the process is gone. Off (one global read) unless the loader
//! sets `STACKS_ON`. The aggregator calls [`at_begin`] with an id that its end hook
//! will know (the thread id) and [`at_end`] with the same id, the key and the latency.

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_current_pid_tgid, bpf_get_smp_processor_id, bpf_get_stack},
    macros::map,
    maps::{HashMap, LruHashMap, PerCpuArray, PerCpuHashMap, RingBuf, StackTrace},
    programs::tracing::StackIdContext,
};
use ftrace_common::stack::{
    BPF_F_USER_BUILD_ID, BPF_F_USER_STACK, BeginStacks, FRAME_BYTES, HEADER_BYTES, MAX_FRAMES,
    StackRecord, StackSampleKey, StackSampleTotals, stack_lost,
};

/// Non-zero: sample stacks.
#[unsafe(no_mangle)]
static STACKS_ON: u32 = 0;

#[map(name = "HIST_KERNEL_STACKS")]
static HIST_KERNEL_STACKS: StackTrace = StackTrace::with_max_entries(4096, 0);
#[map(name = "HIST_STACKS")]
static HIST_STACKS: RingBuf = RingBuf::with_byte_size(4 * 1024 * 1024, 0);
/// User stack hashes already sent.
#[map(name = "HIST_STACK_SEEN")]
static HIST_STACK_SEEN: HashMap<u64, u8> = HashMap::with_max_entries(16384, 0);
#[map(name = "HIST_STACK_BEGIN")]
static HIST_STACK_BEGIN: LruHashMap<u64, BeginStacks> = LruHashMap::with_max_entries(65536, 0);
#[map(name = "HIST_STACK_TOTALS")]
static HIST_STACK_TOTALS: PerCpuHashMap<StackSampleKey, StackSampleTotals> =
    PerCpuHashMap::with_max_entries(16384, 0);
#[map(name = "HIST_STACK_SCRATCH")]
static HIST_STACK_SCRATCH: PerCpuArray<StackRecord> = PerCpuArray::with_max_entries(1, 0);
#[map(name = "HIST_STACK_LOST")]
static HIST_STACK_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(stack_lost::COUNT, 0);

const FRAMES_BYTES: usize = MAX_FRAMES * FRAME_BYTES;

#[inline(always)]
fn count_lost<C: EbpfContext>(ctx: &C, what: u32) {
    crate::diagnostics::stack_lost(ctx, &HIST_STACK_LOST, what);
}

#[inline(always)]
fn enabled() -> bool {
    // SAFETY: a read of a constant global the loader may have overridden.
    unsafe { core::ptr::read_volatile(&STACKS_ON) != 0 }
}

#[inline(always)]
fn mix(hash: u64, word: u64) -> u64 {
    (hash ^ word).wrapping_mul(0x0000_0100_0000_01b3)
}

/// Takes the stacks at a begin hook and keeps their ids under `id`.
#[inline(always)]
pub fn at_begin<C: EbpfContext + StackIdContext>(ctx: &C, id: u64) {
    if !enabled() {
        return;
    }
    let kernel_stack = match ctx.get_stackid(&HIST_KERNEL_STACKS, 0) {
        Ok(id) => id,
        Err(_) => {
            count_lost(ctx, stack_lost::NO_KERNEL_STACK);
            -1
        }
    };
    let user_stack = user_stack(ctx);
    let begin = BeginStacks {
        user_stack,
        kernel_stack,
    };
    if HIST_STACK_BEGIN.insert(id, begin, 0).is_err() {
        count_lost(ctx, stack_lost::BEGIN_MAP_FULL);
    }
}

/// The hash of the user stack (0: none), sending it the first time it is seen.
#[inline(always)]
fn user_stack<C: EbpfContext>(ctx: &C) -> u64 {
    let Some(record) = HIST_STACK_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's slot of a per-CPU array (programs do not migrate while
    // running); bpf_get_stack writes at most FRAMES_BYTES into the frames array.
    let result = unsafe {
        bpf_get_stack(
            ctx.as_ptr(),
            (&raw mut (*record).frames).cast(),
            FRAMES_BYTES as u32,
            BPF_F_USER_STACK | BPF_F_USER_BUILD_ID,
        )
    };
    if result <= 0 {
        return 0;
    }
    let used = (result as usize).min(FRAMES_BYTES);
    let frames = used / FRAME_BYTES;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..MAX_FRAMES {
        if i >= frames {
            break;
        }
        // SAFETY: i < MAX_FRAMES, inside this CPU's record.
        let frame = unsafe { &(*record).frames[i] };
        let id = &frame.build_id;
        hash = mix(hash, frame.status as u64);
        hash = mix(hash, frame.offset_or_ip);
        hash = mix(
            hash,
            u64::from_le_bytes([id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]]),
        );
        hash = mix(
            hash,
            u64::from_le_bytes([id[8], id[9], id[10], id[11], id[12], id[13], id[14], id[15]]),
        );
    }
    if hash == 0 {
        hash = 1;
    }
    // SAFETY: a lookup of a u8 value.
    if unsafe { HIST_STACK_SEEN.get(hash) }.is_some() {
        return hash;
    }
    // SAFETY: this CPU's record, as above.
    unsafe {
        let header = &mut (*record).header;
        header.tag = hash;
        header.pid_tgid = bpf_get_current_pid_tgid();
        header.cpu = bpf_get_smp_processor_id();
        header.reserved = 0;
        header.result = used as i64;
    }
    // SAFETY: `used` is at most FRAMES_BYTES, so the slice stays inside the record.
    let bytes = unsafe { core::slice::from_raw_parts(record.cast::<u8>(), HEADER_BYTES + used) };
    if HIST_STACKS.output::<[u8]>(bytes, 0).is_ok() {
        let _ = HIST_STACK_SEEN.insert(hash, 1u8, 0);
    } else {
        count_lost(ctx, stack_lost::RING_FULL);
    }
    hash
}

/// Adds a sample of `key` lasting `delta_ns` under the stacks kept at `id`'s begin.
#[inline(always)]
pub fn at_end<C: EbpfContext>(ctx: &C, id: u64, key: u64, delta_ns: u64) {
    if !enabled() {
        return;
    }
    // SAFETY: a copy out of the entry.
    let Some(begin) = (unsafe { HIST_STACK_BEGIN.get(id) }).copied() else {
        return;
    };
    let sample = StackSampleKey {
        key,
        user_stack: begin.user_stack,
        kernel_stack: begin.kernel_stack,
    };
    match HIST_STACK_TOTALS.get_ptr_mut(sample) {
        Some(totals) => {
            // SAFETY: this CPU's value of a per-CPU hash entry.
            unsafe {
                (*totals).count += 1;
                (*totals).total_ns += delta_ns;
            }
        }
        None => {
            let first = StackSampleTotals {
                count: 1,
                total_ns: delta_ns,
            };
            if HIST_STACK_TOTALS.insert(sample, first, 0).is_err() {
                count_lost(ctx, stack_lost::TOTALS_MAP_FULL);
            }
        }
    }
}
