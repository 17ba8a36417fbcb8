//! The argument expressions of a print fmt, parsed into a tree once per event format.
//! A C-expression subset: `REC->field`, array indexing, casts, unary and binary
//! operators, `?:`, string literals, and the trace helpers (`__get_str`,
//! `__print_symbolic`, `__print_flags`, `__print_hex`, `__print_array`, …).

use super::{PrintFmtError, lexer::Token};

/// Integer width and signedness a cast converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntType {
    pub bytes: u8,
    pub signed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Not,
    BitNot,
    Neg,
}

/// Helpers the kernel's TP_printk uses, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helper {
    GetStr,
    GetDynamicArray,
    GetDynamicArrayLen,
    GetBitmask,
    PrintHex,
    PrintHexStr,
    PrintArray,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(i128),
    Str(Vec<u8>),
    /// A name the format does not define (an enum constant the kernel left
    /// unresolved, a kernel variable such as `jiffies`): libtraceevent's atom, whose
    /// value is 0.
    Atom(String),
    /// `REC->name`: index into the format's fields.
    Field(usize),
    /// `sizeof(REC->name)`: the size of that field.
    SizeOf(usize),
    /// A scalar at a fixed place in the record (what [`lower`] turns fields and
    /// constant-index array elements into, so rendering reads it directly).
    Load {
        offset: usize,
        size: usize,
        signed: bool,
    },
    Index(Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Cast(Option<IntType>, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(Helper, Vec<Expr>),
    Symbolic(Box<Expr>, Vec<(i128, Vec<u8>)>),
    Flags(Box<Expr>, Vec<u8>, Vec<(i128, Vec<u8>)>),
}

/// Parses a comma-separated argument list (the part after the format string).
pub fn parse_args(
    tokens: &[Token],
    field_index: &dyn Fn(&str) -> Option<usize>,
) -> Result<Vec<Expr>, PrintFmtError> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        field_index,
    };
    let mut args = Vec::new();
    while parser.pos < tokens.len() {
        args.push(parser.ternary()?);
        if parser.pos < tokens.len() {
            parser.expect(",")?;
        }
    }
    Ok(args)
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    field_index: &'a dyn Fn(&str) -> Option<usize>,
}

fn syntax(message: impl Into<String>) -> PrintFmtError {
    PrintFmtError::Syntax {
        message: message.into(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Token::Op(o)) if *o == op)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.peek_op(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), PrintFmtError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(syntax(format!(
                "expected '{op}' at token {:?}",
                self.peek()
            )))
        }
    }

    fn ternary(&mut self) -> Result<Expr, PrintFmtError> {
        let condition = self.binary(0)?;
        if self.eat_op("?") {
            let then = self.ternary()?;
            self.expect(":")?;
            let otherwise = self.ternary()?;
            return Ok(Expr::Ternary(
                Box::new(condition),
                Box::new(then),
                Box::new(otherwise),
            ));
        }
        Ok(condition)
    }

    fn binary(&mut self, min_level: u8) -> Result<Expr, PrintFmtError> {
        let mut left = self.unary()?;
        while let Some(Token::Op(op)) = self.peek() {
            let Some((level, bin)) = binary_op(op) else {
                break;
            };
            if level < min_level {
                break;
            }
            self.pos += 1;
            let right = self.binary(level + 1)?;
            left = Expr::Binary(bin, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, PrintFmtError> {
        if self.eat_op("!") {
            return Ok(Expr::Unary(UnOp::Not, Box::new(self.unary()?)));
        }
        if self.eat_op("~") {
            return Ok(Expr::Unary(UnOp::BitNot, Box::new(self.unary()?)));
        }
        if self.eat_op("-") {
            return Ok(Expr::Unary(UnOp::Neg, Box::new(self.unary()?)));
        }
        if self.eat_op("+") {
            return self.unary();
        }
        if self.peek_op("(")
            && let Some((cast, after)) = self.cast_at(self.pos + 1)
        {
            self.pos = after;
            return Ok(Expr::Cast(cast, Box::new(self.unary()?)));
        }
        self.postfix()
    }

    /// A `(type)` cast starting after the '(' at `at`: the type and the position after ')'.
    fn cast_at(&self, at: usize) -> Option<(Option<IntType>, usize)> {
        let mut words = Vec::new();
        let mut i = at;
        let mut pointer = false;
        loop {
            match self.tokens.get(i)? {
                Token::Ident(word) => words.push(word.as_str()),
                Token::Op("*") => pointer = true,
                Token::Op(")") => break,
                _ => return None,
            }
            i += 1;
        }
        if words.is_empty() {
            return None;
        }
        // A type libtraceevent does not size (a typedef such as gfp_t or
        // __kernel_rwf_t) casts when an operand follows the ')', and leaves the value
        // as it is.
        let follows_operand = matches!(
            self.tokens.get(i + 1),
            Some(Token::Ident(_) | Token::Num(_) | Token::Str(_) | Token::Op("("))
        );
        let int = match cast_type(&words) {
            Some(int) => int,
            None if follows_operand && words.iter().all(|w| *w != "REC") => None,
            None => return None,
        };
        Some((
            if pointer {
                Some(IntType {
                    bytes: 8,
                    signed: false,
                })
            } else {
                int
            },
            i + 1,
        ))
    }

    fn postfix(&mut self) -> Result<Expr, PrintFmtError> {
        let mut expr = self.primary()?;
        while self.eat_op("[") {
            let index = self.ternary()?;
            self.expect("]")?;
            expr = Expr::Index(Box::new(expr), Box::new(index));
        }
        Ok(expr)
    }

    fn primary(&mut self) -> Result<Expr, PrintFmtError> {
        let token = self
            .peek()
            .cloned()
            .ok_or_else(|| syntax("unexpected end of arguments"))?;
        self.pos += 1;
        match token {
            Token::Num(n) => Ok(Expr::Num(n)),
            Token::Str(mut s) => {
                // Adjacent literals concatenate.
                while let Some(Token::Str(more)) = self.peek() {
                    s.extend_from_slice(more);
                    self.pos += 1;
                }
                Ok(Expr::Str(s))
            }
            Token::Op("(") => {
                let inner = self.ternary()?;
                self.expect(")")?;
                Ok(inner)
            }
            Token::Ident(name) if name == "REC" => {
                self.expect("->")?;
                let Some(Token::Ident(field)) = self.peek().cloned() else {
                    return Err(syntax("expected a field name after REC->"));
                };
                self.pos += 1;
                (self.field_index)(&field)
                    .map(Expr::Field)
                    .ok_or(PrintFmtError::UnknownField { field })
            }
            Token::Ident(name) if self.peek_op("(") => self.call(&name),
            Token::Ident(name) => {
                // Names in a row are one atom ("unsigned long").
                let mut atom = name;
                while let Some(Token::Ident(more)) = self.peek() {
                    atom.push(' ');
                    atom.push_str(more);
                    self.pos += 1;
                }
                Ok(Expr::Atom(atom))
            }
            other => Err(syntax(format!("unexpected token {other:?}"))),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, PrintFmtError> {
        if !self.peek_op("(") {
            return Err(PrintFmtError::Unsupported {
                what: format!("identifier {name}"),
            });
        }
        self.pos += 1;
        match name {
            "__print_symbolic" | "__print_symbolic_u64" => {
                let value = self.ternary()?;
                let table = self.symbol_table()?;
                Ok(Expr::Symbolic(Box::new(value), table))
            }
            // The sizes libtraceevent knows: int, unsigned, long, long long, a field.
            "sizeof" => {
                let mut words = Vec::new();
                while let Some(token) = self.peek().cloned() {
                    self.pos += 1;
                    match token {
                        Token::Op(")") => break,
                        Token::Ident(word) => words.push(word),
                        Token::Op(op) => words.push(op.to_string()),
                        _ => return Err(syntax("sizeof of an unsupported type")),
                    }
                }
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                let size = match words.as_slice() {
                    ["int" | "unsigned"] | ["unsigned", "int"] => 4,
                    ["long" | "unsigned", ..] => 8,
                    ["REC", "->", field] => match (self.field_index)(field) {
                        Some(i) => return Ok(Expr::SizeOf(i)),
                        None => {
                            return Err(PrintFmtError::UnknownField {
                                field: field.to_string(),
                            });
                        }
                    },
                    _ => {
                        return Err(PrintFmtError::Unsupported {
                            what: format!("sizeof({})", words.join(" ")),
                        });
                    }
                };
                Ok(Expr::Num(size))
            }
            // __builtin_expect(cond, hint) is cond.
            "__builtin_expect" => {
                let condition = self.ternary()?;
                self.expect(",")?;
                let _ = self.ternary()?;
                self.expect(")")?;
                Ok(condition)
            }
            "__print_flags" | "__print_flags_u64" => {
                let value = self.ternary()?;
                self.expect(",")?;
                let Expr::Str(delimiter) = self.ternary()? else {
                    return Err(syntax("__print_flags needs a delimiter string"));
                };
                let table = self.symbol_table()?;
                Ok(Expr::Flags(Box::new(value), delimiter, table))
            }
            _ => {
                let helper = match name {
                    "__get_str" | "__get_rel_str" => Helper::GetStr,
                    "__get_dynamic_array" | "__get_rel_dynamic_array" => Helper::GetDynamicArray,
                    "__get_dynamic_array_len" | "__get_rel_dynamic_array_len" => {
                        Helper::GetDynamicArrayLen
                    }
                    "__get_bitmask" | "__get_rel_bitmask" | "__get_cpumask"
                    | "__get_rel_cpumask" => Helper::GetBitmask,
                    "__print_hex" => Helper::PrintHex,
                    "__print_hex_str" => Helper::PrintHexStr,
                    "__print_array" => Helper::PrintArray,
                    other => {
                        return Err(PrintFmtError::Unsupported {
                            what: format!("function {other}"),
                        });
                    }
                };
                let mut args = Vec::new();
                if !self.eat_op(")") {
                    loop {
                        // __get_str(name) names a field without REC->.
                        let arg = match (self.tokens.get(self.pos), self.tokens.get(self.pos + 1)) {
                            (Some(Token::Ident(field)), Some(Token::Op(")")))
                                if field != "REC" && (self.field_index)(field).is_some() =>
                            {
                                self.pos += 1;
                                Expr::Field((self.field_index)(field).unwrap_or_default())
                            }
                            _ => self.ternary()?,
                        };
                        args.push(arg);
                        if self.eat_op(")") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Expr::Call(helper, args))
            }
        }
    }

    /// `, { value, "name" }, …)` of __print_symbolic / __print_flags, each value as
    /// libtraceevent's `eval_flag` reads it ([`table_value`]).
    fn symbol_table(&mut self) -> Result<Vec<(i128, Vec<u8>)>, PrintFmtError> {
        let mut table = Vec::new();
        while self.eat_op(",") {
            self.expect("{")?;
            let value = table_value(&self.ternary()?)?;
            self.expect(",")?;
            // A name that is not a string (the `{ 0, ((void *)0) }` ending gfp tables)
            // is the text of its value.
            let name = match self.ternary()? {
                Expr::Str(name) => name,
                Expr::Atom(atom) => atom.into_bytes(),
                other => table_value(&other)?.to_string().into_bytes(),
            };
            self.expect("}")?;
            table.push((value, name));
        }
        self.expect(")")?;
        Ok(table)
    }
}

/// Names libtraceevent knows the value of where a table names them (its `flags[]`).
const KNOWN_TABLE_NAMES: &[(&str, i128)] = &[
    ("HI_SOFTIRQ", 0),
    ("TIMER_SOFTIRQ", 1),
    ("NET_TX_SOFTIRQ", 2),
    ("NET_RX_SOFTIRQ", 3),
    ("BLOCK_SOFTIRQ", 4),
    ("IRQ_POLL_SOFTIRQ", 5),
    ("TASKLET_SOFTIRQ", 6),
    ("SCHED_SOFTIRQ", 7),
    ("HRTIMER_SOFTIRQ", 8),
    ("RCU_SOFTIRQ", 9),
    ("HRTIMER_NORESTART", 0),
    ("HRTIMER_RESTART", 1),
];

/// A table entry's value as libtraceevent takes it: a constant (computed from
/// constants, unknown names in it 0; kvm_exit's SVM table has `{ 0x040 + 14, "PF
/// excp" }`), where a negative one (as a signed 64-bit number) or a name it does not
/// know is -1, which never matches a set flag.
fn table_value(expr: &Expr) -> Result<i128, PrintFmtError> {
    if let Expr::Atom(name) = expr {
        return Ok(KNOWN_TABLE_NAMES
            .iter()
            .find(|(known, _)| known == name)
            .map_or(-1, |(_, value)| *value));
    }
    let value = match expr {
        Expr::Num(n) => *n,
        computed => match super::eval::eval(computed, &[], &[], super::eval::Arithmetic::C) {
            Some(super::eval::Value::Int(n)) => n,
            _ => return Err(syntax("symbol value is not a constant")),
        },
    };
    Ok(match value as u64 as i64 {
        negative if negative < 0 => -1,
        positive => i128::from(positive),
    })
}

/// Rewrites field reads whose place is known at compile time into [`Expr::Load`].
pub fn lower(expr: Expr, fields: &[crate::format::Field]) -> Expr {
    use crate::format::FieldKind;
    let lower_box = |e: Box<Expr>| Box::new(lower(*e, fields));
    match expr {
        Expr::Field(i) => match fields.get(i) {
            Some(f) if f.kind == FieldKind::Scalar => Expr::Load {
                offset: f.offset,
                size: f.size,
                signed: f.signed,
            },
            _ => Expr::Field(i),
        },
        Expr::Index(array, index) => match (*array, *index) {
            (Expr::Field(i), Expr::Num(k))
                if fields.get(i).is_some_and(
                    |f| matches!(f.kind, FieldKind::Array { len } if k >= 0 && (k as usize) < len),
                ) =>
            {
                let f = &fields[i];
                let element = super::eval::element_size(f);
                Expr::Load {
                    offset: f.offset + k as usize * element,
                    size: element,
                    signed: f.signed,
                }
            }
            (array, index) => Expr::Index(
                Box::new(lower(array, fields)),
                Box::new(lower(index, fields)),
            ),
        },
        Expr::Unary(op, e) => Expr::Unary(op, lower_box(e)),
        Expr::Cast(t, e) => Expr::Cast(t, lower_box(e)),
        Expr::Binary(op, l, r) => Expr::Binary(op, lower_box(l), lower_box(r)),
        Expr::Ternary(c, t, o) => Expr::Ternary(lower_box(c), lower_box(t), lower_box(o)),
        Expr::Call(h, args) => Expr::Call(h, args.into_iter().map(|a| lower(a, fields)).collect()),
        Expr::Symbolic(v, table) => Expr::Symbolic(lower_box(v), table),
        Expr::Flags(v, d, table) => Expr::Flags(lower_box(v), d, table),
        other => other,
    }
}

fn binary_op(op: &str) -> Option<(u8, BinOp)> {
    Some(match op {
        "||" => (0, BinOp::Or),
        "&&" => (1, BinOp::And),
        "|" => (2, BinOp::BitOr),
        "^" => (3, BinOp::BitXor),
        "&" => (4, BinOp::BitAnd),
        "==" => (5, BinOp::Eq),
        "!=" => (5, BinOp::Ne),
        "<" => (6, BinOp::Lt),
        ">" => (6, BinOp::Gt),
        "<=" => (6, BinOp::Le),
        ">=" => (6, BinOp::Ge),
        "<<" => (7, BinOp::Shl),
        ">>" => (7, BinOp::Shr),
        "+" => (8, BinOp::Add),
        "-" => (8, BinOp::Sub),
        "*" => (9, BinOp::Mul),
        "/" => (9, BinOp::Div),
        "%" => (9, BinOp::Rem),
        _ => return None,
    })
}

/// The integer type a cast's words name; None inside Some for non-integer types that
/// leave the value alone (`void`, structs); outer None when the words are no type.
fn cast_type(words: &[&str]) -> Option<Option<IntType>> {
    let unsigned = words.contains(&"unsigned");
    let signed_word = words.contains(&"signed");
    let base: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !matches!(*w, "unsigned" | "signed" | "const" | "volatile" | "struct"))
        .collect();
    let int = |bytes: u8, signed: bool| Some(Some(IntType { bytes, signed }));
    match base.as_slice() {
        [] if unsigned || signed_word => int(4, !unsigned),
        ["char"] => int(1, signed_word),
        ["short"] | ["short", "int"] => int(2, !unsigned),
        ["int"] => int(4, !unsigned),
        ["long"] | ["long", "int" | "long"] | ["long", "long", "int"] => int(8, !unsigned),
        ["u8" | "__u8" | "uint8_t" | "bool" | "_Bool"] => int(1, false),
        ["s8" | "__s8" | "int8_t"] => int(1, true),
        ["u16" | "__u16" | "uint16_t"] => int(2, false),
        ["s16" | "__s16" | "int16_t"] => int(2, true),
        ["u32" | "__u32" | "uint32_t" | "gfp_t" | "dev_t"] => int(4, false),
        ["s32" | "__s32" | "int32_t" | "pid_t"] => int(4, true),
        ["u64" | "__u64" | "uint64_t" | "size_t" | "sector_t" | "phys_addr_t"] => int(8, false),
        ["s64" | "__s64" | "int64_t" | "ssize_t" | "loff_t"] => int(8, true),
        ["void"] => Some(None),
        [name]
            if !name.starts_with("__")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && words.contains(&"struct") =>
        {
            Some(None)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn parse(text: &str) -> Vec<Expr> {
        let fields = ["dev", "args", "name", "vec"];
        parse_args(&tokenize(text).unwrap(), &|f| {
            fields.iter().position(|x| *x == f)
        })
        .unwrap()
    }

    #[test]
    fn precedence_casts_and_indexing() {
        assert_eq!(
            parse("((unsigned int) ((REC->dev) >> 20)), REC->args[1] + 2 * 3"),
            vec![
                Expr::Cast(
                    Some(IntType {
                        bytes: 4,
                        signed: false
                    }),
                    Box::new(Expr::Binary(
                        BinOp::Shr,
                        Box::new(Expr::Field(0)),
                        Box::new(Expr::Num(20))
                    ))
                ),
                Expr::Binary(
                    BinOp::Add,
                    Box::new(Expr::Index(
                        Box::new(Expr::Field(1)),
                        Box::new(Expr::Num(1))
                    )),
                    Box::new(Expr::Binary(
                        BinOp::Mul,
                        Box::new(Expr::Num(2)),
                        Box::new(Expr::Num(3))
                    ))
                ),
            ]
        );
    }

    #[test]
    fn helpers_and_symbol_tables() {
        assert_eq!(
            parse(r#"__get_str(name), __print_symbolic(REC->vec, { 0, "HI" }, { 1, "TI" "MER" })"#),
            vec![
                Expr::Call(Helper::GetStr, vec![Expr::Field(2)]),
                Expr::Symbolic(
                    Box::new(Expr::Field(3)),
                    vec![(0, b"HI".to_vec()), (1, b"TIMER".to_vec())]
                ),
            ]
        );
    }

    #[test]
    fn unknown_fields_and_functions_are_errors() {
        let fields = ["a"];
        let lookup = |f: &str| fields.iter().position(|x| *x == f);
        assert_eq!(
            parse_args(&tokenize("REC->zz").unwrap(), &lookup),
            Err(PrintFmtError::UnknownField { field: "zz".into() })
        );
        assert!(matches!(
            parse_args(&tokenize("frob(REC->a)").unwrap(), &lookup),
            Err(PrintFmtError::Unsupported { .. })
        ));
    }
}
