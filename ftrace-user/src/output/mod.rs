//! Every renderer of what hytrace shows, behind one seam: each takes the value to show
//! and returns (or appends to a buffer) its text or JSON; nothing here writes to a file
//! or a terminal, and nothing outside this module formats results for people. The
//! commands write what these return; library code reports progress and warnings
//! through [`crate::notes`].
//!
//! - [`event_report`]: a report's records printed (in parallel, in order) or counted.
//! - [`event_line`]: one record as a report line, text or JSON.
//! - [`event_text`]: trace-cmd report's line layout (columns, numbers).
//! - [`event_json`]: one JSON object per event.
//! - [`folded`]: folded stacks, one line per stack with its count.
//! - [`flame_graph`]: folded stacks as an interactive SVG flame graph.
//! - [`call_graph`]: graph events as ftrace's call-graph text; [`call_graph_columns`]
//!   its CPU, duration and task columns.
//! - [`call_trees`]: the time per function of call trees, and outliers with their tree.
//! - [`histogram`]: latency histograms as tables with bar charts, and as JSON lines.
//! - [`histogram_stacks`]: `hist --stacks`: each key's stacks by total latency.
//! - [`hit_audit`]: the stored kernel-hit audit, as `report --count` prints it.
//! - [`histogram_comparison`]: stored eBPF histograms beside the same from events.
//! - [`kernel_stack_json`]: a kernel stack's frames with file:line, in JSON.
//! - [`kvm_exits`]: `hytrace kvm`'s table per exit reason, and what did not pair.
//! - [`kvm_timeline`]: `hytrace kvm --timeline`: one line per exit.
//! - [`openmetrics`]: `hist --serve`'s `/metrics` (Prometheus histograms and loss counters).
//! - [`kvm_json`]: `hytrace kvm --json`.
//! - [`profile`]: `report --profile`: tasks' run, wait and blocked time, by stack.
//! - [`record_summary`]: the end-of-record summary.
//! - [`record_summary_json`]: its kernel-hit audit as JSON (`record --summary-json`).
//! - [`recovery_summary`]: what `hytrace recover` got back.
//! - [`report_losses`]: the losses and corrupt pages a report met.
//! - [`session_end`]: how a measuring session ended, when the user should know.
//! - [`user_stack`]: a user stack under its event, text or JSON.

pub mod call_graph;
pub mod call_graph_columns;
pub mod call_trees;
pub mod cpu_spans;
pub mod event_json;
pub mod event_line;
pub mod event_report;
pub mod event_text;
pub mod flame_graph;
pub mod folded;
pub mod histogram;
pub mod histogram_comparison;
pub mod histogram_stacks;
pub mod hit_audit;
pub mod kernel_stack_json;
pub mod kvm_exits;
pub mod kvm_json;
pub mod kvm_timeline;
pub mod openmetrics;
pub mod profile;
pub mod record_summary;
pub mod record_summary_json;
pub mod recovery_summary;
pub mod report_losses;
pub mod session_end;
pub mod user_stack;

/// What every line shows besides the payload.
#[derive(Debug, Clone, Copy)]
pub struct EventHeader<'a> {
    /// Name of the buffer (instance) in files that hold more than one; else None.
    pub buffer: Option<&'a str>,
    pub comm: &'a str,
    pub pid: i32,
    pub cpu: u32,
    pub ts_ns: u64,
    pub system: &'a str,
    pub name: &'a str,
    /// The record's common_flags and common_preempt_count (the latency columns).
    pub common_flags: u8,
    pub preempt_count: u8,
}
