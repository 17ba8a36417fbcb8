//! `hytrace report`.

use std::io::Write;

use anyhow::Result;

use super::args::{ReportArgs, ReportFormat};
use crate::report::{RecordFilter, Recording, ReportStyle, report};

pub fn run(args: &ReportArgs) -> Result<i32> {
    let recording = Recording::open(&args.input)?;
    let filter = RecordFilter::build(
        &recording,
        args.cpu.as_deref(),
        &args.pids,
        args.comm.as_deref(),
        args.event.as_deref(),
    )?;
    let style = match (args.count, args.format) {
        (true, _) => ReportStyle::Count,
        (false, ReportFormat::Text) => ReportStyle::Text,
        (false, ReportFormat::Json) => ReportStyle::Json,
    };
    for (system, reason) in &recording.unparsed_formats {
        eprintln!("hytrace: warning: an event format of {system} could not be parsed: {reason}");
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let stats = report(&recording, &filter, style, &mut out)?;
    out.flush().ok();
    for (buffer, cpu, stream) in &stats.streams {
        let name = if buffer.is_empty() {
            String::new()
        } else {
            format!("{buffer} ")
        };
        if stream.missed_events > 0 || stream.pages_with_unknown_loss > 0 {
            eprintln!(
                "hytrace: {name}cpu {cpu}: {} events lost while recording{}",
                stream.missed_events,
                if stream.pages_with_unknown_loss > 0 {
                    " (plus an unknown number)"
                } else {
                    ""
                }
            );
        }
        if stream.corrupt_pages > 0 {
            let why = stream
                .first_error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            eprintln!(
                "hytrace: {name}cpu {cpu}: {} corrupt pages skipped ({why})",
                stream.corrupt_pages
            );
        }
    }
    Ok(0)
}
