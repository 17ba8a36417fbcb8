//! `report --hist`: each histogram aggregated in eBPF during the recording, the same
//! recomputed from the recorded events, and whether their counts agree (text), or both
//! as JSON snapshot lines.

use std::fmt::Write as _;

use super::histogram;
use crate::{hist::Snapshot, report::histograms::Comparison};

/// Keys shown per histogram.
const TOP_KEYS: usize = 20;
/// Keys with a bar chart per histogram.
const TOP_CHARTS: usize = 3;
/// Differing keys listed.
const LISTED_DIFFERENCES: usize = 10;

/// Each comparison as text: the eBPF histogram with charts, the recomputed table, and
/// the verdict (with the likely reasons when they differ).
pub fn text(comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    for (i, comparison) in comparisons.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        write_one(&mut out, comparison);
    }
    out
}

fn write_one(out: &mut String, comparison: &Comparison) {
    let stored = &comparison.stored;
    let bpf = &stored.snapshot;
    let scope = match stored.tgid {
        0 => "every process".to_string(),
        tgid => format!("process {tgid}"),
    };
    let _ = writeln!(out, "{}: aggregated in eBPF, {scope}", bpf.spec);
    out.push_str(&histogram::text_with_charts(bpf, TOP_KEYS, TOP_CHARTS));
    let stream = match &comparison.stream {
        Ok(stream) => stream,
        Err(why) => {
            let _ = writeln!(
                out,
                "\n{}: not compared with the recorded events: {why}",
                bpf.spec
            );
            return;
        }
    };
    let label = format!("{} (stream)", bpf.spec);
    let _ = writeln!(out, "\n{label}: recomputed from {}", stream.source);
    let snapshot = Snapshot {
        spec: label,
        time_ns: bpf.time_ns,
        keys: stream.keys.clone(),
        lost: Vec::new(),
    };
    out.push_str(&histogram::table(&snapshot, TOP_KEYS));
    let samples: u64 = bpf.keys.iter().map(|k| k.count).sum();
    let differences = &comparison.differences;
    if differences.is_empty() {
        let _ = writeln!(
            out,
            "{}: eBPF and recorded events agree: {samples} samples in {} keys",
            bpf.spec,
            bpf.keys.len()
        );
        return;
    }
    let listed: Vec<String> = differences
        .iter()
        .take(LISTED_DIFFERENCES)
        .map(|(key, b, s)| format!("{key} eBPF {b} events {s}"))
        .collect();
    let _ = writeln!(
        out,
        "{}: eBPF and recorded events differ in {} of {} keys: {}{}",
        bpf.spec,
        differences.len(),
        bpf.keys.len().max(stream.keys.len()),
        listed.join(", "),
        if differences.len() > LISTED_DIFFERENCES {
            ", …"
        } else {
            ""
        }
    );
    let mut why = Vec::new();
    if stream.lost_events > 0 {
        why.push(format!("the recording lost {} events", stream.lost_events));
    }
    if stored.tgid == 0 {
        why.push(
            "the aggregator ran from just before tracing started until just after it \
             stopped, so pairs at the edges count only in eBPF"
                .to_string(),
        );
    }
    if !why.is_empty() {
        let _ = writeln!(out, "{}: ({})", bpf.spec, why.join("; "));
    }
}

/// Each comparison as JSON lines: the eBPF snapshot, then the recomputed one (spec
/// `SPEC (stream)`, its ends without a start as its loss) where there is one.
pub fn json(comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    for comparison in comparisons {
        let bpf = &comparison.stored.snapshot;
        let _ = writeln!(out, "{}", histogram::json(bpf));
        if let Ok(stream) = &comparison.stream {
            let snapshot = Snapshot {
                spec: format!("{} (stream)", bpf.spec),
                time_ns: bpf.time_ns,
                keys: stream.keys.clone(),
                lost: vec![("end_without_start".into(), stream.ends_without_start)],
            };
            let _ = writeln!(out, "{}", histogram::json(&snapshot));
        }
    }
    out
}
