//! What a report says on stderr after the events: per buffer and CPU, the events the
//! recording lost and the corrupt pages skipped.

use crate::decode::StreamStats;

/// One line per buffer and CPU with something to say (without the `hytrace: ` prefix),
/// from each stream's (buffer, cpu, statistics).
pub fn lines(streams: &[(String, u32, StreamStats)]) -> Vec<String> {
    let mut lines = Vec::new();
    for (buffer, cpu, stream) in streams {
        let name = if buffer.is_empty() {
            String::new()
        } else {
            format!("{buffer} ")
        };
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
