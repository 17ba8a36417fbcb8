//! hytrace's library: everything the `hytrace` binary does, by topic, in the order data
//! flows.
//!
//! Recording:
//! - [`tracefs`]: tracefs, the private instance and its cleanup guard, events, dynamic
//!   events (kprobes, uprobes), leftovers of dead sessions.
//! - [`session`]: a measuring session's frame: the traced command at its start gate,
//!   the start, the end (command exit, duration, signals, a trigger).
//! - [`capture`]: per-CPU readers of `trace_pipe_raw` into spool files.
//! - [`private_files`]: files written as root, private and never through links.
//! - [`store`]: trace.dat reading and writing.
//! - [`bpf`]: loading hytrace's eBPF programs and reading their maps.
//! - [`record`]: a recording from plan to file (and the flight recorder).
//!
//! Reading:
//! - [`trace`]: the one reader of recordings: mapped file, tables, merged records.
//! - [`decode`]: ring-buffer pages to records, and their merge (pure).
//! - [`format`]: event format files and print formats (pure).
//! - [`stacks`]: user stacks of a recording: their section, the join to events,
//!   build-ids and the build-id cache.
//! - [`symbolize`]: addresses to names: kallsyms, printk formats, ELF, BTF, DWARF
//!   parameters and lines, user stacks (blazesym).
//!
//! Analyses:
//! - [`report`]: the records a report selects, folded stacks, task profiles.
//! - [`hist`]: latency histograms: specs, buckets, pairing from events (pure).
//! - [`aggregate`]: `hist`'s work: eBPF aggregators over a measuring session.
//! - [`metrics_server`]: `hist --serve`'s HTTP endpoint for Prometheus.
//! - [`graph`]: function_graph events as call trees (pure, but for reading).
//! - [`deep_dive`]: `graph`'s work: FUNC's trees recorded, or found at an outlier.
//! - [`kvm`]: VM exits paired with the kernel's handling and QEMU's work.
//!
//! Outputs and commands:
//! - [`output`]: every renderer (text, JSON) behind one seam.
//! - [`export`]: recordings in other tools' formats (Perfetto).
//! - [`notes`]: warnings and progress from library code, printed by the command.
//! - [`cli`]: the command line: arguments in, one library call, result out.

pub mod aggregate;
pub mod bpf;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod deep_dive;
pub mod export;
pub mod format;
pub mod graph;
pub mod hist;
pub mod kvm;
pub mod metrics_server;
pub mod notes;
pub mod output;
pub mod private_files;
pub mod record;
pub mod report;
pub mod session;
pub mod stacks;
pub mod store;
pub mod symbolize;
pub mod trace;
pub mod tracefs;
