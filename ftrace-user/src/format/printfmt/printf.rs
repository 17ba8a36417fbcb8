//! One value through one printf conversion, as the kernel's vsnprintf and
//! libtraceevent print it.

use super::{
    eval::Value,
    spec::{Conversion, Length},
};
use crate::format::SymbolLookup;

/// Widest a width or precision is taken: the kernel prints an event into one
/// page-sized trace_seq, so no real conversion pads beyond it, and a damaged file's
/// `%999999999999lx` must not ask for that much memory per record.
pub const MAX_WIDTH: usize = 4096;

fn clamped(value: u128) -> usize {
    usize::try_from(value).map_or(MAX_WIDTH, |v| v.min(MAX_WIDTH))
}

pub fn write_value(
    out: &mut Vec<u8>,
    conversion: &Conversion,
    width: Option<i128>,
    precision: Option<i128>,
    value: &Value<'_>,
    symbols: &dyn SymbolLookup,
) {
    let (mut left, width) = match width {
        Some(w) if w < 0 => (true, clamped(w.unsigned_abs())),
        Some(w) => (false, clamped(w.unsigned_abs())),
        None => (false, 0),
    };
    left |= conversion.left;
    let precision = precision.and_then(|p| u128::try_from(p).ok()).map(clamped);
    let start = out.len();
    let mut zero_pad = false;
    match conversion.kind {
        b's' => match value {
            Value::Str(s) => out.extend_from_slice(cut(s, precision)),
            Value::Bytes { data, .. } => out.extend_from_slice(cut(until_nul(data), precision)),
            Value::Int(v) => write_decimal(out, v.unsigned_abs(), *v < 0),
        },
        b'c' => out.push(value.as_int() as u8),
        b'p' => write_pointer(out, conversion, value, symbols),
        kind => {
            zero_pad = conversion.zero && !left && precision.is_none();
            write_integer(
                out,
                conversion,
                kind,
                value.as_int(),
                precision,
                zero_pad.then_some(width),
            );
        }
    }
    let written = out.len() - start;
    if width <= written {
        return;
    }
    let pad = width - written;
    if left {
        out.resize(out.len() + pad, b' ');
    } else if !zero_pad {
        out.splice(start..start, std::iter::repeat_n(b' ', pad));
    }
}

/// An integer conversion (d i u x X o), zero-padded to `zero_width` if given.
fn write_integer(
    out: &mut Vec<u8>,
    conversion: &Conversion,
    kind: u8,
    value: i128,
    precision: Option<usize>,
    zero_width: Option<usize>,
) {
    let signed = matches!(kind, b'd' | b'i');
    let v = truncate(value, conversion.length, signed);
    let negative = v < 0;
    let magnitude = v.unsigned_abs() as u64;
    let mut digits = [0u8; 24];
    let mut at = digits.len();
    let mut m = magnitude;
    // Constant divisors per base, so the compiler emits shifts and multiplies.
    match kind {
        b'x' | b'X' => {
            let table: &[u8; 16] = if kind == b'X' {
                b"0123456789ABCDEF"
            } else {
                b"0123456789abcdef"
            };
            loop {
                at -= 1;
                digits[at] = table[(m & 15) as usize];
                m >>= 4;
                if m == 0 {
                    break;
                }
            }
        }
        b'o' => loop {
            at -= 1;
            digits[at] = b'0' + (m & 7) as u8;
            m >>= 3;
            if m == 0 {
                break;
            }
        },
        _ => loop {
            at -= 1;
            digits[at] = b'0' + (m % 10) as u8;
            m /= 10;
            if m == 0 {
                break;
            }
        },
    }
    let mut digits = &digits[at..];
    if precision == Some(0) && magnitude == 0 {
        digits = &[];
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
    out.extend_from_slice(sign);
    out.extend_from_slice(prefix);
    let mut zeros = precision
        .map(|p| p.saturating_sub(digits.len()))
        .unwrap_or(0);
    if let Some(width) = zero_width {
        zeros = zeros.max(width.saturating_sub(sign.len() + prefix.len() + digits.len()));
    }
    out.resize(out.len() + zeros, b'0');
    out.extend_from_slice(digits);
}

fn write_decimal(out: &mut Vec<u8>, magnitude: u128, negative: bool) {
    if negative {
        out.push(b'-');
    }
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    let mut m = magnitude;
    loop {
        at -= 1;
        digits[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn cut(text: &[u8], precision: Option<usize>) -> &[u8] {
    match precision {
        Some(p) if p < text.len() => &text[..p],
        _ => text,
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
            // As libtraceevent prints them: %ps/%pf name the function (%pS/%pF with
            // its offset, +0x0 too), other pointers are glibc's %p ("(nil)" for 0).
            let addr = value.as_int() as u64;
            let symbolic = matches!(ext.chars().next(), Some('s' | 'S' | 'f' | 'F'));
            match symbols.kernel_symbol(addr).filter(|_| symbolic) {
                Some((name, offset)) => {
                    out.extend_from_slice(name.as_bytes());
                    if ext.starts_with(['S', 'F']) {
                        out.extend_from_slice(format!("+0x{offset:x}").as_bytes());
                    }
                }
                None if addr == 0 && !symbolic => out.extend_from_slice(b"(nil)"),
                None => out.extend_from_slice(format!("0x{addr:x}").as_bytes()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::{Segment, parse_format};
    use super::*;

    struct NoSymbols;

    impl SymbolLookup for NoSymbols {
        fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)> {
            (addr >= 0x1000).then(|| ("do_work", addr - 0x1000))
        }

        fn printk_string(&self, _addr: u64) -> Option<&str> {
            None
        }
    }

    fn fmt(format: &str, value: Value<'_>) -> String {
        let segments = parse_format(format.as_bytes()).unwrap();
        let Segment::Conversion(conversion) = &segments[0] else {
            panic!("no conversion in {format}")
        };
        let mut out = Vec::new();
        let width = match conversion.width {
            Some(super::super::spec::Width::Fixed(w)) => Some(w as i128),
            _ => None,
        };
        let precision = match conversion.precision {
            Some(super::super::spec::Width::Fixed(p)) => Some(p as i128),
            _ => None,
        };
        write_value(&mut out, conversion, width, precision, &value, &NoSymbols);
        String::from_utf8(out).unwrap()
    }

    /// Found by fuzzing (tests/fuzz/crashes/event_format/print-fmt-huge-width): a
    /// width of 10^24 asked for more memory than exists.
    #[test]
    fn huge_widths_and_precisions_pad_one_page_at_most() {
        let wide = fmt("%999999999999999999999999lx", Value::Int(1));
        assert_eq!((wide.len(), wide.trim_start()), (MAX_WIDTH, "1"));
        let left = fmt("%-99999999s", Value::Str(b"ab"[..].into()));
        assert_eq!((left.len(), left.trim_end()), (MAX_WIDTH, "ab"));
        let zeros = fmt("%.99999999d", Value::Int(7));
        assert_eq!(zeros.len(), MAX_WIDTH);
        assert!(zeros.ends_with("07"));
        assert_eq!(fmt("%5lx", Value::Int(0xab)), "   ab");
    }

    #[test]
    fn integers_follow_c_printf() {
        for (format, value, expected) in [
            ("%d", -5, "-5"),
            ("%d", 0xffff_ffff, "-1"),
            ("%u", -1, "4294967295"),
            ("%ld", -1, "-1"),
            ("%lu", -1, "18446744073709551615"),
            ("%lx", 0x55cd4db7c9bc, "55cd4db7c9bc"),
            ("%x", -1, "ffffffff"),
            ("%03d", 7, "007"),
            ("%5d", 42, "   42"),
            ("%-5d|", 42, "42   "),
            ("%#x", 255, "0xff"),
            ("%#X", 255, "0XFF"),
            ("%o", 8, "10"),
            ("%.3d", 5, "005"),
            ("%+d", 5, "+5"),
            ("%hhd", 0x1ff, "-1"),
            ("%hu", 0x1_0005, "5"),
            ("%c", 65, "A"),
        ] {
            assert_eq!(fmt(format, Value::Int(value)), expected, "{format}");
        }
    }

    #[test]
    fn strings_and_pointers() {
        assert_eq!(
            fmt(
                "%s",
                Value::Bytes {
                    data: b"bash\0junk",
                    element: 1
                }
            ),
            "bash"
        );
        assert_eq!(fmt("%.2s", Value::Str(b"abcdef"[..].into())), "ab");
        assert_eq!(fmt("%-6s", Value::Str(b"ab"[..].into())), "ab    ");
        assert_eq!(fmt("%6s", Value::Str(b"ab"[..].into())), "    ab");
        assert_eq!(fmt("%ps", Value::Int(0x1010)), "do_work");
        assert_eq!(fmt("%pS", Value::Int(0x1010)), "do_work+0x10");
        assert_eq!(fmt("%ps", Value::Int(0x10)), "0x10");
        assert_eq!(fmt("%p", Value::Int(0x1010)), "0x1010");
        assert_eq!(
            fmt(
                "%pI4",
                Value::Bytes {
                    data: &[127, 0, 0, 1],
                    element: 1
                }
            ),
            "127.0.0.1"
        );
    }
}
