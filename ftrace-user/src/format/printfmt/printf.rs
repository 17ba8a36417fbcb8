//! One value through one printf conversion, as the kernel's vsnprintf and
//! libtraceevent print it.

use super::{
    eval::Value,
    spec::{Conversion, Length},
};
use crate::format::SymbolLookup;

pub fn write_value(
    out: &mut Vec<u8>,
    conversion: &Conversion,
    width: Option<i128>,
    precision: Option<i128>,
    value: &Value<'_>,
    symbols: &dyn SymbolLookup,
) {
    let (mut left, width) = match width {
        Some(w) if w < 0 => (true, Some(w.unsigned_abs() as usize)),
        Some(w) => (false, Some(w as usize)),
        None => (false, None),
    };
    left |= conversion.left;
    let precision = precision.and_then(|p| usize::try_from(p).ok());
    let mut body: Vec<u8> = Vec::new();
    let mut zero_pad = conversion.zero && !left;
    match conversion.kind {
        b's' => {
            zero_pad = false;
            let text: &[u8] = match value {
                Value::Str(s) => s,
                Value::Bytes { data, .. } => until_nul(data),
                Value::Int(v) => {
                    body.extend_from_slice(v.to_string().as_bytes());
                    &[]
                }
            };
            let text = match precision {
                Some(p) if p < text.len() => &text[..p],
                _ => text,
            };
            body.extend_from_slice(text);
        }
        b'c' => {
            zero_pad = false;
            body.push(value.as_int() as u8);
        }
        b'p' => {
            zero_pad = false;
            write_pointer(&mut body, conversion, value, symbols);
        }
        kind => {
            let v = value.as_int();
            let signed = matches!(kind, b'd' | b'i');
            let v = truncate(v, conversion.length, signed);
            let negative = v < 0;
            let magnitude = v.unsigned_abs();
            let mut digits = match kind {
                b'x' => format!("{magnitude:x}"),
                b'X' => format!("{magnitude:X}"),
                b'o' => format!("{magnitude:o}"),
                _ => magnitude.to_string(),
            };
            if let Some(p) = precision {
                zero_pad = false;
                if digits.len() < p {
                    digits = format!("{}{digits}", "0".repeat(p - digits.len()));
                } else if p == 0 && magnitude == 0 {
                    digits.clear();
                }
            }
            let sign: &[u8] = if negative {
                b"-"
            } else if signed && conversion.plus {
                b"+"
            } else if signed && conversion.space {
                b" "
            } else {
                b""
            };
            let prefix: &[u8] = match (conversion.alternate, kind, magnitude) {
                (true, b'x', m) if m != 0 => b"0x",
                (true, b'X', m) if m != 0 => b"0X",
                (true, b'o', m) if m != 0 => b"0",
                _ => b"",
            };
            if zero_pad {
                let used = sign.len() + prefix.len() + digits.len();
                body.extend_from_slice(sign);
                body.extend_from_slice(prefix);
                if let Some(w) = width
                    && w > used
                {
                    body.resize(body.len() + (w - used), b'0');
                }
                body.extend_from_slice(digits.as_bytes());
            } else {
                body.extend_from_slice(sign);
                body.extend_from_slice(prefix);
                body.extend_from_slice(digits.as_bytes());
            }
        }
    }
    let pad = width.map(|w| w.saturating_sub(body.len())).unwrap_or(0);
    if left {
        out.extend_from_slice(&body);
        out.resize(out.len() + pad, b' ');
    } else {
        out.resize(out.len() + pad, if zero_pad { b'0' } else { b' ' });
        out.extend_from_slice(&body);
    }
}

/// The value as the C type the length modifier names (int by default).
fn truncate(v: i128, length: Length, signed: bool) -> i128 {
    let bits = match length {
        Length::Char => 8,
        Length::Short => 16,
        Length::Default => 32,
        Length::Long => 64,
    };
    let masked = (v as u128) & ((1u128 << bits) - 1);
    if signed && (masked >> (bits - 1)) & 1 == 1 {
        masked as i128 - (1i128 << bits)
    } else {
        masked as i128
    }
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

fn write_pointer(
    out: &mut Vec<u8>,
    conversion: &Conversion,
    value: &Value<'_>,
    symbols: &dyn SymbolLookup,
) {
    let ext = conversion.pointer_ext.as_str();
    match (ext, value) {
        (e, Value::Bytes { data, .. }) if e.starts_with("I4") && data.len() >= 4 => {
            out.extend_from_slice(
                format!("{}.{}.{}.{}", data[0], data[1], data[2], data[3]).as_bytes(),
            );
        }
        (e, Value::Bytes { data, .. }) if e.starts_with('M') && data.len() >= 6 => {
            let sep = if e.contains('F') { '-' } else { ':' };
            let parts: Vec<String> = data[..6].iter().map(|b| format!("{b:02x}")).collect();
            out.extend_from_slice(parts.join(&sep.to_string()).as_bytes());
        }
        ("", Value::Str(s)) => out.extend_from_slice(s),
        _ => {
            let addr = value.as_int() as u64;
            let symbolic = matches!(ext.chars().next(), Some('s' | 'S' | 'B' | 'f' | 'F'));
            match symbols.kernel_symbol(addr).filter(|_| symbolic) {
                Some((name, offset)) => {
                    out.extend_from_slice(name.as_bytes());
                    if ext.starts_with(['S', 'B']) && offset != 0 {
                        out.extend_from_slice(format!("+0x{offset:x}").as_bytes());
                    }
                }
                None => out.extend_from_slice(format!("0x{addr:x}").as_bytes()),
            }
        }
    }
}
