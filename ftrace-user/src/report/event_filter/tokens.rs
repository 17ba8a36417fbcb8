//! The tokens of a `-F` filter, split as libtraceevent splits them: runs of letters,
//! digits and `_` (names and numbers), quoted strings (`"…"` or `'…'`, backslashes
//! kept, adjacent double-quoted strings joined), `(` `)` `,`, and operators (`&&`
//! `||` `==` `!=` `<=` `>=` `<<` `>>` `=~` `!~` and single characters). Spaces and
//! newlines separate tokens. Pure.

use super::EventFilterError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A name or a number.
    Item,
    /// A `"…"` string.
    DoubleQuoted,
    /// A `'…'` string (one character of it is a number).
    SingleQuoted,
    /// `(`, `)` or `,`.
    Delimiter,
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
    /// Byte offset just past the token in the filter text (where an error points).
    pub end: usize,
}

/// Reads one token at a time from a filter's text.
pub struct Tokens<'a> {
    text: &'a [u8],
    at: usize,
}

fn is_item(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_print(byte: u8) -> bool {
    (0x20..0x7f).contains(&byte)
}

impl<'a> Tokens<'a> {
    pub fn new(text: &'a str) -> Tokens<'a> {
        Tokens {
            text: text.as_bytes(),
            at: 0,
        }
    }

    /// Where the reader is (just past the last token read).
    pub fn position(&self) -> usize {
        self.at
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn bad_character(&self, at: usize) -> EventFilterError {
        EventFilterError::Syntax {
            message: format!("character 0x{:02x} is not allowed", self.text[at]),
            at,
        }
    }

    /// The next token, or None at the end of the text.
    pub fn next_token(&mut self) -> Result<Option<Token>, EventFilterError> {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
        let Some(first) = self.peek() else {
            return Ok(None);
        };
        let start = self.at;
        self.at += 1;
        let kind = match first {
            b'"' | b'\'' => return self.quoted(first).map(Some),
            b'(' | b')' | b',' => TokenKind::Delimiter,
            _ if is_item(first) => {
                while self.peek().is_some_and(is_item) {
                    self.at += 1;
                }
                TokenKind::Item
            }
            _ if is_print(first) => {
                self.operator(first);
                TokenKind::Operator
            }
            _ => return Err(self.bad_character(start)),
        };
        let text = String::from_utf8_lossy(&self.text[start..self.at]).into_owned();
        Ok(Some(Token {
            kind,
            text,
            end: self.at,
        }))
    }

    /// Extends an operator token that began with `first` (already read).
    fn operator(&mut self, first: u8) {
        let then_equal = |tokens: &mut Tokens| {
            if tokens.peek() == Some(b'=') {
                tokens.at += 1;
            }
        };
        match first {
            b'-' if self.peek() == Some(b'>') => self.at += 1,
            b'-' | b'+' | b'|' | b'&' | b'>' | b'<' => {
                if self.peek() == Some(first) {
                    self.at += 1;
                    if matches!(first, b'<' | b'>') {
                        then_equal(self);
                    }
                } else {
                    then_equal(self);
                }
            }
            // `=` and `!` take a second `=`, else a `~` (`=~`, `!~`).
            b'!' | b'=' => {
                if matches!(self.peek(), Some(b'=' | b'~')) {
                    self.at += 1;
                }
            }
            _ => {}
        }
    }

    /// A quoted string opened by `quote` (already read): up to the closing quote, a
    /// backslash keeping the character after it; double-quoted strings separated only
    /// by spaces are one string.
    fn quoted(&mut self, quote: u8) -> Result<Token, EventFilterError> {
        let open = self.at - 1;
        let mut text = Vec::new();
        loop {
            let mut escaped = false;
            loop {
                let Some(byte) = self.peek() else {
                    return Err(EventFilterError::Syntax {
                        message: "the string is not closed".to_string(),
                        at: open,
                    });
                };
                if !is_print(byte) && byte != b'\n' {
                    return Err(self.bad_character(self.at));
                }
                self.at += 1;
                if byte == quote && !escaped {
                    break;
                }
                text.push(byte);
                escaped = byte == b'\\' && !escaped;
            }
            if quote != b'"' {
                break;
            }
            let mut next = self.at;
            while self.text.get(next).is_some_and(u8::is_ascii_whitespace) {
                next += 1;
            }
            if self.text.get(next) != Some(&b'"') {
                break;
            }
            self.at = next + 1;
        }
        Ok(Token {
            kind: if quote == b'"' {
                TokenKind::DoubleQuoted
            } else {
                TokenKind::SingleQuoted
            },
            text: String::from_utf8_lossy(&text).into_owned(),
            end: self.at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<(TokenKind, String)> {
        let mut tokens = Tokens::new(text);
        let mut out = Vec::new();
        while let Some(token) = tokens.next_token().unwrap() {
            out.push((token.kind, token.text));
        }
        out
    }

    fn texts(text: &str) -> Vec<String> {
        split(text).into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn operators_take_their_second_character() {
        assert_eq!(
            texts("a==1&&b!=0x10||c<=2&d>>1<<=e>=f=~\"x\"!~'y'!g=h"),
            [
                "a", "==", "1", "&&", "b", "!=", "0x10", "||", "c", "<=", "2", "&", "d", ">>", "1",
                "<<=", "e", ">=", "f", "=~", "x", "!~", "y", "!", "g", "=", "h"
            ]
        );
        assert_eq!(texts("a->b - -c"), ["a", "->", "b", "-", "-", "c"]);
        assert_eq!(texts("!=~"), ["!=", "~"]);
        assert_eq!(texts("= ~"), ["=", "~"]);
    }

    #[test]
    fn strings_keep_backslashes_and_join() {
        assert_eq!(
            split(r#"comm == "a\"b"  "c" 'd'"#),
            [
                (TokenKind::Item, "comm".to_string()),
                (TokenKind::Operator, "==".to_string()),
                (TokenKind::DoubleQuoted, r#"a\"bc"#.to_string()),
                (TokenKind::SingleQuoted, "d".to_string()),
            ]
        );
        assert_eq!(texts(r"'\\' 'x'"), [r"\\", "x"]);
    }

    #[test]
    fn unclosed_strings_and_control_characters_are_errors() {
        let mut tokens = Tokens::new("a == \"open");
        tokens.next_token().unwrap();
        tokens.next_token().unwrap();
        assert!(matches!(
            tokens.next_token(),
            Err(EventFilterError::Syntax { at: 5, .. })
        ));
        let mut tokens = Tokens::new("a\u{1}");
        tokens.next_token().unwrap();
        assert!(tokens.next_token().is_err());
    }
}
