//! hytrace's library: everything the `hytrace` binary does, by topic.
//!
//! - [`tracefs`]: tracefs discovery, the private instance and its cleanup guard.
//! - [`capture`]: per-CPU readers of `trace_pipe_raw`.
//! - [`format`]: event format files and print formats (pure).
//! - [`decode`]: ring-buffer pages to events (pure).
//! - [`store`]: trace.dat reading and writing.
//! - [`bpf`]: loading and reading hytrace's eBPF programs.
//! - [`hist`]: latency histograms aggregated in eBPF.
//! - [`aggregate`]: `hist`'s work: aggregators over a measuring session.
//! - [`output`]: rendering events as text or JSON.
//! - [`notes`]: the channel for warnings and progress from library code.
//! - [`private_files`]: files written as root, private and never through links.
//! - [`record`]: a recording session from start to file.
//! - [`session`]: how a measuring session ends (command, duration, signals).
//! - [`trace`]: the one reader of recordings: mapped file, tables, merged records.
//! - [`report`]: printing a recording's records.
//! - [`symbols`]: kallsyms and printk format tables.
//! - [`cli`]: the command line.

pub mod aggregate;
pub mod bpf;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod deep_dive;
pub mod format;
pub mod graph;
pub mod hist;
pub mod notes;
pub mod output;
pub mod private_files;
pub mod record;
pub mod report;
pub mod session;
pub mod store;
pub mod symbols;
pub mod trace;
pub mod tracefs;
