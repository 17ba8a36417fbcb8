//! The kernel-hit audit a recording stores (hytrace option kind
//! [`HIT_AUDIT`](super::hytrace_kind::HIT_AUDIT)): per event, what was recorded and what
//! the kernel's eBPF counters saw in the same window and scope; per CPU, recorded and
//! lost beside the hits; the window. `report --count` prints it beside the file's
//! decoded counts, so a file can be checked long after it was made.
//!
//! Text, one item per line: `window WINDOW_NS BEFORE_NS AFTER_NS SYSTEM_WIDE(0|1)`,
//! `event NAME RECORDED HITS|-`, `cpu CPU RECORDED LOST HITS`.

/// One event's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHits {
    /// SYSTEM:EVENT
    pub name: String,
    pub recorded: u64,
    /// None: the event had no counter.
    pub kernel_hits: Option<u64>,
}

/// One CPU's totals over the events with a counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuHits {
    pub cpu: u32,
    pub recorded: u64,
    pub lost: u64,
    pub kernel_hits: u64,
}

/// The whole audit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HitAudit {
    pub window_ns: u64,
    pub before_ns: u64,
    pub after_ns: u64,
    pub system_wide: bool,
    pub events: Vec<EventHits>,
    pub cpus: Vec<CpuHits>,
}

impl HitAudit {
    /// The option's text.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "window {} {} {} {}\n",
            self.window_ns,
            self.before_ns,
            self.after_ns,
            u8::from(self.system_wide)
        );
        for event in &self.events {
            let hits = event
                .kernel_hits
                .map_or_else(|| "-".to_string(), |h| h.to_string());
            out.push_str(&format!("event {} {} {hits}\n", event.name, event.recorded));
        }
        for cpu in &self.cpus {
            out.push_str(&format!(
                "cpu {} {} {} {}\n",
                cpu.cpu, cpu.recorded, cpu.lost, cpu.kernel_hits
            ));
        }
        out
    }

    /// Reads [`to_text`](Self::to_text)'s form (the option's bytes, untrusted); None
    /// when a line is malformed or the window line is missing.
    pub fn parse(bytes: &[u8]) -> Option<HitAudit> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut audit = HitAudit::default();
        let mut window = false;
        for line in text.lines().filter(|l| !l.is_empty()) {
            let words: Vec<&str> = line.split(' ').collect();
            let number = |i: usize| words.get(i)?.parse::<u64>().ok();
            match words.first().copied() {
                Some("window") if words.len() == 5 => {
                    audit.window_ns = number(1)?;
                    audit.before_ns = number(2)?;
                    audit.after_ns = number(3)?;
                    audit.system_wide = match words[4] {
                        "0" => false,
                        "1" => true,
                        _ => return None,
                    };
                    window = true;
                }
                // Names are printed: visible ASCII only (no terminal controls).
                Some("event")
                    if words.len() == 4 && words[1].bytes().all(|b| b.is_ascii_graphic()) =>
                {
                    audit.events.push(EventHits {
                        name: words[1].to_string(),
                        recorded: number(2)?,
                        kernel_hits: match words[3] {
                            "-" => None,
                            _ => Some(number(3)?),
                        },
                    });
                }
                Some("cpu") if words.len() == 5 => audit.cpus.push(CpuHits {
                    cpu: u32::try_from(number(1)?).ok()?,
                    recorded: number(2)?,
                    lost: number(3)?,
                    kernel_hits: number(4)?,
                }),
                _ => return None,
            }
        }
        window.then_some(audit)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An audit of two events (one without a counter) and one lossy CPU.
    pub(crate) fn audit() -> HitAudit {
        HitAudit {
            window_ns: 218_000_000,
            before_ns: 19_000,
            after_ns: 106_700,
            system_wide: false,
            events: vec![
                EventHits {
                    name: "raw_syscalls:sys_enter".into(),
                    recorded: 1_541_468,
                    kernel_hits: Some(2_000_066),
                },
                EventHits {
                    name: "ftrace:print".into(),
                    recorded: 3,
                    kernel_hits: None,
                },
            ],
            cpus: vec![CpuHits {
                cpu: 0,
                recorded: 3_082_928,
                lost: 917_196,
                kernel_hits: 4_000_124,
            }],
        }
    }

    #[test]
    fn the_text_reads_back_as_written() {
        let text = audit().to_text();
        assert_eq!(
            text,
            "window 218000000 19000 106700 0\n\
             event raw_syscalls:sys_enter 1541468 2000066\n\
             event ftrace:print 3 -\n\
             cpu 0 3082928 917196 4000124\n"
        );
        assert_eq!(HitAudit::parse(text.as_bytes()), Some(audit()));
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "",
            "event a:b 1 2\n",
            "window 1 2 3 2\n",
            "window 1 2 3 0\nevent a:b x 2\n",
            "window 1 2 3 0\ncpu 99999999999 1 2 3\n",
            "window 1 2 3 0\nfuture 1\n",
            "window 1 2 3 0\nevent a b 1 2\n",
            "window 1 2 3 0\nevent a\x1b[2J 1 2\n",
        ] {
            assert_eq!(HitAudit::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(HitAudit::parse(&[0xff, 0xfe]), None);
    }
}
