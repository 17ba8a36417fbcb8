//! A recording's VM exits: its pieces paired, QEMU's log lines attached where given.

use std::collections::BTreeMap;

use thiserror::Error;

use super::{
    log_match::{LogMatch, attach},
    pairing::{Pairing, pair, unit_of},
    pieces::{PieceCounts, pieces},
    qemu_log::QemuLog,
};
use crate::{
    store::{TraceOption, clock_alignment::ClockAlignment, hytrace_kind},
    trace::Recording,
};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KvmAnalysisError {
    #[error(
        "the recording holds no kvm events and no KVM_RUN calls (record with `hytrace kvm`, or \
         `trace-cmd record -e kvm`)"
    )]
    NothingToPair,
    #[error(
        "--qemu-log needs the recording's offset between wall-clock and monotonic time, which \
         only `hytrace kvm` and `hytrace record` store; this file has none"
    )]
    NoClockAlignment,
    #[error(
        "--qemu-log needs a recording on the mono clock (QEMU's log is placed on it through \
         the wall clock); this one uses {clock}"
    )]
    NotMonoClock { clock: String },
}

/// What `hytrace kvm` shows of a recording.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub pairing: Pairing,
    pub counts: PieceCounts,
    /// How QEMU's log lines were attached, when a log was given.
    pub log: Option<LogMatch>,
}

/// Pairs `recording`'s exits and attaches `log`'s lines to them.
pub fn analyze(recording: &Recording, log: Option<&QemuLog>) -> Result<Analysis, KvmAnalysisError> {
    let (inputs, counts) = pieces(recording);
    if counts.kvm_exit + counts.kvm_entry + counts.kvm_userspace_exit + counts.run_calls == 0 {
        return Err(KvmAnalysisError::NothingToPair);
    }
    let mut pairing = pair(inputs, unit_of(counts.kvm_exit > 0));
    let log = match log {
        None => None,
        Some(log) => {
            let clock = recording.file.meta.trace_clock().unwrap_or_default();
            if clock != "mono" {
                return Err(KvmAnalysisError::NotMonoClock { clock });
            }
            let alignment = clock_alignment(recording).ok_or(KvmAnalysisError::NoClockAlignment)?;
            Some(attach(
                &mut pairing,
                &log.lines,
                |realtime| alignment.mono_of_realtime(realtime),
                alignment.uncertainty_ns,
            ))
        }
    };
    Ok(Analysis {
        pairing,
        counts,
        log,
    })
}

/// The realtime↔mono offset the recording stored.
pub fn clock_alignment(recording: &Recording) -> Option<ClockAlignment> {
    let data = recording
        .file
        .meta
        .hytrace_option(hytrace_kind::CLOCK_ALIGNMENT)?;
    ClockAlignment::parse(&String::from_utf8_lossy(data))
}

/// Thread id → process id, from the recording's saved tgids (empty where it has none).
pub fn thread_groups(recording: &Recording) -> BTreeMap<i32, i32> {
    let options = &recording.file.meta.options;
    options
        .iter()
        .find_map(|option| match option {
            TraceOption::SavedTgids(text) => Some(parse_tgids(text)),
            _ => None,
        })
        .unwrap_or_default()
}

/// `saved_tgids` lines, `PID TGID`; tgid 0 (unknown) is left out.
fn parse_tgids(text: &str) -> BTreeMap<i32, i32> {
    text.lines()
        .filter_map(|line| {
            let (pid, tgid) = line.trim().split_once(' ')?;
            let tgid: i32 = tgid.trim().parse().ok()?;
            (tgid != 0).then_some((pid.parse().ok()?, tgid))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_tgids_map_threads_to_processes() {
        let map = parse_tgids("100 100\n101 100\n7 0\nbad\n102 x\n");
        assert_eq!(
            map.into_iter().collect::<Vec<_>>(),
            [(100, 100), (101, 100)]
        );
    }
}
