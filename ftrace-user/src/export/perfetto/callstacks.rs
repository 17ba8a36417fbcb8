//! The user stacks `record --user-stack` stored, as Perfetto's callstack samples: a
//! packet sequence of its own whose first packet interns every function name,
//! object, source file, frame and stack, then one `PerfSample` per recorded event
//! with a stack, at the event's time, on its thread. The Perfetto UI shows them on
//! each process as a track of samples, and a selection of them as a flame graph.
//!
//! Frames are the report's (innermost first there, outermost first here, as
//! Perfetto's `Callstack` wants them): each inlined function a frame of its own, at
//! its file:line; an address no object names is a frame named as the folded report
//! names it (`[object+0xoffset]`, or the bare address).

use std::{collections::HashMap, sync::Arc};

use super::messages::{
    Callstack, Frame, InternedData, InternedString, Mapping, PacketData, PerfSample,
    SEQ_INCREMENTAL_STATE_CLEARED, SEQ_NEEDS_INCREMENTAL_STATE, TracePacket,
};
use crate::{report::user_stacks::ReportStacks, symbolize::user::UserFrame};

/// The sequence of these packets.
pub const CALLSTACKS_SEQUENCE_ID: u32 = 3;

/// The object of frames no object holds.
const UNKNOWN_OBJECT: &str = "[unknown]";

/// One recorded event's stack: where and when, and which of the file's stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventStack {
    pub ts: u64,
    pub cpu: u32,
    pub tid: u32,
    pub tgid: u32,
    /// Index into the file's distinct stacks.
    pub stack: u32,
}

/// What makes a frame distinct: function name, mapping and source file iids, rel_pc
/// and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FrameKey {
    function: u64,
    mapping: u64,
    rel_pc: u64,
    source: Option<u64>,
    line: Option<u32>,
}

/// Interns strings, objects, frames and stacks, each from iid 1.
struct Interner {
    data: InternedData,
    function_names: HashMap<Arc<str>, u64>,
    source_paths: HashMap<Arc<str>, u64>,
    mappings: HashMap<Arc<str>, u64>,
    frames: HashMap<FrameKey, u64>,
    /// The file's stack index → callstack iid.
    callstacks: HashMap<u32, u64>,
    /// The object of frames no object holds ([`UNKNOWN_OBJECT`]).
    unknown_object: Arc<str>,
}

/// The next iid of a table `len` entries long.
fn next_iid(len: usize) -> u64 {
    len as u64 + 1
}

fn interned(iid: u64, text: &[u8]) -> InternedString {
    InternedString {
        iid: Some(iid),
        str: Some(text.to_vec()),
    }
}

impl Interner {
    fn function_name(&mut self, name: Arc<str>) -> u64 {
        let table = &mut self.data.function_names;
        *self.function_names.entry(name).or_insert_with_key(|name| {
            let iid = next_iid(table.len());
            table.push(interned(iid, name.as_bytes()));
            iid
        })
    }

    fn source_path(&mut self, path: &Arc<str>) -> u64 {
        let table = &mut self.data.source_paths;
        *self
            .source_paths
            .entry(path.clone())
            .or_insert_with_key(|path| {
                let iid = next_iid(table.len());
                table.push(interned(iid, path.as_bytes()));
                iid
            })
    }

    /// The object at `path`, with its build-id when the recording has one for it.
    fn mapping(&mut self, path: &Arc<str>, stacks: &ReportStacks) -> u64 {
        if let Some(&iid) = self.mappings.get(path) {
            return iid;
        }
        let iid = next_iid(self.data.mappings.len());
        let path_iid = next_iid(self.data.mapping_paths.len());
        self.data
            .mapping_paths
            .push(interned(path_iid, path.as_bytes()));
        let build_id = stacks
            .objects
            .iter()
            .find(|object| *object.path == **path && !object.build_id.is_empty())
            .map(|object| {
                let build_id_iid = next_iid(self.data.build_ids.len());
                self.data
                    .build_ids
                    .push(interned(build_id_iid, &object.build_id));
                build_id_iid
            });
        self.data.mappings.push(Mapping {
            iid: Some(iid),
            build_id,
            path_string_ids: vec![path_iid],
        });
        self.mappings.insert(path.clone(), iid);
        iid
    }

    fn frame(&mut self, frame: &UserFrame, stacks: &ReportStacks) -> u64 {
        let unknown = self.unknown_object.clone();
        let (object, rel_pc, location) = match frame {
            UserFrame::Named {
                file_offset,
                location,
                object,
                ..
            } => (object, *file_offset, location.as_ref()),
            UserFrame::Unnamed {
                object,
                file_offset,
                ..
            } => (object, *file_offset, None),
            UserFrame::Unknown { address, .. } => (&unknown, *address, None),
        };
        let name = match frame {
            UserFrame::Named { function, .. } => function.clone(),
            _ => Arc::from(frame.folded_name()),
        };
        let function = self.function_name(name);
        let mapping = self.mapping(object, stacks);
        let source = location.map(|(file, _)| self.source_path(file));
        let line = location.map(|&(_, line)| line);
        let table = &mut self.data.frames;
        *self
            .frames
            .entry(FrameKey {
                function,
                mapping,
                rel_pc,
                source,
                line,
            })
            .or_insert_with(|| {
                let iid = next_iid(table.len());
                table.push(Frame {
                    iid: Some(iid),
                    function_name_id: Some(function),
                    mapping_id: Some(mapping),
                    rel_pc: Some(rel_pc),
                    source_path_iid: source,
                    line_number: line,
                });
                iid
            })
    }

    /// The callstack iid of the file's stack `index`, or None when it has no frames.
    fn callstack(&mut self, index: u32, stacks: &ReportStacks) -> Option<u64> {
        if let Some(&iid) = self.callstacks.get(&index) {
            return Some(iid);
        }
        let frames = stacks.frames.stack(index).filter(|f| !f.is_empty())?;
        // Innermost first in the report; Perfetto wants the outermost first.
        let frame_ids = frames
            .iter()
            .rev()
            .map(|frame| self.frame(frame, stacks))
            .collect();
        let iid = next_iid(self.data.callstacks.len());
        self.data.callstacks.push(Callstack {
            iid: Some(iid),
            frame_ids,
        });
        self.callstacks.insert(index, iid);
        Some(iid)
    }
}

/// The packets of `events`' stacks (the interned tables first), and how many samples
/// they hold. Events whose stack has no frames are left out.
pub fn callstack_packets(stacks: &ReportStacks, events: &[EventStack]) -> (Vec<TracePacket>, u64) {
    let mut interner = Interner {
        data: InternedData::default(),
        function_names: HashMap::new(),
        source_paths: HashMap::new(),
        mappings: HashMap::new(),
        frames: HashMap::new(),
        callstacks: HashMap::new(),
        unknown_object: Arc::from(UNKNOWN_OBJECT),
    };
    let mut samples = Vec::with_capacity(events.len());
    for event in events {
        let Some(callstack) = interner.callstack(event.stack, stacks) else {
            continue;
        };
        samples.push(TracePacket {
            timestamp: Some(event.ts),
            trusted_packet_sequence_id: Some(CALLSTACKS_SEQUENCE_ID),
            sequence_flags: Some(SEQ_NEEDS_INCREMENTAL_STATE),
            interned_data: None,
            data: Some(PacketData::PerfSample(PerfSample {
                cpu: Some(event.cpu),
                pid: Some(event.tgid),
                tid: Some(event.tid),
                callstack_iid: Some(callstack),
            })),
        });
    }
    if samples.is_empty() {
        return (Vec::new(), 0);
    }
    let count = samples.len() as u64;
    // The tables ride on the first sample, which clears the sequence's state.
    let first = &mut samples[0];
    first.sequence_flags = Some(SEQ_INCREMENTAL_STATE_CLEARED | SEQ_NEEDS_INCREMENTAL_STATE);
    first.interned_data = Some(interner.data);
    (samples, count)
}
