//! What the kernel's tracing offers, each feature probed for real in a scratch instance
//! (removed afterwards) rather than read from the kernel config.

use super::{Instance, Tracefs, read, write};

/// One probed feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureProbe {
    pub name: String,
    pub available: bool,
    pub detail: String,
}

fn probe(name: impl Into<String>, result: Result<String, String>) -> FeatureProbe {
    match result {
        Ok(detail) => FeatureProbe {
            name: name.into(),
            available: true,
            detail,
        },
        Err(detail) => FeatureProbe {
            name: name.into(),
            available: false,
            detail,
        },
    }
}

pub fn probe_features(tracefs: &Tracefs) -> Vec<FeatureProbe> {
    let mut features = Vec::new();
    let scratch_name = format!("hytrace-{}-probe", std::process::id());
    let scratch = match Instance::create(tracefs, &scratch_name) {
        Ok(instance) => {
            features.push(probe(
                "tracefs instances",
                Ok(format!("created and removed instances/{scratch_name}")),
            ));
            Some(instance)
        }
        Err(error) => {
            features.push(probe("tracefs instances", Err(error.to_string())));
            None
        }
    };
    if let Some(instance) = &scratch {
        let available = tracefs.available_tracers().unwrap_or_default();
        for wanted in ["function_graph", "function"] {
            if !available.iter().any(|t| t == wanted) {
                features.push(probe(
                    format!("tracer {wanted}"),
                    Err("not in available_tracers: the kernel was built without it".into()),
                ));
            }
        }
        for tracer in available {
            if tracer == "nop" {
                continue;
            }
            let path = instance.dir().join("current_tracer");
            let result = write(path.clone(), &tracer)
                .map(|()| "can be set in an instance".to_string())
                .map_err(|e| format!("setting it fails: {}", root_cause(&e)));
            let _ = write(path, "nop");
            features.push(probe(format!("tracer {tracer}"), result));
        }
        let clocks = read(instance.dir().join("trace_clock"))
            .map(|t| {
                super::instance::parse_clocks(&t)
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .map_err(|e| e.to_string());
        features.push(probe("trace clocks", clocks));
        let copy = if instance.has_option("copy_trace_marker") {
            instance
                .set_option("copy_trace_marker", true)
                .map(|()| "top-level trace_marker writes can be copied into an instance".into())
                .map_err(|e| e.to_string())
        } else {
            Err("no options/copy_trace_marker (kernel older than 6.17?)".into())
        };
        features.push(probe("copy_trace_marker", copy));
        let stacks = if instance.has_option("stacktrace") {
            instance
                .set_option("stacktrace", true)
                .and_then(|()| instance.set_option("stacktrace", false))
                .map(|()| "the stacktrace option can be set in an instance (record -T)".into())
                .map_err(|e| e.to_string())
        } else {
            Err(
                "no options/stacktrace in instances (kernel built without CONFIG_STACKTRACE)"
                    .into(),
            )
        };
        features.push(probe("kernel stacks", stacks));
        let filter = instance
            .set_filter(
                &super::EventId {
                    system: "sched".into(),
                    name: "sched_switch".into(),
                },
                "prev_pid != 0",
            )
            .map(|()| "sched:sched_switch accepted a filter".into())
            .map_err(|e| e.to_string());
        features.push(probe("event filters", filter));
        let pids = instance
            .set_event_pids(&[std::process::id()])
            .map(|()| "set_event_pid accepted a pid".into())
            .map_err(|e| e.to_string());
        features.push(probe("set_event_pid", pids));
        let ftrace_filter = write(instance.dir().join("set_ftrace_filter"), "schedule")
            .map(|()| "writable".to_string())
            .map_err(|e| format!("writing fails: {}", root_cause(&e)));
        let _ = write(instance.dir().join("set_ftrace_filter"), "");
        features.push(probe("set_ftrace_filter", ftrace_filter));
    }
    drop(scratch);
    features.push(probe_dynamic_events(
        tracefs,
        "kprobe_events",
        &format!("p:hytrace_{}_probe vfs_read", std::process::id()),
    ));
    features.push(probe_uprobe(tracefs));
    features
}

fn root_cause(error: &super::TracefsError) -> String {
    match error {
        super::TracefsError::Write { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Creates one dynamic probe with `definition` in `file` and removes it again.
fn probe_dynamic_events(tracefs: &Tracefs, file: &str, definition: &str) -> FeatureProbe {
    let path = tracefs.path(file);
    if !path.exists() {
        return probe(
            file,
            Err(format!("no {file} file: the kernel was built without it")),
        );
    }
    let name = definition
        .split_whitespace()
        .next()
        .and_then(|d| d.split_once(':'))
        .map(|(_, n)| n.to_string())
        .unwrap_or_default();
    let result = match super::append(path.clone(), &format!("{definition}\n")) {
        Ok(()) => {
            let _ = super::append(path.clone(), &format!("-:{name}\n"));
            Ok(format!("created and removed a probe ({definition})"))
        }
        Err(e) => Err(format!("creating a probe fails: {e}")),
    };
    probe(file, result)
}

/// A uprobe on this very executable's entry point.
fn probe_uprobe(tracefs: &Tracefs) -> FeatureProbe {
    let exe = match std::fs::read_link("/proc/self/exe") {
        Ok(exe) => exe,
        Err(e) => {
            return probe(
                "uprobe_events",
                Err(format!("cannot find own executable: {e}")),
            );
        }
    };
    let Some(offset) = entry_file_offset(&exe) else {
        return probe("uprobe_events", Err("cannot read own ELF header".into()));
    };
    probe_dynamic_events(
        tracefs,
        "uprobe_events",
        &format!(
            "p:hytrace_{}_probe {}:{offset:#x}",
            std::process::id(),
            exe.display()
        ),
    )
}

/// File offset of an ELF64 executable's entry point (through its program headers).
fn entry_file_offset(path: &std::path::Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let u64_at = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    if bytes.get(..4)? != b"\x7fELF" || *bytes.get(4)? != 2 {
        return None;
    }
    let entry = u64_at(0x18)?;
    let phoff = u64_at(0x20)? as usize;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let kind = u32::from_le_bytes(bytes.get(ph..ph + 4)?.try_into().ok()?);
        let offset = u64_at(ph + 8)?;
        let vaddr = u64_at(ph + 16)?;
        let filesz = u64_at(ph + 32)?;
        if kind == 1 && entry >= vaddr && entry < vaddr + filesz {
            return Some(entry - vaddr + offset);
        }
    }
    None
}
