//! One trace event as Perfetto's `FtraceEvent`: the typed message where Perfetto has
//! one with the same fields as this kernel's event, the generic message with every
//! field otherwise. x86's kvm_exit and kvm_entry go generic: Perfetto's typed ones
//! carry arm64's fields (esr_ec, vcpu_pc).

use super::messages::*;
use crate::format::{EventFormat, FieldKind, field_text, holds_text};

/// An event's fields read from one record.
struct Record<'a> {
    format: &'a EventFormat,
    data: &'a [u8],
}

impl Record<'_> {
    fn int(&self, name: &str) -> Option<i64> {
        let field = self.format.field(name)?;
        (field.kind == FieldKind::Scalar)
            .then(|| field.int(self.data))
            .flatten()
            .map(|v| v as i64)
    }

    fn int32(&self, name: &str) -> Option<i32> {
        self.int(name).map(|v| v as i32)
    }

    fn uint(&self, name: &str) -> Option<u64> {
        let field = self.format.field(name)?;
        (field.kind == FieldKind::Scalar)
            .then(|| field.uint(self.data))
            .flatten()
    }

    fn text(&self, name: &str) -> Option<String> {
        let bytes = self.format.field(name)?.bytes(self.data)?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
    }

    /// The elements of an array of unsigned longs (`args[6]`).
    fn words(&self, name: &str) -> Vec<u64> {
        let Some(bytes) = self.format.field(name).and_then(|f| f.bytes(self.data)) else {
            return Vec::new();
        };
        bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect()
    }

    fn wakeup(&self) -> SchedWakeupFtraceEvent {
        SchedWakeupFtraceEvent {
            comm: self.text("comm"),
            pid: self.int32("pid"),
            prio: self.int32("prio"),
            success: self.int32("success"),
            target_cpu: self.int32("target_cpu"),
        }
    }

    /// Every non-common field, integers as such, text as text, the rest as printed.
    fn generic(&self) -> GenericFtraceEvent {
        let field = self
            .format
            .fields
            .iter()
            .filter(|f| !f.is_common)
            .map(|f| {
                let value = if f.kind == FieldKind::Scalar && f.signed {
                    f.int(self.data).map(|v| GenericValue::Int(v as i64))
                } else if f.kind == FieldKind::Scalar {
                    f.uint(self.data).map(GenericValue::Uint)
                } else if holds_text(f) {
                    self.text(&f.name).map(GenericValue::Str)
                } else {
                    Some(GenericValue::Str(field_text(f, self.data)))
                };
                GenericField {
                    name: Some(f.name.clone()),
                    value,
                }
            })
            .collect();
        GenericFtraceEvent {
            event_name: Some(self.format.name.clone()),
            field,
        }
    }
}

/// The event of `format` in `data` (the record's payload, common fields included).
pub fn event_kind(format: &EventFormat, data: &[u8]) -> FtraceEventKind {
    let r = Record { format, data };
    match (format.system.as_str(), format.name.as_str()) {
        ("ftrace", "print") => FtraceEventKind::Print(PrintFtraceEvent {
            ip: r.uint("ip"),
            buf: r.text("buf"),
        }),
        ("ftrace", "funcgraph_entry") => {
            FtraceEventKind::FuncgraphEntry(FuncgraphEntryFtraceEvent {
                depth: r.int32("depth"),
                func: r.uint("func"),
            })
        }
        ("ftrace", "funcgraph_exit") => FtraceEventKind::FuncgraphExit(FuncgraphExitFtraceEvent {
            calltime: r.uint("calltime"),
            depth: r.int32("depth"),
            func: r.uint("func"),
            overrun: r.uint("overrun"),
            rettime: r.uint("rettime"),
        }),
        ("sched", "sched_switch") => FtraceEventKind::SchedSwitch(SchedSwitchFtraceEvent {
            prev_comm: r.text("prev_comm"),
            prev_pid: r.int32("prev_pid"),
            prev_prio: r.int32("prev_prio"),
            prev_state: r.int("prev_state"),
            next_comm: r.text("next_comm"),
            next_pid: r.int32("next_pid"),
            next_prio: r.int32("next_prio"),
        }),
        ("sched", "sched_wakeup") => FtraceEventKind::SchedWakeup(r.wakeup()),
        ("sched", "sched_wakeup_new") => FtraceEventKind::SchedWakeupNew(r.wakeup()),
        ("sched", "sched_waking") => FtraceEventKind::SchedWaking(r.wakeup()),
        ("sched", "sched_process_exit") => {
            FtraceEventKind::SchedProcessExit(SchedProcessExitFtraceEvent {
                comm: r.text("comm"),
                pid: r.int32("pid"),
                tgid: r.int32("tgid"),
                prio: r.int32("prio"),
            })
        }
        ("sched", "sched_process_fork") => {
            FtraceEventKind::SchedProcessFork(SchedProcessForkFtraceEvent {
                parent_comm: r.text("parent_comm"),
                parent_pid: r.int32("parent_pid"),
                child_comm: r.text("child_comm"),
                child_pid: r.int32("child_pid"),
            })
        }
        ("irq", "irq_handler_entry") => {
            FtraceEventKind::IrqHandlerEntry(IrqHandlerEntryFtraceEvent {
                irq: r.int32("irq"),
                name: r.text("name"),
            })
        }
        ("irq", "irq_handler_exit") => FtraceEventKind::IrqHandlerExit(IrqHandlerExitFtraceEvent {
            irq: r.int32("irq"),
            ret: r.int32("ret"),
        }),
        ("irq", "softirq_entry") => FtraceEventKind::SoftirqEntry(SoftirqFtraceEvent {
            vec: r.uint("vec").map(|v| v as u32),
        }),
        ("irq", "softirq_exit") => FtraceEventKind::SoftirqExit(SoftirqFtraceEvent {
            vec: r.uint("vec").map(|v| v as u32),
        }),
        ("raw_syscalls", "sys_enter") => FtraceEventKind::SysEnter(SysEnterFtraceEvent {
            id: r.int("id"),
            args: r.words("args"),
        }),
        ("raw_syscalls", "sys_exit") => FtraceEventKind::SysExit(SysExitFtraceEvent {
            id: r.int("id"),
            ret: r.int("ret"),
        }),
        ("kvm", "kvm_userspace_exit") => {
            FtraceEventKind::KvmUserspaceExit(KvmUserspaceExitFtraceEvent {
                reason: r.uint("reason").map(|v| v as u32),
            })
        }
        _ => FtraceEventKind::Generic(r.generic()),
    }
}
