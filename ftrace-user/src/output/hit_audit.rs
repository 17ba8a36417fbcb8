//! `report --count`'s second part: the kernel-hit audit the recording stored, each
//! event's count decoded now beside what was recorded and what the kernel's counters
//! saw then, as `#` lines (scripts that read the counts skip them).

use std::fmt::Write as _;

use crate::store::hit_audit::HitAudit;

/// The audit lines; `decoded` is the file's count of an event by its SYSTEM:EVENT name.
pub fn text(audit: &HitAudit, decoded: &dyn Fn(&str) -> u64) -> String {
    let mut out = String::new();
    let width = audit
        .events
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let scope = if audit.system_wide {
        "system-wide"
    } else {
        "in the recording's scope"
    };
    let _ = writeln!(
        out,
        "# kernel hits counted by eBPF while recording ({scope}, {:.3} s, from {:.1} µs \
         before tracing_on to {:.1} µs after it):",
        audit.window_ns as f64 / 1e9,
        audit.before_ns as f64 / 1e3,
        audit.after_ns as f64 / 1e3
    );
    let _ = writeln!(
        out,
        "# {:<width$} {:>12} {:>12} {:>12}",
        "event", "in file", "recorded", "kernel hits"
    );
    for event in &audit.events {
        let in_file = decoded(&event.name);
        let hits = event
            .kernel_hits
            .map_or_else(|| "-".to_string(), |h| h.to_string());
        let note = if in_file == event.recorded {
            ""
        } else {
            "  the file holds a different number than was recorded"
        };
        let _ = writeln!(
            out,
            "# {:<width$} {:>12} {:>12} {:>12}{note}",
            event.name, in_file, event.recorded, hits
        );
    }
    for cpu in audit
        .cpus
        .iter()
        .filter(|_| audit.cpus.iter().any(|c| c.lost > 0))
    {
        let total = cpu.recorded + cpu.lost;
        let verdict = if total == cpu.kernel_hits {
            " = kernel hits".to_string()
        } else {
            format!("; kernel hits {}", cpu.kernel_hits)
        };
        let _ = writeln!(
            out,
            "# cpu {}: {} recorded + {} lost = {total}{verdict}",
            cpu.cpu, cpu.recorded, cpu.lost
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hit_audit::{CpuHits, tests::audit};

    #[test]
    fn prints_the_decoded_count_beside_the_stored_ones() {
        let mut audit = audit();
        audit.cpus.push(CpuHits {
            cpu: 1,
            recorded: 0,
            lost: 0,
            kernel_hits: 2,
        });
        let decoded = |name: &str| if name == "ftrace:print" { 2 } else { 1_541_468 };
        assert_eq!(
            text(&audit, &decoded),
            "# kernel hits counted by eBPF while recording (in the recording's scope, 0.218 s, \
             from 19.0 µs before tracing_on to 106.7 µs after it):\n\
             # event                       in file     recorded  kernel hits\n\
             # raw_syscalls:sys_enter      1541468      1541468      2000066\n\
             # ftrace:print                      2            3            -  the file holds a \
             different number than was recorded\n\
             # cpu 0: 3082928 recorded + 917196 lost = 4000124 = kernel hits\n\
             # cpu 1: 0 recorded + 0 lost = 0; kernel hits 2\n"
        );
    }
}
