//! Latency histograms computed from recorded events (pure): begins and ends matched by
//! what they share (a thread, a CPU, a request), the key taken from the begin, each
//! sample put in the same slots the BPF aggregators use, so the two can be compared.

use std::collections::HashMap;

use ftrace_common::hist::{KeyTotals, capped_slot_of};

use super::{KeyHistogram, histogram::build};

/// One recorded event of a begin/end pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairEvent {
    /// A pair begins for `owner` (thread, CPU or request) with histogram key `key`; a
    /// begin the owner already has is replaced, as in the BPF aggregators.
    Begin {
        owner: (u64, u64),
        key: u64,
        ts: u64,
    },
    /// The owner's pair ends.
    End { owner: (u64, u64), ts: u64 },
}

/// What matching the events gave.
#[derive(Debug, Default)]
pub struct PairSamples {
    /// (key, slot) → samples.
    slots: HashMap<(u64, u32), u64>,
    totals: HashMap<u64, KeyTotals>,
    /// Ends whose owner had no begin.
    pub ends_without_start: u64,
}

impl PairSamples {
    pub fn add(&mut self, events: impl IntoIterator<Item = PairEvent>) {
        let mut open: HashMap<(u64, u64), (u64, u64)> = HashMap::new();
        for event in events {
            match event {
                PairEvent::Begin { owner, key, ts } => {
                    open.insert(owner, (ts, key));
                }
                PairEvent::End { owner, ts } => match open.remove(&owner) {
                    Some((began, key)) => self.sample(key, ts.saturating_sub(began)),
                    None => self.ends_without_start += 1,
                },
            }
        }
    }

    fn sample(&mut self, key: u64, delta: u64) {
        *self.slots.entry((key, capped_slot_of(delta))).or_default() += 1;
        self.totals.entry(key).or_default().add(delta);
    }

    /// The histograms, one per key named by `name`, most samples first; keys that get
    /// the same name are merged.
    pub fn histograms(&self, name: impl Fn(u64) -> String) -> Vec<KeyHistogram> {
        let slots = self.slots.iter().map(|(&(key, slot), &n)| (key, slot, n));
        let totals = self.totals.iter().map(|(&key, &t)| (key, t));
        merge_same_names(build(slots, totals, name))
    }
}

/// Merges histograms that carry the same key name (e.g. two processes of one command).
pub fn merge_same_names(keys: Vec<KeyHistogram>) -> Vec<KeyHistogram> {
    let mut merged: Vec<KeyHistogram> = Vec::with_capacity(keys.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for key in keys {
        match index.get(&key.key) {
            None => {
                index.insert(key.key.clone(), merged.len());
                merged.push(key);
            }
            Some(&i) => {
                let into = &mut merged[i];
                into.count += key.count;
                into.sum_ns += key.sum_ns;
                into.max_ns = into.max_ns.max(key.max_ns);
                let mut slots: std::collections::BTreeMap<u32, u64> =
                    into.slots.iter().copied().collect();
                for (slot, n) in key.slots {
                    *slots.entry(slot).or_default() += n;
                }
                into.slots = slots.into_iter().collect();
            }
        }
    }
    merged.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    merged
}

/// Keys whose counts differ between two sets of histograms: (key, first, second).
pub fn count_differences(a: &[KeyHistogram], b: &[KeyHistogram]) -> Vec<(String, u64, u64)> {
    let mut counts: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    for key in a {
        counts.entry(&key.key).or_default().0 += key.count;
    }
    for key in b {
        counts.entry(&key.key).or_default().1 += key.count;
    }
    counts
        .into_iter()
        .filter(|(_, (x, y))| x != y)
        .map(|(key, (x, y))| (key.to_string(), x, y))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(owner: (u64, u64), key: u64, ts: u64) -> PairEvent {
        PairEvent::Begin { owner, key, ts }
    }

    fn end(owner: (u64, u64), ts: u64) -> PairEvent {
        PairEvent::End { owner, ts }
    }

    #[test]
    fn begins_and_ends_match_per_owner() {
        let mut samples = PairSamples::default();
        samples.add([
            end((1, 0), 5),
            begin((1, 0), 110, 10),
            begin((2, 0), 39, 12),
            end((1, 0), 110),
            begin((1, 0), 110, 200),
            // A begin the owner already has replaces it.
            begin((1, 0), 110, 250),
            end((1, 0), 300),
            end((2, 0), 1012),
            end((2, 0), 2000),
        ]);
        assert_eq!(samples.ends_without_start, 2);
        let keys = samples.histograms(|k| format!("k{k}"));
        assert_eq!(keys.len(), 2);
        assert_eq!(
            (
                keys[0].key.as_str(),
                keys[0].count,
                keys[0].sum_ns,
                keys[0].max_ns
            ),
            ("k110", 2, 150, 100)
        );
        assert_eq!(
            (keys[1].key.as_str(), keys[1].count, keys[1].max_ns),
            ("k39", 1, 1000)
        );
        assert_eq!(keys[1].slots, vec![(capped_slot_of(1000), 1)]);
    }

    #[test]
    fn same_names_merge_and_differences_are_listed() {
        let mut samples = PairSamples::default();
        samples.add([
            begin((1, 0), 1, 0),
            end((1, 0), 10),
            begin((2, 0), 2, 0),
            end((2, 0), 30),
            begin((3, 0), 3, 0),
            end((3, 0), 5),
        ]);
        let keys = samples.histograms(|k| {
            if k == 3 {
                "other".into()
            } else {
                "spin".into()
            }
        });
        assert_eq!(keys[0].key, "spin");
        assert_eq!((keys[0].count, keys[0].sum_ns, keys[0].max_ns), (2, 40, 30));
        assert_eq!(keys[0].slots.iter().map(|s| s.1).sum::<u64>(), 2);
        let mut other = keys.clone();
        other[1].count = 7;
        assert_eq!(count_differences(&keys, &keys), vec![]);
        assert_eq!(
            count_differences(&keys, &other),
            vec![("other".to_string(), 1, 7)]
        );
        assert_eq!(
            count_differences(&keys[..1], &keys),
            vec![("other".to_string(), 0, 1)]
        );
    }
}
