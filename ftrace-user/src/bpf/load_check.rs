//! Which BPF program kinds this kernel accepts, probed by loading real programs:
//! aya's minimal probes for the generic kinds, and hytrace's own tp_btf and fentry
//! programs (from the embedded object) against real kernel functions.

use aya::{
    Btf,
    programs::{BtfTracePoint, FEntry, Program, ProgramError, ProgramType},
};
use ftrace_common::{PROBE_FENTRY_PROGRAM, PROBE_TP_BTF_PROGRAM};

use super::EBPF_OBJECT;

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

fn detail(result: Result<(), String>, target: &str) -> String {
    match result {
        Ok(()) => format!("a program on {target} loads"),
        Err(why) => why,
    }
}

fn probe_tp_btf() -> Result<(), String> {
    load_probe(
        PROBE_TP_BTF_PROGRAM,
        "sched_switch",
        |p: &mut BtfTracePoint, t, btf| p.load(t, btf),
    )
}

fn probe_fentry() -> Result<(), String> {
    load_probe(
        PROBE_FENTRY_PROGRAM,
        "do_nanosleep",
        |p: &mut FEntry, t, btf| p.load(t, btf),
    )
}

/// Loads program `name` of hytrace's object against kernel function `target` with
/// `load` (the program kind's BTF-based loader); the error says what the kernel refused.
fn load_probe<P>(
    name: &str,
    target: &str,
    load: impl FnOnce(&mut P, &str, &Btf) -> Result<(), ProgramError>,
) -> Result<(), String>
where
    for<'a> &'a mut P: TryFrom<&'a mut Program, Error = ProgramError>,
{
    let btf = Btf::from_sys_fs().map_err(|e| format!("no kernel BTF: {e}"))?;
    let mut ebpf = super::loader_keeping(&[])
        .load(EBPF_OBJECT)
        .map_err(|e| e.to_string())?;
    let program: &mut P = ebpf
        .program_mut(name)
        .ok_or("program missing from the object")?
        .try_into()
        .map_err(|e: ProgramError| e.to_string())?;
    load(program, target, &btf)
        .map_err(|e| format!("loading on {target} fails: {}", root_cause(&e)))
}

/// The innermost error text (the kernel's errno), e.g. "Operation not permitted".
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut current: &dyn std::error::Error = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
