//! What hytrace adds on top of the events, as Perfetto tracks of their own (a packet
//! sequence apart from the events'): the histograms `record --hist` stored, a slice
//! per key over the recording with its count and percentiles as annotations; and, in
//! a recording with kvm events or KVM_RUN calls, the exits paired per vCPU thread
//! (`hytrace kvm`'s pairing), a slice per exit named by its reason from the exit to
//! the next entry, QEMU's part nested in it; in a `graph --on-outlier` snapshot, the
//! samples over the threshold it was taken for, a slice each on a track per spec and
//! thread, named by the histogram key, from the sample's start to its end.

use super::messages::{
    DebugAnnotation, PacketData, SEQ_INCREMENTAL_STATE_CLEARED, TRACK_EVENT_SLICE_BEGIN,
    TRACK_EVENT_SLICE_END, TracePacket, TrackDescriptor, TrackEvent,
};
use crate::{
    hist::codec::{self, StoredSnapshot},
    kvm::analysis::analyze,
    store::{hytrace_kind, outlier_samples},
    trace::Recording,
};

/// The sequence of these packets.
pub const TRACKS_SEQUENCE_ID: u32 = 2;

/// What the tracks hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackStats {
    pub histogram_keys: usize,
    pub kvm_exits: usize,
    /// Exits whose times a loss made unknown (left out).
    pub kvm_exits_incomplete: usize,
    pub outlier_samples: usize,
}

/// Builds the packets, each with its timestamp, in order of emission.
struct Tracks {
    packets: Vec<TracePacket>,
    next_uuid: u64,
}

impl Tracks {
    fn push(&mut self, timestamp: Option<u64>, data: PacketData) {
        let first = self.packets.is_empty();
        self.packets.push(TracePacket {
            timestamp,
            trusted_packet_sequence_id: Some(TRACKS_SEQUENCE_ID),
            sequence_flags: first.then_some(SEQ_INCREMENTAL_STATE_CLEARED),
            interned_data: None,
            data: Some(data),
        });
    }

    fn track(&mut self, name: String) -> u64 {
        self.next_uuid += 1;
        let uuid = self.next_uuid;
        self.push(
            None,
            PacketData::TrackDescriptor(TrackDescriptor {
                uuid: Some(uuid),
                name: Some(name),
            }),
        );
        uuid
    }

    fn begin(&mut self, track: u64, at: u64, name: String, notes: Vec<DebugAnnotation>) {
        self.push(
            Some(at),
            PacketData::TrackEvent(TrackEvent {
                r#type: Some(TRACK_EVENT_SLICE_BEGIN),
                track_uuid: Some(track),
                name: Some(name),
                debug_annotations: notes,
            }),
        );
    }

    fn end(&mut self, track: u64, at: u64) {
        self.push(
            Some(at),
            PacketData::TrackEvent(TrackEvent {
                r#type: Some(TRACK_EVENT_SLICE_END),
                track_uuid: Some(track),
                name: None,
                debug_annotations: Vec::new(),
            }),
        );
    }
}

fn number(name: &str, value: u64) -> DebugAnnotation {
    DebugAnnotation {
        name: Some(name.to_string()),
        uint_value: Some(value),
        string_value: None,
    }
}

fn text(name: &str, value: String) -> DebugAnnotation {
    DebugAnnotation {
        name: Some(name.to_string()),
        uint_value: None,
        string_value: Some(value),
    }
}

/// The stored histograms, or none (a file without them, or one whose option does not
/// decode: the events are exported all the same).
fn stored_histograms(recording: &Recording) -> Vec<StoredSnapshot> {
    recording
        .file
        .meta
        .hytrace_option(hytrace_kind::BPF_HISTOGRAMS)
        .and_then(|data| codec::decode(data).ok())
        .unwrap_or_default()
}

/// The packets of every track, the recording's events spanning `first_ts..=last_ts`.
pub fn track_packets(
    recording: &Recording,
    first_ts: u64,
    last_ts: u64,
) -> (Vec<TracePacket>, TrackStats) {
    let mut tracks = Tracks {
        packets: Vec::new(),
        next_uuid: 0,
    };
    let mut stats = TrackStats::default();
    for stored in stored_histograms(recording) {
        let snapshot = &stored.snapshot;
        for key in &snapshot.keys {
            let track = tracks.track(format!("hist {}: {}", snapshot.spec, key.key));
            let notes = vec![
                number("count", key.count),
                number("avg_ns", key.avg_ns()),
                number("p50_ns", key.percentile(50.0)),
                number("p90_ns", key.percentile(90.0)),
                number("p99_ns", key.percentile(99.0)),
                number("max_ns", key.max_ns),
            ];
            tracks.begin(track, first_ts, key.key.clone(), notes);
            tracks.end(track, last_ts);
            stats.histogram_keys += 1;
        }
    }
    let outliers = recording
        .file
        .meta
        .hytrace_option(hytrace_kind::OUTLIER_SAMPLES)
        .and_then(outlier_samples::parse)
        .unwrap_or_default();
    let mut outlier_tracks = std::collections::BTreeMap::new();
    for sample in &outliers {
        let track = *outlier_tracks
            .entry((sample.spec.clone(), sample.tid))
            .or_insert_with(|| {
                tracks.track(format!(
                    "{} over {:.3} us, thread {}",
                    sample.spec,
                    sample.threshold_ns as f64 / 1000.0,
                    sample.tid
                ))
            });
        let notes = vec![
            number("delta_ns", sample.delta_ns),
            number("threshold_ns", sample.threshold_ns),
            number("tid", u64::from(sample.tid)),
            number("tgid", u64::from(sample.tgid)),
        ];
        tracks.begin(track, sample.start_ns(), sample.key.clone(), notes);
        tracks.end(track, sample.end_ns);
        stats.outlier_samples += 1;
    }
    if let Ok(analysis) = analyze(recording, None) {
        let pairing = &analysis.pairing;
        let mut track_of = std::collections::BTreeMap::new();
        for (&tid, vcpu) in &pairing.vcpu_threads {
            let name = match vcpu {
                Some(vcpu) => format!("kvm exits, vCPU {vcpu} (thread {tid})"),
                None => format!("kvm exits, thread {tid}"),
            };
            track_of.insert(tid, tracks.track(name));
        }
        for exit in &pairing.exits {
            if exit.incomplete {
                stats.kvm_exits_incomplete += 1;
                continue;
            }
            let Some(&track) = track_of.get(&exit.tid) else {
                continue;
            };
            let end = exit.ts + exit.kernel_ns + exit.user_ns;
            let mut notes = vec![
                number("kernel_ns", exit.kernel_ns),
                number("user_ns", exit.user_ns),
            ];
            if let Some(rip) = exit.rip {
                notes.push(text("rip", format!("0x{rip:x}")));
            }
            if let Some(reason) = &exit.userspace_reason {
                notes.push(text("userspace_reason", reason.clone()));
            }
            // Begin, QEMU's part, end: emitted in time order on the track.
            tracks.begin(track, exit.ts, exit.reason.clone(), notes);
            if let Some((from, to)) = exit.user_window {
                tracks.begin(track, from, "qemu".to_string(), Vec::new());
                tracks.end(track, to);
            }
            tracks.end(track, end);
            stats.kvm_exits += 1;
        }
    }
    (tracks.packets, stats)
}
