//! A compiled `-F` filter tested on one record, as libtraceevent tests it: numbers
//! compared as unsigned 64-bit values (signed fields sign-extended first), strings
//! from char arrays and `__data_loc` strings up to their NUL, a pointer or long field
//! compared with a string by the name of the kernel function at its address (else
//! `0x…` hex). A part that cannot be evaluated (a division by zero, `~` on a number,
//! a field the record is too short for) makes the record not match. Pure.

use std::borrow::Cow;

use super::tree::{Arith, Compare, FieldRef, Literal, Logic, Node, NodeId, StringMatch, Tree};
use crate::format::{Field, FieldKind};

/// What a filter reads of a record besides its bytes.
pub trait RecordFacts {
    /// The record's bytes (common fields first).
    fn data(&self) -> &[u8];
    fn cpu(&self) -> u32;
    /// The command name of the record's task.
    fn comm(&self) -> Cow<'_, str>;
    /// The kernel function at `addr`.
    fn function(&self, addr: u64) -> Option<&str>;
}

/// The record cannot be evaluated: it does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unevaluable;

/// Whether the record with `facts` (of the event with `fields`) passes `tree`.
pub fn passes(tree: &Tree, fields: &[Field], facts: &dyn RecordFacts) -> bool {
    let evaluator = Evaluator {
        tree,
        fields,
        facts,
    };
    evaluator.test(tree.root) == Ok(true)
}

struct Evaluator<'a> {
    tree: &'a Tree,
    fields: &'a [Field],
    facts: &'a dyn RecordFacts,
}

/// Whether libtraceevent takes the field for a string: an array (static or dynamic)
/// of char, u8 or s8.
fn is_string(field: &Field) -> bool {
    field.kind != FieldKind::Scalar
        && ["char", "u8", "s8"]
            .iter()
            .any(|t| field.type_name.contains(t))
}

/// The bytes up to the first NUL.
fn c_string(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// A node's operand, which a compiled tree always has.
fn child(id: Option<NodeId>) -> Result<NodeId, Unevaluable> {
    id.ok_or(Unevaluable)
}

impl Evaluator<'_> {
    fn test(&self, id: NodeId) -> Result<bool, Unevaluable> {
        match &self.tree.nodes[id] {
            Node::Boolean(value) => Ok(*value),
            Node::Logic { op, left, right } => {
                let right = child(*right)?;
                Ok(match op {
                    Logic::And => self.test(child(*left)?)? && self.test(right)?,
                    Logic::Or => self.test(child(*left)?)? || self.test(right)?,
                    Logic::Not => !self.test(right)?,
                })
            }
            Node::Compare { op, left, right } => {
                let left = self.value(child(*left)?)?;
                let right = self.value(child(*right)?)?;
                match op {
                    Compare::Equal => Ok(left == right),
                    Compare::NotEqual => Ok(left != right),
                    Compare::Less => Ok(left < right),
                    Compare::Greater => Ok(left > right),
                    Compare::LessOrEqual => Ok(left <= right),
                    Compare::GreaterOrEqual => Ok(left >= right),
                    Compare::Regex | Compare::NotRegex | Compare::Glob => Err(Unevaluable),
                }
            }
            Node::StringMatch {
                op,
                field,
                value,
                pattern,
            } => {
                let text = self.string(*field)?;
                let pattern_matches = || pattern.as_ref().is_some_and(|p| p.is_match(&text));
                Ok(match op {
                    StringMatch::Equal => *text == *value.as_bytes(),
                    StringMatch::NotEqual => *text != *value.as_bytes(),
                    StringMatch::Regex | StringMatch::Glob => pattern_matches(),
                    StringMatch::NotRegex => !pattern_matches(),
                })
            }
            Node::Arith { .. } | Node::Literal(_) | Node::Field(_) => Ok(self.value(id)? != 0),
        }
    }

    fn field_value(&self, field: FieldRef) -> Result<u64, Unevaluable> {
        match field {
            FieldRef::Event(index) => {
                let field = self.fields.get(index).ok_or(Unevaluable)?;
                // Sign-extended to 64 bits, then compared as unsigned (C's casts).
                field
                    .int(self.facts.data())
                    .map(|v| v as u64)
                    .ok_or(Unevaluable)
            }
            FieldRef::Cpu => Ok(u64::from(self.facts.cpu())),
            FieldRef::Comm => Err(Unevaluable),
        }
    }

    fn value(&self, id: NodeId) -> Result<u64, Unevaluable> {
        match &self.tree.nodes[id] {
            Node::Field(field) => self.field_value(*field),
            Node::Literal(Literal::Number(n)) => Ok(*n),
            Node::Arith { op, left, right } => {
                let left = self.value(child(*left)?)?;
                let right = self.value(child(*right)?)?;
                let shift = |n: u64| u32::try_from(n).ok().filter(|s| *s < 64);
                Ok(match op {
                    Arith::Add => left.wrapping_add(right),
                    Arith::Sub => left.wrapping_sub(right),
                    Arith::Mul => left.wrapping_mul(right),
                    Arith::Div => left.checked_div(right).ok_or(Unevaluable)?,
                    Arith::Mod => left.checked_rem(right).ok_or(Unevaluable)?,
                    Arith::ShiftRight => shift(right).map_or(0, |s| left >> s),
                    Arith::ShiftLeft => shift(right).map_or(0, |s| left << s),
                    Arith::And => left & right,
                    Arith::Or => left | right,
                    Arith::Xor => left ^ right,
                    Arith::Not => return Err(Unevaluable),
                })
            }
            _ => Err(Unevaluable),
        }
    }

    /// A field as the string a string comparison reads.
    fn string(&self, field: FieldRef) -> Result<Cow<'_, [u8]>, Unevaluable> {
        let index = match field {
            FieldRef::Comm => {
                return Ok(match self.facts.comm() {
                    Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                    Cow::Owned(s) => Cow::Owned(s.into_bytes()),
                });
            }
            FieldRef::Cpu => return Ok(format!("0x{:x}", self.facts.cpu()).into_bytes().into()),
            FieldRef::Event(index) => index,
        };
        let field = self.fields.get(index).ok_or(Unevaluable)?;
        if is_string(field) {
            let bytes = field.bytes(self.facts.data()).ok_or(Unevaluable)?;
            return Ok(Cow::Borrowed(c_string(bytes)));
        }
        let value = self.field_value(FieldRef::Event(index))?;
        let is_address = field.type_name.contains('*') || field.type_name.contains("long");
        if is_address && let Some(name) = self.facts.function(value) {
            return Ok(Cow::Owned(name.as_bytes().to_vec()));
        }
        Ok(format!("0x{value:x}").into_bytes().into())
    }
}
