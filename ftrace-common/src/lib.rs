//! Types and names shared by the eBPF programs (`ftrace-ebpf`) and the userspace
//! controller (`ftrace-user`). Everything here is `#[repr(C)]` without implicit padding
//! so both sides agree on the layout byte for byte.
#![cfg_attr(not(test), no_std)]

/// Empty programs `hytrace doctor` loads to probe for BTF tracepoints and fentry.
pub const PROBE_TP_BTF_PROGRAM: &str = "probe_tp_btf";
pub const PROBE_FENTRY_PROGRAM: &str = "probe_fentry";

pub mod event_hits;
pub mod hist;
pub mod stack;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` integers without padding, valid for every bit pattern.
    unsafe impl aya::Pod for super::stack::StackSampleKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::stack::StackSampleTotals {}
}
