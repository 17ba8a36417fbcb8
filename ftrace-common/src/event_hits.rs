//! Names and values shared by `count_event_hits` (the recording's kernel hit counters)
//! and its loader.

/// The raw tracepoint program attached to every recorded event.
pub const PROGRAM: &str = "count_event_hits";
/// Per-CPU counters, one slot per recorded event (the attachment's cookie).
pub const COUNTS_MAP: &str = "EVENT_HITS";
/// One u32: [`GATE_OPEN`] while hits are counted.
pub const GATE_MAP: &str = "EVENT_HITS_GATE";
/// The thread ids counted when [`ONLY_TIDS_GLOBAL`] is set.
pub const TIDS_MAP: &str = "EVENT_HITS_TIDS";
/// u32 global: non-zero limits the count to the threads of [`TIDS_MAP`].
pub const ONLY_TIDS_GLOBAL: &str = "EVENT_HITS_ONLY_TIDS";
/// `[u64; CPU_MASK_WORDS]` global: the CPUs counted.
pub const CPUS_GLOBAL: &str = "EVENT_HITS_CPUS";
/// Words of the CPU mask (1024 CPUs; CPUs beyond it are always counted).
pub const CPU_MASK_WORDS: usize = 16;
/// The gate's value while counting.
pub const GATE_OPEN: u32 = 1;
/// The sched_process_fork program that adds counted threads' children.
pub const FORK_PROGRAM: &str = "follow_hit_forks";
/// Globals: the offsets of sched_process_fork's parent_pid and child_pid.
pub const FORK_PARENT_OFFSET_GLOBAL: &str = "EVENT_HITS_FORK_PARENT_OFFSET";
pub const FORK_CHILD_OFFSET_GLOBAL: &str = "EVENT_HITS_FORK_CHILD_OFFSET";
/// Array of u64: slot [`TIDS_FULL_SLOT`] counts children the thread map had no room for.
pub const MISSED_MAP: &str = "EVENT_HITS_MISSED";
pub const TIDS_FULL_SLOT: u32 = 0;
/// Thread map entries when children are followed.
pub const FOLLOWED_TIDS: u32 = 16384;
