//! Loading hytrace's eBPF programs and reading their maps.
//!
//! - [`diagnostics`]: the programs' rare failures, printed with `-v` (aya-log).
//! - [`event_hits`]: the recording's kernel hit counters, one program on every event.
//! - [`latency`]: latency histograms aggregated in the kernel, one aggregator per spec.
//! - [`prog_info`]: the kernel's per-program counters (recursion misses).
//! - [`stack_ring`]: a thread draining a ring buffer of stacks while a session runs.
//! - [`user_stacks`]: the user stack at each hit of the recorded tracepoints.
//! - [`load_check`]: which BPF program types this kernel loads, for `hytrace doctor`.

pub mod diagnostics;
pub mod event_hits;
pub mod latency;
pub mod load_check;
pub mod prog_info;
pub mod stack_ring;
pub mod user_stacks;

/// The eBPF object built from `ftrace-ebpf` by build.rs.
pub static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ftrace-ebpf"));

/// The latency tables of the object, by aggregator.
const TABLE_MAPS: &[&str] = &[
    "SYSCALL_SLOTS",
    "SYSCALL_TOTALS",
    "SYSCALL_START",
    "PAIR_SLOTS",
    "PAIR_TOTALS",
    "FUNC_SLOTS",
    "FUNC_CALLS",
    "THREAD_CALLS",
    "EMPTY_CALL_STACK",
    "RUNQ_START",
    "RUNQ_SLOTS",
    "RUNQ_TOTALS",
    "THREAD_START",
    "THREAD_COMM",
    "HASHED_SLOTS",
    "HASHED_TOTALS",
    "BLOCK_START",
    "SYSCALL_COMM_SLOTS",
    "SYSCALL_COMM_TOTALS",
    "HIST_KERNEL_STACKS",
    "HIST_STACK_SEEN",
    "HIST_STACK_BEGIN",
    "HIST_STACK_TOTALS",
];

/// A loader that shrinks every latency table but those named in `keep` to one entry:
/// loading the object creates every map it defines (megabytes each at full size), and
/// the hit counters load one copy per recorded event. Ring buffers not kept are one
/// page (the user-stack ring is 16 MiB, vmalloc'ed at creation).
pub(crate) fn loader_keeping<'a>(keep: &[&str]) -> aya::EbpfLoader<'a> {
    let mut loader = aya::EbpfLoader::new();
    for map in TABLE_MAPS.iter().filter(|m| !keep.contains(m)) {
        loader.map_max_entries(map, 1);
    }
    // Ring buffer sizes are in bytes: one page where they are not used.
    for ring in [
        OUTLIER_RING,
        ftrace_common::stack::USER_STACK_RING,
        ftrace_common::stack::HIST_STACK_RING,
    ] {
        if !keep.contains(&ring) {
            loader.map_max_entries(ring, 4096);
        }
    }
    // No failure reports unless an aggregator asks for them (see `diagnostics`).
    diagnostics::configure(&mut loader, false);
    loader
}

/// The ring buffer outliers are sent through.
pub(crate) const OUTLIER_RING: &str = "OUTLIERS";
