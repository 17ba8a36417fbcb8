//! The records a report prints: a recording's merged records (read through
//! [`crate::trace`]) filtered, numbered, with what trace-cmd works out in order while
//! it prints (comms named by scheduler events, function-call indents, losses carried
//! to the next printed record); or their counts per event. Printed by
//! [`crate::output::event_report`].
//!
//! - [`filter`]: which records the user asked for.
//! - [`folded`]: the records' user and kernel stacks folded, with counts.
//! - [`kernel_lines`]: file:line of the kernel stacks' frames, from vmlinux debug info.
//! - [`histograms`]: the stored BPF histograms and the same recomputed from events.
//! - [`profile`]: run, run-queue and blocked time per task, blocked time by stack.
//! - [`user_stacks`]: the stored user stacks, joined to their events and symbolized.

pub mod cpu_spans;
pub mod event_filter;
pub mod filter;
pub mod folded;
pub mod histograms;
pub mod kernel_lines;
pub mod profile;
pub mod user_stacks;

use thiserror::Error;

use crate::{
    decode::{MergedRecord, Merger, Missed, StreamStats},
    format::{Printer, plugins::FunctionIndents},
    trace::{Origin, Recording, RecordingError},
};
pub use filter::RecordFilter;
use user_stacks::{JoinCounts, ReportStacks};

#[derive(Debug, Error)]
pub enum ReportError {
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error("cannot write the report")]
    Write(#[source] std::io::Error),
}

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStyle {
    Text,
    Json,
    /// Only counts per event name.
    Count,
}

/// What a report saw: events printed, and per-CPU stream statistics (losses, corrupt
/// pages) to tell the user about.
#[derive(Debug, Default)]
pub struct ReportStats {
    pub printed: u64,
    pub streams: Vec<(String, u32, StreamStats)>,
    /// (buffer, cpu, bytes) of CPU data the file was cut short of (not shown).
    pub cut: Vec<(String, u32, u64)>,
    /// (event name, count) in order of first appearance, for [`ReportStyle::Count`].
    pub counts: Vec<(String, u64)>,
    /// How the file's user stacks joined their events, when it has any.
    pub user_stacks: Option<JoinCounts>,
}

/// A record the report prints, in merge order.
#[derive(Debug, Clone, Copy)]
pub struct Selected<'a> {
    /// Position among the printed records (for comms learned along the way).
    pub index: u64,
    /// Stream key: which buffer and CPU (an index into [`Report::origins`]).
    pub origin: u32,
    pub ts: u64,
    pub data: &'a [u8],
    /// A function tracer call's level, as trace-cmd indents it (0 for other events).
    pub indent: u16,
    /// Events the kernel dropped on this CPU since the previous printed record.
    pub missed: Missed,
    /// The user stack captured at this event (an index into the report's stack
    /// samples), if the file has one for it.
    pub user_stack: Option<u32>,
    /// The previous printed record's timestamp (set by the text report, for
    /// `--ts-diff`).
    pub previous_ts: Option<u64>,
    /// A function_graph entry's return when it is the very next record (a leaf, which
    /// trace-cmd prints on one line; the return itself is not yielded then).
    pub leaf_exit: Option<&'a [u8]>,
}

/// One report over a recording: the merge of the CPUs the filter keeps.
pub struct Report<'r> {
    pub recording: &'r Recording,
    filter: &'r RecordFilter,
    merger: Merger<'r>,
    origins: Vec<Origin<'r>>,
    stacks: Option<&'r ReportStacks>,
    fold_graph_leaves: bool,
}

impl<'r> Report<'r> {
    pub fn new(recording: &'r Recording, filter: &'r RecordFilter) -> Report<'r> {
        let (merger, origins) = recording.merge(|cpu| filter.wants_cpu(cpu));
        Report {
            recording,
            filter,
            merger,
            origins,
            stacks: None,
            fold_graph_leaves: false,
        }
    }

    /// Folds each function_graph entry whose return is the next record into it, as
    /// trace-cmd's text does ([`Selected::leaf_exit`]).
    pub fn folding_graph_leaves(mut self) -> Report<'r> {
        self.fold_graph_leaves = true;
        self
    }

    /// Attaches to each record the user stack `stacks` joined to it.
    pub fn with_stacks(mut self, stacks: Option<&'r ReportStacks>) -> Report<'r> {
        self.stacks = stacks;
        self
    }

    /// The stacks the report attaches to its records.
    pub fn stacks(&self) -> Option<&'r ReportStacks> {
        self.stacks
    }

    /// Where each stream comes from (indexed by [`Selected::origin`]).
    pub fn origins(&self) -> &[Origin<'r>] {
        &self.origins
    }

    /// The records the filter selects, in merge order, numbered.
    pub fn records(&mut self) -> impl Iterator<Item = Selected<'r>> + '_ {
        let stacks = self.stacks;
        let origins = &self.origins;
        let fold = self.fold_graph_leaves;
        selected(self.recording, self.filter, &mut self.merger, fold).map(move |mut record| {
            if let Some(stacks) = stacks {
                let data = record.data;
                record.user_stack = stacks.sample_of(
                    i32::from_le_bytes([data[4], data[5], data[6], data[7]]) as u32,
                    origins[record.origin as usize].cpu,
                    u16::from_le_bytes([data[0], data[1]]),
                    record.ts,
                );
            }
            record
        })
    }

    /// The selected records counted per event name, most first (then by name).
    pub fn counts(&mut self) -> Vec<(String, u64)> {
        count(self.recording, self.filter, &mut self.merger)
    }

    /// The CPUs (of those the filter keeps) whose data the file was cut short of:
    /// (buffer, cpu, missing bytes).
    pub fn cut(&self) -> Vec<(String, u32, u64)> {
        self.recording
            .file
            .buffers
            .iter()
            .flat_map(|b| b.cpus.iter().map(move |c| (b, c)))
            .filter(|(_, c)| c.missing_bytes > 0 && self.filter.wants_cpu(c.cpu))
            .map(|(b, c)| (b.name.clone(), c.cpu, c.missing_bytes))
            .collect()
    }

    /// Each stream's statistics (losses, corrupt pages) so far: (buffer, cpu, stats).
    pub fn stream_stats(&self) -> Vec<(String, u32, StreamStats)> {
        self.origins
            .iter()
            .zip(self.merger.streams())
            .map(|(origin, stream)| {
                (
                    origin.buffer.to_string(),
                    origin.cpu,
                    stream.stats().clone(),
                )
            })
            .collect()
    }
}

/// The records the filter selects, in merge order, numbered.
fn selected<'r, 'm>(
    recording: &'r Recording,
    filter: &'r RecordFilter,
    merger: &'m mut Merger<'r>,
    fold_graph_leaves: bool,
) -> impl Iterator<Item = Selected<'r>> + 'm
where
    'r: 'm,
{
    let mut index = 0u64;
    let mut indents = FunctionIndents::default();
    // Losses seen on records the filter skips wait for the CPU's next printed record.
    let mut pending_loss: Vec<Missed> = Vec::new();
    let mut merged_records = merger.peekable();
    // Per CPU: whether its last record tested by the -F filters was shown (a stack
    // event after it is shown too).
    let mut stack_follows: Vec<bool> = Vec::new();
    std::iter::from_fn(move || {
        loop {
            let merged = merged_records.next()?;
            let Some(mut selected) = select(
                recording,
                filter,
                &mut index,
                &mut indents,
                &mut pending_loss,
                &mut stack_follows,
                merged,
            ) else {
                continue;
            };
            // A printed function_graph entry takes its return when that is the next
            // record (trace-cmd's plugin reads it without filtering it).
            if fold_graph_leaves {
                selected.leaf_exit =
                    graph_leaf_exit(recording, merged.record.data, merged_records.peek());
            }
            if selected.leaf_exit.is_some()
                && let Some(exit) = merged_records.next()
                && exit.record.missed != Missed::None
            {
                // The return is printed with its entry; a loss before it waits for the
                // CPU's next printed record.
                note_loss(&mut pending_loss, exit.origin, exit.record.missed);
            }
            return Some(selected);
        }
    })
}

/// The return of function_graph entry `entry` when `next` is it: a funcgraph_exit of
/// the same pid and function.
fn graph_leaf_exit<'r>(
    recording: &'r Recording,
    entry: &[u8],
    next: Option<&MergedRecord<'r>>,
) -> Option<&'r [u8]> {
    let event_of = |data: &[u8]| recording.event(u16::from_le_bytes([data[0], data[1]]));
    if entry.len() < 8 {
        return None;
    }
    let entry_event = event_of(entry)?;
    let Printer::Plugin(entry_plugin) = &entry_event.printer else {
        return None;
    };
    // Only an entry looks at the next record.
    let func = entry_plugin.graph_entry_func(&entry_event.fields, entry)?;
    let next = next?.record.data;
    if next.len() < 8 || entry[4..8] != next[4..8] {
        return None;
    }
    let exit_event = event_of(next)?;
    let Printer::Plugin(exit_plugin) = &exit_event.printer else {
        return None;
    };
    (exit_plugin.graph_exit_func(&exit_event.fields, next)? == func).then_some(next)
}

/// Keeps a loss seen on stream `origin` for its next printed record.
fn note_loss(pending_loss: &mut Vec<Missed>, origin: u32, missed: Missed) {
    let origin = origin as usize;
    if pending_loss.len() <= origin {
        pending_loss.resize(origin + 1, Missed::None);
    }
    pending_loss[origin] = pending_loss[origin].and(missed);
}

/// What the `-F` filters read of a record besides its bytes.
struct ReportFacts<'r> {
    recording: &'r Recording,
    data: &'r [u8],
    cpu: u32,
    pid: i32,
    /// The position the record is printed at if it passes.
    index: u64,
}

impl event_filter::RecordFacts for ReportFacts<'_> {
    fn data(&self) -> &[u8] {
        self.data
    }
    fn cpu(&self) -> u32 {
        self.cpu
    }
    fn comm(&self) -> std::borrow::Cow<'_, str> {
        self.recording.comm_at(self.pid, self.index)
    }
    fn function(&self, addr: u64) -> Option<&str> {
        self.recording
            .symbols
            .kernel()
            .lookup(addr)
            .map(|(name, _)| name)
    }
}

/// Whether the `-F` filters show the record of `type_id` (a record of an event the
/// file does not describe passes only filters that hide).
fn event_filters_show(
    recording: &Recording,
    filters: &event_filter::EventFilters,
    stack_follows: &mut Vec<bool>,
    facts: &ReportFacts<'_>,
    type_id: u16,
) -> bool {
    let Some(event) = recording.event(type_id) else {
        return filters.shows_unknown();
    };
    let cpu = facts.cpu as usize;
    if stack_follows.len() <= cpu {
        stack_follows.resize(cpu + 1, false);
    }
    filters.shows(event, facts, &mut stack_follows[cpu])
}

/// One merged record, if the filter selects it: numbered, its loss and indent set.
fn select<'r>(
    recording: &'r Recording,
    filter: &RecordFilter,
    index: &mut u64,
    indents: &mut FunctionIndents<'r>,
    pending_loss: &mut Vec<Missed>,
    stack_follows: &mut Vec<bool>,
    merged: MergedRecord<'r>,
) -> Option<Selected<'r>> {
    let data = merged.record.data;
    let origin = merged.origin as usize;
    if merged.record.missed != Missed::None {
        note_loss(pending_loss, merged.origin, merged.record.missed);
    }
    if data.len() < 8 {
        return None;
    }
    let type_id = u16::from_le_bytes([data[0], data[1]]);
    let pid = i32::from_le_bytes([data[4], data[5], data[6], data[7]]);
    if !filter.wants(type_id, pid) {
        return None;
    }
    if let Some(filters) = filter.event_filters() {
        let facts = ReportFacts {
            recording,
            data,
            cpu: merged.cpu,
            pid,
            index: *index,
        };
        if !event_filters_show(recording, filters, stack_follows, &facts, type_id) {
            return None;
        }
    }
    let missed = pending_loss
        .get_mut(origin)
        .map(|m| std::mem::replace(m, Missed::None))
        .unwrap_or(Missed::None);
    let mut selected = Selected {
        index: *index,
        origin: merged.origin,
        ts: merged.record.ts,
        data,
        indent: 0,
        missed,
        user_stack: None,
        previous_ts: None,
        leaf_exit: None,
    };
    *index += 1;
    // trace-cmd remembers the comms scheduler events name and uses them for later
    // lines, and indents function calls by the callers seen before them on the
    // CPU; both are worked out in order here so parallel rendering sees the same.
    if let Some(event) = recording.event(type_id)
        && let Printer::Plugin(plugin) = &event.printer
    {
        for (pid, comm) in plugin.comms(&event.fields, data).into_iter().flatten() {
            recording.remember_comm(pid, comm, selected.index);
        }
        if let Some((ip, parent_ip)) = plugin.function_call(&event.fields, data) {
            let name = |addr| recording.symbols.kernel().lookup(addr).map(|(n, _)| n);
            let level = indents.level(origin, name(parent_ip), name(ip));
            selected.indent = level.min(usize::from(u16::MAX)) as u16;
        }
    }
    Some(selected)
}

/// The selected records counted per event name, most first (then by name).
fn count<'r>(
    recording: &'r Recording,
    filter: &'r RecordFilter,
    merger: &mut Merger<'r>,
) -> Vec<(String, u64)> {
    let mut counts: Vec<u64> = vec![0; recording.max_event_id() + 1];
    let mut unknown = 0u64;
    for record in selected(recording, filter, merger, false) {
        let type_id = u16::from_le_bytes([record.data[0], record.data[1]]);
        match counts.get_mut(usize::from(type_id)) {
            Some(n) => *n += 1,
            None => unknown += 1,
        }
    }
    let mut named: Vec<(String, u64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(id, n)| {
            let name = recording
                .event(id as u16)
                .map_or_else(|| format!("unknown_event_{id}"), |e| e.name.clone());
            (name, *n)
        })
        .collect();
    if unknown > 0 {
        named.push(("unknown_event".to_string(), unknown));
    }
    named.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    named
}

impl ReportStats {
    /// Whether the file was damaged: cut short, or with corrupt pages skipped.
    pub fn damaged(&self) -> bool {
        !self.cut.is_empty() || self.streams.iter().any(|(_, _, s)| s.corrupt_pages > 0)
    }
}
