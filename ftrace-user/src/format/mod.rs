//! Event format files (`events/SYS/NAME/format`) and `header_page`, parsed (pure), and
//! each event's payload rendered from its print fmt as the kernel and trace-cmd print it.
//!
//! - [`printfmt`]: the print fmt compiler and renderer.
//! - [`plugins`]: events trace-cmd prints its own way (sched_switch, sched_wakeup).
//! - [`json_string`]: JSON string literals (the escaper every JSON writer shares).

pub mod json_string;
pub mod plugins;
pub mod printfmt;

use std::io::Write as _;

use thiserror::Error;

use printfmt::eval::{field_bytes, read_int};
pub use printfmt::{PrintFmt, PrintFmtError};

#[derive(Debug, Error)]
pub enum FormatError {
    #[error("format has no {key} line")]
    Missing { key: &'static str },
    #[error("bad field line: {line}")]
    BadField { line: String },
    #[error(
        "header_page describes no ring-buffer page: commit field of {commit_size} bytes \
         (4 or 8), data at offset {data_offset} (after the 8-byte timestamp and the commit \
         field, at most 64)"
    )]
    BadPageHeader {
        commit_size: usize,
        data_offset: usize,
    },
}

pub trait SymbolLookup {
    fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)>;
    fn printk_string(&self, addr: u64) -> Option<&str>;
    /// The source frames of a kernel return address (inlined functions first, the
    /// function itself last), when the kernel's debug info was loaded for the report.
    fn kernel_source_lines(&self, _addr: u64) -> Option<&[SourceLine]> {
        None
    }
}

/// A frame named from debug info: a function (or one inlined into the next frame) and
/// the file:line of the call or instruction in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    pub function: std::sync::Arc<str>,
    pub location: Option<(std::sync::Arc<str>, u32)>,
    pub inlined: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    Scalar,
    Array { len: usize },
    DataLoc,
    RelLoc,
    DynamicTail,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub type_name: String,
    pub offset: usize,
    pub size: usize,
    pub signed: bool,
    pub kind: FieldKind,
    pub is_common: bool,
}

#[derive(Debug, Clone)]
pub struct EventFormat {
    pub id: u16,
    pub system: String,
    pub name: String,
    pub fields: Vec<Field>,
    /// The text after `print fmt:`.
    pub print_fmt: String,
    /// How the payload is printed: a trace-cmd plugin's layout, the compiled print fmt,
    /// or (when it cannot be compiled) the fields as name=value.
    pub printer: Printer,
    /// The call_site field of the kmem allocation events, which trace-cmd's kmem
    /// plugin prints as `(func+0xoff) ` before the payload.
    pub call_site: Option<usize>,
}

/// The kmem events trace-cmd's kmem plugin prefixes with their call site.
const CALL_SITE_EVENTS: &[&str] = &[
    "kfree",
    "kmalloc",
    "kmalloc_node",
    "kmem_cache_alloc",
    "kmem_cache_alloc_node",
    "kmem_cache_free",
];

#[derive(Debug, Clone)]
pub enum Printer {
    Plugin(plugins::Plugin),
    PrintFmt(PrintFmt),
    Fields(PrintFmtError),
}

#[derive(Debug, Clone)]
pub struct HeaderPage {
    pub commit_size: usize,
    pub data_offset: usize,
}

/// Largest record a ring buffer holds: its largest sub-buffer (`buffer_subbuf_size_kb`
/// goes up to 1024).
pub const MAX_RECORD_BYTES: usize = 1 << 20;

pub fn parse_header_page(text: &str) -> Result<HeaderPage, FormatError> {
    let mut commit_size = 8;
    let mut data_offset = 16;
    for line in text.lines() {
        let Ok(f) = parse_field_line(line) else {
            continue;
        };
        if f.name == "commit" {
            commit_size = f.size;
        }
        if f.name == "data" {
            data_offset = f.offset;
        }
    }
    // A kernel's page header is a u64 timestamp, then the commit word (a long), then
    // the data; anything else is a damaged file, and the page decoder must not be told
    // to read its header fields past their end.
    if !matches!(commit_size, 4 | 8) || data_offset < 8 + commit_size || data_offset > 64 {
        return Err(FormatError::BadPageHeader {
            commit_size,
            data_offset,
        });
    }
    Ok(HeaderPage {
        commit_size,
        data_offset,
    })
}

fn parse_field_line(line: &str) -> Result<Field, FormatError> {
    let line = line.trim();
    let body = line
        .strip_prefix("field:")
        .ok_or_else(|| FormatError::BadField {
            line: line.to_string(),
        })?;
    let mut decl = "";
    let mut offset: Option<usize> = None;
    let mut size = None;
    let mut signed = false;
    for part in body.split(';') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("offset:") {
            offset = v.trim().parse().ok();
        } else if let Some(v) = part.strip_prefix("size:") {
            size = v.trim().parse().ok();
        } else if let Some(v) = part.strip_prefix("signed:") {
            signed = v.trim() == "1";
        } else if decl.is_empty() && !part.is_empty() {
            decl = part;
        }
    }
    let (Some(offset), Some(size)) = (offset, size) else {
        return Err(FormatError::BadField {
            line: line.to_string(),
        });
    };
    // A record lives in one ring-buffer sub-buffer (at most a megabyte): a field past
    // that is a damaged file, refused here so no reader computes offset + size near
    // usize::MAX or allocates a record of that size.
    if offset
        .checked_add(size)
        .is_none_or(|end| end > MAX_RECORD_BYTES)
    {
        return Err(FormatError::BadField {
            line: line.to_string(),
        });
    }
    let decl = decl.trim();
    // "int args[6]", "char comm[16]", or "__data_loc char[] name" (brackets in the type).
    let (type_and_name, array) = if decl.ends_with(']') {
        match decl.rfind('[') {
            Some(i) => (&decl[..i], Some(&decl[i + 1..decl.len() - 1])),
            None => (decl, None),
        }
    } else {
        (decl, None)
    };
    let name = type_and_name
        .rsplit(|c: char| c.is_whitespace() || c == '*' || c == ']')
        .next()
        .unwrap_or("")
        .to_string();
    let type_name = type_and_name[..type_and_name.len() - name.len()]
        .trim()
        .to_string();
    let kind = if type_name.starts_with("__data_loc") {
        FieldKind::DataLoc
    } else if type_name.starts_with("__rel_loc") {
        FieldKind::RelLoc
    } else if let Some(len) = array {
        match len.trim().parse::<usize>() {
            Ok(n) if size > 0 => FieldKind::Array { len: n },
            _ if size == 0 => FieldKind::DynamicTail,
            _ => FieldKind::Array { len: 0 },
        }
    } else {
        FieldKind::Scalar
    };
    Ok(Field {
        is_common: name.starts_with("common_"),
        name,
        type_name,
        offset,
        size,
        signed,
        kind,
    })
}

pub fn parse_event_format(system: &str, text: &str) -> Result<EventFormat, FormatError> {
    let mut name = None;
    let mut id = None;
    let mut fields = Vec::new();
    let mut print_fmt = String::new();
    for (at, line) in text
        .lines()
        .map(|l| (l.as_ptr() as usize - text.as_ptr() as usize, l))
    {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = t.strip_prefix("ID:") {
            id = v.trim().parse().ok();
        } else if t.starts_with("field:") {
            fields.push(parse_field_line(t)?);
        } else if t.starts_with("print fmt:") {
            // The print fmt is the rest of the file: its strings may hold newlines
            // (ext4's fsmap events).
            let start = at + line.find("print fmt:").unwrap_or(0) + "print fmt:".len();
            print_fmt = text[start..].trim().to_string();
            break;
        }
    }
    let name = name.ok_or(FormatError::Missing { key: "name" })?;
    let printer = match plugins::Plugin::for_event(system, &name, &fields) {
        Some(plugin) => Printer::Plugin(plugin),
        None => match PrintFmt::compile(&print_fmt, &fields) {
            Ok(compiled) => Printer::PrintFmt(compiled),
            Err(error) => Printer::Fields(error),
        },
    };
    let call_site = (system == "kmem" && CALL_SITE_EVENTS.contains(&name.as_str()))
        .then(|| {
            fields
                .iter()
                .position(|f| !f.is_common && f.name == "call_site")
        })
        .flatten();
    Ok(EventFormat {
        call_site,
        id: id.ok_or(FormatError::Missing { key: "ID" })?,
        system: system.to_string(),
        name,
        fields,
        print_fmt,
        printer,
    })
}

impl Field {
    /// The field's integer value in `record`, sign-extended when the field is signed;
    /// None when the record is too short or the field is not 1, 2, 4 or 8 bytes.
    pub fn int(&self, record: &[u8]) -> Option<i128> {
        printfmt::eval::read_int(record.get(self.offset..)?, self.size, self.signed)
    }

    /// The field's value in `record` read as unsigned (addresses, times, depths).
    pub fn uint(&self, record: &[u8]) -> Option<u64> {
        printfmt::eval::read_int(record.get(self.offset..)?, self.size, false).map(|v| v as u64)
    }

    /// The field's bytes in `record`: the payload of a `__data_loc` / `__rel_loc`
    /// field, else the bytes it spans.
    pub fn bytes<'a>(&self, record: &'a [u8]) -> Option<&'a [u8]> {
        printfmt::eval::field_bytes(self, record)
    }
}

impl EventFormat {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Appends the payload as trace-cmd report prints it after "name: ". `indent` is a
    /// function tracer call's level ([`plugins::FunctionIndents`]); 0 elsewhere.
    pub fn render_payload(
        &self,
        data: &[u8],
        syms: &dyn SymbolLookup,
        indent: usize,
        out: &mut Vec<u8>,
    ) {
        if let Some(call_site) = self.call_site.and_then(|i| self.fields.get(i))
            && let Some(addr) = call_site.uint(data)
            && let Some((function, offset)) = syms.kernel_symbol(addr)
        {
            // The plugin prints the offset as a C int with %x.
            let _ = write!(out, "({function}+0x{:x}) ", offset as u32);
        }
        let start = out.len();
        let rendered = match &self.printer {
            Printer::Plugin(plugin) => plugin
                .render(&self.fields, data, syms, indent, out)
                .is_some(),
            Printer::PrintFmt(print) => print.render(&self.fields, data, syms, out),
            Printer::Fields(_) => {
                self.render_unparsed(data, out);
                true
            }
        };
        if !rendered {
            out.truncate(start);
            self.render_fields(data, out);
        }
    }

    /// What libtraceevent prints for an event whose print fmt it cannot parse:
    /// `[FAILED TO PARSE]` and ` name=value` for every non-common field (strings as
    /// text, other arrays as `ARRAY[0a, 0b]`, pointers and longs in hex, signed numbers
    /// signed, others unsigned).
    pub fn render_unparsed(&self, data: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(b"[FAILED TO PARSE]");
        for field in self.fields.iter().filter(|f| !f.is_common) {
            let _ = write!(out, " {}=", field.name);
            write_raw_field(field, data, out);
        }
    }

    /// `name=value` for every non-common field: numbers in decimal, strings as text,
    /// other arrays as hex bytes.
    pub fn render_fields(&self, data: &[u8], out: &mut Vec<u8>) {
        let mut first = true;
        for field in self.fields.iter().filter(|f| !f.is_common) {
            if !first {
                out.push(b' ');
            }
            first = false;
            let _ = write!(out, "{}=", field.name);
            write_field_value(field, data, out, false);
        }
    }

    /// Appends `"field":value,...` (no braces) for JSON output; common fields skipped.
    pub fn write_json_fields(&self, data: &[u8], out: &mut Vec<u8>) {
        let mut first = true;
        for field in self.fields.iter().filter(|f| !f.is_common) {
            if !first {
                out.push(b',');
            }
            first = false;
            json_string::write_string(out, &field.name);
            out.push(b':');
            write_field_value(field, data, out, true);
        }
    }
}

/// A field's value as text, as `render_fields` prints it (numbers in decimal, strings as
/// text, other arrays as `{a,b,…}`).
pub fn field_text(field: &Field, data: &[u8]) -> String {
    let mut out = Vec::new();
    write_field_value(field, data, &mut out, false);
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the field holds text (char arrays and strings).
pub fn holds_text(field: &Field) -> bool {
    is_text(field)
}

/// True for char arrays and strings (printed as text).
fn is_text(field: &Field) -> bool {
    field.type_name.contains("char") && field.kind != FieldKind::Scalar
}

/// A field as libtraceevent's `print_field_raw` prints it.
fn write_raw_field(field: &Field, data: &[u8], out: &mut Vec<u8>) {
    let is_long = field.type_name.contains("long");
    if field.kind != FieldKind::Scalar {
        let bytes = field_bytes(field, data).unwrap_or(&[]);
        let is_string = ["char", "u8", "s8"]
            .iter()
            .any(|t| field.type_name.contains(t));
        let text = c_text(bytes);
        if is_string
            && text
                .iter()
                .all(|&b| (0x20..0x7f).contains(&b) || b.is_ascii_whitespace())
        {
            out.extend_from_slice(text);
            return;
        }
        out.extend_from_slice(b"ARRAY[");
        for (i, byte) in bytes.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            let _ = write!(out, "{byte:02x}");
        }
        out.push(b']');
        return;
    }
    let Some(value) = read_int(data.get(field.offset..).unwrap_or(&[]), field.size, false) else {
        return;
    };
    let value = value as u64;
    if field.type_name.contains('*') {
        let _ = write!(out, "0x{value:x}");
    } else if field.signed {
        let _ = match field.size {
            4 if is_long => write!(out, "0x{:x}", value as u32),
            4 => write!(out, "{}", value as u32 as i32),
            2 => write!(out, "{:2}", value as u16 as i16),
            1 => write!(out, "{}", value as u8 as i8),
            _ => write!(out, "{}", value as i64),
        };
    } else if is_long {
        let _ = write!(out, "0x{value:x}");
    } else {
        let _ = write!(out, "{value}");
    }
}

/// The bytes up to the first NUL.
fn c_text(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

fn write_field_value(field: &Field, data: &[u8], out: &mut Vec<u8>, json: bool) {
    if field.kind == FieldKind::Scalar {
        match read_int(
            data.get(field.offset..).unwrap_or(&[]),
            field.size,
            field.signed,
        ) {
            Some(v) => {
                let _ = write!(out, "{v}");
            }
            None if json => out.extend_from_slice(b"null"),
            None => out.push(b'?'),
        }
        return;
    }
    // A record shorter than a fixed array (the kernel's stack arrays hold as many
    // frames as were found) shows what it holds.
    let bytes = field_bytes(field, data)
        .or_else(|| match field.kind {
            FieldKind::Array { .. } => data.get(field.offset..),
            _ => None,
        })
        .unwrap_or(&[]);
    if is_text(field) {
        let text = match bytes.iter().position(|&b| b == 0) {
            Some(end) => &bytes[..end],
            None => bytes,
        };
        let text = String::from_utf8_lossy(text);
        if json {
            json_string::write_string(out, &text);
        } else {
            out.extend_from_slice(text.as_bytes());
        }
        return;
    }
    let element = printfmt::eval::element_size(field);
    let signed = field.signed;
    if json {
        out.push(b'[');
    } else {
        out.push(b'{');
    }
    for (i, chunk) in bytes.chunks(element).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match read_int(chunk, element, signed) {
            Some(v) if json => {
                let _ = write!(out, "{v}");
            }
            Some(v) => {
                let _ = write!(out, "0x{:x}", v as u64);
            }
            None => out.push(b'0'),
        }
    }
    out.push(if json { b']' } else { b'}' });
}

#[cfg(test)]
mod libtraceevent_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (tests/fuzz/crashes): header_page texts naming a page no kernel
    /// writes, and field offsets near usize::MAX.
    #[test]
    fn impossible_page_headers_and_fields_are_refused() {
        let header = |commit: usize, data: usize| {
            format!(
                "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\
                 \tfield: local_t commit;\toffset:8;\tsize:{commit};\tsigned:1;\n\
                 \tfield: char data;\toffset:{data};\tsize:4080;\tsigned:1;\n"
            )
        };
        let page = parse_header_page(&header(8, 16)).unwrap();
        assert_eq!((page.commit_size, page.data_offset), (8, 16));
        let page = parse_header_page(&header(4, 12)).unwrap();
        assert_eq!((page.commit_size, page.data_offset), (4, 12));
        for (commit, data) in [(8, 1), (8, 12), (3, 16), (16, 32), (8, 4096)] {
            assert!(
                matches!(
                    parse_header_page(&header(commit, data)),
                    Err(FormatError::BadPageHeader { .. })
                ),
                "commit {commit}, data {data}"
            );
        }
        let huge = format!(
            "field:int x;\toffset:{};\tsize:8;\tsigned:1;",
            usize::MAX - 3
        );
        assert!(matches!(
            parse_field_line(&huge),
            Err(FormatError::BadField { .. })
        ));
        let past = "field:int x;\toffset:1048574;\tsize:4;\tsigned:1;";
        assert!(parse_field_line(past).is_err());
        let last = "field:int x;\toffset:1048572;\tsize:4;\tsigned:1;";
        assert_eq!(parse_field_line(last).unwrap().offset, 1_048_572);
    }
}
