//! The recording's kernel hit counters: `count_event_hits` loaded once and attached to
//! every recorded tracepoint, each attachment's BPF cookie naming its event's slot.
//! It counts per CPU, only while [`EventHitCounters::open_gate`] holds the window
//! open, only on the CPUs and threads the instance records ([`HitScope`]).

use std::{
    ffi::CString,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
};

use aya::{
    Ebpf,
    maps::{Array, HashMap, PerCpuArray},
    programs::{RawTracePoint, TracePoint},
};
use ftrace_common::event_hits::{
    COUNTS_MAP, CPU_MASK_WORDS, CPUS_GLOBAL, FOLLOWED_TIDS, FORK_CHILD_OFFSET_GLOBAL,
    FORK_PARENT_OFFSET_GLOBAL, FORK_PROGRAM, GATE_MAP, GATE_OPEN, MISSED_MAP, ONLY_TIDS_GLOBAL,
    PROGRAM, TIDS_FULL_SLOT, TIDS_MAP,
};
use thiserror::Error;

use crate::notes::StepProgress;

use super::EBPF_OBJECT;

#[derive(Debug, Error)]
pub enum EventHitsError {
    #[error("cannot load the eBPF object")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("the eBPF object has no program {PROGRAM}")]
    MissingProgram,
    #[error("the eBPF object has no map {map}")]
    MissingMap { map: &'static str },
    #[error(
        "the kernel refused the counter program (raw tracepoint programs read their \
         attachment's cookie since Linux 6.10)"
    )]
    Program(#[source] aya::programs::ProgramError),
    #[error("cannot follow forks at sched:sched_process_fork")]
    Forks(#[source] aya::programs::ProgramError),
    #[error("cannot use the map {map}")]
    Map {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
}

/// What the counters count: the threads of the instance's set_event_pid list (None:
/// every thread) on the CPUs of its cpumask (None: every CPU).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HitScope {
    pub tids: Option<Vec<u32>>,
    pub cpus: Option<Vec<u32>>,
    /// With `tids`: also count their children, as the instance's event-fork does; the
    /// offsets of sched_process_fork's parent_pid and child_pid fields.
    pub follow_forks: Option<ForkFields>,
}

/// Where sched_process_fork's record holds the two pids (its format file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkFields {
    pub parent_pid: u32,
    pub child_pid: u32,
}

/// The loaded program, its attachments and its maps.
pub struct EventHitCounters {
    ebpf: Ebpf,
    /// One per event: the raw tracepoint link (None once detached), or why the event
    /// has none.
    links: Vec<Result<Option<OwnedFd>, String>>,
}

impl EventHitCounters {
    /// Loads the program once and attaches it to each raw tracepoint of `tracepoints`
    /// (slot = position; None: the event is no tracepoint, like ftrace's own events
    /// and probe events); an event that cannot be attached keeps its reason and the
    /// others are counted; `progress` says how far a long attach is.
    pub fn attach(
        tracepoints: &[Option<&str>],
        scope: &HitScope,
        progress: &mut StepProgress,
    ) -> Result<Self, EventHitsError> {
        let only_tids: u32 = scope.tids.is_some().into();
        let cpus = cpu_mask_words(scope.cpus.as_deref());
        let mut tid_entries = scope.tids.as_ref().map_or(1, |t| t.len().max(1)) as u32;
        if scope.follow_forks.is_some() {
            tid_entries = tid_entries.max(FOLLOWED_TIDS);
        }
        let fork = scope.follow_forks.unwrap_or(ForkFields {
            parent_pid: 0,
            child_pid: 0,
        });
        let mut loader = super::loader_keeping(&[]);
        loader
            .map_max_entries(COUNTS_MAP, tracepoints.len().max(1) as u32)
            .map_max_entries(TIDS_MAP, tid_entries)
            .override_global(ONLY_TIDS_GLOBAL, &only_tids, true)
            .override_global(CPUS_GLOBAL, &cpus, true)
            .override_global(FORK_PARENT_OFFSET_GLOBAL, &fork.parent_pid, true)
            .override_global(FORK_CHILD_OFFSET_GLOBAL, &fork.child_pid, true);
        let mut ebpf = loader
            .load(EBPF_OBJECT)
            .map_err(|e| EventHitsError::Load(Box::new(e)))?;
        if let Some(tids) = &scope.tids {
            let map = ebpf
                .map_mut(TIDS_MAP)
                .ok_or(EventHitsError::MissingMap { map: TIDS_MAP })?;
            let mut map: HashMap<_, u32, u32> =
                HashMap::try_from(map).map_err(|source| EventHitsError::Map {
                    map: TIDS_MAP,
                    source,
                })?;
            for &tid in tids {
                map.insert(tid, 1, 0)
                    .map_err(|source| EventHitsError::Map {
                        map: TIDS_MAP,
                        source,
                    })?;
            }
        }
        if scope.follow_forks.is_some() {
            let follower: &mut TracePoint = ebpf
                .program_mut(FORK_PROGRAM)
                .ok_or(EventHitsError::MissingProgram)?
                .try_into()
                .map_err(EventHitsError::Program)?;
            follower.load().map_err(EventHitsError::Program)?;
            follower
                .attach("sched", "sched_process_fork")
                .map_err(EventHitsError::Forks)?;
        }
        let program: &mut RawTracePoint = ebpf
            .program_mut(PROGRAM)
            .ok_or(EventHitsError::MissingProgram)?
            .try_into()
            .map_err(EventHitsError::Program)?;
        program.load().map_err(EventHitsError::Program)?;
        let fd = program.fd().map_err(EventHitsError::Program)?;
        let links = tracepoints
            .iter()
            .enumerate()
            .map(|(slot, name)| match name {
                Some(name) => {
                    progress.step(
                        || format!("attaching the hit counter to {name}"),
                        slot + 1,
                        tracepoints.len(),
                    );
                    open_raw_tracepoint(fd.as_fd(), name, slot as u64)
                        .map(Some)
                        .map_err(|e| format!("no raw tracepoint {name}: {e}"))
                }
                None => Err("not a tracepoint".to_string()),
            })
            .collect();
        Ok(EventHitCounters { ebpf, links })
    }

    /// Starts counting (before the instance's tracing_on goes to 1).
    pub fn open_gate(&mut self) -> Result<(), EventHitsError> {
        self.set_gate(GATE_OPEN)
    }

    /// Stops counting (after the instance's tracing_on went back to 0).
    pub fn close_gate(&mut self) -> Result<(), EventHitsError> {
        self.set_gate(0)
    }

    fn set_gate(&mut self, value: u32) -> Result<(), EventHitsError> {
        let map = self
            .ebpf
            .map_mut(GATE_MAP)
            .ok_or(EventHitsError::MissingMap { map: GATE_MAP })?;
        let mut gate: Array<_, u32> =
            Array::try_from(map).map_err(|source| EventHitsError::Map {
                map: GATE_MAP,
                source,
            })?;
        gate.set(0, value, 0).map_err(|source| EventHitsError::Map {
            map: GATE_MAP,
            source,
        })
    }

    /// Takes the program off every tracepoint; the counts stay readable. Done once
    /// the gate is closed and before the instance's events are disabled: a tracepoint
    /// that loses its first probe while another stays waits for an RCU grace period
    /// (the kernel's 2->1 transition), one that loses its second does not, so taking
    /// the counters off first spares a grace period per event (2323 events with `-e
    /// all`: 19.6 s measured for the disable before).
    pub fn detach(&mut self) {
        for link in self.links.iter_mut().flatten() {
            drop(link.take());
        }
    }

    /// Why the event in `slot` is not counted, if it is not.
    pub fn not_attached(&self, slot: usize) -> Option<&str> {
        self.links.get(slot)?.as_ref().err().map(String::as_str)
    }

    /// The hits of the event in `slot`, indexed by CPU.
    pub fn per_cpu(&self, slot: usize) -> Result<Vec<u64>, EventHitsError> {
        let map = self
            .ebpf
            .map(COUNTS_MAP)
            .ok_or(EventHitsError::MissingMap { map: COUNTS_MAP })?;
        let counts: PerCpuArray<_, u64> =
            PerCpuArray::try_from(map).map_err(|source| EventHitsError::Map {
                map: COUNTS_MAP,
                source,
            })?;
        let values = counts
            .get(&(slot as u32), 0)
            .map_err(|source| EventHitsError::Map {
                map: COUNTS_MAP,
                source,
            })?;
        Ok(values.iter().copied().collect())
    }

    /// Children of counted threads the thread map had no room for (not counted).
    pub fn children_missed(&self) -> Option<u64> {
        let map = self.ebpf.map(MISSED_MAP)?;
        let missed: Array<_, u64> = Array::try_from(map).ok()?;
        missed.get(&TIDS_FULL_SLOT, 0).ok()
    }

    /// Hits the kernel did not count because the program was already running on that
    /// CPU (an interrupt's tracepoint during another event's count).
    pub fn recursion_misses(&self) -> Option<u64> {
        let program: &RawTracePoint = self.ebpf.program(PROGRAM)?.try_into().ok()?;
        super::prog_info::recursion_misses(program.fd().ok()?)
    }
}

/// The CPU list as the program's bit mask; every bit set without a list.
fn cpu_mask_words(cpus: Option<&[u32]>) -> [u64; CPU_MASK_WORDS] {
    let Some(cpus) = cpus else {
        return [u64::MAX; CPU_MASK_WORDS];
    };
    let mut words = [0u64; CPU_MASK_WORDS];
    for &cpu in cpus {
        // CPUs beyond the mask are always counted by the program.
        if let Some(word) = words.get_mut(cpu as usize / 64) {
            *word |= 1 << (cpu % 64);
        }
    }
    words
}

/// `union bpf_attr` for BPF_RAW_TRACEPOINT_OPEN (the cookie since Linux 6.10).
#[repr(C)]
struct RawTracepointOpenAttr {
    name: u64,
    prog_fd: u32,
    _pad: u32,
    cookie: u64,
}

const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;

/// Attaches the program to the raw tracepoint `name` with `cookie`; closing the link
/// detaches it.
fn open_raw_tracepoint(
    program: BorrowedFd<'_>,
    name: &str,
    cookie: u64,
) -> std::io::Result<OwnedFd> {
    let name = CString::new(name).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    let attr = RawTracepointOpenAttr {
        name: name.as_ptr() as u64,
        prog_fd: program.as_raw_fd() as u32,
        _pad: 0,
        cookie,
    };
    // SAFETY: BPF_RAW_TRACEPOINT_OPEN reads `attr` (its size is passed) and the
    // NUL-terminated name it points to, both alive until the call returns.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_RAW_TRACEPOINT_OPEN,
            &attr as *const RawTracepointOpenAttr,
            std::mem::size_of::<RawTracepointOpenAttr>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_mask_sets_the_listed_cpus_and_all_without_a_list() {
        let words = cpu_mask_words(Some(&[0, 3, 64, 1023, 5000]));
        assert_eq!(words[0], 0b1001);
        assert_eq!(words[1], 1);
        assert_eq!(words[15], 1 << 63);
        assert_eq!(words[2..15].iter().sum::<u64>(), 0);
        assert_eq!(cpu_mask_words(None), [u64::MAX; CPU_MASK_WORDS]);
    }

    #[test]
    fn the_open_attr_has_the_kernels_layout() {
        assert_eq!(std::mem::offset_of!(RawTracepointOpenAttr, prog_fd), 8);
        assert_eq!(std::mem::offset_of!(RawTracepointOpenAttr, cookie), 16);
        assert_eq!(std::mem::size_of::<RawTracepointOpenAttr>(), 24);
    }
}
