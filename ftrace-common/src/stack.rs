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
    /// bpf_ktime_get_ns() when the program ran (CLOCK_MONOTONIC, the recording's clock).
    pub ktime_ns: u64,
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
