//! An event's `print fmt:` compiled once (format string split into conversions,
//! arguments parsed into expression trees) and rendered per record, the way the kernel
//! and libtraceevent print it.
//!
//! - [`lexer`]: tokens; [`parser`]: argument expressions; [`spec`]: the format string;
//! - [`eval`]: expressions against a record; [`printf`]: values through conversions.

pub(crate) mod eval;
pub(crate) mod lexer;
pub(crate) mod parser;
pub(crate) mod printf;
pub(crate) mod spec;

use thiserror::Error;

use super::{Field, SymbolLookup};
use std::borrow::Cow;

use eval::{Arithmetic, eval};
use lexer::{Token, tokenize};
use parser::{Expr, parse_args};
use spec::{Segment, Width, parse_format};

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PrintFmtError {
    #[error("print fmt syntax: {message}")]
    Syntax { message: String },
    #[error("print fmt names unknown field {field}")]
    UnknownField { field: String },
    #[error("print fmt uses unsupported {what}")]
    Unsupported { what: String },
    #[error("print fmt has {conversions} conversions but {args} arguments")]
    ArgumentCount { conversions: usize, args: usize },
}

/// A compiled print fmt.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintFmt {
    segments: Vec<Segment>,
    args: Vec<Expr>,
}

impl PrintFmt {
    /// Compiles the text after `print fmt:` for an event with `fields`.
    pub fn compile(text: &str, fields: &[Field]) -> Result<PrintFmt, PrintFmtError> {
        let tokens = tokenize(text)?;
        let mut format = Vec::new();
        let mut pos = 0;
        while let Some(Token::Str(s)) = tokens.get(pos) {
            format.extend_from_slice(s);
            pos += 1;
        }
        if pos == 0 {
            return Err(PrintFmtError::Syntax {
                message: "print fmt does not start with a string".into(),
            });
        }
        let rest = match tokens.get(pos) {
            None => &tokens[pos..],
            Some(Token::Op(",")) => &tokens[pos + 1..],
            Some(other) => {
                return Err(PrintFmtError::Syntax {
                    message: format!("expected ',' after the format string, found {other:?}"),
                });
            }
        };
        let args: Vec<Expr> = parse_args(rest, &|name| fields.iter().position(|f| f.name == name))?
            .into_iter()
            .map(|arg| parser::lower(arg, fields))
            .collect();
        let segments = parse_format(&format)?;
        let needed: usize = segments
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => 0,
                Segment::Conversion(c) => {
                    1 + usize::from(c.width == Some(Width::Star))
                        + usize::from(c.precision == Some(Width::Star))
                }
            })
            .sum();
        if needed != args.len() {
            return Err(PrintFmtError::ArgumentCount {
                conversions: needed,
                args: args.len(),
            });
        }
        Ok(PrintFmt { segments, args })
    }

    /// Appends the rendered text, computed as libtraceevent computes it (so as
    /// trace-cmd report prints it): an argument the record is too short for prints as
    /// 0 or an empty string, and the rest of the line as usual.
    pub fn render(
        &self,
        fields: &[Field],
        data: &[u8],
        symbols: &dyn SymbolLookup,
        out: &mut Vec<u8>,
    ) -> bool {
        let mut args = self.args.iter();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.extend_from_slice(text),
                Segment::Conversion(conversion) => {
                    let rules = Arithmetic::Libtraceevent;
                    if !write_conversion(conversion, &mut args, fields, data, symbols, rules, out) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Renders only the first conversion that directly follows literal text ending in
    /// `after` (e.g. the `%s` after `"reason "`), computed as the kernel's C computes
    /// it (signed fields compare as signed: kvm_userspace_exit's `REC->errno < 0`).
    /// None when no conversion follows such text, or the record is too short for its
    /// argument.
    pub fn render_conversion_after(
        &self,
        after: &[u8],
        fields: &[Field],
        data: &[u8],
        symbols: &dyn SymbolLookup,
    ) -> Option<Vec<u8>> {
        let mut args = self.args.iter();
        let mut previous: Option<&Segment> = None;
        for segment in &self.segments {
            if let Segment::Conversion(conversion) = segment {
                if matches!(previous, Some(Segment::Literal(text)) if text.ends_with(after)) {
                    let mut out = Vec::new();
                    return write_conversion(
                        conversion,
                        &mut args,
                        fields,
                        data,
                        symbols,
                        Arithmetic::C,
                        &mut out,
                    )
                    .then_some(out);
                }
                // Skip this conversion's arguments (width, precision, value).
                let star = |w: Option<Width>| usize::from(w == Some(Width::Star));
                let skip = star(conversion.width) + star(conversion.precision);
                for _ in 0..=skip {
                    args.next();
                }
            }
            previous = Some(segment);
        }
        None
    }
}

/// Appends one conversion of the next arguments in `args` (its `*` width and precision
/// first); false if the record was too short for the value.
fn write_conversion<'a>(
    conversion: &spec::Conversion,
    args: &mut impl Iterator<Item = &'a Expr>,
    fields: &[Field],
    data: &[u8],
    symbols: &dyn SymbolLookup,
    rules: Arithmetic,
    out: &mut Vec<u8>,
) -> bool {
    let mut next = || args.next().and_then(|a| eval(a, fields, data, rules));
    let width = match conversion.width {
        Some(Width::Star) => Some(next().map(|v| v.as_int()).unwrap_or(0)),
        Some(Width::Fixed(w)) => Some(w as i128),
        None => None,
    };
    let precision = match conversion.precision {
        Some(Width::Star) => Some(next().map(|v| v.as_int()).unwrap_or(0)),
        Some(Width::Fixed(p)) => Some(p as i128),
        None => None,
    };
    let value = match next() {
        Some(value) => value,
        // libtraceevent's way with a field the record is too short for: that argument
        // is 0 (an empty string), the rest of the line is printed.
        None if rules == Arithmetic::Libtraceevent => match conversion.kind {
            b's' => eval::Value::Str(Cow::Borrowed(b"")),
            _ => eval::Value::Int(0),
        },
        None => return false,
    };
    printf::write_value(out, conversion, width, precision, &value, symbols);
    true
}
