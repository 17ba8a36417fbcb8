//! trace.dat reading and writing, compatible with trace-cmd.
//!
//! - [`read_trace_file`] parses version 6 and version 7 files (v7 sections
//!   and CPU data uncompressed or zstd-compressed) held in memory, with all
//!   their buffers (top-level `""` and instances).
//! - [`write_trace_file`] streams a version 6 file with one top-level
//!   flyrecord buffer that `trace-cmd report` reads.
//! - hytrace-private data goes into options with ids in
//!   [`HYTRACE_OPTION_BASE`]`..=`[`HYTRACE_OPTION_LAST`] (see
//!   [`hytrace_kind`]); trace-cmd skips them with an "unknown option" warning.
//!
//! Files: `header.rs` (initial block), `sections.rs` (metadata blocks),
//! `options.rs` (option ids and payloads), `compress.rs` (v7 decompression),
//! `reader.rs`/`v6.rs`/`v7.rs` (parsing), `writer.rs` (v6 writing),
//! `bytes.rs` (bounds-checked cursor), `model.rs` (the public types),
//! `clock_alignment.rs` (the realtime↔mono offset a recording stores),
//! `hit_audit.rs` (the kernel-hit audit a recording stores).

mod bytes;
pub mod clock_alignment;
mod compress;
mod error;
mod header;
pub mod hit_audit;
mod model;
mod options;
pub mod outlier_samples;
mod reader;
mod sections;
mod v6;
mod v7;
mod writer;

#[cfg(test)]
mod tests;

pub use error::StoreError;
pub use model::{
    Buffer, CpuData, EventFormats, HYTRACE_OPTION_BASE, HYTRACE_OPTION_LAST, Pages, SharedBytes,
    TraceFile, TraceMeta, TraceOption, hytrace_kind, selected_clock,
};
pub use reader::{looks_like_trace_dat, read_trace_file, read_trace_file_shared};
pub use writer::write_trace_file;
