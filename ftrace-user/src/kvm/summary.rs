//! Paired exits summed per exit reason, in perf kvm stat's spirit (pure): count, share,
//! time in the kernel and in QEMU (avg, p50, p99, max), and the QEMU events seen.

use std::collections::{BTreeMap, HashMap};

use super::pairing::{Losses, PairedExit, Pairing, Unit, Unpaired};

/// A set of durations in ns, summed up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Distribution {
    pub avg: u64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl Distribution {
    /// Nearest-rank percentiles of `values` (sorted here).
    pub fn of(mut values: Vec<u64>) -> Distribution {
        if values.is_empty() {
            return Distribution::default();
        }
        values.sort_unstable();
        let rank = |p: u64| {
            let n = values.len() as u64;
            let index = (p * n).div_ceil(100).clamp(1, n) - 1;
            values[index as usize]
        };
        let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
        Distribution {
            avg: (sum / values.len() as u128) as u64,
            p50: rank(50),
            p99: rank(99),
            max: *values.last().unwrap_or(&0),
        }
    }
}

/// One exit reason's exits.
#[derive(Debug, Clone, PartialEq)]
pub struct ReasonRow {
    pub reason: String,
    pub count: u64,
    /// Share of all complete exits, in percent.
    pub share: f64,
    pub kernel_ns: Distribution,
    pub user_ns: Distribution,
    /// Exits of this reason that went to userspace.
    pub to_userspace: u64,
    /// QEMU events in these exits by name, most frequent first.
    pub qemu_events: Vec<(String, u64)>,
}

/// The table of one VM (or of every VM).
#[derive(Debug, Clone, PartialEq)]
pub struct KvmSummary {
    pub unit: Unit,
    /// vCPU threads with at least one exit.
    pub vcpus: usize,
    /// Complete exits (incomplete ones are in `lost`).
    pub exits: u64,
    pub rows: Vec<ReasonRow>,
    pub unpaired: Unpaired,
    pub lost: Losses,
}

/// Sums the complete exits `wanted` keeps, by reason, most frequent first.
pub fn summarize(pairing: &Pairing, wanted: impl Fn(&PairedExit) -> bool) -> KvmSummary {
    struct Acc<'a> {
        kernel: Vec<u64>,
        user: Vec<u64>,
        to_userspace: u64,
        qemu: HashMap<&'a str, u64>,
    }
    let mut by_reason: BTreeMap<&str, Acc> = BTreeMap::new();
    let mut threads = std::collections::HashSet::new();
    let mut total = 0u64;
    for exit in pairing.exits.iter().filter(|e| wanted(e)) {
        threads.insert(exit.tid);
        if exit.incomplete {
            continue;
        }
        total += 1;
        let acc = by_reason.entry(&exit.reason).or_insert_with(|| Acc {
            kernel: Vec::new(),
            user: Vec::new(),
            to_userspace: 0,
            qemu: HashMap::new(),
        });
        acc.kernel.push(exit.kernel_ns);
        acc.user.push(exit.user_ns);
        if exit.userspace_reason.is_some() {
            acc.to_userspace += 1;
        }
        for event in &exit.qemu {
            *acc.qemu.entry(&event.name).or_default() += 1;
        }
    }
    let mut rows: Vec<ReasonRow> = by_reason
        .into_iter()
        .map(|(reason, acc)| {
            let mut qemu_events: Vec<(String, u64)> = acc
                .qemu
                .into_iter()
                .map(|(name, count)| (name.to_string(), count))
                .collect();
            qemu_events.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let count = acc.kernel.len() as u64;
            ReasonRow {
                reason: reason.to_string(),
                count,
                share: 100.0 * count as f64 / total.max(1) as f64,
                kernel_ns: Distribution::of(acc.kernel),
                user_ns: Distribution::of(acc.user),
                to_userspace: acc.to_userspace,
                qemu_events,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    KvmSummary {
        unit: pairing.unit,
        vcpus: threads.len(),
        exits: total,
        rows,
        unpaired: pairing.unpaired.clone(),
        lost: pairing.lost.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let d = Distribution::of((1..=100).collect());
        assert_eq!(
            d,
            Distribution {
                avg: 50,
                p50: 50,
                p99: 99,
                max: 100
            }
        );
        assert_eq!(Distribution::of(vec![7]).p99, 7);
        assert_eq!(Distribution::of(Vec::new()), Distribution::default());
    }

    fn exit(reason: &str, kernel_ns: u64, user_ns: u64, incomplete: bool) -> PairedExit {
        PairedExit {
            tid: 1,
            vcpu: Some(0),
            reason: reason.into(),
            userspace_reason: (user_ns > 0).then(|| "KVM_EXIT_IO".into()),
            rip: None,
            ts: 0,
            kernel_ns,
            user_ns,
            user_window: None,
            handling: Vec::new(),
            qemu: Vec::new(),
            incomplete,
        }
    }

    #[test]
    fn rows_by_reason_most_frequent_first_without_incomplete_exits() {
        let pairing = Pairing {
            unit: Unit::KvmExit,
            exits: vec![
                exit("npf", 10, 0, false),
                exit("io", 5, 100, false),
                exit("io", 7, 300, false),
                exit("io", 9, 900, true),
            ],
            unpaired: Unpaired::default(),
            lost: Losses::default(),
            vcpu_threads: BTreeMap::new(),
        };
        let s = summarize(&pairing, |_| true);
        assert_eq!(s.exits, 3);
        assert_eq!(s.vcpus, 1);
        assert_eq!(s.rows[0].reason, "io");
        assert_eq!(s.rows[0].count, 2);
        assert_eq!(s.rows[0].to_userspace, 2);
        assert_eq!(s.rows[0].user_ns.max, 300);
        assert_eq!(s.rows[0].user_ns.avg, 200);
        assert!((s.rows[1].share - 100.0 / 3.0).abs() < 1e-9);
    }
}
