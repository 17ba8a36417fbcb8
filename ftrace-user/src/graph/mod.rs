//! function_graph recordings as call trees: their events, the trees under chosen
//! roots, durations and self times (printed by [`crate::output::call_graph`] the way
//! ftrace prints them).
//!
//! - [`select`]: the trees under chosen roots, when the kernel could not choose (pure).
//! - [`trees`]: whole call trees, their durations and self time per function (pure).
//! - [`events`]: funcgraph_entry / funcgraph_exit records of a recording into graph
//!   events, with the kernel symbols the text needs.
//! - [`load`]: a recording's graph events with its stored selection applied.

pub mod events;
pub mod load;
pub mod select;
pub mod trees;

#[cfg(test)]
pub(crate) mod test_events;

/// One event of a function_graph recording, in the order of the merged stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphEvent {
    /// funcgraph_entry; `ts` is the record's timestamp (trace clock).
    Entry {
        cpu: u32,
        pid: i32,
        func: u64,
        depth: u32,
        ts: u64,
    },
    /// funcgraph_exit; the duration is `rettime - calltime`.
    Exit {
        cpu: u32,
        pid: i32,
        func: u64,
        depth: u32,
        calltime: u64,
        rettime: u64,
        ts: u64,
    },
    /// Any other event, printed as a comment at the current depth.
    Comment { cpu: u32, pid: i32, text: String },
    /// Events the recording lost on a CPU.
    /// (None: the kernel did not say how many.)
    Lost { cpu: u32, count: Option<u64> },
}

impl GraphEvent {
    /// The CPU the event happened on.
    pub fn cpu(&self) -> u32 {
        match self {
            GraphEvent::Entry { cpu, .. }
            | GraphEvent::Exit { cpu, .. }
            | GraphEvent::Comment { cpu, .. }
            | GraphEvent::Lost { cpu, .. } => *cpu,
        }
    }
}

/// What the renderer needs to know of the kernel.
pub trait GraphSymbols {
    /// `name` or `name [module]` for a function address (the kernel's `%ps`).
    fn function(&self, addr: u64) -> String;
    /// Whether the address is in the irq entry text (arrows around such calls).
    fn is_irq_entry(&self, addr: u64) -> bool;
    /// The command name of a pid.
    fn comm(&self, pid: i32) -> String;
}

#[cfg(test)]
mod golden_tests;
