//! Loading hytrace's eBPF programs and reading their maps.
//!
//! - [`hit_counter`]: per-CPU hit counters on raw tracepoints, beside a recording.
//! - [`latency`]: latency histograms aggregated in the kernel (syscalls, irq, softirq).
//! - [`probe`]: which BPF program types this kernel loads, for `hytrace doctor`.

pub mod hit_counter;
pub mod latency;
pub mod probe;

/// The eBPF object built from `ftrace-ebpf` by build.rs.
pub static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ftrace-ebpf"));
