//! The patterns of a `-F` filter: POSIX basic regular expressions, as trace-cmd
//! compiles event names and `=~` operands (`regcomp` without `REG_EXTENDED`, case
//! ignored, with GNU's `\+ \? \|` and `\< \> \w \s \b`), turned into the regex crate's
//! syntax; and shell globs for hytrace's `~`. Pure.

use regex::bytes::{Regex, RegexBuilder};

/// Compiles POSIX basic regular expression `pattern`, ignoring case.
pub fn basic_regex(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    RegexBuilder::new(&translated)
        .case_insensitive(true)
        .unicode(false)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| e.to_string())
}

/// Compiles shell glob `glob` (`*`, `?`, `[…]`, `\` quoting), matching whole strings.
pub fn glob(glob: &str) -> Result<Regex, String> {
    let mut out = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => bracket(&mut chars, &mut out, &['!', '^'])?,
            '\\' => push_literal(&mut out, chars.next().unwrap_or('\\')),
            _ => push_literal(&mut out, c),
        }
    }
    out.push('$');
    RegexBuilder::new(&out)
        .unicode(false)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| e.to_string())
}

fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

/// Where a `*` or `^` stands at the start of an expression (where POSIX makes `*` a
/// literal and `^` an anchor): the pattern's start, after `\(`, after `\|`.
fn at_expression_start(out: &str) -> bool {
    out.is_empty()
        || out.ends_with('(') && !out.ends_with("\\(")
        || out.ends_with('|') && !out.ends_with("\\|")
}

fn translate(pattern: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    return Err("trailing backslash".to_string());
                };
                match next {
                    '(' | ')' | '{' | '}' | '|' | '+' | '?' => out.push(next),
                    '<' | '>' | 'w' | 'W' | 's' | 'S' | 'b' | 'B' => {
                        out.push('\\');
                        out.push(next);
                    }
                    '`' => out.push_str("\\A"),
                    '\'' => out.push_str("\\z"),
                    '1'..='9' => return Err("back-references are not supported".to_string()),
                    _ => push_literal(&mut out, next),
                }
            }
            '*' if at_expression_start(&out) || out.ends_with('^') && !out.ends_with("\\^") => {
                out.push_str("\\*");
            }
            '*' => out.push('*'),
            '^' if at_expression_start(&out) => out.push('^'),
            '$' if chars.peek().is_none()
                || chars.clone().take(2).collect::<String>() == "\\)"
                || chars.clone().take(2).collect::<String>() == "\\|" =>
            {
                out.push('$');
            }
            '.' => out.push('.'),
            '[' => bracket(&mut chars, &mut out, &['^'])?,
            _ => push_literal(&mut out, c),
        }
    }
    Ok(out)
}

/// A bracket expression after its `[`: `]` first is a member, one of `negators` first
/// negates, `[:class:]` names a class; backslashes are members.
fn bracket(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
    negators: &[char],
) -> Result<(), String> {
    out.push('[');
    if chars.peek().is_some_and(|c| negators.contains(c)) {
        chars.next();
        out.push('^');
    }
    let mut first = true;
    // Whether the last member pushed was a character (so a `-` makes a range).
    let mut after_char = false;
    loop {
        let Some(c) = chars.next() else {
            return Err("unmatched [".to_string());
        };
        match c {
            ']' if !first => break,
            '[' if chars.peek() == Some(&':') => {
                let class: String = chars.by_ref().take_while(|&c| c != ']').collect();
                let Some(name) = class.strip_prefix(':').and_then(|c| c.strip_suffix(':')) else {
                    return Err(format!("bad character class [{class}]"));
                };
                out.push_str(&format!("[:{name}:]"));
                after_char = false;
            }
            '[' if matches!(chars.peek(), Some('=' | '.')) => {
                return Err("[= =] and [. .] are not supported".to_string());
            }
            '-' if after_char && chars.peek().is_some_and(|&n| n != ']') => {
                out.push('-');
                after_char = false;
            }
            _ => {
                if matches!(c, '\\' | '[' | ']' | '&' | '~' | '-' | '^') {
                    out.push('\\');
                }
                out.push(c);
                after_char = true;
            }
        }
        first = false;
    }
    out.push(']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        basic_regex(pattern).unwrap().is_match(text.as_bytes())
    }

    #[test]
    fn basic_syntax_is_posix() {
        assert!(matches("^sched_.*$", "SCHED_switch"));
        assert!(matches("a+b", "xa+b"));
        assert!(!matches("a+b", "aab"));
        assert!(matches("a\\+b", "aab"));
        assert!(matches("\\(ab\\)\\{2\\}", "abab"));
        assert!(!matches("(ab)", "ab"));
        assert!(matches("(ab)", "(ab)"));
        assert!(matches("*x", "*x"));
        assert!(!matches("*x", "x"));
        assert!(matches("^*x", "*x"));
        assert!(matches("a\\|^b", "b"));
        assert!(matches("a^b", "a^b"));
        assert!(matches("a$b", "a$b"));
        assert!(matches("kworker/[0-9]*:[[:digit:]]", "kworker/12:3"));
        assert!(matches("[]a]", "]"));
        assert!(matches("[^a-c]", "d"));
        assert!(!matches("^[^a-c]$", "b"));
        assert!(matches("[\\]", "\\"));
        assert!(matches("\\<read", "vfs read"));
        assert!(!matches("\\<read", "vfsread"));
    }

    #[test]
    fn bad_patterns_say_why() {
        assert_eq!(basic_regex("a\\").unwrap_err(), "trailing backslash");
        assert_eq!(basic_regex("[ab").unwrap_err(), "unmatched [");
        assert!(basic_regex("\\(a\\)\\1").is_err());
        assert!(basic_regex("\\(a").is_err());
    }

    #[test]
    fn globs_match_whole_strings() {
        let g = glob("kworker/*").unwrap();
        assert!(g.is_match(b"kworker/0:1"));
        assert!(!g.is_match(b"xkworker/0:1"));
        let g = glob("?pin[0-9]").unwrap();
        assert!(g.is_match(b"spin7"));
        assert!(!g.is_match(b"Spin"));
        assert!(glob("[!a]").unwrap().is_match(b"b"));
        assert!(glob("a.b").unwrap().is_match(b"a.b"));
        assert!(!glob("a.b").unwrap().is_match(b"axb"));
    }
}
