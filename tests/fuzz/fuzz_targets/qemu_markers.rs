//! QEMU's trace output parsed: the text as one trace_marker payload (ftrace backend),
//! each of its lines as a payload, and the text as a `log` backend file, whole and line
//! by line; the fields of every event found read back as text and as numbers.
//!
//! Input: the text (bytes that are not UTF-8 are replaced, as hytrace reads marker
//! payloads and log files).

#![no_main]

use ftrace_user::kvm::{
    qemu_events::{QemuEvent, parse_qemu_event},
    qemu_log::{parse_log, parse_log_line},
};
use libfuzzer_sys::fuzz_target;

/// Reads every field of `event` back by its key, as text and as a number.
fn read_fields(event: &QemuEvent) {
    for (key, _) in &event.fields {
        let _ = event.field(key);
        let _ = event.number(key);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // The whole input as one marker payload.
    if let Some(event) = parse_qemu_event(&text) {
        read_fields(&event);
    }

    // The input as a log file.
    let log = parse_log(&text);
    for line in &log.lines {
        read_fields(&line.event);
    }

    // Each line (with its line end) as a marker payload and as a log line.
    for line in text.split_inclusive('\n') {
        if let Some(event) = parse_qemu_event(line) {
            read_fields(&event);
        }
        if let Ok(Some(line)) = parse_log_line(line) {
            read_fields(&line.event);
        }
    }
});
