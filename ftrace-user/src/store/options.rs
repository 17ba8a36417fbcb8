//! Option ids and the encoding of [`TraceOption`] payloads (same in v6 and v7).

use super::bytes::{Cursor, Enc, Endian};
use super::error::StoreError;
use super::model::{HYTRACE_OPTION_BASE, HYTRACE_OPTION_LAST, TraceOption, hytrace_kind};

pub(crate) const DONE: u16 = 0;
pub(crate) const DATE: u16 = 1;
pub(crate) const CPUSTAT: u16 = 2;
pub(crate) const BUFFER: u16 = 3;
pub(crate) const TRACECLOCK: u16 = 4;
pub(crate) const UNAME: u16 = 5;
pub(crate) const HOOK: u16 = 6;
pub(crate) const OFFSET: u16 = 7;
pub(crate) const CPUCOUNT: u16 = 8;
pub(crate) const VERSION: u16 = 9;
pub(crate) const PROCMAPS: u16 = 10;
pub(crate) const TRACEID: u16 = 11;
pub(crate) const TSC2NSEC: u16 = 14;
/// v7 section ids (also the ids of the options pointing at them).
pub(crate) const HEADER_INFO: u16 = 16;
pub(crate) const FTRACE_EVENTS: u16 = 17;
pub(crate) const EVENT_FORMATS: u16 = 18;
pub(crate) const KALLSYMS: u16 = 19;
pub(crate) const PRINTK: u16 = 20;
pub(crate) const CMDLINES: u16 = 21;
pub(crate) const BUFFER_TEXT: u16 = 22;

/// Text payload: bytes up to the first NUL.
fn text(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

fn cstr_bytes(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// `CPU: N` on the first line of a CPUSTAT text.
fn cpustat_cpu(text: &str) -> Option<u32> {
    text.lines()
        .next()?
        .strip_prefix("CPU:")
        .and_then(|n| n.trim().parse().ok())
}

/// Decodes a non-structural option. Fixed-size payloads that are too short
/// are kept as `Raw` rather than rejected (trace-cmd ignores them too).
pub(crate) fn decode(id: u16, data: &[u8], endian: Endian) -> TraceOption {
    let mut cur = Cursor::new(data, 0, endian, "option");
    let fixed = match id {
        CPUCOUNT => cur.u32().ok().map(TraceOption::CpuCount),
        TRACEID => cur.u64().ok().map(TraceOption::TraceId),
        TSC2NSEC => (|| -> Result<TraceOption, StoreError> {
            Ok(TraceOption::Tsc2Nsec {
                mult: cur.u32()?,
                shift: cur.u32()?,
                offset: cur.u64()?,
            })
        })()
        .ok(),
        _ => None,
    };
    if let Some(opt) = fixed {
        return opt;
    }
    match id {
        DATE => TraceOption::Date(text(data)),
        CPUSTAT => {
            let text = text(data);
            TraceOption::CpuStat {
                cpu: cpustat_cpu(&text),
                text,
            }
        }
        TRACECLOCK => TraceOption::TraceClock(text(data)),
        UNAME => TraceOption::Uname(text(data)),
        HOOK => TraceOption::Hook(text(data)),
        OFFSET => TraceOption::Offset(text(data)),
        VERSION => TraceOption::Version(text(data)),
        PROCMAPS => TraceOption::ProcMaps(text(data)),
        HYTRACE_OPTION_BASE..=HYTRACE_OPTION_LAST => {
            let kind = id - HYTRACE_OPTION_BASE;
            if kind == hytrace_kind::SAVED_TGIDS {
                TraceOption::SavedTgids(text(data))
            } else {
                TraceOption::Hytrace {
                    kind,
                    data: data.to_vec(),
                }
            }
        }
        _ => TraceOption::Raw {
            id,
            data: data.to_vec(),
        },
    }
}

/// Whether the writer must refuse `id` inside `Raw` (it would break the file
/// structure: DONE ends the options, BUFFER and v7 section offsets point
/// into the file).
fn is_structural(id: u16) -> bool {
    matches!(id, DONE | BUFFER | 15..=BUFFER_TEXT)
}

/// The id and payload of `opt`.
pub(crate) fn encode(opt: &TraceOption, endian: Endian) -> Result<(u16, Vec<u8>), StoreError> {
    let mut enc = Enc::new(endian);
    let id = match opt {
        TraceOption::Date(s) => return Ok((DATE, cstr_bytes(s))),
        TraceOption::CpuStat { text, .. } => return Ok((CPUSTAT, cstr_bytes(text))),
        TraceOption::TraceClock(s) => return Ok((TRACECLOCK, cstr_bytes(s))),
        TraceOption::Uname(s) => return Ok((UNAME, cstr_bytes(s))),
        TraceOption::Hook(s) => return Ok((HOOK, cstr_bytes(s))),
        TraceOption::Offset(s) => return Ok((OFFSET, cstr_bytes(s))),
        TraceOption::Version(s) => return Ok((VERSION, cstr_bytes(s))),
        TraceOption::ProcMaps(s) => return Ok((PROCMAPS, cstr_bytes(s))),
        TraceOption::SavedTgids(s) => {
            return Ok((
                HYTRACE_OPTION_BASE + hytrace_kind::SAVED_TGIDS,
                cstr_bytes(s),
            ));
        }
        TraceOption::CpuCount(n) => {
            enc.u32(*n);
            CPUCOUNT
        }
        TraceOption::TraceId(n) => {
            enc.u64(*n);
            TRACEID
        }
        TraceOption::Tsc2Nsec {
            mult,
            shift,
            offset,
        } => {
            enc.u32(*mult);
            enc.u32(*shift);
            enc.u64(*offset);
            TSC2NSEC
        }
        TraceOption::Hytrace { kind, data } => {
            let id = HYTRACE_OPTION_BASE
                .checked_add(*kind)
                .filter(|&id| id <= HYTRACE_OPTION_LAST)
                .ok_or_else(|| {
                    StoreError::invalid(format!("hytrace option kind {kind} out of range"))
                })?;
            return Ok((id, data.clone()));
        }
        TraceOption::Raw { id, data } => {
            if is_structural(*id) {
                return Err(StoreError::invalid(format!(
                    "raw option id {id} is structural and cannot be written"
                )));
            }
            return Ok((*id, data.clone()));
        }
    };
    Ok((id, enc.buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_variant() {
        let opts = [
            TraceOption::Date("0x123".into()),
            TraceOption::CpuStat {
                cpu: Some(3),
                text: "CPU: 3\nentries: 0\n".into(),
            },
            TraceOption::CpuStat {
                cpu: None,
                text: "\nBuffer: x\n\n".into(),
            },
            TraceOption::TraceClock("[local] mono".into()),
            TraceOption::Uname("Linux a b".into()),
            TraceOption::Hook("h".into()),
            TraceOption::Offset("5".into()),
            TraceOption::CpuCount(4),
            TraceOption::Version("v".into()),
            TraceOption::ProcMaps("m".into()),
            TraceOption::TraceId(0xdead_beef_0000_0001),
            TraceOption::Tsc2Nsec {
                mult: 1,
                shift: 2,
                offset: 3,
            },
            TraceOption::SavedTgids("1 1\n".into()),
            TraceOption::Hytrace {
                kind: 7,
                data: vec![0, 1, 2],
            },
            TraceOption::Raw {
                id: 12,
                data: vec![9; 20],
            },
        ];
        for endian in [Endian::Little, Endian::Big] {
            for o in &opts {
                let (id, data) = encode(o, endian).unwrap();
                assert_eq!(&decode(id, &data, endian), o);
            }
        }
        assert!(
            encode(
                &TraceOption::Raw {
                    id: 3,
                    data: vec![]
                },
                Endian::Little
            )
            .is_err()
        );
        assert!(
            encode(
                &TraceOption::Hytrace {
                    kind: 0x4000,
                    data: vec![]
                },
                Endian::Little
            )
            .is_err()
        );
        // A short fixed-size payload is kept raw.
        assert_eq!(
            decode(CPUCOUNT, &[1], Endian::Little),
            TraceOption::Raw {
                id: CPUCOUNT,
                data: vec![1]
            }
        );
    }
}
