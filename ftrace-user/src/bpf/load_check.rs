//! Which BPF program kinds this kernel accepts, probed by loading real programs:
//! aya's minimal probes for the generic kinds, and hytrace's own tp_btf and fentry
//! programs (from the embedded object) against real kernel functions.

use aya::{
    Btf,
    programs::{BtfTracePoint, FEntry, Program, ProgramError, ProgramType},
};
use ftrace_common::{PROBE_FENTRY_PROGRAM, PROBE_TP_BTF_PROGRAM};
use thiserror::Error;

use super::EBPF_OBJECT;

/// Why one of hytrace's own programs does not load on this kernel.
#[derive(Debug, Error)]
pub enum LoadCheckError {
    #[error("no kernel BTF: {source}")]
    NoBtf {
        #[source]
        source: aya::BtfError,
    },
    #[error("{source}")]
    Object {
        #[source]
        source: Box<aya::EbpfError>,
    },
    #[error("program missing from the object")]
    MissingProgram { program: &'static str },
    #[error("{source}")]
    ProgramKind {
        program: &'static str,
        #[source]
        source: ProgramError,
    },
    /// The kernel refused the program; the text gives the innermost cause (its errno).
    #[error("loading on {target} fails: {}", root_cause(.source))]
    Load {
        target: &'static str,
        #[source]
        source: ProgramError,
    },
}

/// (feature name, loads?, detail) for each program kind hytrace uses.
pub fn probe_program_types() -> Vec<(&'static str, bool, String)> {
    let kinds = [
        ("bpf raw_tp", ProgramType::RawTracePoint),
        ("bpf tracepoint", ProgramType::TracePoint),
        ("bpf kprobe / uprobe", ProgramType::KProbe),
        ("bpf perf_event", ProgramType::PerfEvent),
    ];
    let mut rows: Vec<(&'static str, bool, String)> = kinds
        .into_iter()
        .map(|(name, kind)| match aya::sys::is_program_supported(kind) {
            Ok(true) => (name, true, "loads".to_string()),
            Ok(false) => (name, false, "the kernel refuses to load it".to_string()),
            Err(error) => (name, false, format!("probe failed: {error}")),
        })
        .collect();
    rows.push((
        "bpf tp_btf",
        probe_tp_btf().is_ok(),
        detail(probe_tp_btf(), "sched_switch"),
    ));
    rows.push((
        "bpf fentry",
        probe_fentry().is_ok(),
        detail(probe_fentry(), "do_nanosleep"),
    ));
    rows
}

fn detail(result: Result<(), LoadCheckError>, target: &str) -> String {
    match result {
        Ok(()) => format!("a program on {target} loads"),
        Err(why) => why.to_string(),
    }
}

fn probe_tp_btf() -> Result<(), LoadCheckError> {
    load_probe(
        PROBE_TP_BTF_PROGRAM,
        "sched_switch",
        |p: &mut BtfTracePoint, t, btf| p.load(t, btf),
    )
}

fn probe_fentry() -> Result<(), LoadCheckError> {
    load_probe(
        PROBE_FENTRY_PROGRAM,
        "do_nanosleep",
        |p: &mut FEntry, t, btf| p.load(t, btf),
    )
}

/// Loads program `name` of hytrace's object against kernel function `target` with
/// `load` (the program kind's BTF-based loader); the error says what the kernel refused.
fn load_probe<P>(
    name: &'static str,
    target: &'static str,
    load: impl FnOnce(&mut P, &str, &Btf) -> Result<(), ProgramError>,
) -> Result<(), LoadCheckError>
where
    for<'a> &'a mut P: TryFrom<&'a mut Program, Error = ProgramError>,
{
    let btf = Btf::from_sys_fs().map_err(|source| LoadCheckError::NoBtf { source })?;
    let mut ebpf = super::loader_keeping(&[])
        .load(EBPF_OBJECT)
        .map_err(|source| LoadCheckError::Object {
            source: Box::new(source),
        })?;
    let program: &mut P = ebpf
        .program_mut(name)
        .ok_or(LoadCheckError::MissingProgram { program: name })?
        .try_into()
        .map_err(|source: ProgramError| LoadCheckError::ProgramKind {
            program: name,
            source,
        })?;
    load(program, target, &btf).map_err(|source| LoadCheckError::Load { target, source })
}

/// The innermost error text (the kernel's errno), e.g. "Operation not permitted".
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut current: &dyn std::error::Error = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
