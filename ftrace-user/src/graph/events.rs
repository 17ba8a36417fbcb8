//! The records of a recording as graph events: funcgraph_entry and funcgraph_exit
//! decoded through their format files (field names, not fixed offsets, so kernels that
//! add fields still decode), other events as comments, lost events where the
//! kernel's page headers say they were lost.

use thiserror::Error;

use super::{GraphEvent, GraphSymbols};
use crate::{
    decode::Missed,
    format::{EventFormat, Field, printfmt::eval::read_int},
    report::Recording,
    symbols::KernelSymbols,
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
        let int = |field: &Field| {
            data.get(field.offset..)
                .and_then(|d| read_int(d, field.size, false))
                .unwrap_or(0) as u64
        };
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
    let mut merger = recording.merger();
    let mut events = Vec::new();
    for merged in &mut merger {
        let data = merged.record.data;
        match merged.record.missed {
            Missed::None => {}
            Missed::Count(n) => events.push(GraphEvent::Lost {
                cpu: merged.cpu,
                count: Some(n),
            }),
            Missed::Unknown => events.push(GraphEvent::Lost {
                cpu: merged.cpu,
                count: None,
            }),
        }
        if let Some(event) = formats.event(merged.cpu, merged.record.ts, data) {
            events.push(event);
        } else if data.len() >= 8 {
            let type_id = u16::from_le_bytes([data[0], data[1]]);
            if let Some(format) = recording.event(type_id) {
                let pid = i32::from_le_bytes([data[4], data[5], data[6], data[7]]);
                events.push(GraphEvent::Comment {
                    cpu: merged.cpu,
                    pid,
                    text: comment(format, data),
                });
            }
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
