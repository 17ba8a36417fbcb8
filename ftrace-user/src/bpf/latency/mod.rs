//! Latency aggregators in the kernel and the reading of their tables. Each spec loads
//! its own copy of the eBPF object (see [`start`] for what each attaches); dropping the
//! aggregator detaches everything.
//!
//! - [`start`]: loading and attaching per spec.
//! - [`names`]: key names (irqs, softirq vectors, devices, threads).
//! - [`stacks`]: `hist --stacks`: samples by the stacks where they began.

pub mod names;
pub mod stacks;
pub mod start;

use aya::{
    Ebpf,
    maps::{Array, MapError, PerCpuArray, PerCpuHashMap},
};
use ftrace_common::hist::{CAPPED_SLOTS, CommKey, CommSlotKey, KeyTotals, Outlier, SlotKey, lost};
use thiserror::Error;

use super::prog_info::recursion_misses;
use crate::hist::{
    KeyHistogram, Snapshot, Spec, histogram::build, pairing::merge_same_names,
    syscall_names::syscall_name,
};

#[derive(Debug, Error)]
pub enum AggregatorError {
    #[error("cannot load the eBPF object")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("the eBPF object lacks {name}")]
    Missing { name: &'static str },
    #[error("{path}: {reason}")]
    Target { path: String, reason: String },
    #[error("cannot load or attach {program} at {target}")]
    Attach {
        program: &'static str,
        target: String,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error(
        "the kernel refused every way to probe {function}: fentry/fexit: {fentry}; \
         kprobe/kretprobe: {kprobe}"
    )]
    Refused {
        function: String,
        fentry: String,
        kprobe: String,
    },
    #[error("cannot read map {map}")]
    Map {
        map: &'static str,
        #[source]
        source: MapError,
    },
}

/// The threads the per-thread aggregators measure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// One process (0: all).
    pub tgid: u32,
    /// One command name (as the kernel keeps it: at most 15 bytes, longer names cut).
    pub comm: Option<String>,
}

impl Scope {
    /// The command name as the BPF side compares it: the kernel's NUL-padded 16-byte
    /// comm as two little-endian words (all zero: any name).
    pub fn comm_words(&self) -> [u64; 2] {
        let mut bytes = [0u8; 16];
        if let Some(comm) = &self.comm {
            let name = comm.as_bytes();
            let len = name.len().min(15);
            bytes[..len].copy_from_slice(&name[..len]);
        }
        let (low, high) = bytes.split_at(8);
        [
            u64::from_le_bytes(low.try_into().unwrap_or_default()),
            u64::from_le_bytes(high.try_into().unwrap_or_default()),
        ]
    }
}

/// Where an aggregator keeps its samples (layouts in `ftrace_common::hist`).
enum Tables {
    /// Flat arrays indexed by key * CAPPED_SLOTS + slot, keys below `keys`.
    Flat {
        slots: &'static str,
        totals: &'static str,
        lost: &'static str,
        keys: u32,
    },
    /// The per-CPU hashes of hashed_tables.rs (sparse keys).
    Hashed { keys: HashedKeys },
    /// Per (command name, syscall) hashes of `syscalls:by-comm`.
    ByComm,
}

/// What the keys of the hashed tables are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HashedKeys {
    /// Named by the aggregator's key namer.
    Plain,
    /// Thread ids, named "comm tid N" from the THREAD_COMM table.
    Threads,
    /// Thread ids, merged per command name from the THREAD_COMM table.
    Comms,
}

/// An aggregator that could not be started, and why.
#[derive(Debug, Error)]
#[error("cannot start the {spec} histogram")]
pub struct StartError {
    pub spec: String,
    #[source]
    pub source: Box<AggregatorError>,
}

/// Starts an aggregator for each of `specs` in `scope`, passing on what each says of
/// how it measures (a fallback taken) as a note.
pub fn start_all(specs: &[Spec], scope: &Scope) -> Result<Vec<LatencyAggregator>, StartError> {
    start_all_with(specs, scope, None)
}

/// [`start_all`], keying samples by stacks too with `stacks` (`hist --stacks`).
pub fn start_all_with(
    specs: &[Spec],
    scope: &Scope,
    stacks: Option<&stacks::StackOptions>,
) -> Result<Vec<LatencyAggregator>, StartError> {
    specs
        .iter()
        .map(|spec| {
            let aggregator =
                LatencyAggregator::start_with(spec, scope, 0, stacks).map_err(|source| {
                    StartError {
                        spec: spec.to_string(),
                        source: Box::new(source),
                    }
                })?;
            if let Some(note) = &aggregator.note {
                crate::notes::note(format!("{spec}: {note}"));
            }
            Ok(aggregator)
        })
        .collect()
}

/// A loaded and attached aggregator; detached when dropped.
pub struct LatencyAggregator {
    pub spec: Spec,
    /// What the user should know about how it measures (e.g. a fallback taken).
    pub note: Option<String>,
    ebpf: Ebpf,
    tables: Tables,
    /// The attached programs, for their recursion-miss counters.
    programs: Vec<&'static str>,
    key_name: Box<dyn Fn(u64) -> String + Send>,
    /// `hist --stacks`: the thread reading distinct user stacks while the session runs.
    stack_drain: Option<crate::bpf::stack_ring::StackRingDrain>,
    /// With -v: the reader of the programs' failure reports.
    diagnostics: Option<crate::bpf::diagnostics::Diagnostics>,
}

fn map_error(map: &'static str) -> impl Fn(MapError) -> AggregatorError {
    move |source| AggregatorError::Map { map, source }
}

/// Per-CPU totals added up.
fn sum_totals<'a>(values: impl Iterator<Item = &'a KeyTotals>) -> KeyTotals {
    values.fold(KeyTotals::default(), |mut acc, t| {
        acc.merge(t);
        acc
    })
}

impl LatencyAggregator {
    /// With -v: prints the failures the programs reported since the last call.
    pub fn print_diagnostics(&mut self) {
        if let Some(diagnostics) = &mut self.diagnostics {
            diagnostics.print_new();
        }
    }

    fn map(&self, name: &'static str) -> Result<&aya::maps::Map, AggregatorError> {
        self.ebpf.map(name).ok_or(AggregatorError::Missing { name })
    }

    /// The histograms and losses so far, as a snapshot taken `time_ns` into the session.
    pub fn snapshot(&self, time_ns: u64) -> Result<Snapshot, AggregatorError> {
        Ok(Snapshot {
            spec: self.spec.to_string(),
            time_ns,
            keys: self.histograms()?,
            lost: self.lost()?,
        })
    }

    /// The histograms so far, one per key, most samples first.
    pub fn histograms(&self) -> Result<Vec<KeyHistogram>, AggregatorError> {
        match self.tables {
            Tables::Flat {
                slots,
                totals,
                keys,
                ..
            } => self.flat_histograms(slots, totals, keys),
            Tables::Hashed { keys } => self.hashed_histograms(keys),
            Tables::ByComm => self.comm_histograms(),
        }
    }

    fn flat_histograms(
        &self,
        slots_map: &'static str,
        totals_map: &'static str,
        keys: u32,
    ) -> Result<Vec<KeyHistogram>, AggregatorError> {
        let totals: PerCpuArray<_, KeyTotals> =
            PerCpuArray::try_from(self.map(totals_map)?).map_err(map_error(totals_map))?;
        let slots: Array<_, u64> =
            Array::try_from(self.map(slots_map)?).map_err(map_error(slots_map))?;
        let mut key_totals = Vec::new();
        let mut slot_counts = Vec::new();
        for key in 0..keys {
            let values = totals.get(&key, 0).map_err(map_error(totals_map))?;
            let sum = sum_totals(values.iter());
            if sum.count == 0 {
                continue;
            }
            key_totals.push((u64::from(key), sum));
            // Only keys with samples have slots worth reading.
            for slot in 0..CAPPED_SLOTS {
                let n = slots
                    .get(&(key * CAPPED_SLOTS + slot), 0)
                    .map_err(map_error(slots_map))?;
                if n > 0 {
                    slot_counts.push((u64::from(key), slot, n));
                }
            }
        }
        Ok(build(slot_counts, key_totals, &self.key_name))
    }

    fn hashed_histograms(&self, keys: HashedKeys) -> Result<Vec<KeyHistogram>, AggregatorError> {
        let slots: PerCpuHashMap<_, SlotKey, u64> =
            PerCpuHashMap::try_from(self.map("HASHED_SLOTS")?)
                .map_err(map_error("HASHED_SLOTS"))?;
        let mut slot_counts = Vec::new();
        for entry in slots.iter() {
            let (key, values) = entry.map_err(map_error("HASHED_SLOTS"))?;
            slot_counts.push((key.key, key.slot, values.iter().sum::<u64>()));
        }
        let totals: PerCpuHashMap<_, u64, KeyTotals> =
            PerCpuHashMap::try_from(self.map("HASHED_TOTALS")?)
                .map_err(map_error("HASHED_TOTALS"))?;
        let mut key_totals = Vec::new();
        for entry in totals.iter() {
            let (key, values) = entry.map_err(map_error("HASHED_TOTALS"))?;
            key_totals.push((key, sum_totals(values.iter())));
        }
        if keys == HashedKeys::Plain {
            return Ok(build(slot_counts, key_totals, &self.key_name));
        }
        let comms: aya::maps::HashMap<_, u32, [u8; 16]> =
            aya::maps::HashMap::try_from(self.map("THREAD_COMM")?)
                .map_err(map_error("THREAD_COMM"))?;
        let name = |tid: u64| match (comms.get(&(tid as u32), 0), keys) {
            (Ok(comm), HashedKeys::Comms) => names::comm_text(&comm),
            (Ok(comm), _) => format!("{} tid {tid}", names::comm_text(&comm)),
            (Err(_), _) => (self.key_name)(tid),
        };
        Ok(merge_same_names(build(slot_counts, key_totals, name)))
    }

    fn comm_histograms(&self) -> Result<Vec<KeyHistogram>, AggregatorError> {
        // (command name, syscall) pairs get dense ids in the order they are met.
        let mut ids: Vec<([u8; 16], u64)> = Vec::new();
        let mut id_of = |comm: [u8; 16], key: u64| -> u64 {
            match ids.iter().position(|&(c, k)| c == comm && k == key) {
                Some(i) => i as u64,
                None => {
                    ids.push((comm, key));
                    (ids.len() - 1) as u64
                }
            }
        };
        let slots: PerCpuHashMap<_, CommSlotKey, u64> =
            PerCpuHashMap::try_from(self.map("SYSCALL_COMM_SLOTS")?)
                .map_err(map_error("SYSCALL_COMM_SLOTS"))?;
        let mut slot_counts = Vec::new();
        for entry in slots.iter() {
            let (key, values) = entry.map_err(map_error("SYSCALL_COMM_SLOTS"))?;
            slot_counts.push((
                id_of(key.comm, key.key),
                key.slot,
                values.iter().sum::<u64>(),
            ));
        }
        let totals: PerCpuHashMap<_, CommKey, KeyTotals> =
            PerCpuHashMap::try_from(self.map("SYSCALL_COMM_TOTALS")?)
                .map_err(map_error("SYSCALL_COMM_TOTALS"))?;
        let mut key_totals = Vec::new();
        for entry in totals.iter() {
            let (key, values) = entry.map_err(map_error("SYSCALL_COMM_TOTALS"))?;
            key_totals.push((id_of(key.comm, key.key), sum_totals(values.iter())));
        }
        let names: Vec<String> = ids
            .iter()
            .map(|(comm, key)| format!("{} {}", names::comm_text(comm), syscall_name(*key)))
            .collect();
        Ok(build(slot_counts, key_totals, |id| {
            names[id as usize].clone()
        }))
    }

    /// What the aggregator could not record, by reason, and how often the kernel
    /// skipped its programs (recursion misses).
    pub fn lost(&self) -> Result<Vec<(String, u64)>, AggregatorError> {
        let lost_map = match self.tables {
            Tables::Flat { lost, .. } => lost,
            Tables::Hashed { .. } => "HASHED_LOST",
            Tables::ByComm => "SYSCALL_LOST",
        };
        let counters: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.map(lost_map)?).map_err(map_error(lost_map))?;
        let mut out = Vec::new();
        for (index, name) in [
            (lost::START_MAP_FULL, "start_map_full"),
            (lost::END_WITHOUT_START, "end_without_start"),
            (lost::KEY_OUT_OF_RANGE, "key_out_of_range"),
            (lost::HIST_MAP_FULL, "hist_map_full"),
            (lost::TOO_DEEP, "too_deep"),
        ] {
            let values = counters.get(&index, 0).map_err(map_error(lost_map))?;
            out.push((name.to_string(), values.iter().sum()));
        }
        let misses = self
            .programs
            .iter()
            .filter_map(|name| self.ebpf.program(name)?.fd().ok())
            .filter_map(recursion_misses)
            .sum();
        out.push(("prog_recursion_misses".to_string(), misses));
        if let Some(map) = self.ebpf.map("OUTLIERS_LOST") {
            let counters: PerCpuArray<_, u64> =
                PerCpuArray::try_from(map).map_err(map_error("OUTLIERS_LOST"))?;
            let values = counters.get(&0, 0).map_err(map_error("OUTLIERS_LOST"))?;
            out.push(("ringbuf_reserve_failed".to_string(), values.iter().sum()));
        }
        Ok(out)
    }

    /// The outliers sent since the last call (see
    /// [`LatencyAggregator::start_with_outliers`]).
    pub fn outliers(&mut self) -> Result<Vec<Outlier>, AggregatorError> {
        let map = self
            .ebpf
            .map_mut(crate::bpf::OUTLIER_RING)
            .ok_or(AggregatorError::Missing {
                name: crate::bpf::OUTLIER_RING,
            })?;
        let mut ring =
            aya::maps::RingBuf::try_from(map).map_err(map_error(crate::bpf::OUTLIER_RING))?;
        let mut out = Vec::new();
        while let Some(item) = ring.next() {
            if item.len() >= std::mem::size_of::<Outlier>() {
                // SAFETY: the program wrote an Outlier (plain u64 fields) at the start
                // of the item; read_unaligned copies it out of the ring.
                out.push(unsafe { std::ptr::read_unaligned(item.as_ptr() as *const Outlier) });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_words_are_the_padded_comm() {
        assert_eq!(Scope::default().comm_words(), [0, 0]);
        let spin = Scope {
            tgid: 0,
            comm: Some("spin".into()),
        };
        assert_eq!(spin.comm_words(), [u64::from_le_bytes(*b"spin\0\0\0\0"), 0]);
        let long = Scope {
            tgid: 0,
            comm: Some("0123456789abcdefXYZ".into()),
        };
        assert_eq!(
            long.comm_words(),
            [
                u64::from_le_bytes(*b"01234567"),
                u64::from_le_bytes(*b"89abcde\0")
            ]
        );
    }
}
