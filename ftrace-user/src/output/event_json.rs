//! One JSON object per event:
//! `{"ts_ns":…,"cpu":…,"pid":…,"comm":"…","system":"…","event":"…","fields":{…}}`
//! plus `"buffer"` in files with several buffers, `"events_dropped_before"` (a count,
//! or null when the kernel did not say how many) on the first record after a loss,
//! and `"text"`, the payload as trace-cmd would print it; then `"user_stack"` where
//! the file has one for the event (see [`super::user_stack`]).

use std::io::Write as _;

use super::EventHeader;
use crate::decode::Missed;
use crate::format::json_string::write_string;

/// Appends the object's opening and header fields; the caller appends the
/// `"fields":{…}` part with [`write_fields_open`]/[`write_close`].
pub fn write_header(out: &mut Vec<u8>, header: &EventHeader<'_>) {
    let _ = write!(
        out,
        "{{\"ts_ns\":{},\"cpu\":{},\"pid\":{},\"comm\":",
        header.ts_ns, header.cpu, header.pid
    );
    write_string(out, header.comm);
    if let Some(buffer) = header.buffer {
        out.extend_from_slice(b",\"buffer\":");
        write_string(out, buffer);
    }
    out.extend_from_slice(b",\"system\":");
    write_string(out, header.system);
    out.extend_from_slice(b",\"event\":");
    write_string(out, header.name);
}

/// `,"events_dropped_before":N` (or `null`) when events were lost before the record.
pub fn write_dropped_before(out: &mut Vec<u8>, missed: Missed) {
    match missed {
        Missed::None => {}
        Missed::Count(n) => {
            let _ = write!(out, ",\"events_dropped_before\":{n}");
        }
        Missed::Unknown => out.extend_from_slice(b",\"events_dropped_before\":null"),
    }
}

/// `,"fields":{` — the caller then appends `"name":value` pairs.
pub fn write_fields_open(out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"fields\":{");
}

/// `},"text":"…"` closing the fields; the caller closes the object.
pub fn write_close_fields(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"},\"text\":");
    write_string(out, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_complete_object_with_escapes() {
        let header = EventHeader {
            buffer: None,
            comm: "my \"tool\"",
            pid: 42,
            cpu: 1,
            ts_ns: 1_000_000_123,
            system: "ftrace",
            name: "print",
            common_flags: 0,
            preempt_count: 0,
        };
        let mut out = Vec::new();
        write_header(&mut out, &header);
        write_fields_open(&mut out);
        out.extend_from_slice(b"\"buf\":\"hi\\n\"");
        write_close_fields(&mut out, "tracing_mark_write: hi\n\u{1}");
        out.push(b'}');
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"ts_ns":1000000123,"cpu":1,"pid":42,"comm":"my \"tool\"","system":"ftrace","event":"print","fields":{"buf":"hi\n"},"text":"tracing_mark_write: hi\n\u0001"}"#
        );
    }
}
