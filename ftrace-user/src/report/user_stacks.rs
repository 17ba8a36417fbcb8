//! The user stacks a recording stores (`record --user-stack`), joined to their events
//! (see [`crate::stacks::join`]) and symbolized once per distinct stack, for the
//! report to print under each event.

use thiserror::Error;

use crate::{
    stacks::{
        StackObject, StackSample, codec,
        join::{EventKey, Joined, RecordedEvent, event_key, join},
    },
    store::{TraceOption, hytrace_kind},
    symbolize::user::{ObjectSearch, SymbolizedStacks, symbolize_stacks},
    trace::Recording,
};

#[derive(Debug, Error)]
pub enum UserStacksError {
    #[error("the file's user stacks cannot be read")]
    Decode(#[from] codec::StackCodecError),
}

/// The stacks of one recording, ready to print.
#[derive(Debug)]
pub struct ReportStacks {
    pub samples: Vec<StackSample>,
    /// Each distinct stack's frames, innermost first.
    pub frames: SymbolizedStacks,
    joined: Joined,
    /// The events that have stacks.
    event_types: Vec<u16>,
    /// Stacks the ring buffer had no room for while recording.
    pub lost: u64,
    /// The objects frames point into (their build-ids).
    pub objects: Vec<StackObject>,
}

/// What the join found, for the report's closing lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JoinCounts {
    pub joined: u64,
    pub unjoined_samples: u64,
    pub events_without_stack: u64,
    pub lost: u64,
}

impl ReportStacks {
    /// The file's user stacks, joined and symbolized, or None when it has none.
    pub fn load(
        recording: &Recording,
        search: &ObjectSearch,
    ) -> Result<Option<ReportStacks>, UserStacksError> {
        let Some(data) = recording
            .file
            .meta
            .options
            .iter()
            .find_map(|option| match option {
                TraceOption::Hytrace { kind, data } if *kind == hytrace_kind::BPF_STACKS => {
                    Some(data)
                }
                _ => None,
            })
        else {
            return Ok(None);
        };
        let stacks = codec::decode(data)?;
        let (merger, origins) = recording.merge(|_| true);
        let cpus: Vec<u32> = origins.iter().map(|o| o.cpu).collect();
        let events = merger.filter_map(|merged| {
            let data = merged.record.data;
            (data.len() >= 8).then(|| RecordedEvent {
                tid: i32::from_le_bytes([data[4], data[5], data[6], data[7]]) as u32,
                cpu: cpus.get(merged.origin as usize).copied().unwrap_or(0),
                event_type: u16::from_le_bytes([data[0], data[1]]),
                ts: merged.record.ts,
            })
        });
        let joined = join(&stacks.samples, &stacks.event_types, events);
        let frames = symbolize_stacks(&stacks, search);
        Ok(Some(ReportStacks {
            samples: stacks.samples,
            frames,
            joined,
            event_types: stacks.event_types,
            lost: stacks.lost,
            objects: stacks.objects,
        }))
    }

    /// The sample joined to the event recorded at `ts` on `cpu` by `tid`.
    pub fn sample_of(&self, tid: u32, cpu: u32, event_type: u16, ts: u64) -> Option<u32> {
        if !self.event_types.contains(&event_type) {
            return None;
        }
        let key: EventKey = event_key(&RecordedEvent {
            tid,
            cpu,
            event_type,
            ts,
        });
        self.joined.by_event.get(&key).copied()
    }

    pub fn counts(&self) -> JoinCounts {
        JoinCounts {
            joined: self.joined.by_event.len() as u64,
            unjoined_samples: self.joined.unjoined_samples,
            events_without_stack: self.joined.events_without_stack,
            lost: self.lost,
        }
    }
}
