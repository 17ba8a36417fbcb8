//! The records of a recording as graph events: funcgraph_entry and funcgraph_exit
//! decoded through their format files (field names, not fixed offsets, so kernels that
//! add fields still decode), other events as comments, lost events where the
//! kernel's page headers say they were lost.

use std::collections::HashMap;

use thiserror::Error;

use super::{GraphEvent, GraphSymbols};
use crate::{
    decode::Missed,
    format::{EventFormat, Field},
    symbolize::KernelSymbols,
    trace::Recording,
};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum GraphEventsError {
    #[error(
        "the recording has no function_graph events (ftrace:funcgraph_entry / funcgraph_exit formats missing)"
    )]
    NoGraphFormats,
    #[error(
        "the recording holds no funcgraph_entry or funcgraph_exit events (record with the function_graph tracer)"
    )]
    NoGraphEvents,
    #[error("ftrace:{event} has no field {field}")]
    MissingField {
        event: &'static str,
        field: &'static str,
    },
}

/// Event names (in a `hytrace_<pid>` kprobe group) of the kretprobes that end FUNC's
/// calls in a gated recording (`record::graph_gate`): the gate stops recording before
/// function_graph writes FUNC's own exit, so the tree is closed from this record.
pub const GATE_RETURN_PREFIX: &str = "graph_return_";

/// Where the graph fields are in the two records.
pub struct GraphFormats<'a> {
    entry_id: u16,
    exit_id: u16,
    entry_func: &'a Field,
    entry_depth: &'a Field,
    exit_func: &'a Field,
    exit_depth: &'a Field,
    calltime: &'a Field,
    rettime: &'a Field,
}

impl<'a> GraphFormats<'a> {
    pub fn new(entry: &'a EventFormat, exit: &'a EventFormat) -> Result<Self, GraphEventsError> {
        let field = |format: &'a EventFormat, event, name| {
            format
                .field(name)
                .ok_or(GraphEventsError::MissingField { event, field: name })
        };
        Ok(GraphFormats {
            entry_id: entry.id,
            exit_id: exit.id,
            entry_func: field(entry, "funcgraph_entry", "func")?,
            entry_depth: field(entry, "funcgraph_entry", "depth")?,
            exit_func: field(exit, "funcgraph_exit", "func")?,
            exit_depth: field(exit, "funcgraph_exit", "depth")?,
            calltime: field(exit, "funcgraph_exit", "calltime")?,
            rettime: field(exit, "funcgraph_exit", "rettime")?,
        })
    }

    /// One record (timestamp `ts`) as a graph event; None for records of other events.
    pub fn event(&self, cpu: u32, ts: u64, data: &[u8]) -> Option<GraphEvent> {
        let int = |field: &Field| field.uint(data).unwrap_or(0);
        let type_id = u16::from_le_bytes([*data.first()?, *data.get(1)?]);
        let pid = i32::from_le_bytes(data.get(4..8)?.try_into().ok()?);
        if type_id == self.entry_id {
            Some(GraphEvent::Entry {
                cpu,
                pid,
                func: int(self.entry_func),
                depth: int(self.entry_depth) as u32,
                ts,
            })
        } else if type_id == self.exit_id {
            Some(GraphEvent::Exit {
                cpu,
                pid,
                func: int(self.exit_func),
                depth: int(self.exit_depth) as u32,
                calltime: int(self.calltime),
                rettime: int(self.rettime),
                ts,
            })
        } else {
            None
        }
    }
}

/// The graph events of a recording, merged across CPUs; other events become comments
/// rendered with `comment`.
pub fn graph_events(
    recording: &Recording,
    mut comment: impl FnMut(&EventFormat, &[u8]) -> String,
) -> Result<Vec<GraphEvent>, GraphEventsError> {
    let (Some(entry), Some(exit)) = (
        recording.event_named("ftrace", "funcgraph_entry"),
        recording.event_named("ftrace", "funcgraph_exit"),
    ) else {
        return Err(GraphEventsError::NoGraphFormats);
    };
    let formats = GraphFormats::new(entry, exit)?;
    let name_of = |addr: u64| recording.symbols.kernel().lookup(addr).map(|(n, _)| n);
    let mut roots = GateRoots::default();
    // The gate's return events (type id → FUNC's address field), found once.
    let gate_returns: HashMap<u16, &Field> = (0..=recording.max_event_id())
        .filter_map(|id| recording.event(id as u16))
        .filter(|f| f.system.starts_with("hytrace_") && f.name.starts_with(GATE_RETURN_PREFIX))
        .filter_map(|f| Some((f.id, f.field("__probe_func")?)))
        .collect();
    let mut merger = recording.merge_all();
    let mut events = Vec::new();
    for merged in &mut merger {
        let data = merged.record.data;
        if merged.record.missed != Missed::None {
            let count = match merged.record.missed {
                Missed::Count(n) => Some(n),
                _ => None,
            };
            events.push(GraphEvent::Lost {
                cpu: merged.cpu,
                count,
            });
        }
        if let Some(event) = formats.event(merged.cpu, merged.record.ts, data) {
            if roots.keep(&event, &name_of) {
                events.push(event);
            }
        } else if data.len() >= 8 {
            let type_id = u16::from_le_bytes([data[0], data[1]]);
            let Some(format) = recording.event(type_id) else {
                continue;
            };
            let pid = i32::from_le_bytes([data[4], data[5], data[6], data[7]]);
            if let Some(field) = gate_returns.get(&type_id) {
                let func = field.uint(data);
                if let Some(exit) = func
                    .and_then(|func| roots.close(merged.cpu, pid, func, merged.record.ts, &name_of))
                {
                    events.push(exit);
                }
                continue;
            }
            events.push(GraphEvent::Comment {
                cpu: merged.cpu,
                pid,
                text: comment(format, data),
            });
        }
    }
    if !events
        .iter()
        .any(|e| matches!(e, GraphEvent::Entry { .. } | GraphEvent::Exit { .. }))
    {
        return Err(GraphEventsError::NoGraphEvents);
    }
    Ok(events)
}

/// Each thread's open depth-0 call, so a gate's return record can close it, and the
/// calls so closed, so a function_graph exit of the same call (on a kernel whose
/// return handlers run the other way round) is not printed twice.
#[derive(Default)]
struct GateRoots {
    open: HashMap<i32, (u64, u64)>,
    closed: HashMap<i32, u64>,
}

impl GateRoots {
    /// Notes depth-0 entries and exits; false for an exit the gate already closed.
    fn keep<'a>(&mut self, event: &GraphEvent, name_of: &impl Fn(u64) -> Option<&'a str>) -> bool {
        match *event {
            GraphEvent::Entry {
                pid,
                func,
                depth: 0,
                ts,
                ..
            } => {
                self.open.insert(pid, (func, ts));
                self.closed.remove(&pid);
            }
            GraphEvent::Exit {
                pid,
                func,
                depth: 0,
                ..
            } => {
                if self
                    .closed
                    .get(&pid)
                    .is_some_and(|&c| name_of(c) == name_of(func))
                {
                    self.closed.remove(&pid);
                    return false;
                }
                self.open.remove(&pid);
            }
            _ => {}
        }
        true
    }

    /// The exit of `pid`'s open call of `func`, returned at `ts`.
    fn close<'a>(
        &mut self,
        cpu: u32,
        pid: i32,
        func: u64,
        ts: u64,
        name_of: &impl Fn(u64) -> Option<&'a str>,
    ) -> Option<GraphEvent> {
        let &(root, calltime) = self.open.get(&pid)?;
        if name_of(root).is_none() || name_of(root) != name_of(func) {
            return None;
        }
        self.open.remove(&pid);
        self.closed.insert(pid, root);
        Some(GraphEvent::Exit {
            cpu,
            pid,
            func: root,
            depth: 0,
            calltime,
            rettime: ts,
            ts,
        })
    }
}

/// Kernel symbols for the graph: `%ps` names with their module, and the irq entry text
/// bounds (`__irqentry_text_start` .. `__irqentry_text_end`) from kallsyms.
pub struct KallsymsGraphSymbols<'a> {
    pub symbols: &'a KernelSymbols,
    pub comms: Box<dyn Fn(i32) -> String + 'a>,
    irq_text: Option<(u64, u64)>,
}

impl<'a> KallsymsGraphSymbols<'a> {
    pub fn new(symbols: &'a KernelSymbols, comms: Box<dyn Fn(i32) -> String + 'a>) -> Self {
        let irq_text = symbols
            .address_of("__irqentry_text_start")
            .zip(symbols.address_of("__irqentry_text_end"))
            .filter(|(start, end)| start < end);
        KallsymsGraphSymbols {
            symbols,
            comms,
            irq_text,
        }
    }
}

impl GraphSymbols for KallsymsGraphSymbols<'_> {
    fn function(&self, addr: u64) -> String {
        match (self.symbols.lookup(addr), self.symbols.module_of(addr)) {
            (Some((name, _)), Some(module)) => format!("{name} [{module}]"),
            (Some((name, _)), None) => name.to_string(),
            (None, _) => format!("0x{addr:x}"),
        }
    }

    fn is_irq_entry(&self, addr: u64) -> bool {
        self.irq_text
            .is_some_and(|(start, end)| addr >= start && addr < end)
    }

    fn comm(&self, pid: i32) -> String {
        (self.comms)(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(addr: u64) -> Option<&'static str> {
        match addr {
            0x100..0x200 => Some("do_nanosleep"),
            0x200..0x300 => Some("schedule"),
            _ => None,
        }
    }

    fn entry(pid: i32, func: u64, depth: u32, ts: u64) -> GraphEvent {
        GraphEvent::Entry {
            cpu: 0,
            pid,
            func,
            depth,
            ts,
        }
    }

    /// A gated call: FUNC's entry at depth 0, a child, then the gate's return record
    /// (the kprobe's address of FUNC, which may differ from function_graph's) closes
    /// it with rettime = the record's time; a function_graph exit of the same call
    /// after it is dropped; a return for another function or thread closes nothing.
    #[test]
    fn gate_returns_close_the_thread_s_open_call() {
        let mut roots = GateRoots::default();
        assert!(roots.keep(&entry(7, 0x100, 0, 1_000), &name_of));
        assert!(roots.keep(&entry(7, 0x200, 1, 1_500), &name_of));
        assert_eq!(roots.close(0, 7, 0x250, 2_000, &name_of), None);
        assert_eq!(roots.close(0, 8, 0x104, 2_000, &name_of), None);
        assert_eq!(
            roots.close(0, 7, 0x104, 9_000, &name_of),
            Some(GraphEvent::Exit {
                cpu: 0,
                pid: 7,
                func: 0x100,
                depth: 0,
                calltime: 1_000,
                rettime: 9_000,
                ts: 9_000,
            })
        );
        let late_exit = GraphEvent::Exit {
            cpu: 0,
            pid: 7,
            func: 0x100,
            depth: 0,
            calltime: 1_000,
            rettime: 9_001,
            ts: 9_002,
        };
        assert!(!roots.keep(&late_exit, &name_of));
        // Closed once: a second return finds nothing open.
        assert_eq!(roots.close(0, 7, 0x104, 9_500, &name_of), None);
    }
}
