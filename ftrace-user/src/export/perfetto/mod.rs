//! A recording as Perfetto's native protobuf trace (a stream of `TracePacket`s), which
//! the Perfetto UI and trace processor open: the process tree from the recording's
//! saved command names and tgids, then every event in `FtraceEventBundle`s per CPU,
//! in time order, a new bundle flagged `lost_events` after each loss.
//!
//! - [`messages`]: the prost messages, with Perfetto's field numbers.
//! - [`events`]: one event record as its typed or generic `FtraceEvent`.
//! - [`tracks`]: what hytrace adds as tracks of their own (stored histograms, kvm
//!   exits paired).
//! - [`callstacks`]: the stored user stacks as callstack samples.

pub mod callstacks;
pub mod events;
pub mod messages;
pub mod tracks;

use std::{collections::BTreeMap, io::Write};

use messages::{
    FtraceEvent, FtraceEventBundle, PacketData, Process, ProcessTree, TRACE_PACKET_TAG, Thread,
    TracePacket,
};
use thiserror::Error;

use crate::{
    decode::Missed,
    report::{RecordFilter, Report, user_stacks::ReportStacks},
    symbolize::user::ObjectSearch,
    trace::Recording,
};

#[derive(Debug, Error)]
pub enum PerfettoError {
    #[error("cannot write the Perfetto trace")]
    Write(#[source] std::io::Error),
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerfettoStats {
    pub events: u64,
    pub bundles: u64,
    pub processes: usize,
    pub threads: usize,
    /// Events without a format in the file (skipped).
    pub unknown_events: u64,
    pub tracks: tracks::TrackStats,
    /// Events exported with their user stack as a callstack sample.
    pub user_stack_samples: u64,
    /// Why the file's user stacks were left out (they do not decode).
    pub user_stacks_unreadable: Option<String>,
}

/// Events per bundle (Perfetto's own traced_probes sends bundles of a page or so).
const BUNDLE_EVENTS: usize = 1024;
/// Every packet's sequence (one writer).
const SEQUENCE_ID: u32 = 1;

/// Writes packets to `out`, one at a time.
struct PacketWriter<'a> {
    out: &'a mut dyn Write,
    buf: Vec<u8>,
}

impl PacketWriter<'_> {
    /// A packet of the events' sequence.
    fn write(&mut self, data: PacketData) -> Result<(), PerfettoError> {
        self.write_packet(&TracePacket {
            timestamp: None,
            trusted_packet_sequence_id: Some(SEQUENCE_ID),
            sequence_flags: None,
            interned_data: None,
            data: Some(data),
        })
    }

    fn write_packet(&mut self, packet: &TracePacket) -> Result<(), PerfettoError> {
        self.buf.clear();
        prost::encoding::message::encode(TRACE_PACKET_TAG, packet, &mut self.buf);
        self.out.write_all(&self.buf).map_err(PerfettoError::Write)
    }
}

/// The processes and threads the recording names: each saved command name as a
/// thread of its tgid (itself where none was saved), each tgid as a process.
fn process_tree(recording: &Recording) -> ProcessTree {
    let meta = &recording.file.meta;
    let comms: BTreeMap<u32, String> = meta.cmdline_map().into_iter().collect();
    let tgids = meta.tgid_map();
    let mut processes: BTreeMap<u32, Process> = BTreeMap::new();
    let mut threads = Vec::new();
    for (&tid, comm) in &comms {
        let tgid = tgids.get(&tid).copied().unwrap_or(tid);
        processes.entry(tgid).or_insert_with(|| Process {
            pid: Some(tgid as i32),
            cmdline: vec![comms.get(&tgid).unwrap_or(comm).clone()],
            cmdline_is_comm: Some(true),
        });
        threads.push(Thread {
            tid: Some(tid as i32),
            name: Some(comm.clone()),
            tgid: Some(tgid as i32),
        });
    }
    ProcessTree {
        processes: processes.into_values().collect(),
        threads,
    }
}

/// Writes the whole recording to `out` as a Perfetto trace; user-stack objects are
/// looked for as `search` says.
pub fn write(
    recording: &Recording,
    search: &ObjectSearch,
    out: &mut dyn Write,
) -> Result<PerfettoStats, PerfettoError> {
    let mut writer = PacketWriter {
        out,
        buf: Vec::new(),
    };
    let mut stats = PerfettoStats::default();
    let tree = process_tree(recording);
    stats.processes = tree.processes.len();
    stats.threads = tree.threads.len();
    writer.write(PacketData::ProcessTree(tree))?;
    let user_stacks = match ReportStacks::load(recording, search) {
        Ok(stacks) => stacks,
        Err(e) => {
            stats.user_stacks_unreadable = Some(crate::notes::chain(&e));
            None
        }
    };
    let mut event_stacks = Vec::new();

    let filter = RecordFilter::default();
    let mut report = Report::new(recording, &filter);
    let cpus: Vec<u32> = report.origins().iter().map(|o| o.cpu).collect();
    // The bundle being filled for each origin (buffer and CPU).
    let mut pending: Vec<Option<FtraceEventBundle>> = vec![None; cpus.len()];
    let mut span: Option<(u64, u64)> = None;
    let mut flush = |bundle: FtraceEventBundle, stats: &mut PerfettoStats| {
        stats.bundles += 1;
        writer.write(PacketData::FtraceEvents(bundle))
    };
    for record in report.records() {
        let origin = record.origin as usize;
        let data = record.data;
        let type_id = u16::from_le_bytes([data[0], data[1]]);
        let Some(format) = recording.event(type_id) else {
            stats.unknown_events += 1;
            continue;
        };
        let lost = record.missed != Missed::None;
        let slot = &mut pending[origin];
        let full = slot
            .as_ref()
            .is_some_and(|b| b.event.len() >= BUNDLE_EVENTS);
        if (lost || full)
            && let Some(bundle) = slot.take()
        {
            flush(bundle, &mut stats)?;
        }
        let bundle = slot.get_or_insert_with(|| FtraceEventBundle {
            cpu: Some(cpus[origin]),
            event: Vec::with_capacity(BUNDLE_EVENTS),
            lost_events: lost.then_some(true),
        });
        let tid = i32::from_le_bytes([data[4], data[5], data[6], data[7]]) as u32;
        if let Some(stacks) = &user_stacks
            && let Some(sample) = stacks.sample_of(tid, cpus[origin], type_id, record.ts)
            && let Some(found) = stacks.samples.get(sample as usize)
            && let Ok(stack) = found.stack
        {
            event_stacks.push(callstacks::EventStack {
                ts: record.ts,
                cpu: cpus[origin],
                tid,
                tgid: found.tgid,
                stack,
            });
        }
        bundle.event.push(FtraceEvent {
            timestamp: Some(record.ts),
            pid: Some(tid),
            common_flags: Some(u32::from(data[2])),
            event: Some(events::event_kind(format, data)),
        });
        stats.events += 1;
        span = Some(span.map_or((record.ts, record.ts), |(first, last)| {
            (first.min(record.ts), last.max(record.ts))
        }));
    }
    for bundle in pending.into_iter().flatten() {
        flush(bundle, &mut stats)?;
    }
    let (first, last) = span.unwrap_or((0, 0));
    let (packets, track_stats) = tracks::track_packets(recording, first, last);
    for packet in &packets {
        writer.write_packet(packet)?;
    }
    stats.tracks = track_stats;
    if let Some(stacks) = &user_stacks {
        let (packets, samples) = callstacks::callstack_packets(stacks, &event_stacks);
        for packet in &packets {
            writer.write_packet(packet)?;
        }
        stats.user_stack_samples = samples;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests;
