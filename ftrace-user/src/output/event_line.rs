//! Rendering one selected record as a text or JSON line (pure; appends to a buffer).

use std::io::Write as _;

use super::{EventHeader, event_json as json, event_text as text, kernel_stack_json, user_stack};
use crate::{
    decode::Missed,
    format::Printer,
    report::{Selected, user_stacks::ReportStacks},
    stacks::StackError,
    symbolize::user::UserFrame,
    trace::Recording,
};

/// What every line of one report shares.
pub struct LineLayout<'a> {
    /// Stream key → (buffer name if the file has several, cpu).
    pub origins: Vec<(Option<&'a str>, u32)>,
    /// Width of the buffer-name column, 0 for single-buffer files.
    pub buffer_width: usize,
    pub json: bool,
    /// The file's user stacks, when it has any.
    pub user_stacks: Option<&'a ReportStacks>,
    /// The text timestamp column's form.
    pub time: text::TextColumns,
}

/// The user stack joined to `record`, if any: its frames or why it has none.
fn user_stack_of<'a>(
    layout: &LineLayout<'a>,
    record: &Selected<'_>,
) -> Option<Result<Vec<&'a UserFrame>, StackError>> {
    let stacks = layout.user_stacks?;
    let sample = stacks.samples.get(record.user_stack? as usize)?;
    Some(match sample.stack {
        Ok(index) => stacks.frames.stack(index).ok_or(StackError::Empty),
        Err(why) => Err(why),
    })
}

/// A function_graph entry and its return on one line (see
/// [`Plugin::render_graph_leaf`](crate::format::plugins::Plugin::render_graph_leaf));
/// the entry alone where the return's format cannot say.
fn render_graph_leaf(
    recording: &Recording,
    event: &crate::format::EventFormat,
    data: &[u8],
    exit: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    let folded = exit.and_then(|exit| {
        let exit_event = recording.event(u16::from_le_bytes([*exit.first()?, *exit.get(1)?]))?;
        let (Printer::Plugin(entry), Printer::Plugin(ret)) = (&event.printer, &exit_event.printer)
        else {
            return None;
        };
        entry.render_graph_leaf(
            &event.fields,
            data,
            (ret, &exit_event.fields, exit),
            &recording.symbols,
            out,
        )
    });
    if folded.is_none() {
        out.truncate(start);
        event.render_payload(data, &recording.symbols, 0, out);
    }
}

/// Appends the line for `record`.
pub fn render(
    recording: &Recording,
    layout: &LineLayout<'_>,
    record: &Selected<'_>,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) {
    let data = record.data;
    let type_id = u16::from_le_bytes([data[0], data[1]]);
    let pid = i32::from_le_bytes([data[4], data[5], data[6], data[7]]);
    let (buffer, cpu) = layout.origins[record.origin as usize];
    let event = recording.event(type_id);
    let comm = recording.comm_at(pid, record.index);
    let header = EventHeader {
        buffer,
        comm: &comm,
        pid,
        cpu,
        ts_ns: record.ts,
        system: event.map(|e| e.system.as_str()).unwrap_or("unknown"),
        name: event.map(|e| e.name.as_str()).unwrap_or("unknown_event"),
        common_flags: data[2],
        preempt_count: data[3],
    };
    if !layout.json {
        // trace-cmd's line for a loss, before the first record after it (the buffer
        // name, in files with several, goes before the loss line only).
        text::write_buffer_column(out, &header, layout.buffer_width);
        match record.missed {
            Missed::None => {}
            Missed::Count(n) => {
                let _ = writeln!(out, "CPU:{cpu} [{n} EVENTS DROPPED]");
            }
            Missed::Unknown => {
                let _ = writeln!(out, "CPU:{cpu} [EVENTS DROPPED]");
            }
        }
        text::write_task_prefix(out, &header, layout.time, record.previous_ts);
        match event {
            Some(event) if record.leaf_exit.is_some() => {
                render_graph_leaf(recording, event, data, record.leaf_exit, out);
            }
            Some(event) => {
                event.render_payload(data, &recording.symbols, record.indent.into(), out);
            }
            None => {
                let _ = write!(out, "[unknown event type {type_id}]");
            }
        }
        // Marker writes end in a newline; the line ends once, as in trace-cmd.
        while out.last() == Some(&b'\n') {
            out.pop();
        }
        out.push(b'\n');
        if let Some(stack) = user_stack_of(layout, record) {
            user_stack::write_text(out, stack.as_deref().map_err(|e| *e));
        }
        return;
    }
    scratch.clear();
    if let Some(event) = event {
        event.render_payload(data, &recording.symbols, record.indent.into(), scratch);
    }
    while scratch.last() == Some(&b'\n') {
        scratch.pop();
    }
    json::write_header(out, &header);
    json::write_dropped_before(out, record.missed);
    json::write_fields_open(out);
    if let Some(event) = event {
        event.write_json_fields(data, out);
    }
    json::write_close_fields(out, &String::from_utf8_lossy(scratch));
    if recording.symbols.kernel_lines.is_some()
        && let Some(event) = event
        && let Printer::Plugin(plugin) = &event.printer
        && let Some(frames) = plugin.kernel_stack(&event.fields, data)
    {
        kernel_stack_json::write(out, &frames, &recording.symbols);
    }
    if let Some(stack) = user_stack_of(layout, record) {
        user_stack::write_json(out, stack.as_deref().map_err(|e| *e));
    }
    out.extend_from_slice(b"}\n");
}
