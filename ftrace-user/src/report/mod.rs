//! Reading a recording back: the file's tables turned into lookups, every CPU's records
//! merged on the clock, filtered, and rendered as text or JSON.
//!
//! - [`recording`]: a parsed trace.dat with its event formats, symbols and comms.
//! - [`filter`]: which records the user asked for.

pub mod filter;
pub mod recording;

use std::io::Write;

use thiserror::Error;

use crate::{
    decode::{CpuStream, Merger, StreamStats},
    format::Printer,
    output::{EventHeader, json, text},
};
pub use filter::RecordFilter;
pub use recording::{Recording, RecordingError};

#[derive(Debug, Error)]
pub enum ReportError {
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error("cannot write the report")]
    Write(#[source] std::io::Error),
}

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStyle {
    Text,
    Json,
    /// Only counts per event name.
    Count,
}

/// What a report saw: events printed, and per-CPU stream statistics (losses, corrupt
/// pages) to tell the user about.
#[derive(Debug, Default)]
pub struct ReportStats {
    pub printed: u64,
    pub streams: Vec<(String, u32, StreamStats)>,
    /// (event name, count) in order of first appearance, for [`ReportStyle::Count`].
    pub counts: Vec<(String, u64)>,
}

/// Prints the records `filter` selects to `out`.
pub fn report(
    recording: &Recording,
    filter: &RecordFilter,
    style: ReportStyle,
    out: &mut dyn Write,
) -> Result<ReportStats, ReportError> {
    let layout = recording.page_layout();
    let page_size = recording.page_size();
    let mut streams = Vec::new();
    // Stream index → (buffer index, cpu).
    let mut origin = Vec::new();
    for (buffer_index, buffer) in recording.file.buffers.iter().enumerate() {
        for cpu in &buffer.cpus {
            if !filter.wants_cpu(cpu.cpu) {
                continue;
            }
            let key = origin.len() as u32;
            origin.push((buffer_index, cpu.cpu));
            streams.push((key, CpuStream::new(&cpu.pages, page_size, layout)));
        }
    }
    let multi_buffer = recording.file.buffers.len() > 1;
    let buffer_width = if multi_buffer {
        recording
            .file
            .buffers
            .iter()
            .map(|b| {
                if b.name.is_empty() {
                    0
                } else {
                    b.name.len() + 1
                }
            })
            .max()
            .unwrap_or(0)
    } else {
        0
    };

    let mut merger = Merger::new(streams);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut payload: Vec<u8> = Vec::with_capacity(256);
    let mut counts: Vec<u64> = vec![0; recording.max_event_id() + 1];
    let mut unknown_count = 0u64;
    let mut printed = 0u64;
    for merged in merger.by_ref() {
        let data = merged.record.data;
        if data.len() < 8 {
            continue;
        }
        let type_id = u16::from_le_bytes([data[0], data[1]]);
        let pid = i32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        if !filter.wants(type_id, pid) {
            continue;
        }
        printed += 1;
        if style == ReportStyle::Count {
            match counts.get_mut(usize::from(type_id)) {
                Some(n) => *n += 1,
                None => unknown_count += 1,
            }
            continue;
        }
        let (buffer_index, cpu) = origin[merged.cpu as usize];
        let buffer = &recording.file.buffers[buffer_index];
        let event = recording.event(type_id);
        let comm = recording.comm(pid);
        let header = EventHeader {
            buffer: (multi_buffer && !buffer.name.is_empty()).then_some(buffer.name.as_str()),
            comm: &comm,
            pid,
            cpu,
            ts_ns: merged.record.ts,
            system: event.map(|e| e.system.as_str()).unwrap_or("unknown"),
            name: event.map(|e| e.name.as_str()).unwrap_or("unknown_event"),
        };
        match style {
            ReportStyle::Text => {
                text::write_prefix(&mut buf, &header, buffer_width);
                match event {
                    Some(event) => {
                        event.render_payload(data, &recording.symbols, &mut buf);
                        // trace-cmd remembers the comms scheduler events name and uses
                        // them for later lines; do the same so lines match.
                        if let Printer::Plugin(plugin) = &event.printer {
                            for (pid, comm) in
                                plugin.comms(&event.fields, data).into_iter().flatten()
                            {
                                recording.remember_comm(pid, comm);
                            }
                        }
                    }
                    None => {
                        let _ = write!(buf, "[unknown event type {type_id}]");
                    }
                }
                // Marker writes end in a newline; the line ends once, as in trace-cmd.
                while buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                buf.push(b'\n');
            }
            ReportStyle::Json => {
                payload.clear();
                if let Some(event) = event {
                    event.render_payload(data, &recording.symbols, &mut payload);
                }
                json::write_header(&mut buf, &header);
                json::write_fields_open(&mut buf);
                if let Some(event) = event {
                    event.write_json_fields(data, &mut buf);
                }
                json::write_close(&mut buf, &String::from_utf8_lossy(&payload));
                buf.push(b'\n');
            }
            ReportStyle::Count => {}
        }
        if buf.len() >= 1 << 16 {
            out.write_all(&buf).map_err(ReportError::Write)?;
            buf.clear();
        }
    }
    out.write_all(&buf).map_err(ReportError::Write)?;

    let mut stats = ReportStats {
        printed,
        ..Default::default()
    };
    for (key, stream) in merger.streams() {
        let (buffer_index, cpu) = origin[key as usize];
        stats.streams.push((
            recording.file.buffers[buffer_index].name.clone(),
            cpu,
            stream.stats().clone(),
        ));
    }
    if style == ReportStyle::Count {
        for (id, n) in counts.iter().enumerate() {
            if *n > 0 {
                let name = recording
                    .event(id as u16)
                    .map(|e| e.name.clone())
                    .unwrap_or_else(|| format!("unknown_event_{id}"));
                stats.counts.push((name, *n));
            }
        }
        if unknown_count > 0 {
            stats
                .counts
                .push(("unknown_event".to_string(), unknown_count));
        }
        stats
            .counts
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for (name, n) in &stats.counts {
            writeln!(out, "{n:>12} {name}").map_err(ReportError::Write)?;
        }
    }
    out.flush().map_err(ReportError::Write)?;
    Ok(stats)
}
