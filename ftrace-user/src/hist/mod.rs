//! Latency histograms computed in the kernel by eBPF (`hytrace hist`).
//!
//! - [`codec`]: snapshots stored in a trace file and read back (pure).
//! - [`histogram`]: one key's slots and totals, percentiles and log2 buckets (pure).
//! - [`pairing`]: the same histograms computed from recorded begin/end events (pure).
//! - [`spec`]: the specs (`syscalls`, `irq`, `pair:…`) parsed and printed back.
//! - [`stacks`]: samples by the stacks where their latency began (`hist --stacks`).
//! - [`syscall_names`]: syscall numbers to names.

pub mod codec;
pub mod histogram;
pub mod pairing;
pub mod spec;
pub mod stacks;
pub mod syscall_names;

pub use histogram::{KeyHistogram, Snapshot};
pub use spec::{SPEC_FORMS, Spec, SpecError};
