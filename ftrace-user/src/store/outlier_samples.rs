//! The outlier samples a `graph --on-outlier` snapshot was taken for (hytrace option
//! kind [`OUTLIER_SAMPLES`](super::hytrace_kind::OUTLIER_SAMPLES)): each sample over
//! the threshold that the aggregator sent before the snapshot, with its histogram key
//! and thread, on the recording's clock (CLOCK_MONOTONIC), so a kept snapshot still
//! says what it was kept for (`export --perfetto` draws each as a slice).
//!
//! Text, one sample a line: `TID TGID END_NS DELTA_NS THRESHOLD_NS SPEC<tab>KEY` (a
//! uprobe spec's path and a histogram key's name may hold spaces, never a control
//! character).

/// One sample over the threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutlierSample {
    /// The histogram spec, as given (`syscalls`).
    pub spec: String,
    /// The histogram key's name (`clock_nanosleep`).
    pub key: String,
    pub tid: u32,
    pub tgid: u32,
    /// When the sample ended.
    pub end_ns: u64,
    pub delta_ns: u64,
    pub threshold_ns: u64,
}

impl OutlierSample {
    /// When the sample began.
    pub fn start_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.delta_ns)
    }
}

/// Whether `text` can stand in a line: printable, no line breaks or terminal
/// controls (the option is read back from untrusted files and printed).
fn printable(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(char::is_control)
}

/// The option's text; samples whose spec or key could not be read back (empty, or
/// with control characters) are left out.
pub fn to_text(samples: &[OutlierSample]) -> String {
    let mut out = String::new();
    for s in samples {
        if !printable(&s.spec) || !printable(&s.key) {
            continue;
        }
        out.push_str(&format!(
            "{} {} {} {} {} {}\t{}\n",
            s.tid, s.tgid, s.end_ns, s.delta_ns, s.threshold_ns, s.spec, s.key
        ));
    }
    out
}

/// Reads [`to_text`]'s form (the option's bytes, untrusted); None when a line is
/// malformed.
pub fn parse(bytes: &[u8]) -> Option<Vec<OutlierSample>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut words = line.splitn(6, ' ');
        let mut number = || words.next()?.parse::<u64>().ok();
        let (tid, tgid) = (number()?, number()?);
        let (end_ns, delta_ns, threshold_ns) = (number()?, number()?, number()?);
        let (spec, key) = words.next()?.split_once('\t')?;
        let (spec, key) = (spec.to_string(), key.to_string());
        if !printable(&spec) || !printable(&key) || delta_ns > end_ns {
            return None;
        }
        samples.push(OutlierSample {
            spec,
            key,
            tid: u32::try_from(tid).ok()?,
            tgid: u32::try_from(tgid).ok()?,
            end_ns,
            delta_ns,
            threshold_ns,
        });
    }
    Some(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<OutlierSample> {
        vec![
            OutlierSample {
                spec: "syscalls".into(),
                key: "clock_nanosleep".into(),
                tid: 412,
                tgid: 412,
                end_ns: 5_300_100_000,
                delta_ns: 100_123_456,
                threshold_ns: 5_000_000,
            },
            OutlierSample {
                spec: "uprobe:/opt/my app/bin:handle".into(),
                key: "7 kworker/0:1".into(),
                tid: 7,
                tgid: 7,
                end_ns: 9_000,
                delta_ns: 8_000,
                threshold_ns: 2_500,
            },
        ]
    }

    #[test]
    fn round_trips_specs_and_keys_with_spaces() {
        let text = to_text(&samples());
        assert_eq!(
            text.lines().next().unwrap(),
            "412 412 5300100000 100123456 5000000 syscalls\tclock_nanosleep"
        );
        assert_eq!(parse(text.as_bytes()).unwrap(), samples());
        assert_eq!(samples()[0].start_ns(), 5_199_976_544);
    }

    #[test]
    fn what_cannot_be_read_back_is_left_out_and_bad_lines_are_refused() {
        let mut bad = samples();
        bad[0].key = "evil\x1b[2J".into();
        bad[1].spec = String::new();
        assert_eq!(to_text(&bad), "");
        for line in [
            "1 1 10 20 5 syscalls\tread\n",
            "1 1 10 5 5 syscalls\n",
            "1 1 10 5 5 syscalls read\n",
            "x 1 10 5 5 syscalls\tread\n",
            "1 1 10 5 5 syscalls\tre\x07ad\n",
            "1 1 10 5 5 syscalls\tread\tmore\n",
            "4294967296 1 10 5 5 syscalls\tread\n",
        ] {
            assert_eq!(parse(line.as_bytes()), None, "{line:?}");
        }
        assert_eq!(parse(b"").unwrap(), vec![]);
        // Every cut of a good text is a value or None, never a panic.
        let text = to_text(&samples());
        for cut in 0..text.len() {
            let _ = parse(&text.as_bytes()[..cut]);
        }
    }
}
