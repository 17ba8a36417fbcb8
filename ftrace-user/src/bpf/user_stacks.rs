//! Loads the `user_stack` program once, attaches it to every recorded tracepoint, and
//! drains its ring buffer on a thread while the session records (see
//! [`crate::stacks::gather`] for what is made of each record).

use aya::{
    Ebpf,
    maps::{PerCpuArray, RingBuf},
    programs::TracePoint,
};
use ftrace_common::stack::{USER_STACK_LOST, USER_STACK_PROGRAM, USER_STACK_RING};
use thiserror::Error;

use super::{EBPF_OBJECT, stack_ring::StackRingDrain};
use crate::stacks::{
    UserStacks,
    gather::{GatherStats, Gatherer},
};

#[derive(Debug, Error)]
pub enum UserStackError {
    #[error("cannot load the user-stack eBPF program")]
    Load(#[source] Box<aya::EbpfError>),
    #[error("the eBPF object has no {what} {name}")]
    Missing {
        what: &'static str,
        name: &'static str,
    },
    #[error("cannot load the user-stack program")]
    Program(#[source] aya::programs::ProgramError),
    #[error("cannot use the user-stack map {name}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("cannot start the user-stack reader thread")]
    Thread(#[source] std::io::Error),
    #[error("the user-stack reader thread failed")]
    Panicked,
}

/// The loaded program, its attachments, and the thread draining its ring buffer.
pub struct UserStackCapture {
    ebpf: Ebpf,
    drain: StackRingDrain,
    /// Ids of the events the program is attached to.
    attached: Vec<u16>,
    cache_dir: Option<std::path::PathBuf>,
    /// (event, why) for each tracepoint the program could not be attached to.
    pub not_attached: Vec<(String, String)>,
}

impl UserStackCapture {
    /// Loads the program limited to process `tgid` (0: every process), attaches it to
    /// each of `tracepoints` (system, name, event id), and starts draining into
    /// `gatherer`.
    /// Attach the program after the ftrace events are enabled (see
    /// [`crate::stacks::join`]).
    pub fn start(
        tracepoints: &[(String, String, u16)],
        tgid: u32,
        gatherer: Gatherer,
    ) -> Result<UserStackCapture, UserStackError> {
        let mut ebpf = super::loader_keeping(&[USER_STACK_RING])
            .override_global("TARGET_TGID", &tgid, true)
            .load(EBPF_OBJECT)
            .map_err(|e| UserStackError::Load(Box::new(e)))?;
        let program: &mut TracePoint = ebpf
            .program_mut(USER_STACK_PROGRAM)
            .ok_or(UserStackError::Missing {
                what: "program",
                name: USER_STACK_PROGRAM,
            })?
            .try_into()
            .map_err(UserStackError::Program)?;
        program.load().map_err(UserStackError::Program)?;
        let mut not_attached = Vec::new();
        let mut attached = Vec::new();
        for (system, name, id) in tracepoints {
            match program.attach(system, name) {
                Ok(_) => attached.push(*id),
                Err(e) => not_attached.push((format!("{system}:{name}"), crate::notes::chain(&e))),
            }
        }
        let map = ebpf
            .take_map(USER_STACK_RING)
            .ok_or(UserStackError::Missing {
                what: "map",
                name: USER_STACK_RING,
            })?;
        let ring = RingBuf::try_from(map).map_err(|source| UserStackError::Map {
            name: USER_STACK_RING,
            source,
        })?;
        let cache_dir = gatherer.cache_dir();
        let drain =
            StackRingDrain::start(ring, gatherer, Gatherer::add).map_err(UserStackError::Thread)?;
        Ok(UserStackCapture {
            ebpf,
            drain,
            attached,
            cache_dir,
            not_attached,
        })
    }

    /// Detaches the program, drains what is left, and returns the stacks.
    pub fn finish(mut self) -> Result<(UserStacks, GatherStats), UserStackError> {
        let lost = self.lost()?;
        // Detach first so nothing more arrives, then let the thread empty the ring.
        if let Some(program) = self.ebpf.program_mut(USER_STACK_PROGRAM)
            && let Ok(program) = <&mut TracePoint>::try_from(program)
        {
            let _ = program.unload();
        }
        let gatherer = self.drain.finish().ok_or(UserStackError::Panicked)?;
        Ok(gatherer.finish(lost, self.attached))
    }

    /// The build-id cache objects are kept in, if any.
    pub fn cache_dir(&self) -> Option<std::path::PathBuf> {
        self.cache_dir.clone()
    }

    fn lost(&self) -> Result<u64, UserStackError> {
        let map_error = |source| UserStackError::Map {
            name: USER_STACK_LOST,
            source,
        };
        let map = self
            .ebpf
            .map(USER_STACK_LOST)
            .ok_or(UserStackError::Missing {
                what: "map",
                name: USER_STACK_LOST,
            })?;
        let counters: PerCpuArray<_, u64> = PerCpuArray::try_from(map).map_err(map_error)?;
        Ok(counters.get(&0, 0).map_err(map_error)?.iter().sum())
    }
}

/// Whether `record --user-stack` works here, tried for real: the program attached to
/// raw_syscalls:sys_enter for this process only, one getppid call, and the stack it
/// took (how many frames, how many with a build-id). For `hytrace doctor`.
pub fn probe(sys_enter_id: u16) -> (bool, String) {
    let tracepoints = [(
        "raw_syscalls".to_string(),
        "sys_enter".to_string(),
        sys_enter_id,
    )];
    let capture = match UserStackCapture::start(
        &tracepoints,
        std::process::id(),
        Gatherer::new("/proc", None),
    ) {
        Ok(capture) => capture,
        Err(e) => return (false, crate::notes::chain(&e)),
    };
    if let Some((_, why)) = capture.not_attached.first() {
        return (false, why.clone());
    }
    // SAFETY: getppid has no preconditions and cannot fail.
    std::hint::black_box(unsafe { libc::getppid() });
    let (stacks, _) = match capture.finish() {
        Ok(done) => done,
        Err(e) => return (false, crate::notes::chain(&e)),
    };
    let taken = stacks.samples.iter().find_map(|s| s.stack.ok());
    match taken.and_then(|index| stacks.stacks.get(index as usize)) {
        Some(frames) => {
            let with_id = frames
                .iter()
                .filter(|f| matches!(f, crate::stacks::Frame::Object { .. }))
                .count();
            (
                true,
                format!(
                    "bpf_get_stack took hytrace's own getppid stack: {} frame(s), {with_id} \
                     placed in an object (record --user-stack, hist --stacks)",
                    frames.len()
                ),
            )
        }
        None => (
            false,
            match stacks.samples.first().map(|s| s.stack) {
                Some(Err(why)) => why.describe(),
                _ => "the program took no stack".to_string(),
            },
        ),
    }
}
