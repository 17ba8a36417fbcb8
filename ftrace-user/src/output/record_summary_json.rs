//! `record --summary-json FILE`: the kernel-hit audit of the end-of-record summary as
//! one JSON object, for scripts.

use std::io::Write as _;

use crate::{
    format::json_string::write_string,
    record::{
        audit::{Verdict, audit_cpus, audit_events},
        summary::RecordSummary,
    },
};

fn difference(out: &mut Vec<u8>, verdict: &Verdict) {
    match verdict {
        Verdict::Equal => out.extend_from_slice(b"0"),
        Verdict::Differs { by, .. } => {
            let _ = write!(out, "{by}");
        }
    }
}

fn reasons(out: &mut Vec<u8>, verdict: &Verdict) {
    out.push(b'[');
    if let Verdict::Differs { reasons, .. } = verdict {
        for (i, reason) in reasons.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(out, reason);
        }
    }
    out.push(b']');
}

/// `{"events":[{"name":…,"recorded":N,"kernel_hits":N,"difference":N,"reasons":[…]}
/// (or "kernel_hits":null,"not_counted":…),"filtered":B}],
/// "cpus":[{"cpu":N,"recorded":N,"lost":N,"kernel_hits":N,"difference":N,
/// "reasons":[…]}],"window_ns":N,"counted_before_ns":N,"counted_after_ns":N,
/// "system_wide":B,"recursion_misses":N|null}`: per event, recorded and the kernel's
/// hits over the same window and scope; per CPU, over the events with a count, what
/// was recorded and lost against the hits (`difference` = hits − recorded − lost).
pub fn summary(summary: &RecordSummary) -> String {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"events\":[");
    for (i, audit) in audit_events(summary).iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let event = audit.event;
        out.extend_from_slice(b"{\"name\":");
        write_string(&mut out, &event.name);
        let _ = write!(out, ",\"recorded\":{},\"kernel_hits\":", event.recorded);
        match (&audit.kernel_hits, &audit.verdict) {
            (Ok(hits), Some(verdict)) => {
                let _ = write!(out, "{hits},\"difference\":");
                difference(&mut out, verdict);
                out.extend_from_slice(b",\"reasons\":");
                reasons(&mut out, verdict);
            }
            (Err(why), _) => {
                out.extend_from_slice(b"null,\"not_counted\":");
                write_string(&mut out, &why.to_string());
            }
            (Ok(_), None) => out.extend_from_slice(b"null"),
        }
        let _ = write!(out, ",\"filtered\":{}}}", event.filtered);
    }
    out.extend_from_slice(b"],\"cpus\":[");
    for (i, cpu) in audit_cpus(summary).unwrap_or_default().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(
            out,
            "{{\"cpu\":{},\"recorded\":{},\"lost\":{},\"unknown_loss\":{},\"kernel_hits\":{},\"difference\":",
            cpu.cpu, cpu.recorded, cpu.lost, cpu.unknown_loss, cpu.kernel_hits
        );
        difference(&mut out, &cpu.verdict);
        out.extend_from_slice(b",\"reasons\":");
        reasons(&mut out, &cpu.verdict);
        out.push(b'}');
    }
    out.push(b']');
    match &summary.count_window {
        Some(window) => {
            let _ = write!(
                out,
                ",\"window_ns\":{},\"counted_before_ns\":{},\"counted_after_ns\":{},\"system_wide\":{},\"recursion_misses\":",
                window.window_ns, window.before_ns, window.after_ns, window.system_wide
            );
            match window.recursion_misses {
                Some(n) => {
                    let _ = write!(out, "{n}");
                }
                None => out.extend_from_slice(b"null"),
            }
        }
        None => out.extend_from_slice(b",\"window_ns\":null"),
    }
    out.extend_from_slice(b"}\n");
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::record::summary::fixture::lossy_summary;

    #[test]
    fn writes_events_cpus_and_the_window() {
        assert_eq!(
            super::summary(&lossy_summary()),
            concat!(
                r#"{"events":[{"name":"raw_syscalls:sys_enter","recorded":12,"kernel_hits":18,"#,
                r#""difference":6,"reasons":["events were lost: see the CPU totals"],"#,
                r#""filtered":false},{"name":"ftrace:print","recorded":3,"kernel_hits":null,"#,
                r#""not_counted":"not a raw tracepoint","filtered":false}],"cpus":[{"cpu":0,"#,
                r#""recorded":8,"lost":0,"unknown_loss":false,"kernel_hits":8,"difference":0,"#,
                r#""reasons":[]},{"cpu":1,"recorded":4,"lost":5,"unknown_loss":false,"#,
                r#""kernel_hits":10,"difference":1,"reasons":[]}],"window_ns":1400000000,"#,
                r#""counted_before_ns":20000,"counted_after_ns":110000,"system_wide":false,"#,
                r#""recursion_misses":0}"#,
                "\n"
            )
        );
    }
}
