//! A user stack under its event: trace-cmd's stack style (`=> ` lines) as text, an
//! array of frame objects in JSON.
//!
//! ```text
//! <user stack trace >
//! => raw_getppid [inlined] (/src/deep.c:12) [/tmp/deep]
//! => recurse+0x29 (/src/deep.c:20) [/tmp/deep]
//! => [/usr/lib/x86_64-linux-gnu/libc.so.6+0x2724a] [unknown: no symbol]
//! => 0x7ffd4e1c0040 [unknown: process gone, no build-id]
//! ```

use std::io::Write as _;

use crate::{format::json_string::write_string, stacks::StackError, symbolize::user::UserFrame};

/// The text lines of a stack (or of why there is none), each ending in a newline.
pub fn write_text(out: &mut Vec<u8>, stack: Result<&[&UserFrame], StackError>) {
    out.extend_from_slice(b"<user stack trace >\n");
    let frames = match stack {
        Ok(frames) => frames,
        Err(why) => {
            let _ = writeln!(out, "=> [{}]", why.describe());
            return;
        }
    };
    for frame in frames {
        out.extend_from_slice(b"=> ");
        write_frame(out, frame);
        out.push(b'\n');
    }
}

/// One frame without the `=> ` and the newline:
/// `func+0xoff (file:line) [object]`, `func [inlined] (…) […]`,
/// `[object+0xoff] [unknown: why]` or `0xaddr [unknown: why]`.
pub fn write_frame(out: &mut Vec<u8>, frame: &UserFrame) {
    match frame {
        UserFrame::Named {
            function,
            offset,
            location,
            inlined,
            object,
            ..
        } => {
            out.extend_from_slice(function.as_bytes());
            if *inlined {
                out.extend_from_slice(b" [inlined]");
            } else {
                let _ = write!(out, "+0x{offset:x}");
            }
            if let Some((file, line)) = location {
                let _ = write!(out, " ({file}:{line})");
            }
            let _ = write!(out, " [{object}]");
        }
        UserFrame::Unnamed {
            object,
            file_offset,
            why,
        } => {
            let _ = write!(out, "[{object}+0x{file_offset:x}] [unknown: {why}]");
        }
        UserFrame::Unknown { address, why } => {
            let _ = write!(out, "0x{address:x} [unknown: {why}]");
        }
    }
}

/// A stack under a summary line (hist --stacks, report --profile): kernel frames
/// (`NAME [kernel]`), then user frames, one per line indented by four spaces, or
/// `[no stack]` when there are neither.
pub fn write_stack_lines(out: &mut String, kernel: &[String], user: &[UserFrame]) {
    use std::fmt::Write as _;
    for frame in kernel {
        let _ = writeln!(out, "    {frame} [kernel]");
    }
    let mut line = Vec::new();
    for frame in user {
        line.clear();
        write_frame(&mut line, frame);
        let _ = writeln!(out, "    {}", String::from_utf8_lossy(&line));
    }
    if kernel.is_empty() && user.is_empty() {
        out.push_str("    [no stack]\n");
    }
}

/// `,"user_stack":[{…},…]` (or `,"user_stack_error":"…"`) for an event's JSON object.
pub fn write_json(out: &mut Vec<u8>, stack: Result<&[&UserFrame], StackError>) {
    let frames = match stack {
        Ok(frames) => frames,
        Err(why) => {
            out.extend_from_slice(b",\"user_stack_error\":");
            write_string(out, &why.describe());
            return;
        }
    };
    out.extend_from_slice(b",\"user_stack\":[");
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match frame {
            UserFrame::Named {
                function,
                offset,
                file_offset,
                location,
                inlined,
                object,
            } => {
                out.extend_from_slice(b"{\"function\":");
                write_string(out, function);
                let _ = write!(
                    out,
                    ",\"offset\":{offset},\"file_offset\":{file_offset},\"inlined\":{inlined}"
                );
                if let Some((file, line)) = location {
                    out.extend_from_slice(b",\"file\":");
                    write_string(out, file);
                    let _ = write!(out, ",\"line\":{line}");
                }
                out.extend_from_slice(b",\"object\":");
                write_string(out, object);
                out.push(b'}');
            }
            UserFrame::Unnamed {
                object,
                file_offset,
                why,
            } => {
                out.extend_from_slice(b"{\"object\":");
                write_string(out, object);
                let _ = write!(out, ",\"file_offset\":{file_offset},\"unknown\":");
                write_string(out, why);
                out.push(b'}');
            }
            UserFrame::Unknown { address, why } => {
                let _ = write!(out, "{{\"address\":{address},\"unknown\":");
                write_string(out, why);
                out.push(b'}');
            }
        }
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames() -> Vec<UserFrame> {
        vec![
            UserFrame::Named {
                function: "raw_getppid".into(),
                offset: 0,
                file_offset: 0x1153,
                location: Some(("/src/deep.c".into(), 12)),
                inlined: true,
                object: "/tmp/deep".into(),
            },
            UserFrame::Named {
                function: "recurse".into(),
                offset: 0x29,
                file_offset: 0x1162,
                location: Some(("/src/deep.c".into(), 20)),
                inlined: false,
                object: "/tmp/deep".into(),
            },
            UserFrame::Unnamed {
                object: "/lib/libc.so.6".into(),
                file_offset: 0x2724a,
                why: "no symbol".into(),
            },
            UserFrame::Unknown {
                address: 0x7ffd_4e1c_0040,
                why: "process gone, no build-id".into(),
            },
        ]
    }

    #[test]
    fn text_has_one_line_per_frame_in_trace_cmd_style() {
        let mut out = Vec::new();
        write_text(&mut out, Ok(&frames().iter().collect::<Vec<_>>()));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<user stack trace >\n\
             => raw_getppid [inlined] (/src/deep.c:12) [/tmp/deep]\n\
             => recurse+0x29 (/src/deep.c:20) [/tmp/deep]\n\
             => [/lib/libc.so.6+0x2724a] [unknown: no symbol]\n\
             => 0x7ffd4e1c0040 [unknown: process gone, no build-id]\n"
        );
        let mut out = Vec::new();
        write_text(&mut out, Err(StackError::Empty));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<user stack trace >\n=> [no user stack (kernel thread)]\n"
        );
    }

    #[test]
    fn json_carries_every_frame() {
        let mut out = Vec::new();
        write_json(&mut out, Ok(&frames()[1..].iter().collect::<Vec<_>>()));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#","user_stack":[{"function":"recurse","offset":41,"file_offset":4450,"inlined":false,"file":"/src/deep.c","line":20,"object":"/tmp/deep"},{"object":"/lib/libc.so.6","file_offset":160330,"unknown":"no symbol"},{"address":140725913911360,"unknown":"process gone, no build-id"}]"#
        );
    }
}
