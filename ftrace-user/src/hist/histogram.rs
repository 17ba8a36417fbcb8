//! One key's histogram as read from the BPF maps: its slots (log2 buckets split into 16
//! linear sub-buckets, see `ftrace_common::hist`) and totals; percentiles and the log2
//! buckets of the bar chart.

use std::collections::BTreeMap;

use ftrace_common::hist::{KeyTotals, slot_bounds};

/// One key (a syscall, an irq, a CPU…) of one histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHistogram {
    pub key: String,
    pub count: u64,
    pub sum_ns: u64,
    pub max_ns: u64,
    /// Non-empty slots in value order: (slot, samples).
    pub slots: Vec<(u32, u64)>,
}

/// Everything one spec's aggregator holds at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub spec: String,
    pub time_ns: u64,
    /// Keys, most samples first.
    pub keys: Vec<KeyHistogram>,
    /// Named loss counters (start map full, histogram map full, ends without start).
    pub lost: Vec<(String, u64)>,
}

impl KeyHistogram {
    pub fn avg_ns(&self) -> u64 {
        self.sum_ns.checked_div(self.count).unwrap_or(0)
    }

    /// The `p`-th percentile (0 < p <= 100): the middle of the slot holding that sample
    /// (capped at the maximum), within one sub-bucket (at most 1/16 of the value) of the
    /// exact value.
    pub fn percentile(&self, p: f64) -> u64 {
        let total: u64 = self.slots.iter().map(|(_, n)| n).sum();
        if total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (slot, n) in &self.slots {
            seen += n;
            if seen >= rank {
                let (low, high) = slot_bounds(*slot);
                let middle = low + (high - low) / 2;
                // Never above the largest sample seen (when totals are known).
                return if self.max_ns > 0 {
                    middle.min(self.max_ns)
                } else {
                    middle
                };
            }
        }
        self.max_ns
    }

    /// Power-of-two buckets `[2^k, 2^(k+1))` (and `[0, 1)`), as bpftrace's hist() has
    /// them: (low, high exclusive, samples), empty ones between filled ones included.
    pub fn log2_buckets(&self) -> Vec<(u64, u64, u64)> {
        let mut by_power: BTreeMap<u32, u64> = BTreeMap::new();
        for (slot, n) in &self.slots {
            let (low, _) = slot_bounds(*slot);
            let power = if low == 0 {
                0
            } else {
                64 - low.leading_zeros()
            };
            *by_power.entry(power).or_default() += n;
        }
        let (Some(&first), Some(&last)) = (by_power.keys().next(), by_power.keys().last()) else {
            return Vec::new();
        };
        (first..=last)
            .map(|power| {
                let (low, high) = if power == 0 {
                    (0, 1)
                } else {
                    (
                        1u64 << (power - 1),
                        1u64.checked_shl(power).unwrap_or(u64::MAX),
                    )
                };
                (low, high, by_power.get(&power).copied().unwrap_or(0))
            })
            .collect()
    }
}

/// Builds one histogram per key from slot counts and totals summed over CPUs.
pub fn build(
    slots: impl IntoIterator<Item = (u64, u32, u64)>,
    totals: impl IntoIterator<Item = (u64, KeyTotals)>,
    name: impl Fn(u64) -> String,
) -> Vec<KeyHistogram> {
    let mut by_key: BTreeMap<u64, KeyHistogram> = BTreeMap::new();
    let entry = |map: &mut BTreeMap<u64, KeyHistogram>, key: u64| {
        map.entry(key)
            .or_insert_with(|| KeyHistogram {
                key: name(key),
                count: 0,
                sum_ns: 0,
                max_ns: 0,
                slots: Vec::new(),
            })
            .clone()
    };
    let mut slot_maps: BTreeMap<u64, BTreeMap<u32, u64>> = BTreeMap::new();
    for (key, slot, n) in slots {
        if n > 0 {
            *slot_maps.entry(key).or_default().entry(slot).or_default() += n;
        }
    }
    for (key, t) in totals {
        let mut h = entry(&mut by_key, key);
        h.count += t.count;
        h.sum_ns += t.sum_ns;
        h.max_ns = h.max_ns.max(t.max_ns);
        by_key.insert(key, h);
    }
    for (key, slots) in slot_maps {
        let mut h = entry(&mut by_key, key);
        h.slots = slots.into_iter().collect();
        if h.count == 0 {
            h.count = h.slots.iter().map(|(_, n)| n).sum();
        }
        by_key.insert(key, h);
    }
    let mut keys: Vec<KeyHistogram> = by_key.into_values().filter(|h| h.count > 0).collect();
    keys.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftrace_common::hist::slot_of;

    fn histogram(values: &[u64]) -> KeyHistogram {
        let slots = values.iter().map(|&v| (7u64, slot_of(v), 1u64));
        let totals = [(
            7u64,
            KeyTotals {
                count: values.len() as u64,
                sum_ns: values.iter().sum(),
                max_ns: values.iter().copied().max().unwrap_or(0),
            },
        )];
        build(slots, totals, |k| format!("k{k}")).remove(0)
    }

    #[test]
    fn percentiles_are_within_one_sub_bucket() {
        let values: Vec<u64> = (1..=1000).map(|i| i * 100).collect();
        let h = histogram(&values);
        assert_eq!((h.key.as_str(), h.count, h.max_ns), ("k7", 1000, 100_000));
        assert_eq!(h.avg_ns(), 50_050);
        for (p, exact) in [(50.0, 50_000u64), (90.0, 90_000), (99.0, 99_000)] {
            let got = h.percentile(p);
            let tolerance = exact / 16 + 1;
            assert!(got.abs_diff(exact) <= tolerance, "p{p}: {got} vs {exact}");
        }
    }

    #[test]
    fn log2_buckets_match_bpftrace_layout() {
        let h = histogram(&[0, 1, 3, 5, 6, 1000]);
        let buckets = h.log2_buckets();
        assert_eq!(buckets[0], (0, 1, 1));
        assert_eq!(buckets[1], (1, 2, 1));
        assert_eq!(buckets[2], (2, 4, 1));
        assert_eq!(buckets[3], (4, 8, 2));
        assert_eq!(buckets.last(), Some(&(512, 1024, 1)));
        assert_eq!(buckets.iter().map(|b| b.2).sum::<u64>(), 6);
    }
}
