//! Latency histograms computed in the kernel by eBPF (`hytrace hist`).
//!
//! - [`histogram`]: one key's slots and totals, percentiles and log2 buckets (pure).
//! - [`render`]: the table with bar charts, and the JSON snapshot lines (pure).
//! - [`syscall_names`]: syscall numbers to names.

pub mod histogram;
pub mod render;
pub mod syscall_names;

pub use histogram::{KeyHistogram, Snapshot};
