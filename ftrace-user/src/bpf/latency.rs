//! Latency aggregators in the kernel and the reading of their tables: per syscall
//! (`syscall_latency_*` on raw_syscalls, one process or all), per irq and per softirq
//! vector (`cpu_pair_*` on the handlers' entry and exit). Each loads its own copy of
//! the eBPF object; dropping it detaches everything.

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, MapError, PerCpuArray},
    programs::{
        RawTracePoint, TracePoint, UProbe,
        uprobe::{UProbeAttachLocation, UProbeScope},
    },
};
use ftrace_common::hist::{CAPPED_SLOTS, KeyTotals, PAIR_KEYS, SYSCALL_KEYS, lost};
use thiserror::Error;

use super::EBPF_OBJECT;
use crate::hist::{KeyHistogram, histogram::build, syscall_names::syscall_name};
use crate::{
    format::parse_event_format,
    symbols::elf::symbol_file_offset,
    tracefs::{EventId, Tracefs},
};

/// Map names of one aggregator's tables (layout in `ftrace_common::hist`).
struct Tables {
    slots: &'static str,
    totals: &'static str,
    lost: &'static str,
    keys: u32,
}

const SYSCALL_TABLES: Tables = Tables {
    slots: "SYSCALL_SLOTS",
    totals: "SYSCALL_TOTALS",
    lost: "SYSCALL_LOST",
    keys: SYSCALL_KEYS,
};

/// Softirq vectors (include/linux/interrupt.h).
const SOFTIRQ_NAMES: [&str; 10] = [
    "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU",
];

#[derive(Debug, Error)]
pub enum AggregatorError {
    #[error("cannot load the eBPF object")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("the eBPF object lacks {0}")]
    Missing(&'static str),
    #[error("{path}: {reason}")]
    Target { path: String, reason: String },
    #[error("cannot load or attach {program} at {tracepoint}")]
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

/// A loaded and attached aggregator; detached when dropped.
pub struct LatencyAggregator {
    pub spec: &'static str,
    ebpf: Ebpf,
    tables: Tables,
    key_name: Box<dyn Fn(u64) -> String>,
}

impl LatencyAggregator {
    /// Per-syscall latency; `tgid` limits it to one process (0 = all).
    pub fn syscalls(tgid: u32) -> Result<LatencyAggregator, AggregatorError> {
        let mut loader =
            super::loader_keeping(&["SYSCALL_SLOTS", "SYSCALL_TOTALS", "SYSCALL_START"]);
        loader.override_global("TARGET_TGID", &tgid, true);
        let ebpf = load_attached(
            &mut loader,
            &[
                ("syscall_latency_switch", "sched_switch"),
                ("syscall_latency_enter", "sys_enter"),
                ("syscall_latency_exit", "sys_exit"),
            ],
        )?;
        Ok(LatencyAggregator {
            spec: "syscalls",
            ebpf,
            tables: SYSCALL_TABLES,
            key_name: Box::new(syscall_name),
        })
    }

    /// Hard irq handler latency per irq number, named from /proc/interrupts.
    pub fn irq() -> Result<LatencyAggregator, AggregatorError> {
        let names = irq_names(&std::fs::read_to_string("/proc/interrupts").unwrap_or_default());
        Self::cpu_pair(
            "irq",
            "irq_handler_entry",
            "irq_handler_exit",
            PAIR_KEYS,
            move |irq| match names.get(&irq) {
                Some(name) => format!("{irq} {name}"),
                None => irq.to_string(),
            },
        )
    }

    /// Softirq handler latency per vector.
    pub fn softirq() -> Result<LatencyAggregator, AggregatorError> {
        Self::cpu_pair("softirq", "softirq_entry", "softirq_exit", 16, |vec| {
            SOFTIRQ_NAMES
                .get(vec as usize)
                .map(|n| n.to_string())
                .unwrap_or_else(|| format!("vec{vec}"))
        })
    }

    /// Latency per call of user function `symbol` in the ELF file `path` (symbol
    /// resolved to a file offset with the object crate), in one process or all.
    pub fn uprobe(
        path: &str,
        symbol: &str,
        pid: Option<u32>,
    ) -> Result<LatencyAggregator, AggregatorError> {
        let elf = std::fs::read(path).map_err(|source| AggregatorError::Target {
            path: path.to_string(),
            reason: source.to_string(),
        })?;
        let offset = symbol_file_offset(&elf, symbol).map_err(|e| AggregatorError::Target {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
        let scope = match pid.and_then(std::num::NonZeroU32::new) {
            Some(pid) => UProbeScope::OneProcess(pid),
            None => UProbeScope::AllProcesses,
        };
        let mut ebpf = super::loader_keeping(&["FUNC_SLOTS", "FUNC_START"])
            .load(EBPF_OBJECT)
            .map_err(|e| AggregatorError::Load(Box::new(e)))?;
        for (program, point) in [
            ("func_latency_entry", "entry"),
            ("func_latency_exit", "return"),
        ] {
            let attach_error = |source| AggregatorError::Attach {
                program,
                tracepoint: point,
                source,
            };
            let prog: &mut UProbe = ebpf
                .program_mut(program)
                .ok_or(AggregatorError::Missing(program))?
                .try_into()
                .map_err(attach_error)?;
            prog.load().map_err(attach_error)?;
            prog.attach(UProbeAttachLocation::AbsoluteOffset(offset), path, scope)
                .map_err(attach_error)?;
        }
        let name = symbol.to_string();
        Ok(LatencyAggregator {
            spec: "uprobe",
            ebpf,
            tables: Tables {
                slots: "FUNC_SLOTS",
                totals: "FUNC_TOTALS",
                lost: "FUNC_LOST",
                keys: 1,
            },
            key_name: Box::new(move |_| name.clone()),
        })
    }

    /// Run-queue latency (wakeup or preemption to switch-in) per CPU. Reads the sched
    /// events' field offsets from their tracefs format files.
    pub fn runq(tracefs: &Tracefs) -> Result<LatencyAggregator, AggregatorError> {
        let offset = |event: &str, field: &str| -> Result<u32, AggregatorError> {
            let id = EventId {
                system: "sched".into(),
                name: event.into(),
            };
            let text = tracefs
                .event_format(&id)
                .map_err(|e| AggregatorError::Target {
                    path: format!("sched:{event}"),
                    reason: e.to_string(),
                })?;
            let format =
                parse_event_format("sched", &text).map_err(|e| AggregatorError::Target {
                    path: format!("sched:{event}"),
                    reason: e.to_string(),
                })?;
            format
                .field(field)
                .map(|f| f.offset as u32)
                .ok_or_else(|| AggregatorError::Target {
                    path: format!("sched:{event}"),
                    reason: format!("no field {field}"),
                })
        };
        let wakeup_pid = offset("sched_wakeup", "pid")?;
        let prev_pid = offset("sched_switch", "prev_pid")?;
        let prev_state = offset("sched_switch", "prev_state")?;
        let next_pid = offset("sched_switch", "next_pid")?;
        let mut loader = super::loader_keeping(&["RUNQ_START", "RUNQ_SLOTS", "RUNQ_TOTALS"]);
        loader
            .override_global("RUNQ_WAKEUP_PID_OFFSET", &wakeup_pid, true)
            .override_global("RUNQ_PREV_PID_OFFSET", &prev_pid, true)
            .override_global("RUNQ_PREV_STATE_OFFSET", &prev_state, true)
            .override_global("RUNQ_NEXT_PID_OFFSET", &next_pid, true);
        let mut ebpf = loader
            .load(EBPF_OBJECT)
            .map_err(|e| AggregatorError::Load(Box::new(e)))?;
        for (program, events) in [
            ("runq_wakeup", &["sched_wakeup", "sched_wakeup_new"][..]),
            ("runq_switch", &["sched_switch"][..]),
        ] {
            let prog: &mut TracePoint = ebpf
                .program_mut(program)
                .ok_or(AggregatorError::Missing(program))?
                .try_into()
                .map_err(|source| AggregatorError::Attach {
                    program,
                    tracepoint: "sched",
                    source,
                })?;
            prog.load().map_err(|source| AggregatorError::Attach {
                program,
                tracepoint: "sched",
                source,
            })?;
            for event in events {
                prog.attach("sched", event)
                    .map_err(|source| AggregatorError::Attach {
                        program,
                        tracepoint: event,
                        source,
                    })?;
            }
        }
        Ok(LatencyAggregator {
            spec: "runq",
            ebpf,
            tables: Tables {
                slots: "RUNQ_SLOTS",
                totals: "RUNQ_TOTALS",
                lost: "RUNQ_LOST",
                keys: PAIR_KEYS,
            },
            key_name: Box::new(|cpu| format!("cpu{cpu}")),
        })
    }

    fn cpu_pair(
        spec: &'static str,
        begin: &'static str,
        end: &'static str,
        keys: u32,
        key_name: impl Fn(u64) -> String + 'static,
    ) -> Result<LatencyAggregator, AggregatorError> {
        let mut loader = super::loader_keeping(&[]);
        loader
            .map_max_entries("PAIR_SLOTS", keys * CAPPED_SLOTS)
            .map_max_entries("PAIR_TOTALS", keys);
        let ebpf = load_attached(
            &mut loader,
            &[("cpu_pair_begin", begin), ("cpu_pair_end", end)],
        )?;
        Ok(LatencyAggregator {
            spec,
            ebpf,
            tables: Tables {
                slots: "PAIR_SLOTS",
                totals: "PAIR_TOTALS",
                lost: "PAIR_LOST",
                keys,
            },
            key_name: Box::new(key_name),
        })
    }

    fn map(&self, name: &'static str) -> Result<&aya::maps::Map, AggregatorError> {
        self.ebpf.map(name).ok_or(AggregatorError::Missing(name))
    }

    /// The histograms so far, one per syscall, most samples first.
    pub fn histograms(&self) -> Result<Vec<KeyHistogram>, AggregatorError> {
        let map_error = |map| move |source| AggregatorError::Map { map, source };
        let totals: PerCpuArray<_, KeyTotals> =
            PerCpuArray::try_from(self.map(self.tables.totals)?)
                .map_err(map_error(self.tables.totals))?;
        let slots: Array<_, u64> =
            Array::try_from(self.map(self.tables.slots)?).map_err(map_error(self.tables.slots))?;
        let mut key_totals = Vec::new();
        let mut slot_counts = Vec::new();
        for key in 0..self.tables.keys {
            let values = totals.get(&key, 0).map_err(map_error(self.tables.totals))?;
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
                    .map_err(map_error(self.tables.slots))?;
                if n > 0 {
                    slot_counts.push((u64::from(key), slot, n));
                }
            }
        }
        Ok(build(slot_counts, key_totals, &self.key_name))
    }

    /// What the aggregator could not record, by reason.
    pub fn lost(&self) -> Result<Vec<(&'static str, u64)>, AggregatorError> {
        let map_error = |source| AggregatorError::Map {
            map: self.tables.lost,
            source,
        };
        let counters: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.map(self.tables.lost)?).map_err(map_error)?;
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
}

/// Loads hytrace's object with `loader` and attaches each (program, raw tracepoint).
fn load_attached(
    loader: &mut EbpfLoader<'_>,
    programs: &[(&'static str, &'static str)],
) -> Result<Ebpf, AggregatorError> {
    let mut ebpf = loader
        .load(EBPF_OBJECT)
        .map_err(|e| AggregatorError::Load(Box::new(e)))?;
    for &(program, tracepoint) in programs {
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
    Ok(ebpf)
}

/// /proc/interrupts rows ("  36:  12  34  PCI-MSI 49152-edge  virtio0-input.0") into
/// irq number → the name at the end of the row.
pub fn irq_names(text: &str) -> std::collections::HashMap<u64, String> {
    text.lines()
        .filter_map(|line| {
            let (number, rest) = line.trim_start().split_once(':')?;
            let irq: u64 = number.trim().parse().ok()?;
            let name = rest.split_whitespace().last()?.to_string();
            Some((irq, name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irq_names_come_from_the_last_column() {
        let names = irq_names(
            "           CPU0       CPU1\n   0:         36          0   IO-APIC   2-edge      timer\n  36:       1234       5678  PCI-MSI 49152-edge      virtio0-input.0\nNMI:          0          0   Non-maskable interrupts\n",
        );
        assert_eq!(names.get(&36).map(String::as_str), Some("virtio0-input.0"));
        assert_eq!(names.get(&0).map(String::as_str), Some("timer"));
        assert_eq!(names.len(), 2);
    }
}
