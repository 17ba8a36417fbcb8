//! The per-syscall latency aggregator: loads `syscall_latency_enter/exit` on the
//! raw_syscalls raw tracepoints and reads their histogram maps.

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap as BpfHashMap, MapError, PerCpuArray},
    programs::RawTracePoint,
};
use ftrace_common::hist::{CAPPED_SLOTS, KeyTotals, PairStart, SYSCALL_KEYS, lost};
use thiserror::Error;

use super::EBPF_OBJECT;
use crate::hist::{KeyHistogram, histogram::build, syscall_names::syscall_name};

const ENTER: &str = "syscall_latency_enter";
const EXIT: &str = "syscall_latency_exit";
const SWITCH: &str = "syscall_latency_switch";

#[derive(Debug, Error)]
pub enum AggregatorError {
    #[error("cannot load the eBPF object")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("the eBPF object lacks {0}")]
    Missing(&'static str),
    #[error("cannot load or attach {program} on raw tracepoint {tracepoint}")]
    Attach {
        program: &'static str,
        tracepoint: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("cannot read map {map}")]
    Map {
        map: &'static str,
        #[source]
        source: MapError,
    },
}

/// The loaded and attached aggregator; detached when dropped.
pub struct SyscallLatency {
    ebpf: Ebpf,
}

impl SyscallLatency {
    /// Loads and attaches; `tgid` limits it to one process (0 = all).
    pub fn attach(tgid: u32) -> Result<SyscallLatency, AggregatorError> {
        let mut ebpf = EbpfLoader::new()
            .override_global("TARGET_TGID", &tgid, true)
            .load(EBPF_OBJECT)
            .map_err(|e| AggregatorError::Load(Box::new(e)))?;
        for (program, tracepoint) in [
            (SWITCH, "sched_switch"),
            (ENTER, "sys_enter"),
            (EXIT, "sys_exit"),
        ] {
            let attach_error = |source| AggregatorError::Attach {
                program,
                tracepoint,
                source,
            };
            let prog: &mut RawTracePoint = ebpf
                .program_mut(program)
                .ok_or(AggregatorError::Missing(program))?
                .try_into()
                .map_err(attach_error)?;
            prog.load().map_err(attach_error)?;
            prog.attach(tracepoint).map_err(attach_error)?;
        }
        Ok(SyscallLatency { ebpf })
    }

    fn map(&self, name: &'static str) -> Result<&aya::maps::Map, AggregatorError> {
        self.ebpf.map(name).ok_or(AggregatorError::Missing(name))
    }

    /// The histograms so far, one per syscall, most samples first.
    pub fn histograms(&self) -> Result<Vec<KeyHistogram>, AggregatorError> {
        let map_error = |map| move |source| AggregatorError::Map { map, source };
        let totals: PerCpuArray<_, KeyTotals> = PerCpuArray::try_from(self.map("SYSCALL_TOTALS")?)
            .map_err(map_error("SYSCALL_TOTALS"))?;
        let slots: Array<_, u64> =
            Array::try_from(self.map("SYSCALL_SLOTS")?).map_err(map_error("SYSCALL_SLOTS"))?;
        let mut key_totals = Vec::new();
        let mut slot_counts = Vec::new();
        for key in 0..SYSCALL_KEYS {
            let values = totals.get(&key, 0).map_err(map_error("SYSCALL_TOTALS"))?;
            let sum = values
                .iter()
                .fold(KeyTotals::default(), |acc, t| KeyTotals {
                    count: acc.count + t.count,
                    sum_ns: acc.sum_ns + t.sum_ns,
                    max_ns: acc.max_ns.max(t.max_ns),
                });
            if sum.count == 0 {
                continue;
            }
            key_totals.push((u64::from(key), sum));
            // Only keys with samples have slots worth reading.
            for slot in 0..CAPPED_SLOTS {
                let n = slots
                    .get(&(key * CAPPED_SLOTS + slot), 0)
                    .map_err(map_error("SYSCALL_SLOTS"))?;
                if n > 0 {
                    slot_counts.push((u64::from(key), slot, n));
                }
            }
        }
        Ok(build(slot_counts, key_totals, syscall_name))
    }

    /// What the aggregator could not record, by reason.
    pub fn lost(&self) -> Result<Vec<(&'static str, u64)>, AggregatorError> {
        let map_error = |source| AggregatorError::Map {
            map: "SYSCALL_LOST",
            source,
        };
        let counters: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.map("SYSCALL_LOST")?).map_err(map_error)?;
        let mut out = Vec::new();
        for (index, name) in [
            (lost::START_MAP_FULL, "start_map_full"),
            (lost::END_WITHOUT_START, "end_without_start"),
            (lost::KEY_OUT_OF_RANGE, "key_out_of_range"),
        ] {
            let values = counters.get(&index, 0).map_err(map_error)?;
            out.push((name, values.iter().sum()));
        }
        Ok(out)
    }

    /// Threads the aggregator has seen enter a syscall.
    pub fn threads_seen(&self) -> usize {
        self.map("SYSCALL_START")
            .ok()
            .and_then(|m| BpfHashMap::<_, u32, PairStart>::try_from(m).ok())
            .map(|m| m.keys().count())
            .unwrap_or(0)
    }
}
