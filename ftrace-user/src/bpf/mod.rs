//! Loading hytrace's eBPF programs and reading their maps.

/// The eBPF object built from `ftrace-ebpf` by build.rs.
pub static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ftrace-ebpf"));
