//! `printk_formats` text (`0xffffffff82a0b4c8 : "some format\n"`) into an address map,
//! for trace_printk (bprint) events and `%s` arguments that point at constant strings.

use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct PrintkFormats {
    by_addr: HashMap<u64, Box<str>>,
}

impl PrintkFormats {
    /// Parses the text; the quotes around each format are removed and `\n` and `\t`
    /// escapes turned back into the characters they stand for.
    pub fn parse(text: &[u8]) -> PrintkFormats {
        let mut by_addr = HashMap::new();
        for line in text.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let Some((addr, format)) = line.split_once(" : ") else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr.trim().trim_start_matches("0x"), 16) else {
                continue;
            };
            let format = format.trim();
            let format = format
                .strip_prefix('"')
                .and_then(|f| f.strip_suffix('"'))
                .unwrap_or(format);
            by_addr.insert(addr, unescape(format).into_boxed_str());
        }
        PrintkFormats { by_addr }
    }

    pub fn lookup(&self, addr: u64) -> Option<&str> {
        self.by_addr.get(&addr).map(|s| &**s)
    }
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_unescapes() {
        let formats = PrintkFormats::parse(
            b"0xffffffff82a0b4c8 : \"hello %d\\n\"\n0xffffffff82a0b500 : \"tab\\there\"\nnoise\n",
        );
        assert_eq!(formats.lookup(0xffffffff82a0b4c8), Some("hello %d\n"));
        assert_eq!(formats.lookup(0xffffffff82a0b500), Some("tab\there"));
        assert_eq!(formats.lookup(1), None);
    }
}
