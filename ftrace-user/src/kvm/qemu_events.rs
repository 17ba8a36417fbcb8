//! QEMU's trace events as structured events (pure).
//!
//! QEMU's `ftrace` trace backend writes one `write()` per event to trace_marker, with
//! the payload `"EVENT ARGS\n"` (at most 511 bytes); the `log` backend writes the same
//! `EVENT ARGS` after its prefix. EVENT is a lower-case C identifier; ARGS is the
//! event's own printf format, with no fixed grammar. Most events print `KEY VALUE`
//! pairs (`kvm_run_exit cpu_index 0, reason 2`), some bare values
//! (`cpu_set_apic_base 00000000fee00900`), strings in quotes (`name 'serial'`), or
//! `KEY=VALUE` words. The fields are read from ARGS best-effort: a shape this module
//! does not know never fails, its words become positional fields `arg0`, `arg1`, ….

/// One QEMU trace event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuEvent {
    /// The event name (`kvm_run_exit`).
    pub name: String,
    /// The fields read from the args, in the order written: `(key, value)`, with
    /// quotes and a value's trailing `,` removed; bare values are keyed `arg0`, `arg1`,
    /// … by their position among the bare values. A key may repeat.
    pub fields: Vec<(String, String)>,
    /// The args as written (after the name and its space), without the trailing
    /// newline.
    pub text: String,
}

impl QemuEvent {
    /// The value of the first field named `key`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The value of the first field named `key` as a number: decimal, `0x` hex, or
    /// such a number in front of a `(` (`0x3f8(b)` is 0x3f8). None for anything else,
    /// or a number that does not fit 64 bits.
    pub fn number(&self, key: &str) -> Option<u64> {
        parse_number(self.field(key)?)
    }
}

/// Reads a QEMU event from a trace_marker payload (or the part of a log line after
/// its prefix). The payload starts with the event name, `[a-z_][a-z0-9_]*`, followed
/// by a space or the end; a trailing newline (`\n`, `\r\n`) and trailing NUL bytes
/// are ignored. None when the payload does not start that way (not a QEMU event).
pub fn parse_qemu_event(payload: &str) -> Option<QemuEvent> {
    let payload = payload.trim_end_matches(['\n', '\r', '\0']);
    let (name, text) = payload.split_once(' ').unwrap_or((payload, ""));
    if !is_event_name(name) {
        return None;
    }
    Some(QemuEvent {
        name: name.to_string(),
        fields: fields(text),
        text: text.to_string(),
    })
}

/// True for `[a-z_][a-z0-9_]*`.
fn is_event_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`: what a field key looks like.
fn is_key(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One word of the args.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Word<'a> {
    /// The word without its quotes and without a trailing `,`.
    text: &'a str,
    /// Written in quotes (`'…'`): a value, never a key.
    quoted: bool,
    /// A `,` followed it: it ends a value, so it is no key.
    comma: bool,
}

impl<'a> Word<'a> {
    /// The word as a field key: unquoted, no comma, an identifier.
    fn as_key(&self) -> Option<&'a str> {
        (!self.quoted && !self.comma && is_key(self.text)).then_some(self.text)
    }

    /// The word as a `KEY=VALUE` field.
    fn as_assignment(&self) -> Option<(&'a str, &'a str)> {
        if self.quoted {
            return None;
        }
        self.text.split_once('=').filter(|(key, _)| is_key(key))
    }
}

/// Splits the args into words at spaces; a word starting with `'` runs to the next
/// `'` followed by a space, a `,` or the end (or to the end of the args when there is
/// none), spaces included.
fn words(args: &str) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut rest = args;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return words;
        }
        let (text, quoted, after) = match rest.strip_prefix('\'') {
            Some(inner) => match closing_quote(inner) {
                Some(end) => (&inner[..end], true, &inner[end + 1..]),
                None => (inner, true, ""),
            },
            None => {
                let end = rest.find(' ').unwrap_or(rest.len());
                (&rest[..end], false, &rest[end..])
            }
        };
        let (text, after, comma) = if quoted {
            match after.strip_prefix(',') {
                Some(after) => (text, after, true),
                None => (text, after, false),
            }
        } else {
            match text.strip_suffix(',') {
                Some(text) => (text, after, true),
                None => (text, after, false),
            }
        };
        words.push(Word {
            text,
            quoted,
            comma,
        });
        rest = after;
    }
}

/// The index in `inner` (the text after an opening quote) of the closing quote.
fn closing_quote(inner: &str) -> Option<usize> {
    inner
        .match_indices('\'')
        .map(|(index, _)| index)
        .find(|&index| matches!(inner.as_bytes().get(index + 1), None | Some(b' ' | b',')))
}

/// The fields of the args: `KEY=VALUE` words, `KEY VALUE` word pairs, and bare
/// values named by position.
fn fields(args: &str) -> Vec<(String, String)> {
    let words = words(args);
    let mut fields = Vec::new();
    let mut bare = 0usize;
    let mut index = 0;
    while let Some(word) = words.get(index) {
        index += 1;
        if let Some((key, value)) = word.as_assignment() {
            fields.push((key.to_string(), value.to_string()));
            continue;
        }
        let value = words
            .get(index)
            .filter(|next| next.as_assignment().is_none());
        if let (Some(key), Some(value)) = (word.as_key(), value) {
            fields.push((key.to_string(), value.text.to_string()));
            index += 1;
            continue;
        }
        fields.push((format!("arg{bare}"), word.text.to_string()));
        bare += 1;
    }
    fields
}

/// Decimal, `0x` hex, or either in front of a `(`.
fn parse_number(text: &str) -> Option<u64> {
    let text = text.split_once('(').map_or(text, |(number, _)| number);
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    let valid = !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
    valid
        .then(|| u64::from_str_radix(digits, radix).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(payload: &str) -> QemuEvent {
        parse_qemu_event(payload).expect("a QEMU event")
    }

    fn pairs(event: &QemuEvent) -> Vec<(&str, &str)> {
        event
            .fields
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect()
    }

    #[test]
    fn port_io_events_have_address_and_value() {
        let cpu_in = event("cpu_in addr 0x71 value 0\n");
        assert_eq!(cpu_in.name, "cpu_in");
        assert_eq!(cpu_in.text, "addr 0x71 value 0");
        assert_eq!(pairs(&cpu_in), [("addr", "0x71"), ("value", "0")]);
        assert_eq!(cpu_in.number("addr"), Some(0x71));
        assert_eq!(cpu_in.number("value"), Some(0));

        let cpu_out = event("cpu_out addr 0x3f8(b) value 17\n");
        assert_eq!(pairs(&cpu_out), [("addr", "0x3f8(b)"), ("value", "17")]);
        assert_eq!(cpu_out.field("addr"), Some("0x3f8(b)"));
        assert_eq!(cpu_out.number("addr"), Some(0x3f8));
        assert_eq!(cpu_out.number("value"), Some(17));
    }

    #[test]
    fn a_lone_value_is_positional() {
        let apic = event("cpu_set_apic_base 00000000fee00900\n");
        assert_eq!(apic.name, "cpu_set_apic_base");
        assert_eq!(pairs(&apic), [("arg0", "00000000fee00900")]);
        // Hex without 0x is not read as a number (it could as well be decimal).
        assert_eq!(apic.number("arg0"), None);

        let numbers = event("some_event 1 2 3");
        assert_eq!(
            pairs(&numbers),
            [("arg0", "1"), ("arg1", "2"), ("arg2", "3")]
        );
        assert_eq!(numbers.number("arg2"), Some(3));
    }

    #[test]
    fn comma_separated_pairs_lose_their_commas() {
        let exit = event("kvm_run_exit cpu_index 0, reason 2\n");
        assert_eq!(exit.text, "cpu_index 0, reason 2");
        assert_eq!(pairs(&exit), [("cpu_index", "0"), ("reason", "2")]);
        assert_eq!(exit.number("reason"), Some(2));

        let ioctl = event("kvm_vcpu_ioctl cpu_index 0, type 0xae80, arg (nil)\n");
        assert_eq!(
            pairs(&ioctl),
            [("cpu_index", "0"), ("type", "0xae80"), ("arg", "(nil)")]
        );
        assert_eq!(ioctl.number("type"), Some(0xae80));
        assert_eq!(ioctl.number("arg"), None);
    }

    #[test]
    fn memory_region_events_keep_quoted_names() {
        let write = event(
            "memory_region_ops_write cpu 0 mr 0x55d0c0a3e200 addr 0x3f8 value 0x41 size 1 \
             name 'serial'\n",
        );
        assert_eq!(
            pairs(&write),
            [
                ("cpu", "0"),
                ("mr", "0x55d0c0a3e200"),
                ("addr", "0x3f8"),
                ("value", "0x41"),
                ("size", "1"),
                ("name", "serial"),
            ]
        );
        assert_eq!(write.number("mr"), Some(0x55d0_c0a3_e200));
        assert_eq!(write.number("value"), Some(0x41));

        let read = event(
            "memory_region_ops_read cpu 0 mr 0x55d0c0a3e200 addr 0x3fd value 0x60 size 1 \
             name 'serial'",
        );
        assert_eq!(read.name, "memory_region_ops_read");
        assert_eq!(read.number("addr"), Some(0x3fd));
        assert_eq!(read.field("name"), Some("serial"));

        let spaced = event("memory_region_ops_read cpu 0 name 'pc.ram low', size 4");
        assert_eq!(
            pairs(&spaced),
            [("cpu", "0"), ("name", "pc.ram low"), ("size", "4")]
        );
    }

    #[test]
    fn key_equals_value_words_are_fields() {
        let slot = event("kvm_set_user_memory Slot#0 flags=0x0 gpa=0xfeffc000 ret=0");
        assert_eq!(
            pairs(&slot),
            [
                ("arg0", "Slot#0"),
                ("flags", "0x0"),
                ("gpa", "0xfeffc000"),
                ("ret", "0")
            ]
        );
        assert_eq!(slot.number("gpa"), Some(0xfeff_c000));
    }

    #[test]
    fn an_event_without_args_has_no_fields() {
        let bare = event("vm_state_notify\n");
        assert_eq!(bare.name, "vm_state_notify");
        assert_eq!(bare.text, "");
        assert!(bare.fields.is_empty());
        assert_eq!(event("qemu_exit \r\n\0").text, "");
    }

    #[test]
    fn what_is_not_an_event_name_is_no_event() {
        for payload in [
            "",
            "\n",
            "      ",
            " cpu_in addr 0x71",
            "Cpu_in addr 0x71",
            "9cpu addr 0x71",
            "qemu-system-x86_64: warning: host doesn't support feature",
            "cpu_in\taddr 0x71",
            "événement addr 1",
            "hello, world",
        ] {
            assert_eq!(parse_qemu_event(payload), None, "{payload:?}");
        }
    }

    #[test]
    fn an_unbalanced_quote_runs_to_the_end() {
        let open = event("memory_region_ops_read size 1 name 'ser ial");
        assert_eq!(pairs(&open), [("size", "1"), ("name", "ser ial")]);
        let inner = event("x name 'it's here' size 2");
        assert_eq!(pairs(&inner), [("name", "it's here"), ("size", "2")]);
        let lone = event("x '");
        assert_eq!(pairs(&lone), [("arg0", "")]);
    }

    #[test]
    fn odd_words_never_fail() {
        let text = "é 'ü ' ,, , = =x k= 0x 0x(1) (  '' 日本 ,'";
        let odd = event(&format!("odd_event {text}"));
        assert_eq!(odd.text, text);
        assert!(!odd.fields.is_empty());
        assert_eq!(odd.field("k"), Some(""));
        assert_eq!(odd.number("k"), None);
    }

    #[test]
    fn a_long_payload_keeps_all_its_words() {
        let args = "value 0x1 ".repeat(60);
        let payload = format!("long_event {args}\n");
        assert!(payload.len() > 600);
        let long = event(&payload);
        assert_eq!(long.fields.len(), 60);
        assert_eq!(long.text, args);
        assert_eq!(long.number("value"), Some(1));
    }

    #[test]
    fn numbers_are_decimal_or_hex_and_fit_64_bits() {
        for (text, number) in [
            ("0", Some(0)),
            ("17", Some(17)),
            ("0x3f8", Some(0x3f8)),
            ("0X3F8", Some(0x3f8)),
            ("0x3f8(b)", Some(0x3f8)),
            ("12(w)", Some(12)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("0xffffffffffffffff", Some(u64::MAX)),
            ("0x1ffffffffffffffff", None),
            ("", None),
            ("0x", None),
            ("(b)", None),
            ("+1", None),
            ("-1", None),
            ("0x+1", None),
            ("1.5", None),
            ("fee00900", None),
            ("١٢", None),
        ] {
            assert_eq!(parse_number(text), number, "{text:?}");
        }
    }

    #[test]
    fn every_prefix_and_suffix_of_odd_payloads_parses_without_panic() {
        let payloads = [
            "memory_region_ops_write cpu 0 mr 0x55d0c0a3e200 addr 0x3f8 value 0x41 size 1 name 'serial'\n",
            "cpu_out addr 0x3f8(b) value 17\r\n",
            "ev k 'é, ü' x=日本 'unbalanced ,' , ,,  0x(  \0",
        ];
        for payload in payloads {
            for (start, _) in payload.char_indices() {
                for (end, _) in payload.char_indices().skip(1) {
                    if let Some(part) = payload.get(start..end)
                        && let Some(event) = parse_qemu_event(part)
                    {
                        for (key, _) in &event.fields {
                            let _ = event.number(key);
                        }
                    }
                }
            }
        }
    }
}
