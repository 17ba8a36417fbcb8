//! Histogram snapshots for people (a table, then a log2 bar chart per key) and for
//! programs (one JSON object per snapshot line).

use std::fmt::Write as _;

use crate::{
    format::json_string::write_string,
    hist::{KeyHistogram, Snapshot},
};

/// Width of the bar chart's bars.
const BAR_WIDTH: u64 = 40;

/// "812 ns", "3.4 us", "1.20 ms", "2.50 s".
pub fn human_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} us", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// Short bucket bound as bpftrace prints them: 512, 1K, 2M.
fn bound(value: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (size, unit) in UNITS {
        if value >= size && value.is_multiple_of(size) {
            return format!("{}{unit}", value / size);
        }
    }
    value.to_string()
}

/// The table, then a bar chart per key, then the loss counters that are not zero.
pub fn text(snapshot: &Snapshot, top: usize) -> String {
    text_with_charts(snapshot, top, top)
}

/// [`text`] with bar charts for the first `charts` keys only.
pub fn text_with_charts(snapshot: &Snapshot, top: usize, charts: usize) -> String {
    let mut out = table(snapshot, top);
    for key in snapshot.keys.iter().take(top.min(charts)) {
        let _ = writeln!(out, "\n@{}[{}] (ns):", snapshot.spec, key.key);
        out.push_str(&bars(key));
    }
    let lost: Vec<String> = snapshot
        .lost
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{what} {n}"))
        .collect();
    if !lost.is_empty() {
        let _ = writeln!(
            out,
            "\n{}: lost samples: {}",
            snapshot.spec,
            lost.join(", ")
        );
    }
    out
}

/// One row per key (the `top` keys with most samples): count, avg, p50, p90, p99, max.
pub fn table(snapshot: &Snapshot, top: usize) -> String {
    let mut out = String::new();
    let width = snapshot
        .keys
        .iter()
        .take(top)
        .map(|k| k.key.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let _ = writeln!(
        out,
        "{}: {:<width$} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        snapshot.spec, "key", "count", "avg", "p50", "p90", "p99", "max"
    );
    for key in snapshot.keys.iter().take(top) {
        let _ = writeln!(
            out,
            "{}: {:<width$} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            snapshot.spec,
            key.key,
            key.count,
            human_ns(key.avg_ns()),
            human_ns(key.percentile(50.0)),
            human_ns(key.percentile(90.0)),
            human_ns(key.percentile(99.0)),
            human_ns(key.max_ns)
        );
    }
    out
}

fn bars(key: &KeyHistogram) -> String {
    let buckets = key.log2_buckets();
    let most = buckets.iter().map(|b| b.2).max().unwrap_or(1).max(1);
    let mut out = String::new();
    for (low, high, n) in buckets {
        let bar = "@".repeat((n * BAR_WIDTH).div_ceil(most).min(BAR_WIDTH) as usize);
        let range = format!("[{}, {})", bound(low), bound(high));
        let _ = writeln!(
            out,
            "{range:<16} {n:>10} |{bar:<w$}|",
            w = BAR_WIDTH as usize
        );
    }
    out
}

/// `{"spec":…,"time_ns":…,"keys":[{"key":…,"count":…,"avg_ns":…,"p50_ns":…,"p90_ns":…,
/// "p99_ns":…,"max_ns":…,"buckets":[[lo_ns,hi_ns,count],…]}],"lost":{…}}` — buckets are
/// the fine slots, `hi_ns` inclusive.
pub fn json(snapshot: &Snapshot) -> String {
    let mut out: Vec<u8> = Vec::new();
    out.extend_from_slice(b"{\"spec\":");
    write_string(&mut out, &snapshot.spec);
    out.extend_from_slice(format!(",\"time_ns\":{},\"keys\":[", snapshot.time_ns).as_bytes());
    for (i, key) in snapshot.keys.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        write_string(&mut out, &key.key);
        out.extend_from_slice(
            format!(
                ",\"count\":{},\"avg_ns\":{},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\"max_ns\":{},\"buckets\":[",
                key.count,
                key.avg_ns(),
                key.percentile(50.0),
                key.percentile(90.0),
                key.percentile(99.0),
                key.max_ns
            )
            .as_bytes(),
        );
        for (j, (slot, n)) in key.slots.iter().enumerate() {
            let (low, high) = ftrace_common::hist::slot_bounds(*slot);
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(format!("[{low},{high},{n}]").as_bytes());
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"],\"lost\":{");
    for (i, (what, n)) in snapshot.lost.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(&mut out, what);
        out.extend_from_slice(format!(":{n}").as_bytes());
    }
    out.extend_from_slice(b"}}");
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftrace_common::hist::slot_of;

    fn snapshot() -> Snapshot {
        Snapshot {
            spec: "syscalls".into(),
            time_ns: 42,
            keys: vec![KeyHistogram {
                key: "getppid".into(),
                count: 3,
                sum_ns: 900,
                max_ns: 500,
                slots: vec![(slot_of(200), 2), (slot_of(500), 1)],
            }],
            lost: vec![
                ("start_map_full".into(), 0),
                ("end_without_start".into(), 1),
            ],
        }
    }

    #[test]
    fn json_has_the_documented_shape() {
        assert_eq!(
            json(&snapshot()),
            r#"{"spec":"syscalls","time_ns":42,"keys":[{"key":"getppid","count":3,"avg_ns":300,"p50_ns":203,"p90_ns":500,"p99_ns":500,"max_ns":500,"buckets":[[200,207,2],[496,511,1]]}],"lost":{"start_map_full":0,"end_without_start":1}}"#
        );
    }

    #[test]
    fn text_has_a_row_and_bars_per_key() {
        let text = text(&snapshot(), 10);
        assert!(text.starts_with("syscalls: key"));
        assert!(text.contains("syscalls: getppid          3     300 ns     203 ns     500 ns     500 ns     500 ns"), "{text}");
        assert!(
            text.contains("[128, 256)                2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"),
            "{text}"
        );
        assert!(
            text.contains("[256, 512)                1 |@@@@@@@@@@@@@@@@@@@@                    |"),
            "{text}"
        );
        assert!(text.contains("lost samples: end_without_start 1"), "{text}");
        assert_eq!(human_ns(1_500_000), "1.50 ms");
    }
}
