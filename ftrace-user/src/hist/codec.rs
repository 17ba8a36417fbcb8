//! Histogram snapshots stored in a trace file (the hytrace option kind
//! BPF_HISTOGRAMS, which trace-cmd skips): a line-based text form, so a file can be
//! inspected with `strings`, encoded and decoded by pure functions.
//!
//! ```text
//! hytrace-histograms 1
//! snapshot<TAB>SPEC<TAB>TIME_NS<TAB>TGID
//! lost<TAB>NAME<TAB>COUNT
//! key<TAB>COUNT<TAB>SUM_NS<TAB>MAX_NS<TAB>NAME
//! slot<TAB>SLOT<TAB>COUNT
//! ```
//!
//! `lost` and `key` lines belong to the snapshot above them, `slot` lines to the key.
//! TGID is the one process the aggregator was limited to (0: every process).

use std::fmt::Write as _;

use thiserror::Error;

use super::{KeyHistogram, Snapshot};
use ftrace_common::hist::SLOTS;

const MAGIC: &str = "hytrace-histograms 1";

/// One stored snapshot and the process it was limited to (0: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    pub snapshot: Snapshot,
    pub tgid: u32,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("stored histograms do not start with '{MAGIC}'")]
    Magic,
    #[error("stored histograms, line {line}: {reason}")]
    Line { line: usize, reason: String },
}

/// Tabs and newlines would split a field; names never need them.
fn clean(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

pub fn encode(snapshots: &[StoredSnapshot]) -> Vec<u8> {
    let mut out = String::new();
    let _ = writeln!(out, "{MAGIC}");
    for stored in snapshots {
        let s = &stored.snapshot;
        let _ = writeln!(
            out,
            "snapshot\t{}\t{}\t{}",
            clean(&s.spec),
            s.time_ns,
            stored.tgid
        );
        for (name, n) in &s.lost {
            let _ = writeln!(out, "lost\t{}\t{n}", clean(name));
        }
        for key in &s.keys {
            let _ = writeln!(
                out,
                "key\t{}\t{}\t{}\t{}",
                key.count,
                key.sum_ns,
                key.max_ns,
                clean(&key.key)
            );
            for (slot, n) in &key.slots {
                let _ = writeln!(out, "slot\t{slot}\t{n}");
            }
        }
    }
    out.into_bytes()
}

pub fn decode(bytes: &[u8]) -> Result<Vec<StoredSnapshot>, CodecError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CodecError::Line {
        line: 0,
        reason: "not UTF-8".into(),
    })?;
    let mut lines = text.lines().enumerate();
    if lines.next().map(|(_, l)| l) != Some(MAGIC) {
        return Err(CodecError::Magic);
    }
    let mut out: Vec<StoredSnapshot> = Vec::new();
    for (index, line) in lines {
        let error = |reason: &str| CodecError::Line {
            line: index + 1,
            reason: reason.to_string(),
        };
        let number = |field: Option<&str>| -> Result<u64, CodecError> {
            field
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| error("missing or bad number"))
        };
        let mut fields = line.split('\t');
        match fields.next() {
            Some("snapshot") => {
                let spec = fields.next().ok_or_else(|| error("no spec"))?.to_string();
                let time_ns = number(fields.next())?;
                let tgid = u32::try_from(number(fields.next())?).map_err(|_| error("bad tgid"))?;
                out.push(StoredSnapshot {
                    snapshot: Snapshot {
                        spec,
                        time_ns,
                        keys: Vec::new(),
                        lost: Vec::new(),
                    },
                    tgid,
                });
            }
            Some("lost") => {
                let snapshot = &mut out
                    .last_mut()
                    .ok_or_else(|| error("lost before a snapshot"))?
                    .snapshot;
                let name = fields.next().ok_or_else(|| error("no name"))?.to_string();
                snapshot.lost.push((name, number(fields.next())?));
            }
            Some("key") => {
                let snapshot = &mut out
                    .last_mut()
                    .ok_or_else(|| error("key before a snapshot"))?
                    .snapshot;
                let count = number(fields.next())?;
                let sum_ns = number(fields.next())?;
                let max_ns = number(fields.next())?;
                let key = fields
                    .next()
                    .ok_or_else(|| error("no key name"))?
                    .to_string();
                snapshot.keys.push(KeyHistogram {
                    key,
                    count,
                    sum_ns,
                    max_ns,
                    slots: Vec::new(),
                });
            }
            Some("slot") => {
                let key = out
                    .last_mut()
                    .and_then(|s| s.snapshot.keys.last_mut())
                    .ok_or_else(|| error("slot before a key"))?;
                let slot = u32::try_from(number(fields.next())?)
                    .ok()
                    .filter(|&s| s < SLOTS)
                    .ok_or_else(|| error("slot out of range"))?;
                if key.slots.last().is_some_and(|&(last, _)| last >= slot) {
                    return Err(error("slots out of order"));
                }
                key.slots.push((slot, number(fields.next())?));
            }
            Some("") if fields.next().is_none() => {}
            _ => return Err(error("unknown line")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<StoredSnapshot> {
        vec![
            StoredSnapshot {
                snapshot: Snapshot {
                    spec: "syscalls".into(),
                    time_ns: 1_500_000_000,
                    keys: vec![
                        KeyHistogram {
                            key: "getppid".into(),
                            count: 3,
                            sum_ns: 900,
                            max_ns: 500,
                            slots: vec![(100, 2), (140, 1)],
                        },
                        KeyHistogram {
                            key: "a\tb".into(),
                            count: 1,
                            sum_ns: 7,
                            max_ns: 7,
                            slots: vec![(7, 1)],
                        },
                    ],
                    lost: vec![
                        ("start_map_full".into(), 0),
                        ("end_without_start".into(), 2),
                    ],
                },
                tgid: 4242,
            },
            StoredSnapshot {
                snapshot: Snapshot {
                    spec: "pair:a:b,c:d,key=x".into(),
                    time_ns: 2,
                    keys: Vec::new(),
                    lost: Vec::new(),
                },
                tgid: 0,
            },
        ]
    }

    #[test]
    fn snapshots_round_trip() {
        let mut expected = sample();
        expected[0].snapshot.keys[1].key = "a b".into();
        let bytes = encode(&sample());
        assert!(String::from_utf8_lossy(&bytes).starts_with(
            "hytrace-histograms 1\nsnapshot\tsyscalls\t1500000000\t4242\nlost\tstart_map_full\t0\n"
        ));
        assert_eq!(decode(&bytes), Ok(expected));
    }

    #[test]
    fn damaged_input_is_an_error_with_its_line() {
        assert_eq!(decode(b"something else\n"), Err(CodecError::Magic));
        let bytes = encode(&sample());
        let text = String::from_utf8(bytes).unwrap();
        let cut = text.replace("slot\t140\t1", "slot\t140");
        assert_eq!(
            decode(cut.as_bytes()),
            Err(CodecError::Line {
                line: 7,
                reason: "missing or bad number".into()
            })
        );
        let reordered = text.replace("slot\t140\t1", "slot\t99\t1");
        assert!(matches!(
            decode(reordered.as_bytes()),
            Err(CodecError::Line { line: 7, .. })
        ));
        assert!(matches!(
            decode(b"hytrace-histograms 1\nslot\t1\t1\n"),
            Err(CodecError::Line { line: 2, .. })
        ));
        assert!(matches!(
            decode(b"hytrace-histograms 1\nbogus\n"),
            Err(CodecError::Line { line: 2, .. })
        ));
    }
}
