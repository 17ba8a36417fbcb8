//! The format string of a print fmt split into literal text and conversions.

use super::PrintFmtError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Fixed(usize),
    /// `*`: taken from the next argument.
    Star,
}

/// Integer length modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Default,
    Char,
    Short,
    Long,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub left: bool,
    pub zero: bool,
    pub plus: bool,
    pub space: bool,
    pub alternate: bool,
    pub width: Option<Width>,
    pub precision: Option<Width>,
    pub length: Length,
    /// d i u x X o c s p
    pub kind: u8,
    /// Letters after %p (`s`, `S`, `B`, `K`, `I4`, `M`, …).
    pub pointer_ext: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(Vec<u8>),
    Conversion(Conversion),
}

pub fn parse_format(format: &[u8]) -> Result<Vec<Segment>, PrintFmtError> {
    let mut segments = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while i < format.len() {
        if format[i] != b'%' {
            literal.push(format[i]);
            i += 1;
            continue;
        }
        i += 1;
        if format.get(i) == Some(&b'%') {
            literal.push(b'%');
            i += 1;
            continue;
        }
        let mut conversion = Conversion {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alternate: false,
            width: None,
            precision: None,
            length: Length::Default,
            kind: 0,
            pointer_ext: String::new(),
        };
        while let Some(&flag) = format.get(i) {
            match flag {
                b'-' => conversion.left = true,
                b'0' => conversion.zero = true,
                b'+' => conversion.plus = true,
                b' ' => conversion.space = true,
                b'#' => conversion.alternate = true,
                _ => break,
            }
            i += 1;
        }
        conversion.width = parse_width(format, &mut i);
        if format.get(i) == Some(&b'.') {
            i += 1;
            conversion.precision = Some(parse_width(format, &mut i).unwrap_or(Width::Fixed(0)));
        }
        loop {
            match format.get(i) {
                Some(b'h') => {
                    conversion.length = if conversion.length == Length::Short {
                        Length::Char
                    } else {
                        Length::Short
                    };
                }
                Some(b'l' | b'L' | b'q' | b'j' | b'z' | b'Z' | b't') => {
                    conversion.length = Length::Long;
                }
                _ => break,
            }
            i += 1;
        }
        let kind = *format.get(i).ok_or_else(|| PrintFmtError::Syntax {
            message: "format ends inside a conversion".into(),
        })?;
        i += 1;
        match kind {
            b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'c' | b's' => {}
            b'p' => {
                while let Some(&c) = format.get(i) {
                    if c.is_ascii_alphanumeric() {
                        conversion.pointer_ext.push(c as char);
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
            other => {
                return Err(PrintFmtError::Unsupported {
                    what: format!("conversion %{}", other as char),
                });
            }
        }
        conversion.kind = kind;
        if !literal.is_empty() {
            segments.push(Segment::Literal(std::mem::take(&mut literal)));
        }
        segments.push(Segment::Conversion(conversion));
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

fn parse_width(format: &[u8], i: &mut usize) -> Option<Width> {
    if format.get(*i) == Some(&b'*') {
        *i += 1;
        return Some(Width::Star);
    }
    let start = *i;
    let mut value = 0usize;
    while let Some(&c) = format.get(*i) {
        if !c.is_ascii_digit() {
            break;
        }
        value = value
            .saturating_mul(10)
            .saturating_add(usize::from(c - b'0'));
        *i += 1;
    }
    (*i > start).then_some(Width::Fixed(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_literals_and_conversions() {
        let segments = parse_format(b"NR %ld (%lx) %03d %-5s%% %ps %*d %.2s").unwrap();
        let kinds: Vec<String> = segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => format!("L{}", String::from_utf8_lossy(l)),
                Segment::Conversion(c) => format!(
                    "C{}{}{:?}{:?}{:?}{}",
                    c.kind as char,
                    if c.zero { "0" } else { "" },
                    c.width,
                    c.precision,
                    c.length,
                    c.pointer_ext
                ),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "LNR ",
                "CdNoneNoneLong",
                "L (",
                "CxNoneNoneLong",
                "L) ",
                "Cd0Some(Fixed(3))NoneDefault",
                "L ",
                "CsSome(Fixed(5))NoneDefault",
                "L% ",
                "CpNoneNoneDefaults",
                "L ",
                "CdSome(Star)NoneDefault",
                "L ",
                "CsNoneSome(Fixed(2))Default",
            ]
        );
    }
}
