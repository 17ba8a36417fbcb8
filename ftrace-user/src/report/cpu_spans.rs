//! Each CPU's first and last event of the file's top-level buffer, as `trace-cmd
//! report --first-event` / `--last-event` list them (the top-level buffer only: in a
//! file whose events are all in an instance, no CPU has data there).

use crate::trace::Recording;

/// One CPU with data: the timestamps of its first and last records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSpan {
    pub cpu: u32,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// The CPUs of the top-level buffer (the file's first) that hold records, in CPU
/// order.
pub fn top_buffer_spans(recording: &Recording) -> Vec<CpuSpan> {
    let Some(top) = recording.file.buffers.first() else {
        return Vec::new();
    };
    let (merger, origins) = recording.merge(|_| true);
    let mut spans: Vec<Option<CpuSpan>> = vec![None; origins.len()];
    for merged in merger {
        let origin = merged.origin as usize;
        if origins[origin].buffer != top.name {
            continue;
        }
        let ts = merged.record.ts;
        let span = spans[origin].get_or_insert(CpuSpan {
            cpu: origins[origin].cpu,
            first_ns: ts,
            last_ns: ts,
        });
        span.first_ns = span.first_ns.min(ts);
        span.last_ns = span.last_ns.max(ts);
    }
    let mut spans: Vec<CpuSpan> = spans.into_iter().flatten().collect();
    spans.sort_by_key(|s| s.cpu);
    spans
}
