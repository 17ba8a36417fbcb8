//! One event's `-F` filter expression compiled into a tree, by libtraceevent's rules
//! (`parse-filter.c`), so that a filter means in hytrace what it means to trace-cmd:
//!
//! - `&&` and `||` bind equally and group from the left (`a || b && c` is
//!   `(a || b) && c`); parentheses group; `!` negates one comparison or group.
//! - A comparison is a field on the left and a number or string on the right;
//!   strings take `==`, `!=`, `=~` and `!~` (regular expressions, case ignored) and,
//!   in hytrace, `~` (a shell glob); numbers take `== != < > <= >=`, and a field
//!   combined with a number by `& | ^ + - * / % << >>` is true when not zero.
//! - A field the event does not have is false, and the tree is simplified around it
//!   (`bogus == 1 || pid == 2` is `pid == 2`; `!(bogus == 1)` is true). `COMM` is the
//!   task's command name and `CPU` the record's CPU.
//!
//! Pure: the tree is built from the event's fields and the filter's text.

use regex::bytes::Regex;

use super::{EventFilterError, posix_regex, tokens::Token, tokens::TokenKind, tokens::Tokens};
use crate::format::Field;

/// A node's index in [`Tree::nodes`].
pub type NodeId = usize;

/// What a name in a filter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRef {
    /// The event's field at this index.
    Event(usize),
    /// The task's command name.
    Comm,
    /// The record's CPU.
    Cpu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    ShiftRight,
    ShiftLeft,
    And,
    Or,
    Xor,
    /// `~` before a number: libtraceevent parses it and cannot evaluate it.
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Equal,
    NotEqual,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
    Regex,
    NotRegex,
    /// hytrace's `~`: a shell glob.
    Glob,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logic {
    And,
    Or,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMatch {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
    Glob,
}

/// A literal: a number, a `"string"`, or a `'c'` (one character of which is a number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    Number(u64),
    String(String),
    Char(String),
}

#[derive(Debug, Clone)]
pub enum Node {
    Boolean(bool),
    Literal(Literal),
    Field(FieldRef),
    Arith {
        op: Arith,
        left: Option<NodeId>,
        right: Option<NodeId>,
    },
    /// A numeric comparison (until its right side turns it into a string match).
    Compare {
        op: Compare,
        left: Option<NodeId>,
        right: Option<NodeId>,
    },
    StringMatch {
        op: StringMatch,
        field: FieldRef,
        value: String,
        pattern: Option<Regex>,
    },
    Logic {
        op: Logic,
        left: Option<NodeId>,
        right: Option<NodeId>,
    },
}

/// A compiled filter: its nodes and the root.
#[derive(Debug, Clone)]
pub struct Tree {
    pub nodes: Vec<Node>,
    pub root: NodeId,
}

/// How a level of the parse ended: at the end of the text or at a `)`.
enum Ending {
    Text(NodeId),
    CloseParen(NodeId),
}

struct Parser<'a> {
    tokens: Tokens<'a>,
    fields: &'a [Field],
    nodes: Vec<Node>,
}

/// What an operator token is.
enum OperatorKind {
    Logic(Logic),
    Not,
    Arith(Arith),
    Compare(Compare),
}

fn operator_kind(text: &str) -> Option<OperatorKind> {
    use OperatorKind as K;
    Some(match text {
        "&&" => K::Logic(Logic::And),
        "||" => K::Logic(Logic::Or),
        "!" => K::Not,
        "+" => K::Arith(Arith::Add),
        "-" => K::Arith(Arith::Sub),
        "*" => K::Arith(Arith::Mul),
        "/" => K::Arith(Arith::Div),
        "%" => K::Arith(Arith::Mod),
        ">>" => K::Arith(Arith::ShiftRight),
        "<<" => K::Arith(Arith::ShiftLeft),
        "&" => K::Arith(Arith::And),
        "|" => K::Arith(Arith::Or),
        "^" => K::Arith(Arith::Xor),
        "~" => K::Compare(Compare::Glob),
        "==" => K::Compare(Compare::Equal),
        "!=" => K::Compare(Compare::NotEqual),
        "<" => K::Compare(Compare::Less),
        ">" => K::Compare(Compare::Greater),
        "<=" => K::Compare(Compare::LessOrEqual),
        ">=" => K::Compare(Compare::GreaterOrEqual),
        "=~" => K::Compare(Compare::Regex),
        "!~" => K::Compare(Compare::NotRegex),
        _ => return None,
    })
}

/// C's `strtoull(text, NULL, 0)`: a decimal, `0x` hex or `0` octal prefix of `text`.
fn c_number(text: &str) -> u64 {
    let (digits, radix) = if let Some(hex) = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .filter(|h| h.starts_with(|c: char| c.is_ascii_hexdigit()))
    {
        (hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    let mut value: u64 = 0;
    for c in digits.chars() {
        let Some(digit) = c.to_digit(radix) else {
            break;
        };
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(digit)))
        {
            Some(v) => value = v,
            None => return u64::MAX,
        }
    }
    value
}

/// Finds `name` among the event's fields as libtraceevent does: common fields first.
fn find_field(fields: &[Field], name: &str) -> Option<usize> {
    fields
        .iter()
        .position(|f| f.is_common && f.name == name)
        .or_else(|| fields.iter().position(|f| !f.is_common && f.name == name))
}

impl<'a> Parser<'a> {
    fn error(&self, message: impl Into<String>) -> EventFilterError {
        EventFilterError::Syntax {
            message: message.into(),
            at: self.tokens.position(),
        }
    }

    fn syntax(&self) -> EventFilterError {
        self.error("syntax error")
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn item(&mut self, token: &Token) -> NodeId {
        let node = match token.kind {
            TokenKind::DoubleQuoted => Node::Literal(Literal::String(token.text.clone())),
            TokenKind::SingleQuoted => Node::Literal(Literal::Char(token.text.clone())),
            _ if token.text.starts_with(|c: char| c.is_ascii_digit()) => {
                Node::Literal(Literal::Number(c_number(&token.text)))
            }
            _ => match find_field(self.fields, &token.text) {
                Some(index) => Node::Field(FieldRef::Event(index)),
                None if token.text == "COMM" => Node::Field(FieldRef::Comm),
                None if token.text == "CPU" => Node::Field(FieldRef::Cpu),
                // A field the event does not have is false.
                None => Node::Boolean(false),
            },
        };
        self.push(node)
    }

    fn add_left(&mut self, op: NodeId, arg: NodeId) -> Result<(), EventFilterError> {
        let arg_is_operand = matches!(self.nodes[arg], Node::Field(_) | Node::Boolean(_));
        match &mut self.nodes[op] {
            Node::Arith { left, .. } | Node::Logic { left, .. } => *left = Some(arg),
            Node::Compare { left, .. } if arg_is_operand => *left = Some(arg),
            _ => return Err(self.syntax()),
        }
        Ok(())
    }

    fn add_right(&mut self, op: NodeId, arg: NodeId) -> Result<(), EventFilterError> {
        match &mut self.nodes[op] {
            Node::Arith { right, .. } | Node::Logic { right, .. } => {
                if right.is_some() {
                    return Err(self.syntax());
                }
                *right = Some(arg);
                return Ok(());
            }
            Node::Compare { right: Some(_), .. } => return Err(self.syntax()),
            Node::Compare { .. } => {}
            _ => return Err(self.syntax()),
        }
        let Node::Compare {
            op: compare, left, ..
        } = self.nodes[op].clone()
        else {
            unreachable!("checked above");
        };
        let literal = match &self.nodes[arg] {
            Node::Literal(literal) => literal.clone(),
            // libtraceevent cannot compare a field with another field.
            Node::Field(_) => return Err(self.syntax()),
            _ => return Err(self.error("illegal right-hand side")),
        };
        let is_regex = matches!(compare, Compare::Regex | Compare::NotRegex);
        let text = match literal {
            Literal::Char(c) if c.len() == 1 && !is_regex => {
                return self.number_compare(op, arg, compare, u64::from(c.as_bytes()[0]));
            }
            Literal::Number(n) => return self.number_compare(op, arg, compare, n),
            Literal::Char(text) | Literal::String(text) => text,
        };
        // A string: the comparison becomes a string match on the field at its left.
        let Some(left) = left else {
            return Err(self.syntax());
        };
        let field = match self.nodes[left] {
            Node::Boolean(_) => {
                self.nodes[op] = Node::Boolean(false);
                return Ok(());
            }
            Node::Field(field) => field,
            _ => return Err(self.error("illegal left-hand side for a string comparison")),
        };
        let (op_kind, pattern) = match compare {
            Compare::Equal => (StringMatch::Equal, None),
            Compare::NotEqual => (StringMatch::NotEqual, None),
            Compare::Regex | Compare::NotRegex => {
                let regex = posix_regex::basic_regex(&text)
                    .map_err(|e| self.error(format!("bad regular expression '{text}': {e}")))?;
                let kind = match compare {
                    Compare::Regex => StringMatch::Regex,
                    _ => StringMatch::NotRegex,
                };
                (kind, Some(regex))
            }
            Compare::Glob => {
                let glob = posix_regex::glob(&text)
                    .map_err(|e| self.error(format!("bad glob '{text}': {e}")))?;
                (StringMatch::Glob, Some(glob))
            }
            _ => return Err(self.error("illegal comparison for a string")),
        };
        self.nodes[op] = Node::StringMatch {
            op: op_kind,
            field,
            value: text,
            pattern,
        };
        Ok(())
    }

    fn number_compare(
        &mut self,
        op: NodeId,
        arg: NodeId,
        compare: Compare,
        value: u64,
    ) -> Result<(), EventFilterError> {
        match compare {
            Compare::Regex | Compare::NotRegex => {
                return Err(self.error("=~ and !~ take a string, not a number"));
            }
            Compare::Glob => return Err(self.error("~ takes a string (a glob), not a number")),
            _ => {}
        }
        self.nodes[arg] = Node::Literal(Literal::Number(value));
        if let Node::Compare { right, .. } = &mut self.nodes[op] {
            *right = Some(arg);
        }
        Ok(())
    }

    fn is_done(&self, id: NodeId) -> bool {
        match &self.nodes[id] {
            Node::Arith { right, .. } | Node::Compare { right, .. } | Node::Logic { right, .. } => {
                right.is_some()
            }
            Node::StringMatch { .. } | Node::Boolean(_) => true,
            Node::Literal(_) | Node::Field(_) => false,
        }
    }

    /// One level of the filter: to the end of the text, to its `)`, or (`not`) to the
    /// end of the one comparison or group a `!` negates.
    fn level(&mut self, not: bool) -> Result<Ending, EventFilterError> {
        let mut current_op: Option<NodeId> = None;
        let mut current_exp: Option<NodeId> = None;
        let mut left_item: Option<NodeId> = None;
        while let Some(token) = self.tokens.next_token()? {
            match token.kind {
                TokenKind::Item | TokenKind::DoubleQuoted | TokenKind::SingleQuoted => {
                    let arg = self.item(&token);
                    if left_item.is_none() {
                        left_item = Some(arg);
                    } else if let Some(exp) = current_exp {
                        self.add_right(exp, arg)?;
                        left_item = None;
                        if not {
                            if current_op.is_some() {
                                return Err(self.syntax());
                            }
                            return Ok(Ending::Text(exp));
                        }
                    } else {
                        return Err(self.syntax());
                    }
                }
                TokenKind::Delimiter if token.text == "," => {
                    return Err(self.error("illegal token ','"));
                }
                TokenKind::Delimiter if token.text == "(" => {
                    if left_item.is_some() {
                        return Err(self.error("an open parenthesis cannot follow a value"));
                    }
                    if current_exp.is_some() {
                        return Err(self.error("an open parenthesis cannot follow an expression"));
                    }
                    let Ending::CloseParen(group) = self.level(false)? else {
                        return Err(self.error("unbalanced '(': no ')' closes it"));
                    };
                    if not {
                        if current_op.is_some() {
                            return Err(self.syntax());
                        }
                        return Ok(Ending::Text(group));
                    }
                    match current_op {
                        Some(op) => self.add_right(op, group)?,
                        None => current_exp = Some(group),
                    }
                }
                TokenKind::Delimiter => {
                    let Some(top) = current_op.or(current_exp) else {
                        return Err(self.syntax());
                    };
                    if current_exp.is_some_and(|e| !self.is_done(e))
                        || current_op.is_some_and(|o| !self.is_done(o))
                    {
                        return Err(self.syntax());
                    }
                    return Ok(Ending::CloseParen(top));
                }
                TokenKind::Operator => {
                    let Some(kind) = operator_kind(&token.text) else {
                        return Err(self.error(format!("unknown operator '{}'", token.text)));
                    };
                    match kind {
                        OperatorKind::Logic(op) => {
                            let Some(left) = current_op.or(current_exp) else {
                                return Err(self.syntax());
                            };
                            if left_item.is_some() {
                                return Err(self.syntax());
                            }
                            let arg = self.push(Node::Logic {
                                op,
                                left: None,
                                right: None,
                            });
                            self.add_left(arg, left)?;
                            current_op = Some(arg);
                            current_exp = None;
                        }
                        OperatorKind::Not => {
                            if left_item.is_some() {
                                return Err(self.syntax());
                            }
                            let arg = self.push(Node::Logic {
                                op: Logic::Not,
                                left: None,
                                right: None,
                            });
                            if let Some(op) = current_op {
                                self.add_right(op, arg)?;
                            }
                            current_exp = Some(arg);
                            let negated = match self.level(true)? {
                                Ending::Text(node) => node,
                                Ending::CloseParen(_) => {
                                    return Err(self.error("unbalanced ')'"));
                                }
                            };
                            self.add_right(arg, negated)?;
                        }
                        OperatorKind::Arith(_) | OperatorKind::Compare(_) => {
                            let Some(left) = left_item else {
                                return Err(self.syntax());
                            };
                            let node = match kind {
                                OperatorKind::Arith(op) => Node::Arith {
                                    op,
                                    left: None,
                                    right: None,
                                },
                                OperatorKind::Compare(op) => Node::Compare {
                                    op,
                                    left: None,
                                    right: None,
                                },
                                _ => unreachable!("matched above"),
                            };
                            let arg = self.push(node);
                            if let Some(op) = current_op {
                                self.add_right(op, arg)?;
                            }
                            self.add_left(arg, left)?;
                            current_exp = Some(arg);
                        }
                    }
                }
            }
        }
        match current_op.or(current_exp) {
            Some(top) => Ok(Ending::Text(top)),
            None => Err(self.syntax()),
        }
    }
}

/// A node with its constant parts folded: constant, or kept (perhaps replaced).
enum Folded {
    Constant(bool),
    Keep(NodeId),
}

impl Tree {
    /// Compiles `text`, the filter of an event with `fields`.
    pub fn compile(text: &str, fields: &[Field]) -> Result<Tree, EventFilterError> {
        let mut parser = Parser {
            tokens: Tokens::new(text),
            fields,
            nodes: Vec::new(),
        };
        let root = match parser.level(false)? {
            Ending::Text(root) => root,
            Ending::CloseParen(_) => return Err(parser.error("unbalanced ')'")),
        };
        let mut tree = Tree {
            nodes: parser.nodes,
            root,
        };
        let folded = tree.fold(root).ok_or_else(|| EventFilterError::Syntax {
            message: "the expression is not complete".to_string(),
            at: text.len(),
        })?;
        tree.root = match folded {
            Folded::Constant(value) => {
                tree.nodes.push(Node::Boolean(value));
                tree.nodes.len() - 1
            }
            Folded::Keep(node) => node,
        };
        Ok(tree)
    }

    /// Folds the constants (fields the event lacks) out of the subtree at `id`, as
    /// libtraceevent's collapse does; None when a part is missing.
    fn fold(&mut self, id: NodeId) -> Option<Folded> {
        match self.nodes[id].clone() {
            Node::Boolean(value) => Some(Folded::Constant(value)),
            Node::Literal(_) | Node::Field(_) | Node::StringMatch { .. } => Some(Folded::Keep(id)),
            Node::Arith { left, right, .. } | Node::Compare { left, right, .. } => {
                for side in [left?, right?] {
                    if let Folded::Constant(value) = self.fold(side)? {
                        return Some(Folded::Constant(value));
                    }
                }
                Some(Folded::Keep(id))
            }
            Node::Logic {
                op: Logic::Not,
                right,
                ..
            } => match self.fold(right?)? {
                Folded::Constant(value) => Some(Folded::Constant(!value)),
                Folded::Keep(kept) => {
                    self.set_children(id, None, Some(kept));
                    Some(Folded::Keep(id))
                }
            },
            Node::Logic { op, left, right } => {
                let (left, right) = (left?, right?);
                match self.fold(left)? {
                    Folded::Constant(true) if op == Logic::Or => {
                        return Some(Folded::Constant(true));
                    }
                    Folded::Constant(false) if op == Logic::And => {
                        return Some(Folded::Constant(false));
                    }
                    // The constant does not decide: the other side stands for the node.
                    Folded::Constant(_) => return self.fold(right),
                    Folded::Keep(kept) => self.set_children(id, Some(kept), None),
                }
                let kept_left = match &self.nodes[id] {
                    Node::Logic { left, .. } => (*left)?,
                    _ => return None,
                };
                match self.fold(right)? {
                    Folded::Constant(true) if op == Logic::Or => Some(Folded::Constant(true)),
                    Folded::Constant(false) if op == Logic::And => Some(Folded::Constant(false)),
                    Folded::Constant(_) => Some(Folded::Keep(kept_left)),
                    Folded::Keep(kept) => {
                        self.set_children(id, None, Some(kept));
                        Some(Folded::Keep(id))
                    }
                }
            }
        }
    }

    fn set_children(&mut self, id: NodeId, new_left: Option<NodeId>, new_right: Option<NodeId>) {
        if let Node::Logic { left, right, .. } = &mut self.nodes[id] {
            if new_left.is_some() {
                *left = new_left;
            }
            if new_right.is_some() {
                *right = new_right;
            }
        }
    }
}
