//! What a report says on stderr after the events: per buffer and CPU, the events the
//! recording lost, the corrupt pages skipped, and the data a file cut short lacks.

use crate::{decode::StreamStats, report::ReportStats};

/// One line per buffer and CPU with something to say (without the `hytrace: ` prefix),
/// for a file of `page_size` pages.
pub fn lines(stats: &ReportStats, page_size: usize) -> Vec<String> {
    let mut lines = stream_lines(&stats.streams);
    for (buffer, cpu, missing) in &stats.cut {
        let pages = missing.div_ceil(page_size.max(1) as u64);
        lines.push(format!(
            "{}cpu {cpu}: the file is cut short; not shown: the events of the last {pages} \
             page{} of this CPU's data ({missing} bytes missing or incomplete)",
            buffer_prefix(buffer),
            if pages == 1 { "" } else { "s" },
        ));
    }
    if let Some(stacks) = &stats.user_stacks {
        lines.push(format!(
            "user stacks: {} joined to their events; {} taken at hits the event filter \
             dropped or the recording lost; {} events without a stack; {} lost in the \
             ring buffer while recording",
            stacks.joined, stacks.unjoined_samples, stacks.events_without_stack, stacks.lost
        ));
    }
    lines
}

fn buffer_prefix(buffer: &str) -> String {
    if buffer.is_empty() {
        String::new()
    } else {
        format!("{buffer} ")
    }
}

fn stream_lines(streams: &[(String, u32, StreamStats)]) -> Vec<String> {
    let mut lines = Vec::new();
    for (buffer, cpu, stream) in streams {
        let name = buffer_prefix(buffer);
        if stream.missed_events > 0 || stream.pages_with_unknown_loss > 0 {
            lines.push(format!(
                "{name}cpu {cpu}: {} events lost while recording{}",
                stream.missed_events,
                if stream.pages_with_unknown_loss > 0 {
                    " (plus an unknown number)"
                } else {
                    ""
                }
            ));
        }
        if stream.corrupt_pages > 0 {
            let why = stream
                .first_error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            lines.push(format!(
                "{name}cpu {cpu}: {} corrupt pages skipped ({why})",
                stream.corrupt_pages
            ));
        }
    }
    lines
}
