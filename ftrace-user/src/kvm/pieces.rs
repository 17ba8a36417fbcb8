//! A recording's records as the pieces the pairing reads: kvm events, the KVM_RUN
//! ioctl's calls and returns, and trace_marker lines (QEMU's ftrace backend), decoded
//! through the recording's own formats; losses where the page headers report them.

use super::{
    exit_reasons::reason_in_text,
    pairing::{Input, Piece, TimedPiece},
    qemu_events::{QemuEvent, parse_qemu_event},
};
use crate::{
    decode::Missed,
    format::{EventFormat, Field},
    trace::Recording,
};

/// ioctl request number of KVM_RUN (`_IO(KVMIO, 0x80)`).
pub const KVM_RUN: u64 = 0xAE80;

/// The kvm events `hytrace kvm` records where the kernel has them.
pub const KVM_EVENTS: [&str; 8] = [
    "kvm_exit",
    "kvm_entry",
    "kvm_userspace_exit",
    "kvm_pio",
    "kvm_mmio",
    "kvm_fast_mmio",
    "kvm_msr",
    "kvm_hypercall",
];

/// What the recording holds of each kind.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PieceCounts {
    pub kvm_exit: u64,
    pub kvm_entry: u64,
    pub kvm_userspace_exit: u64,
    pub handling: u64,
    pub run_calls: u64,
    pub ioctl_returns: u64,
    pub markers: u64,
    /// Marker lines that are not QEMU events (kept with their text).
    pub other_markers: u64,
}

/// The pieces of `recording`, in time order, and their counts.
pub fn pieces(recording: &Recording) -> (Vec<Input>, PieceCounts) {
    let kinds = Kinds::of(recording);
    let mut counts = PieceCounts::default();
    let mut inputs = Vec::new();
    let mut payload = Vec::new();
    for merged in &mut recording.merge_all() {
        let record = &merged.record;
        if record.missed != Missed::None {
            inputs.push(Input::Lost {
                cpu: merged.cpu,
                ts: record.ts,
            });
        }
        let data = record.data;
        if data.len() < 8 {
            continue;
        }
        let type_id = u16::from_le_bytes([data[0], data[1]]);
        let Some(kind) = kinds.kind(type_id) else {
            continue;
        };
        let Some(format) = recording.event(type_id) else {
            continue;
        };
        let tid = i32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        let uint = |field: Option<&Field>| field.and_then(|f| f.uint(data));
        let mut text = || {
            payload.clear();
            format.render_payload(data, &recording.symbols, 0, &mut payload);
            String::from_utf8_lossy(&payload).into_owned()
        };
        let piece = match kind {
            Kind::Exit => {
                counts.kvm_exit += 1;
                let text = text();
                let reason = reason_in_text(&text)
                    .map(str::to_string)
                    .or_else(|| uint(kinds.exit_reason).map(|r| r.to_string()))
                    .unwrap_or_else(|| "?".into());
                Piece::Exit {
                    reason,
                    rip: uint(kinds.exit_rip).unwrap_or(0),
                    vcpu: uint(kinds.exit_vcpu).map(|v| v as u32),
                }
            }
            Kind::Entry => {
                counts.kvm_entry += 1;
                Piece::Entry {
                    vcpu: uint(kinds.entry_vcpu).map(|v| v as u32),
                }
            }
            Kind::UserspaceExit => {
                counts.kvm_userspace_exit += 1;
                let text = text();
                Piece::UserspaceExit {
                    reason: reason_in_text(&text).unwrap_or(&text).to_string(),
                }
            }
            Kind::Handling => {
                counts.handling += 1;
                Piece::Handling {
                    event: format.name.clone(),
                    text: text(),
                }
            }
            Kind::IoctlCall => {
                if uint(kinds.ioctl_cmd) != Some(KVM_RUN) {
                    continue;
                }
                counts.run_calls += 1;
                Piece::RunCall
            }
            Kind::IoctlReturn => {
                counts.ioctl_returns += 1;
                Piece::IoctlReturn
            }
            Kind::Marker => {
                counts.markers += 1;
                let line = kinds
                    .marker_buf
                    .and_then(|f| f.bytes(data))
                    .map(|b| {
                        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                        String::from_utf8_lossy(&b[..end]).trim_end().to_string()
                    })
                    .unwrap_or_default();
                Piece::Qemu(parse_qemu_event(&line).unwrap_or_else(|| {
                    counts.other_markers += 1;
                    QemuEvent {
                        name: "marker".into(),
                        fields: Vec::new(),
                        text: line,
                    }
                }))
            }
        };
        inputs.push(Input::Piece(TimedPiece {
            ts: record.ts,
            cpu: merged.cpu,
            tid,
            piece,
        }));
    }
    (inputs, counts)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Exit,
    Entry,
    UserspaceExit,
    Handling,
    IoctlCall,
    IoctlReturn,
    Marker,
}

/// The recording's event ids of each kind and the fields read from them.
struct Kinds<'a> {
    by_id: Vec<Option<Kind>>,
    exit_reason: Option<&'a Field>,
    exit_rip: Option<&'a Field>,
    exit_vcpu: Option<&'a Field>,
    entry_vcpu: Option<&'a Field>,
    ioctl_cmd: Option<&'a Field>,
    marker_buf: Option<&'a Field>,
}

impl<'a> Kinds<'a> {
    fn of(recording: &'a Recording) -> Kinds<'a> {
        let mut by_id = vec![None; recording.max_event_id() + 1];
        let mut set = |format: Option<&EventFormat>, kind| {
            if let Some(slot) = format.and_then(|f| by_id.get_mut(usize::from(f.id))) {
                *slot = Some(kind);
            }
        };
        for id in 0..=recording.max_event_id() {
            if let Some(format) = recording.event(id as u16)
                && format.system == "kvm"
            {
                let kind = match format.name.as_str() {
                    "kvm_exit" => Kind::Exit,
                    "kvm_entry" => Kind::Entry,
                    "kvm_userspace_exit" => Kind::UserspaceExit,
                    _ => Kind::Handling,
                };
                set(Some(format), kind);
            }
        }
        let exit = recording.event_named("kvm", "kvm_exit");
        let entry = recording.event_named("kvm", "kvm_entry");
        let call = recording.event_named("syscalls", "sys_enter_ioctl");
        let marker = recording.event_named("ftrace", "print");
        set(call, Kind::IoctlCall);
        set(
            recording.event_named("syscalls", "sys_exit_ioctl"),
            Kind::IoctlReturn,
        );
        set(marker, Kind::Marker);
        Kinds {
            by_id,
            exit_reason: exit.and_then(|f| f.field("exit_reason")),
            exit_rip: exit.and_then(|f| f.field("guest_rip")),
            exit_vcpu: exit.and_then(|f| f.field("vcpu_id")),
            entry_vcpu: entry.and_then(|f| f.field("vcpu_id")),
            ioctl_cmd: call.and_then(|f| f.field("cmd")),
            marker_buf: marker.and_then(|f| f.field("buf")),
        }
    }

    fn kind(&self, type_id: u16) -> Option<Kind> {
        self.by_id.get(usize::from(type_id)).copied().flatten()
    }
}
