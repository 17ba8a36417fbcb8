//! Tokens of a `print fmt:` line: C string literals, numbers, identifiers, operators.

use super::PrintFmtError;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Str(Vec<u8>),
    Num(i128),
    Ident(String),
    /// Operators and punctuation: `( ) { } [ ] , ? : -> ! ~ + - * / % << >> < > <= >=
    /// == != & | ^ && ||`.
    Op(&'static str),
}

const OPS: [&str; 28] = [
    "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "{", "}", "[", "]", ",", "?",
    ":", "!", "~", "+", "-", "*", "/", "%", "<", ">", "&",
];
const OPS_MORE: [&str; 3] = ["|", "^", "."];

pub fn tokenize(text: &str) -> Result<Vec<Token>, PrintFmtError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'"' {
            let (s, next) = string_literal(bytes, i + 1)?;
            tokens.push(Token::Str(s));
            i = next;
        } else if c == b'\'' {
            // Character constant: 'a' or '\n'.
            let (s, next) = char_literal(bytes, i + 1)?;
            tokens.push(Token::Num(s));
            i = next;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            tokens.push(Token::Num(parse_number(&text[start..i])?));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push(Token::Ident(text[start..i].to_string()));
        } else {
            let rest = &text[i..];
            let op = OPS
                .iter()
                .chain(OPS_MORE.iter())
                .find(|op| rest.starts_with(**op))
                .ok_or_else(|| PrintFmtError::Syntax {
                    message: format!("unexpected character '{}'", c as char),
                })?;
            tokens.push(Token::Op(op));
            i += op.len();
        }
    }
    Ok(tokens)
}

/// Integer literal with C prefixes and suffixes (0x1f, 017, 10UL).
fn parse_number(text: &str) -> Result<i128, PrintFmtError> {
    let digits = text.trim_end_matches(['u', 'U', 'l', 'L']);
    let parsed = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i128::from_str_radix(hex, 16)
    } else if digits.len() > 1 && digits.starts_with('0') {
        i128::from_str_radix(&digits[1..], 8)
    } else {
        digits.parse()
    };
    parsed.map_err(|_| PrintFmtError::Syntax {
        message: format!("bad number '{text}'"),
    })
}

fn escape(bytes: &[u8], i: usize) -> Result<(u8, usize), PrintFmtError> {
    let c = *bytes.get(i).ok_or_else(|| PrintFmtError::Syntax {
        message: "unterminated escape".into(),
    })?;
    Ok(match c {
        b'n' => (b'\n', i + 1),
        b't' => (b'\t', i + 1),
        b'r' => (b'\r', i + 1),
        b'0'..=b'7' => {
            let mut value = 0u32;
            let mut j = i;
            while j < bytes.len() && j < i + 3 && (b'0'..=b'7').contains(&bytes[j]) {
                value = value * 8 + u32::from(bytes[j] - b'0');
                j += 1;
            }
            (value as u8, j)
        }
        other => (other, i + 1),
    })
}

fn string_literal(bytes: &[u8], mut i: usize) -> Result<(Vec<u8>, usize), PrintFmtError> {
    let mut out = Vec::new();
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Ok((out, i + 1)),
            b'\\' => {
                let (c, next) = escape(bytes, i + 1)?;
                out.push(c);
                i = next;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Err(PrintFmtError::Syntax {
        message: "unterminated string".into(),
    })
}

fn char_literal(bytes: &[u8], i: usize) -> Result<(i128, usize), PrintFmtError> {
    let (c, next) = match bytes.get(i) {
        Some(b'\\') => escape(bytes, i + 1)?,
        Some(&c) => (c, i + 1),
        None => {
            return Err(PrintFmtError::Syntax {
                message: "unterminated character".into(),
            });
        }
    };
    if bytes.get(next) != Some(&b'\'') {
        return Err(PrintFmtError::Syntax {
            message: "bad character constant".into(),
        });
    }
    Ok((i128::from(c), next + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_strings_numbers_and_operators() {
        let tokens = tokenize(r#""a\tb" "c", REC->x >> 20, 0x1fUL, '\n', 017"#).unwrap();
        assert_eq!(
            tokens,
            vec![
                Token::Str(b"a\tb".to_vec()),
                Token::Str(b"c".to_vec()),
                Token::Op(","),
                Token::Ident("REC".into()),
                Token::Op("->"),
                Token::Ident("x".into()),
                Token::Op(">>"),
                Token::Num(20),
                Token::Op(","),
                Token::Num(31),
                Token::Op(","),
                Token::Num(10),
                Token::Op(","),
                Token::Num(15),
            ]
        );
    }
}
