//! `user_stack`: the user stack of the thread at a recorded tracepoint, whole (up to
//! 127 frames, the kernel's frame-pointer walk), each frame as build-id + file offset
//! where the kernel can read the object's build-id, so it names code after the process
//! is gone. One loaded copy is attached to every recorded tracepoint (a classic
//! tracepoint program: its context starts with the record's `common_type`, which says
//! which event fired). The controller attaches it after enabling the ftrace events, so
//! at each hit the ftrace record is written first and its timestamp is at or before
//! this program's `ktime_ns`: how `report` joins the two.

use aya_ebpf::{
    EbpfContext,
    helpers::{
        bpf_get_current_pid_tgid, bpf_get_smp_processor_id, bpf_get_stack, bpf_ktime_get_ns,
    },
    macros::{map, tracepoint},
    maps::{PerCpuArray, RingBuf},
    programs::TracePointContext,
};
use ftrace_common::stack::{
    BPF_F_USER_BUILD_ID, BPF_F_USER_STACK, FRAME_BYTES, HEADER_BYTES, MAX_FRAMES, StackRecord,
};

use crate::scope;

#[map(name = "USER_STACKS")]
static USER_STACKS: RingBuf = RingBuf::with_byte_size(16 * 1024 * 1024, 0);
/// Stacks the ring buffer had no room for.
#[map(name = "USER_STACKS_LOST")]
static USER_STACKS_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);
/// Where one CPU assembles a record before the used part is sent (too big for the
/// program's stack).
#[map(name = "USER_STACK_SCRATCH")]
static USER_STACK_SCRATCH: PerCpuArray<StackRecord> = PerCpuArray::with_max_entries(1, 0);

const FRAMES_BYTES: usize = MAX_FRAMES * FRAME_BYTES;

#[tracepoint]
pub fn user_stack(ctx: TracePointContext) -> u32 {
    let pid_tgid = bpf_get_current_pid_tgid();
    if !scope::in_scope(pid_tgid) {
        return 0;
    }
    let Some(record) = USER_STACK_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: `record` is this CPU's slot of a per-CPU array (programs do not migrate
    // while running, so nothing else writes it); bpf_get_stack writes at most
    // FRAMES_BYTES into the frames array, which is that size.
    unsafe {
        let header = &mut (*record).header;
        header.pid_tgid = pid_tgid;
        header.cpu = bpf_get_smp_processor_id();
        header.reserved = 0;
        header.tag = bpf_ktime_get_ns();
        header.result = bpf_get_stack(
            ctx.as_ptr(),
            (&raw mut (*record).frames).cast(),
            FRAMES_BYTES as u32,
            BPF_F_USER_STACK | BPF_F_USER_BUILD_ID,
        );
    }
    // SAFETY: as above; read back what was just written.
    let result = unsafe { (*record).header.result };
    // One unsigned comparison (a negative error is a huge u64) on the very value the
    // length is computed from: LLVM turns `result > 0 && result <= N` into a check on
    // `result - 1`, whose bound 6.12's verifier does not carry back to `result`, and
    // rejects the output call's size as possibly negative.
    let used = if (result as u64) <= FRAMES_BYTES as u64 {
        result as usize
    } else {
        0
    };
    // SAFETY: `used` is at most FRAMES_BYTES, so the slice stays inside the record.
    let bytes = unsafe { core::slice::from_raw_parts(record.cast::<u8>(), HEADER_BYTES + used) };
    if USER_STACKS.output::<[u8]>(bytes, 0).is_err()
        && let Some(lost) = USER_STACKS_LOST.get_ptr_mut(0)
    {
        // SAFETY: this CPU's slot of a per-CPU array.
        unsafe { *lost += 1 };
    }
    0
}
