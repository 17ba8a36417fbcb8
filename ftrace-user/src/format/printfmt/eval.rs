//! Evaluating argument expressions against one record's bytes.

use std::borrow::Cow;

use super::parser::{BinOp, Expr, Helper, IntType, UnOp};
use crate::format::{Field, FieldKind};

/// A value an argument evaluates to.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Int(i128),
    /// Text (literals, symbol names).
    Str(Cow<'a, [u8]>),
    /// Array data from the record with its element size.
    Bytes {
        data: &'a [u8],
        element: usize,
    },
}

impl Value<'_> {
    pub fn as_int(&self) -> i128 {
        match self {
            Value::Int(v) => *v,
            Value::Str(s) => i128::from(!s.is_empty()),
            Value::Bytes { data, .. } => i128::from(!data.is_empty()),
        }
    }
}

/// Reads a little-endian integer of `size` bytes, sign-extended when `signed`.
#[inline]
pub fn read_int(bytes: &[u8], size: usize, signed: bool) -> Option<i128> {
    let b = bytes.get(..size)?;
    let raw: u64 = match size {
        1 => u64::from(b[0]),
        2 => u64::from(u16::from_le_bytes([b[0], b[1]])),
        4 => u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        8 => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        _ => return None,
    };
    Some(if signed {
        let shift = 64 - size * 8;
        i128::from(((raw << shift) as i64) >> shift)
    } else {
        i128::from(raw)
    })
}

/// The bytes of a field that holds an array, string or dynamic data.
pub fn field_bytes<'a>(field: &Field, data: &'a [u8]) -> Option<&'a [u8]> {
    match field.kind {
        FieldKind::DataLoc | FieldKind::RelLoc => {
            let loc = read_int(data.get(field.offset..)?, 4, false)? as u32;
            let mut offset = (loc & 0xffff) as usize;
            let len = (loc >> 16) as usize;
            if field.kind == FieldKind::RelLoc {
                offset += field.offset + field.size;
            }
            data.get(offset..offset.checked_add(len)?)
        }
        FieldKind::DynamicTail => data.get(field.offset..),
        FieldKind::Array { .. } | FieldKind::Scalar => {
            data.get(field.offset..field.offset.checked_add(field.size)?)
        }
    }
}

pub fn element_size(field: &Field) -> usize {
    match field.kind {
        FieldKind::Array { len } if len > 0 => (field.size / len).max(1),
        _ => {
            // "unsigned long args[6]" style dynamic arrays: element from the type.
            let t = field.type_name.as_str();
            if t.contains("long") || t.contains("64") {
                8
            } else if t.contains("int") || t.contains("32") {
                4
            } else if t.contains("short") || t.contains("16") {
                2
            } else {
                1
            }
        }
    }
}

/// libtraceevent's cast: the value masked to the type's size (its sign is for the
/// printf conversion to apply).
fn cast(value: i128, to: IntType) -> i128 {
    let bits = u32::from(to.bytes) * 8;
    let masked = (value as u128) & ((1u128 << bits) - 1);
    masked as i128
}

/// C's cast: masked to the type's size, sign-extended to signed types.
fn c_cast(value: i128, to: IntType) -> i128 {
    let bits = u32::from(to.bytes) * 8;
    let masked = (value as u128) & ((1u128 << bits) - 1);
    if to.signed && masked >> (bits - 1) & 1 == 1 {
        masked as i128 - (1i128 << bits)
    } else {
        masked as i128
    }
}

/// A binary operation as C computes it on (wide enough) signed values.
fn c_binary(op: BinOp, l: i128, r: i128) -> i128 {
    match op {
        BinOp::Mul => l.wrapping_mul(r),
        BinOp::Div => l.checked_div(r).unwrap_or(0),
        BinOp::Rem => l.checked_rem(r).unwrap_or(0),
        BinOp::Add => l.wrapping_add(r),
        BinOp::Sub => l.wrapping_sub(r),
        BinOp::Shl => l.checked_shl(r.clamp(0, 127) as u32).unwrap_or(0),
        BinOp::Shr => l >> r.clamp(0, 127),
        BinOp::Lt => i128::from(l < r),
        BinOp::Gt => i128::from(l > r),
        BinOp::Le => i128::from(l <= r),
        BinOp::Ge => i128::from(l >= r),
        BinOp::Eq => i128::from(l == r),
        BinOp::Ne => i128::from(l != r),
        BinOp::BitAnd => l & r,
        BinOp::BitXor => l ^ r,
        BinOp::BitOr => l | r,
        BinOp::And | BinOp::Or => i128::from(r != 0),
    }
}

/// A field read: libtraceevent reads a field the record is too short for as 0.
fn past_the_end(read: Option<i128>, rules: Arithmetic) -> Option<i128> {
    match rules {
        Arithmetic::Libtraceevent => Some(read.unwrap_or(0)),
        Arithmetic::C => read,
    }
}

/// A value as libtraceevent computes with it: an unsigned 64-bit number.
fn u64_of(value: i128) -> u64 {
    value as u64
}

fn int(value: u64) -> Value<'static> {
    Value::Int(i128::from(value))
}

/// An atom's value: the number it spells (C's strtoull), else 0.
fn atom_value(atom: &str) -> u64 {
    let (digits, radix) = match atom.strip_prefix("0x").or_else(|| atom.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None if atom.len() > 1 && atom.starts_with('0') => (&atom[1..], 8),
        None => (atom, 10),
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    u64::from_str_radix(&digits[..end], radix).unwrap_or(0)
}

/// How expressions compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arithmetic {
    /// As libtraceevent (so trace-cmd report) does: fields read unsigned, arithmetic
    /// and comparisons on unsigned 64-bit numbers, casts masking (a printf conversion
    /// then takes the bits it prints as signed or not).
    Libtraceevent,
    /// As the kernel's C does: signed fields sign-extended, signed comparisons, casts
    /// sign-extending to signed types.
    C,
}

/// Evaluates `expr` by `rules`; None when the record is too short for a field it
/// reads.
pub fn eval<'a>(
    expr: &'a Expr,
    fields: &[Field],
    data: &'a [u8],
    rules: Arithmetic,
) -> Option<Value<'a>> {
    let signed_reads = rules == Arithmetic::C;
    Some(match expr {
        Expr::Num(n) => Value::Int(*n),
        Expr::Atom(atom) => int(atom_value(atom)),
        Expr::SizeOf(index) => int(fields.get(*index)?.size as u64),
        Expr::Load {
            offset,
            size,
            signed,
        } => Value::Int(past_the_end(
            data.get(*offset..)
                .and_then(|d| read_int(d, *size, *signed && signed_reads)),
            rules,
        )?),
        Expr::Str(s) => Value::Str(Cow::Borrowed(s)),
        Expr::Field(index) => {
            let field = fields.get(*index)?;
            match field.kind {
                FieldKind::Scalar => Value::Int(past_the_end(
                    data.get(field.offset..)
                        .and_then(|d| read_int(d, field.size, field.signed && signed_reads)),
                    rules,
                )?),
                _ => Value::Bytes {
                    data: field_bytes(field, data)?,
                    element: element_size(field),
                },
            }
        }
        Expr::Index(array, index) => {
            let index = eval(index, fields, data, rules)?.as_int();
            let signed = match array.as_ref() {
                Expr::Field(i) => signed_reads && fields.get(*i).is_some_and(|f| f.signed),
                _ => false,
            };
            match eval(array, fields, data, rules)? {
                Value::Bytes {
                    data: bytes,
                    element,
                } => {
                    let at = usize::try_from(index).ok()?.checked_mul(element)?;
                    Value::Int(read_int(bytes.get(at..)?, element, signed)?)
                }
                Value::Str(s) => Value::Int(i128::from(*s.get(usize::try_from(index).ok()?)?)),
                Value::Int(_) => return None,
            }
        }
        Expr::Unary(op, inner) if rules == Arithmetic::C => {
            let v = eval(inner, fields, data, rules)?.as_int();
            Value::Int(match op {
                UnOp::Not => i128::from(v == 0),
                UnOp::BitNot => !v,
                UnOp::Neg => -v,
            })
        }
        Expr::Unary(op, inner) => {
            let v = u64_of(eval(inner, fields, data, rules)?.as_int());
            int(match op {
                UnOp::Not => u64::from(v == 0),
                UnOp::BitNot => !v,
                UnOp::Neg => 0u64.wrapping_sub(v),
            })
        }
        Expr::Cast(to, inner) => {
            let value = eval(inner, fields, data, rules)?;
            match (to, value) {
                (Some(to), Value::Int(v)) if rules == Arithmetic::C => Value::Int(c_cast(v, *to)),
                (Some(to), Value::Int(v)) => Value::Int(cast(v, *to)),
                (_, other) => other,
            }
        }
        Expr::Binary(op, left, right) => {
            let l = eval(left, fields, data, rules)?.as_int();
            if *op == BinOp::And && l == 0 {
                return Some(Value::Int(0));
            }
            if *op == BinOp::Or && l != 0 {
                return Some(Value::Int(1));
            }
            let r = eval(right, fields, data, rules)?.as_int();
            if rules == Arithmetic::C {
                return Some(Value::Int(c_binary(*op, l, r)));
            }
            let (l, r) = (u64_of(l), u64_of(r));
            // Shift counts as x86 takes them (modulo 64).
            let count = (r & 63) as u32;
            int(match op {
                BinOp::Mul => l.wrapping_mul(r),
                BinOp::Div => l.checked_div(r).unwrap_or(0),
                BinOp::Rem => l.checked_rem(r).unwrap_or(0),
                BinOp::Add => l.wrapping_add(r),
                BinOp::Sub => l.wrapping_sub(r),
                BinOp::Shl => l << count,
                BinOp::Shr => l >> count,
                BinOp::Lt => u64::from(l < r),
                BinOp::Gt => u64::from(l > r),
                BinOp::Le => u64::from(l <= r),
                BinOp::Ge => u64::from(l >= r),
                BinOp::Eq => u64::from(l == r),
                BinOp::Ne => u64::from(l != r),
                BinOp::BitAnd => l & r,
                BinOp::BitXor => l ^ r,
                BinOp::BitOr => l | r,
                BinOp::And | BinOp::Or => u64::from(r != 0),
            })
        }
        Expr::Ternary(condition, then, otherwise) => {
            if eval(condition, fields, data, rules)?.as_int() != 0 {
                eval(then, fields, data, rules)?
            } else {
                eval(otherwise, fields, data, rules)?
            }
        }
        Expr::Symbolic(value, table) => {
            // Compared as libtraceevent's signed long longs.
            let v = i128::from(u64_of(eval(value, fields, data, rules)?.as_int()) as i64);
            match table.iter().find(|(k, _)| *k == v) {
                Some((_, name)) => Value::Str(Cow::Borrowed(name)),
                None => Value::Str(Cow::Owned(format!("0x{:x}", v as u64).into_bytes())),
            }
        }
        Expr::Flags(value, delimiter, table) => {
            // libtraceevent's loop: with no flag set the first entry it could not
            // value (-1) is printed; entries of value 0 never are.
            let mut v = i128::from(u64_of(eval(value, fields, data, rules)?.as_int()) as i64);
            let mut out = Vec::new();
            for (bit, name) in table {
                if v == 0 && *bit < 0 {
                    out.extend_from_slice(name);
                    break;
                }
                if *bit > 0 && v & bit == *bit {
                    if !out.is_empty() {
                        out.extend_from_slice(delimiter);
                    }
                    out.extend_from_slice(name);
                    v &= !bit;
                }
            }
            if v != 0 {
                if !out.is_empty() {
                    out.extend_from_slice(delimiter);
                }
                out.extend_from_slice(format!("0x{:x}", v as u64).as_bytes());
            }
            Value::Str(Cow::Owned(out))
        }
        Expr::Call(helper, args) => call(*helper, args, fields, data, rules)?,
    })
}

fn call<'a>(
    helper: Helper,
    args: &'a [Expr],
    fields: &[Field],
    data: &'a [u8],
    rules: Arithmetic,
) -> Option<Value<'a>> {
    let arg = |i: usize| eval(args.get(i)?, fields, data, rules);
    Some(match helper {
        Helper::GetStr | Helper::GetDynamicArray | Helper::GetBitmask => arg(0)?,
        Helper::GetDynamicArrayLen => match arg(0)? {
            Value::Bytes { data, .. } => Value::Int(data.len() as i128),
            _ => Value::Int(0),
        },
        Helper::PrintHex | Helper::PrintHexStr => {
            let Value::Bytes { data: bytes, .. } = arg(0)? else {
                return None;
            };
            let len = usize::try_from(arg(1)?.as_int()).ok()?.min(bytes.len());
            let mut out = Vec::with_capacity(len * 3);
            for (i, b) in bytes[..len].iter().enumerate() {
                if i > 0 && helper == Helper::PrintHex {
                    out.push(b' ');
                }
                out.extend_from_slice(format!("{b:02x}").as_bytes());
            }
            Value::Str(Cow::Owned(out))
        }
        Helper::PrintArray => {
            let Value::Bytes { data: bytes, .. } = arg(0)? else {
                return None;
            };
            let count = usize::try_from(arg(1)?.as_int()).ok()?;
            let element = usize::try_from(arg(2)?.as_int()).ok()?;
            let mut out = vec![b'{'];
            for i in 0..count {
                let Some(v) = bytes
                    .get(i * element..)
                    .and_then(|b| read_int(b, element, false))
                else {
                    break;
                };
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(format!("0x{:x}", v as u64).as_bytes());
            }
            out.push(b'}');
            Value::Str(Cow::Owned(out))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_wrap_and_sign_extend() {
        assert_eq!(
            c_cast(
                -1,
                IntType {
                    bytes: 4,
                    signed: false
                }
            ),
            0xffff_ffff
        );
        assert_eq!(
            c_cast(
                0xffff_fffe,
                IntType {
                    bytes: 4,
                    signed: true
                }
            ),
            -2
        );
        assert_eq!(
            c_cast(
                0x1_0000_0005,
                IntType {
                    bytes: 4,
                    signed: true
                }
            ),
            5
        );
        assert_eq!(read_int(&[0xfe, 0xff], 2, true), Some(-2));
        assert_eq!(read_int(&[0xfe, 0xff], 2, false), Some(0xfffe));
        assert_eq!(read_int(&[1], 2, false), None);
    }
}
