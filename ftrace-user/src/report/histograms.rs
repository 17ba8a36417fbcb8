//! `report --hist`: the histograms aggregated in eBPF during the recording (stored in
//! the file), and the same histograms recomputed from the recorded begin and end
//! events, so the cheap aggregate can be checked against the full detail.

use std::collections::HashMap;

use thiserror::Error;

use crate::trace::Recording;
use crate::{
    bpf::latency::names::{block_device_name, softirq_name},
    format::{EventFormat, Field},
    hist::{
        KeyHistogram, Spec, SpecError,
        codec::{self, CodecError, StoredSnapshot},
        pairing::{PairEvent, PairSamples, count_differences},
        syscall_names::syscall_name,
    },
    store::{TraceOption, hytrace_kind},
};

#[derive(Debug, Error)]
pub enum HistogramsError {
    #[error("the file holds no BPF histograms (record with --hist SPEC to store them)")]
    None,
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// Why a stored histogram cannot be recomputed from the recorded events.
#[derive(Debug, Error)]
pub enum StreamError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("the recording has no {system}:{name} events")]
    NoEvent { system: String, name: String },
    #[error("{system}:{event} has no field {field}")]
    NoField {
        system: String,
        event: String,
        field: String,
    },
    #[error("{what} cannot be recomputed from trace events")]
    NotRecomputable { what: &'static str },
}

/// The BPF histograms stored in the file.
pub fn stored(recording: &Recording) -> Result<Vec<StoredSnapshot>, HistogramsError> {
    let mut found = None;
    for option in &recording.file.meta.options {
        if let TraceOption::Hytrace { kind, data } = option
            && *kind == hytrace_kind::BPF_HISTOGRAMS
        {
            found = Some(codec::decode(data)?);
        }
    }
    found.ok_or(HistogramsError::None)
}

/// A stored histogram beside the same recomputed from the recorded events.
#[derive(Debug)]
pub struct Comparison {
    pub stored: StoredSnapshot,
    /// The recomputed histogram, or why it could not be.
    pub stream: Result<StreamHistogram, StreamError>,
    /// Keys whose counts differ: (key, eBPF count, events count).
    pub differences: Vec<(String, u64, u64)>,
}

/// Every stored histogram compared with the same recomputed from the events.
pub fn compare(recording: &Recording) -> Result<Vec<Comparison>, HistogramsError> {
    Ok(stored(recording)?
        .into_iter()
        .map(|stored| {
            let stream = stored
                .snapshot
                .spec
                .parse::<Spec>()
                .map_err(StreamError::from)
                .and_then(|spec| from_stream(recording, &spec, stored.tgid));
            let differences = match &stream {
                Ok(stream) => count_differences(&stored.snapshot.keys, &stream.keys),
                Err(_) => Vec::new(),
            };
            Comparison {
                stored,
                stream,
                differences,
            }
        })
        .collect())
}

/// A histogram recomputed from the recorded events.
#[derive(Debug)]
pub struct StreamHistogram {
    /// "BEGIN -> END" event names.
    pub source: String,
    pub keys: Vec<KeyHistogram>,
    pub ends_without_start: u64,
    /// Events the recording lost (the stream histogram misses their pairs).
    pub lost_events: u64,
}

/// What pairs a begin with its end.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Thread,
    Cpu,
    /// The values of these fields (e.g. device and sector of a block request).
    Fields(&'a Field, &'a Field),
}

/// How a begin event's histogram key is found.
enum KeyOf<'a> {
    /// All samples in key 0.
    Constant,
    /// An integer field of the begin event.
    Field(&'a Field),
    /// An integer field and the thread: one key per (thread, value), named by comm.
    FieldAndThread(&'a Field),
}

struct Plan<'a> {
    begin: &'a EventFormat,
    end: &'a EventFormat,
    owner: Owner<'a>,
    end_owner: Owner<'a>,
    key: KeyOf<'a>,
    /// Threads of this process only (0: all); only for thread-owned pairs.
    tgid: u32,
}

fn find<'a>(
    recording: &'a Recording,
    system: &str,
    name: &str,
) -> Result<&'a EventFormat, StreamError> {
    recording
        .event_named(system, name)
        .ok_or_else(|| StreamError::NoEvent {
            system: system.to_string(),
            name: name.to_string(),
        })
}

fn field<'a>(event: &'a EventFormat, name: &str) -> Result<&'a Field, StreamError> {
    event.field(name).ok_or_else(|| StreamError::NoField {
        system: event.system.clone(),
        event: event.name.clone(),
        field: name.to_string(),
    })
}

fn int(field: &Field, data: &[u8]) -> u64 {
    field.int(data).unwrap_or(0) as u64
}

/// Recomputes `spec`'s histogram from the recording's events, or says why it cannot.
pub fn from_stream(
    recording: &Recording,
    spec: &Spec,
    tgid: u32,
) -> Result<StreamHistogram, StreamError> {
    let not_here = |what| Err(StreamError::NotRecomputable { what });
    let plan = match spec {
        Spec::Syscalls { by_comm } => {
            let begin = find(recording, "raw_syscalls", "sys_enter")?;
            let end = find(recording, "raw_syscalls", "sys_exit")?;
            let id = field(begin, "id")?;
            Plan {
                begin,
                end,
                owner: Owner::Thread,
                end_owner: Owner::Thread,
                key: if *by_comm {
                    KeyOf::FieldAndThread(id)
                } else {
                    KeyOf::Field(id)
                },
                tgid,
            }
        }
        Spec::Irq | Spec::Softirq => {
            let (begin, end, key) = if *spec == Spec::Irq {
                ("irq_handler_entry", "irq_handler_exit", "irq")
            } else {
                ("softirq_entry", "softirq_exit", "vec")
            };
            let begin = find(recording, "irq", begin)?;
            Plan {
                begin,
                end: find(recording, "irq", end)?,
                owner: Owner::Cpu,
                end_owner: Owner::Cpu,
                key: KeyOf::Field(field(begin, key)?),
                tgid: 0,
            }
        }
        Spec::Block => {
            let begin = find(recording, "block", "block_rq_issue")?;
            let end = find(recording, "block", "block_rq_complete")?;
            Plan {
                begin,
                end,
                owner: Owner::Fields(field(begin, "dev")?, field(begin, "sector")?),
                end_owner: Owner::Fields(field(end, "dev")?, field(end, "sector")?),
                key: KeyOf::Field(field(begin, "dev")?),
                tgid: 0,
            }
        }
        Spec::Pair { begin, end, key } => {
            let begin = find(recording, &begin.0, &begin.1)?;
            Plan {
                begin,
                end: find(recording, &end.0, &end.1)?,
                owner: Owner::Thread,
                end_owner: Owner::Thread,
                key: match key {
                    Some(name) => KeyOf::Field(field(begin, name)?),
                    None => KeyOf::Constant,
                },
                tgid,
            }
        }
        Spec::Runq { .. } => return not_here("runq (wakeup to switch-in per CPU)"),
        Spec::KvmExit => return not_here("kvm-exit"),
        Spec::Uprobe { .. } => return not_here("a uprobe histogram"),
        Spec::Func { .. } => return not_here("a func histogram"),
    };
    Ok(run(recording, spec, &plan))
}

fn run(recording: &Recording, spec: &Spec, plan: &Plan<'_>) -> StreamHistogram {
    let tgids = recording.file.meta.tgid_map();
    let in_scope =
        |pid: u32| plan.tgid == 0 || tgids.get(&pid).copied().unwrap_or(pid) == plan.tgid;
    let mut merger = recording.merge_all();
    // Names of keys the events carry (irq handler names), and the comms of threads.
    let mut irq_names: HashMap<u64, String> = HashMap::new();
    let irq_name_field = plan.begin.field("name").filter(|_| *spec == Spec::Irq);
    let owner_of = |owner: Owner<'_>, cpu: u32, pid: u32, data: &[u8]| match owner {
        Owner::Thread => (u64::from(pid), 0),
        Owner::Cpu => (u64::from(cpu), 0),
        Owner::Fields(a, b) => (int(a, data), int(b, data)),
    };
    let (begin_id, end_id) = (plan.begin.id, plan.end.id);
    let thread_owned = matches!(plan.owner, Owner::Thread);
    let events = (&mut merger).filter_map(|merged| {
        let data = merged.record.data;
        if data.len() < 8 {
            return None;
        }
        let type_id = u16::from_le_bytes([data[0], data[1]]);
        if type_id != begin_id && type_id != end_id {
            return None;
        }
        let pid = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        if thread_owned && !in_scope(pid) {
            return None;
        }
        let ts = merged.record.ts;
        if type_id == begin_id {
            let key = match &plan.key {
                KeyOf::Constant => 0,
                KeyOf::Field(f) => int(f, data),
                KeyOf::FieldAndThread(f) => (u64::from(pid) << 32) | (int(f, data) & 0xffff_ffff),
            };
            if let Some(name) = irq_name_field
                && !irq_names.contains_key(&key)
                && let Some(bytes) = name.bytes(data)
            {
                let text = String::from_utf8_lossy(bytes);
                irq_names.insert(key, text.trim_end_matches('\0').to_string());
            }
            Some(PairEvent::Begin {
                owner: owner_of(plan.owner, merged.cpu, pid, data),
                key,
                ts,
            })
        } else {
            Some(PairEvent::End {
                owner: owner_of(plan.end_owner, merged.cpu, pid, data),
                ts,
            })
        }
    });
    let mut samples = PairSamples::default();
    samples.add(events);
    let lost_events = merger
        .streams()
        .map(|s| s.stats().missed_events)
        .fold(0, u64::saturating_add);
    let keys = samples.histograms(|key| match spec {
        Spec::Syscalls { by_comm: false } => syscall_name(key),
        Spec::Syscalls { by_comm: true } => format!(
            "{} {}",
            recording.comm_at((key >> 32) as i32, u64::MAX),
            syscall_name(key & 0xffff_ffff)
        ),
        Spec::Irq => match irq_names.get(&key) {
            Some(name) => format!("{key} {name}"),
            None => key.to_string(),
        },
        Spec::Softirq => softirq_name(key),
        Spec::Block => block_device_name(key),
        Spec::Pair {
            key: Some(field), ..
        } => format!("{field}={key}"),
        _ => "all".to_string(),
    });
    StreamHistogram {
        source: format!(
            "{}:{} -> {}:{}",
            plan.begin.system, plan.begin.name, plan.end.system, plan.end.name
        ),
        keys,
        ends_without_start: samples.ends_without_start,
        lost_events,
    }
}
