//! User stacks captured at recorded tracepoints (`record --user-stack`): the record the
//! `user_stack` program sends through its ring buffer, and the frame layout the
//! kernel's `bpf_get_stack` fills with `BPF_F_USER_STACK | BPF_F_USER_BUILD_ID`.

/// Name of the classic tracepoint program that captures user stacks.
pub const USER_STACK_PROGRAM: &str = "user_stack";
/// Its ring buffer of [`StackHeader`] + frames.
pub const USER_STACK_RING: &str = "USER_STACKS";
/// Per-CPU count of stacks the ring buffer had no room for.
pub const USER_STACK_LOST: &str = "USER_STACKS_LOST";

/// Frames asked of the kernel: its limit for user stacks (perf_event_max_stack's
/// default) is 127.
pub const MAX_FRAMES: usize = 127;

/// `bpf_get_stack` flags: the user stack, each frame as build-id + file offset.
pub const BPF_F_USER_STACK: u64 = 1 << 8;
pub const BPF_F_USER_BUILD_ID: u64 = 1 << 11;

/// `BuildIdFrame::status` values (`enum bpf_stack_build_id_status`).
pub mod status {
    /// No frame (the walk stopped).
    pub const EMPTY: i32 = 0;
    /// `build_id` and `offset_or_ip` (a file offset) are valid.
    pub const VALID: i32 = 1;
    /// Only the instruction pointer: the object's build-id could not be read.
    pub const IP: i32 = 2;
}

/// One frame as the kernel writes it (`struct bpf_stack_build_id`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BuildIdFrame {
    pub status: i32,
    pub build_id: [u8; 20],
    /// A file offset when `status` is VALID, the instruction pointer when IP.
    pub offset_or_ip: u64,
}

/// Size of one frame in bytes.
pub const FRAME_BYTES: usize = core::mem::size_of::<BuildIdFrame>();

/// What precedes the frames of one captured stack.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackHeader {
    /// `record --user-stack`: bpf_ktime_get_ns() when the program ran (CLOCK_MONOTONIC,
    /// the recording's clock). `hist --stacks`: the stack's hash, its key in
    /// [`StackSampleKey::user_stack`].
    pub tag: u64,
    /// bpf_get_current_pid_tgid(): tgid in the upper half, thread id in the lower.
    pub pid_tgid: u64,
    pub cpu: u32,
    /// Zero. (Which tracepoint fired is not known to the program: for BPF, the kernel
    /// overwrites the record's common fields, `common_type` included, with a pointer
    /// to the registers.)
    pub reserved: u32,
    /// Bytes `bpf_get_stack` wrote (frames × [`FRAME_BYTES`]), or its negative errno.
    pub result: i64,
}

/// Size of the header in bytes.
pub const HEADER_BYTES: usize = core::mem::size_of::<StackHeader>();

/// What the program assembles per CPU before sending its used part.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct StackRecord {
    pub header: StackHeader,
    pub frames: [BuildIdFrame; MAX_FRAMES],
}

/// `hist --stacks`: the ring buffer of distinct user stacks (each sent once).
pub const HIST_STACK_RING: &str = "HIST_STACKS";
/// `hist --stacks`: kernel stacks (a stack-trace map), by id.
pub const HIST_KERNEL_STACKS: &str = "HIST_KERNEL_STACKS";
/// `hist --stacks`: count and total latency per [`StackSampleKey`], per CPU.
pub const HIST_STACK_TOTALS: &str = "HIST_STACK_TOTALS";
/// `hist --stacks`: what could not be kept, per CPU, indexed by [`stack_lost`].
pub const HIST_STACK_LOST: &str = "HIST_STACK_LOST";

/// Counters of `HIST_STACK_LOST`.
pub mod stack_lost {
    /// A begin's stack ids could not be stored.
    pub const BEGIN_MAP_FULL: u32 = 0;
    /// The totals table had no room for a new (key, stacks).
    pub const TOTALS_MAP_FULL: u32 = 1;
    /// A new user stack did not fit in the ring buffer (its samples are counted under
    /// a stack userspace never sees).
    pub const RING_FULL: u32 = 2;
    /// The kernel stack could not be taken (its samples are counted under id -1).
    pub const NO_KERNEL_STACK: u32 = 3;
    pub const COUNT: u32 = 4;
}

/// A latency sample's key and the stacks where its latency began.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StackSampleKey {
    /// The aggregator's key (syscall number, …).
    pub key: u64,
    /// Hash of the user stack's frames (0: none).
    pub user_stack: u64,
    /// Id in the kernel stack-trace map (-1: none).
    pub kernel_stack: i64,
}

/// Samples and their summed latency.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackSampleTotals {
    pub count: u64,
    pub total_ns: u64,
}

/// The stacks a begin hook saw, kept until the end hook.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BeginStacks {
    pub user_stack: u64,
    pub kernel_stack: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_kernel_and_have_no_padding() {
        assert_eq!(FRAME_BYTES, 32);
        assert_eq!(HEADER_BYTES, 32);
        assert_eq!(
            core::mem::size_of::<StackRecord>(),
            HEADER_BYTES + MAX_FRAMES * FRAME_BYTES
        );
    }
}
