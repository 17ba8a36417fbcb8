//! `hist --stacks`: the samples of each key by the stacks where their latency began,
//! named (pure: the frames come symbolized).

use crate::symbolize::user::UserFrame;

/// One (key, stacks) of an aggregator's stack table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEntry {
    /// The key as the histogram names it (`getppid`, …).
    pub key: String,
    pub count: u64,
    pub total_ns: u64,
    /// Frames innermost first: the kernel's (where the hook fired), then the user's.
    pub kernel: Vec<String>,
    pub user: Vec<UserFrame>,
    /// The same frames by name only, root first, kernel ones suffixed `_[k]`.
    pub folded: Vec<String>,
}

/// Every (key, stacks) of one aggregator, and what it could not keep.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackReport {
    pub spec: String,
    /// By key (most samples first), then by total latency, largest first.
    pub entries: Vec<StackEntry>,
    pub lost: Vec<(String, u64)>,
}

impl StackReport {
    /// Orders the entries: keys by their samples (most first), within a key the
    /// stacks by total latency (largest first).
    pub fn sort(&mut self) {
        let mut key_counts: std::collections::HashMap<String, u64> = Default::default();
        for entry in &self.entries {
            *key_counts.entry(entry.key.clone()).or_default() += entry.count;
        }
        self.entries.sort_by(|a, b| {
            key_counts[&b.key]
                .cmp(&key_counts[&a.key])
                .then_with(|| a.key.cmp(&b.key))
                .then_with(|| b.total_ns.cmp(&a.total_ns))
                .then_with(|| a.folded.cmp(&b.folded))
        });
    }

    /// Folded stacks weighted by nanoseconds (`key;root;…;leaf NS`), for flame graphs.
    pub fn folded_ns(&self) -> Vec<(String, u64)> {
        let mut folded: std::collections::BTreeMap<String, u64> = Default::default();
        for entry in &self.entries {
            let mut line = entry.key.replace(';', ":");
            for frame in &entry.folded {
                line.push(';');
                line.push_str(&frame.replace(';', ":"));
            }
            *folded.entry(line).or_default() += entry.total_ns;
        }
        let mut out: Vec<(String, u64)> = folded.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, count: u64, total_ns: u64, folded: &[&str]) -> StackEntry {
        StackEntry {
            key: key.into(),
            count,
            total_ns,
            kernel: Vec::new(),
            user: Vec::new(),
            folded: folded.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn keys_by_samples_then_stacks_by_total_and_folded_by_ns() {
        let mut report = StackReport {
            spec: "syscalls".into(),
            entries: vec![
                entry("read", 5, 900, &["main", "r"]),
                entry("getppid", 8, 100, &["main", "a"]),
                entry("getppid", 2, 500, &["main", "b"]),
            ],
            lost: Vec::new(),
        };
        report.sort();
        let order: Vec<(&str, u64)> = report
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.total_ns))
            .collect();
        assert_eq!(
            order,
            vec![("getppid", 500), ("getppid", 100), ("read", 900)]
        );
        assert_eq!(
            report.folded_ns(),
            vec![
                ("read;main;r".to_string(), 900),
                ("getppid;main;b".to_string(), 500),
                ("getppid;main;a".to_string(), 100)
            ]
        );
    }
}
