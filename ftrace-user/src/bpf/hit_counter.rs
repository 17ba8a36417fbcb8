//! Counts how often each recorded tracepoint fires, in the kernel, with one raw
//! tracepoint program per event (each copy owns a one-slot per-CPU counter).

use aya::{Ebpf, maps::PerCpuArray, programs::RawTracePoint};
use ftrace_common::{HIT_COUNTER_MAP, HIT_COUNTER_PROGRAM};
use thiserror::Error;

use super::EBPF_OBJECT;

#[derive(Debug, Error)]
pub enum HitCounterError {
    #[error("cannot load the eBPF object")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("the eBPF object has no program {program}")]
    MissingProgram { program: &'static str },
    #[error("the eBPF object has no map {map}")]
    MissingMap { map: &'static str },
    #[error("cannot load the raw tracepoint program")]
    Program(#[source] aya::programs::ProgramError),
    #[error("no raw tracepoint named {tracepoint}")]
    Attach {
        tracepoint: String,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("cannot read the hit counter map")]
    Map(#[source] aya::maps::MapError),
}

/// One event's counter: loaded and attached, or why not.
pub struct HitCounter {
    pub event: String,
    state: Result<Ebpf, HitCounterError>,
}

impl HitCounter {
    /// Loads a copy of `count_hits` and attaches it to the raw tracepoint `tracepoint`
    /// (the event's name; events that are not tracepoints, like ftrace's own, fail here).
    pub fn attach(event: &str, tracepoint: &str) -> HitCounter {
        HitCounter {
            event: event.to_string(),
            state: load_and_attach(tracepoint),
        }
    }

    /// Hits summed over all CPUs, or why there is no count.
    pub fn total(&self) -> Result<u64, &HitCounterError> {
        let ebpf = self.state.as_ref()?;
        read_total(ebpf).map_err(|_| &HitCounterError::MissingMap {
            map: HIT_COUNTER_MAP,
        })
    }

    /// Why this event has no counter, if it has none.
    pub fn failure(&self) -> Option<&HitCounterError> {
        self.state.as_ref().err()
    }
}

fn load_and_attach(tracepoint: &str) -> Result<Ebpf, HitCounterError> {
    let mut ebpf = super::loader_keeping(&[])
        .load(EBPF_OBJECT)
        .map_err(|e| HitCounterError::Load(Box::new(e)))?;
    let program: &mut RawTracePoint = ebpf
        .program_mut(HIT_COUNTER_PROGRAM)
        .ok_or(HitCounterError::MissingProgram {
            program: HIT_COUNTER_PROGRAM,
        })?
        .try_into()
        .map_err(HitCounterError::Program)?;
    program.load().map_err(HitCounterError::Program)?;
    program
        .attach(tracepoint)
        .map_err(|source| HitCounterError::Attach {
            tracepoint: tracepoint.to_string(),
            source,
        })?;
    Ok(ebpf)
}

fn read_total(ebpf: &Ebpf) -> Result<u64, HitCounterError> {
    let map = ebpf
        .map(HIT_COUNTER_MAP)
        .ok_or(HitCounterError::MissingMap {
            map: HIT_COUNTER_MAP,
        })?;
    let counters: PerCpuArray<_, u64> = PerCpuArray::try_from(map).map_err(HitCounterError::Map)?;
    let values = counters.get(&0, 0).map_err(HitCounterError::Map)?;
    Ok(values.iter().sum())
}
