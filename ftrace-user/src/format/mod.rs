//! Event format files (`events/SYS/NAME/format`) and `header_page`, parsed (pure).
//! Interim renderer: field=value pairs.

use std::io::Write as _;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum FormatError {
    #[error("format has no {0} line")]
    Missing(&'static str),
    #[error("bad field line: {0}")]
    BadField(String),
}

pub trait SymbolLookup {
    fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)>;
    fn printk_string(&self, addr: u64) -> Option<&str>;
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
    pub print_fmt: String,
}

#[derive(Debug, Clone)]
pub struct HeaderPage {
    pub commit_size: usize,
    pub data_offset: usize,
}

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
    Ok(HeaderPage {
        commit_size,
        data_offset,
    })
}

fn parse_field_line(line: &str) -> Result<Field, FormatError> {
    let line = line.trim();
    let body = line
        .strip_prefix("field:")
        .ok_or_else(|| FormatError::BadField(line.to_string()))?;
    let mut decl = "";
    let mut offset = None;
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
        return Err(FormatError::BadField(line.to_string()));
    };
    let decl = decl.trim();
    let (type_and_name, array) = match decl.find('[') {
        Some(i) => (
            &decl[..i],
            Some(&decl[i + 1..decl.rfind(']').unwrap_or(decl.len())]),
        ),
        None => (decl, None),
    };
    let name = type_and_name
        .rsplit(|c: char| c.is_whitespace() || c == '*')
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
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = t.strip_prefix("ID:") {
            id = v.trim().parse().ok();
        } else if t.starts_with("field:") {
            fields.push(parse_field_line(t)?);
        } else if let Some(v) = t.strip_prefix("print fmt:") {
            print_fmt = v.trim().to_string();
        }
    }
    Ok(EventFormat {
        id: id.ok_or(FormatError::Missing("ID"))?,
        system: system.to_string(),
        name: name.ok_or(FormatError::Missing("name"))?,
        fields,
        print_fmt,
    })
}

impl EventFormat {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn value(field: &Field, data: &[u8]) -> Option<i128> {
        let b = data.get(field.offset..field.offset + field.size)?;
        let v: u64 = match field.size {
            1 => u64::from(b[0]),
            2 => u64::from(u16::from_le_bytes([b[0], b[1]])),
            4 => u64::from(u32::from_le_bytes(b.try_into().ok()?)),
            8 => u64::from_le_bytes(b.try_into().ok()?),
            _ => return None,
        };
        Some(if field.signed {
            let shift = 64 - field.size * 8;
            i128::from(((v << shift) as i64) >> shift)
        } else {
            i128::from(v)
        })
    }

    pub fn render_payload(&self, data: &[u8], _syms: &dyn SymbolLookup, out: &mut Vec<u8>) {
        let mut first = true;
        for field in self.fields.iter().filter(|f| !f.is_common) {
            if !first {
                out.push(b' ');
            }
            first = false;
            let _ = write!(out, "{}=", field.name);
            match field.kind {
                FieldKind::Scalar => match Self::value(field, data) {
                    Some(v) => {
                        let _ = write!(out, "{v}");
                    }
                    None => out.extend_from_slice(b"?"),
                },
                _ => out.extend_from_slice(b"..."),
            }
        }
    }

    pub fn write_json_fields(&self, data: &[u8], out: &mut Vec<u8>) {
        let mut first = true;
        for field in self
            .fields
            .iter()
            .filter(|f| !f.is_common && f.kind == FieldKind::Scalar)
        {
            if let Some(v) = Self::value(field, data) {
                if !first {
                    out.push(b',');
                }
                first = false;
                let _ = write!(out, "\"{}\":{v}", field.name);
            }
        }
    }
}
