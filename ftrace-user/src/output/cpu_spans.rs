//! `report --first-event` / `--last-event` as trace-cmd prints them:
//! `List of CPUs in FILE with data:`, then per CPU `  N\tFirst event:TS\tLast event:TS`.

use std::fmt::Write as _;

use super::event_text::write_timestamp;
use crate::report::cpu_spans::CpuSpan;

/// The listing for `file` (as given on the command line).
pub fn text(file: &str, spans: &[CpuSpan], first: bool, last: bool, nanos: bool) -> String {
    let stamp = |ts: u64| {
        let mut out = Vec::new();
        write_timestamp(&mut out, ts, nanos);
        String::from_utf8_lossy(&out).into_owned()
    };
    let mut out = format!("List of CPUs in {file} with data:\n");
    for span in spans {
        let _ = write!(out, "  {}", span.cpu);
        if first {
            let _ = write!(out, "\tFirst event:{}", stamp(span.first_ns));
        }
        if last {
            let _ = write!(out, "\tLast event:{}", stamp(span.last_ns));
        }
        out.push('\n');
    }
    out
}
