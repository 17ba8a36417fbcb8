//! Which BPF program types this kernel accepts, probed by loading tiny programs.

use aya::programs::ProgramType;

/// (feature name, loads?, detail) for each program type hytrace uses.
pub fn probe_program_types() -> Vec<(&'static str, bool, String)> {
    let kinds = [
        ("bpf raw_tp", ProgramType::RawTracePoint),
        (
            "bpf tp_btf / fentry / fexit (tracing)",
            ProgramType::Tracing,
        ),
        ("bpf tracepoint", ProgramType::TracePoint),
        ("bpf kprobe / uprobe", ProgramType::KProbe),
        ("bpf perf_event", ProgramType::PerfEvent),
    ];
    kinds
        .into_iter()
        .map(|(name, kind)| match aya::sys::is_program_supported(kind) {
            Ok(true) => (name, true, "loads".to_string()),
            Ok(false) => (name, false, "the kernel refuses to load it".to_string()),
            Err(error) => (name, false, format!("probe failed: {error}")),
        })
        .collect()
}
