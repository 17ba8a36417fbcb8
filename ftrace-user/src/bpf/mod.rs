//! Loading hytrace's eBPF programs and reading their maps.
//!
//! - [`hit_counter`]: per-CPU hit counters on raw tracepoints, beside a recording.
//! - [`syscall_latency`]: per-syscall latency histograms.
//! - [`probe`]: which BPF program types this kernel loads, for `hytrace doctor`.

pub mod hit_counter;
pub mod probe;
pub mod syscall_latency;

/// The eBPF object built from `ftrace-ebpf` by build.rs.
pub static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ftrace-ebpf"));
