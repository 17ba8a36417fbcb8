//! QEMU log-backend lines attached to the exits they were written in (pure): each line
//! is placed on the recording's clock by the stored realtime↔mono offset and given to
//! the exit of its thread whose QEMU part contains it, within a tolerance (the log's
//! microsecond truncation plus the offset's uncertainty). A line goes to one exit at
//! most.

use std::collections::HashMap;

use super::{pairing::Pairing, qemu_log::QemuLogLine};

/// How the log's lines fared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogMatch {
    pub lines: u64,
    /// Lines given to an exit.
    pub attached: u64,
    /// Lines of vCPU threads outside every exit's QEMU part.
    pub outside_exits: u64,
    /// Lines of threads that ran no exit in the recording.
    pub other_threads: u64,
    /// Lines without a thread id, or before the monotonic clock's zero.
    pub unplaced: u64,
    /// How well the wall clock is known on the recording's clock, ns (±).
    pub uncertainty_ns: u64,
    /// Tolerance used on each side of an exit's QEMU part, ns.
    pub tolerance_ns: u64,
}

/// The log's microsecond stamps are truncated: a line may read up to this much early.
const LOG_RESOLUTION_NS: u64 = 1_000;

/// Attaches `lines` to `pairing`'s exits; `mono_of` turns a line's realtime into the
/// recording's clock; `uncertainty_ns` is that conversion's.
pub fn attach(
    pairing: &mut Pairing,
    lines: &[QemuLogLine],
    mono_of: impl Fn(u64) -> Option<u64>,
    uncertainty_ns: u64,
) -> LogMatch {
    let tolerance = LOG_RESOLUTION_NS + uncertainty_ns;
    let mut result = LogMatch {
        lines: lines.len() as u64,
        tolerance_ns: tolerance,
        uncertainty_ns,
        ..LogMatch::default()
    };
    // Per thread: (window start, window end, exit index), by start.
    let mut windows: HashMap<i32, Vec<(u64, u64, usize)>> = HashMap::new();
    for (index, exit) in pairing.exits.iter().enumerate() {
        if let Some((start, end)) = exit.user_window {
            windows
                .entry(exit.tid)
                .or_default()
                .push((start, end, index));
        }
    }
    for list in windows.values_mut() {
        list.sort_unstable();
    }
    for line in lines {
        let (Some(tid), Some(ts)) = (line.tid, mono_of(line.realtime_ns)) else {
            result.unplaced += 1;
            continue;
        };
        let Some(list) = i32::try_from(tid).ok().and_then(|tid| windows.get(&tid)) else {
            result.other_threads += 1;
            continue;
        };
        // The last window starting at or before ts + tolerance, and the one before it.
        let after = list.partition_point(|w| w.0 <= ts.saturating_add(tolerance));
        let distance = |w: &(u64, u64, usize)| {
            if ts < w.0 {
                w.0 - ts
            } else {
                ts.saturating_sub(w.1)
            }
        };
        let best = list[after.saturating_sub(2)..after]
            .iter()
            .filter(|w| distance(w) <= tolerance)
            .min_by_key(|w| distance(w));
        match best {
            Some(&(_, _, index)) => {
                pairing.exits[index].qemu.push(line.event.clone());
                result.attached += 1;
            }
            None => result.outside_exits += 1,
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvm::{
        pairing::{Input, Piece, TimedPiece, Unit, pair},
        qemu_events::parse_qemu_event,
    };

    fn run_trips(count: u64) -> Pairing {
        let mut inputs = Vec::new();
        for i in 0..=count {
            let t = 1_000_000 + i * 100_000;
            let piece = |ts, piece| {
                Input::Piece(TimedPiece {
                    ts,
                    cpu: 0,
                    tid: 42,
                    piece,
                })
            };
            inputs.push(piece(t, Piece::RunCall));
            inputs.push(piece(
                t + 20_000,
                Piece::UserspaceExit {
                    reason: "KVM_EXIT_IO".into(),
                },
            ));
            inputs.push(piece(t + 30_000, Piece::IoctlReturn));
        }
        pair(inputs, Unit::KvmRun)
    }

    fn line(tid: Option<u32>, realtime_ns: u64) -> QemuLogLine {
        QemuLogLine {
            tid,
            realtime_ns,
            event: parse_qemu_event("kvm_run_exit cpu_index 0, reason 2").unwrap(),
        }
    }

    #[test]
    fn each_line_goes_to_the_exit_it_was_written_in() {
        let mut pairing = run_trips(3);
        const OFFSET: u64 = 1_700_000_000_000_000_000;
        // Written 300 ns after each return, logged truncated to the microsecond.
        let lines: Vec<QemuLogLine> = (0..3u64)
            .map(|i| {
                let written = OFFSET + 1_000_000 + i * 100_000 + 30_300;
                line(Some(42), written / 1000 * 1000)
            })
            .chain([
                line(Some(7), OFFSET),
                line(None, OFFSET),
                line(Some(42), OFFSET + 1_010_000),
            ])
            .collect();
        let result = attach(&mut pairing, &lines, |r| r.checked_sub(OFFSET), 50);
        assert_eq!(
            result,
            LogMatch {
                lines: 6,
                attached: 3,
                outside_exits: 1,
                other_threads: 1,
                unplaced: 1,
                uncertainty_ns: 50,
                tolerance_ns: 1050,
            }
        );
        assert!(pairing.exits.iter().all(|e| e.qemu.len() == 1));
    }

    #[test]
    fn a_line_just_before_a_window_is_still_its_exits() {
        let mut pairing = run_trips(1);
        // The return is at 1_030_000; a line truncated to 1_029_000 (still within
        // the tolerance) belongs to it.
        let result = attach(&mut pairing, &[line(Some(42), 1_029_500)], Some, 0);
        assert_eq!(result.attached, 1);
        assert_eq!(pairing.exits[0].qemu.len(), 1);
    }
}
