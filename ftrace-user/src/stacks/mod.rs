//! User stacks captured by the `user_stack` eBPF program beside a recording
//! (`record --user-stack`): what the file stores, and how each stack finds its event.
//!
//! - [`codec`]: the bytes of the file's user-stack option (pure).
//! - [`join`]: which recorded event each stack belongs to (pure).
//! - [`gather`]: the ring buffer's records turned into [`UserStacks`] while the
//!   processes live (their mappings name the objects of frames without a build-id).
//! - [`build_ids`]: build-ids read from ELF files, and the build-id cache that keeps
//!   every object a stack points into.

pub mod build_ids;
pub mod codec;
pub mod gather;
pub mod join;

/// Every user stack of one recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserStacks {
    /// The objects frames point into.
    pub objects: Vec<StackObject>,
    /// Distinct stacks, innermost frame first.
    pub stacks: Vec<Vec<Frame>>,
    /// One per hit the program saw, in the order it sent them.
    pub samples: Vec<StackSample>,
    /// Stacks the ring buffer had no room for (the kernel's count).
    pub lost: u64,
    /// Ids of the recorded events the program was attached to (the events that
    /// have stacks).
    pub event_types: Vec<u16>,
}

/// An executable or shared object a frame points into.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct StackObject {
    /// Its GNU build-id (empty when the file has none).
    pub build_id: Vec<u8>,
    /// Where the recorded process had it mapped (empty when nothing named it before
    /// the process was gone).
    pub path: String,
}

impl StackObject {
    /// The build-id as lower-case hex (the build-id cache's and debug directories' name).
    pub fn build_id_hex(&self) -> String {
        build_ids::hex(&self.build_id)
    }
}

/// One frame: a file offset in an object, or an address nothing could place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A file offset in `objects[object]`.
    Object { object: u32, offset: u64 },
    /// A bare address: no build-id from the kernel and the process was gone (or the
    /// address was in no file mapping) when hytrace looked.
    Address { ip: u64, why: Unplaced },
}

/// Why a frame's address could not be placed in an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unplaced {
    /// The process exited before its mappings were read.
    ProcessGone,
    /// The address is in an anonymous mapping (JIT code, the stack) or none.
    NoFile,
}

impl Unplaced {
    pub fn describe(self) -> &'static str {
        match self {
            Unplaced::ProcessGone => "process gone, no build-id",
            Unplaced::NoFile => "not in a file mapping",
        }
    }
}

/// One hit of a recorded tracepoint with the thread's user stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackSample {
    /// CLOCK_MONOTONIC ns when the program ran (the recording's clock).
    pub ktime_ns: u64,
    pub tid: u32,
    pub tgid: u32,
    pub cpu: u32,
    /// Index into [`UserStacks::stacks`], or the kernel's error.
    pub stack: Result<u32, StackError>,
}

/// Why a hit has no stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StackError {
    /// The thread has no user stack (a kernel thread), or the walk found no frame.
    Empty,
    /// `bpf_get_stack` failed with this errno.
    Errno(i32),
}

impl StackError {
    pub fn describe(self) -> String {
        match self {
            StackError::Empty => "no user stack (kernel thread)".to_string(),
            StackError::Errno(e) => format!(
                "bpf_get_stack failed: {}",
                std::io::Error::from_raw_os_error(e)
            ),
        }
    }
}
