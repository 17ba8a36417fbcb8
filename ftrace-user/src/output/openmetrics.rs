//! `hist --serve`'s `/metrics`: every spec's histograms as a Prometheus histogram family
//! (`hytrace_syscall_latency_seconds{spec="syscalls",key="getppid"}` and the like) and
//! every loss kind as a counter (`hytrace_lost_samples_total{spec,kind}`), encoded by
//! the Prometheus project's client (OpenMetrics text).
//!
//! Buckets come from the in-kernel layout (log2 ranges split in sub-buckets): each
//! boundary is a power of two nanoseconds, so every in-kernel slot lies wholly below or
//! above it and the cumulative counts are exact (a sample of exactly 2^k ns counts in
//! the next bucket up).

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, text::encode},
    metrics::MetricType,
    registry::{Registry, Unit},
};

use crate::hist::{KeyHistogram, Snapshot};
use ftrace_common::hist::slot_bounds;

/// The bucket boundaries: 2^first_power ns, then every `step` powers of two, `count` in
/// all (the +Inf bucket comes on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketLayout {
    pub first_power: u32,
    pub step: u32,
    pub count: u32,
}

impl Default for BucketLayout {
    /// 256 ns to 2^46 ns (about 19.5 hours) in powers of four: 20 boundaries.
    fn default() -> BucketLayout {
        BucketLayout {
            first_power: 8,
            step: 2,
            count: 20,
        }
    }
}

impl BucketLayout {
    /// The boundaries in nanoseconds (those that fit in 63 bits).
    pub fn boundaries_ns(&self) -> Vec<u64> {
        (0..self.count)
            .map(|i| self.first_power + i * self.step)
            .take_while(|p| *p < 63)
            .map(|p| 1u64 << p)
            .collect()
    }
}

/// The metric family of a spec: `hytrace_<kind>_latency` (its unit makes the name end
/// in `_seconds`), the kind being the spec's first word (syscalls → syscall).
pub fn family_name(spec: &str) -> String {
    let kind = spec.split(':').next().unwrap_or(spec);
    let kind = if kind == "syscalls" { "syscall" } else { kind };
    let kind: String = kind
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("hytrace_{kind}_latency")
}

/// One key's samples per bucket, as the client wants them (it sums them up): (upper
/// boundary in seconds, samples in the bucket), the last bucket +Inf; and their total.
fn buckets(key: &KeyHistogram, boundaries: &[u64]) -> (Vec<(f64, u64)>, u64) {
    let mut counts = vec![0u64; boundaries.len() + 1];
    for (slot, n) in &key.slots {
        let high = slot_bounds(*slot).1;
        let bucket = boundaries.partition_point(|&b| b < high);
        counts[bucket] += n;
    }
    let total = counts.iter().sum();
    let uppers = boundaries
        .iter()
        .map(|&b| b as f64 / 1e9)
        // The client writes f64::MAX as +Inf.
        .chain(std::iter::once(f64::MAX));
    (uppers.zip(counts).collect(), total)
}

#[derive(Debug)]
struct SnapshotCollector {
    snapshots: Vec<Snapshot>,
    boundaries: Vec<u64>,
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for snapshot in &self.snapshots {
            let name = family_name(&snapshot.spec);
            let help = format!("Latency of hytrace hist {}, per key", snapshot.spec);
            let mut family = encoder.encode_descriptor(
                &name,
                &help,
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for key in &snapshot.keys {
                let labels = [("spec", snapshot.spec.as_str()), ("key", key.key.as_str())];
                // The count is the buckets' total, so that _count and the +Inf bucket
                // agree even when the totals were read a moment apart.
                let (buckets, count) = buckets(key, &self.boundaries);
                family
                    .encode_family(&labels)?
                    .encode_histogram::<[(&str, &str); 0]>(
                        key.sum_ns as f64 / 1e9,
                        count,
                        &buckets,
                        None,
                    )?;
            }
        }
        let mut lost = encoder.encode_descriptor(
            "hytrace_lost_samples",
            "Samples hytrace hist could not measure, per spec and kind",
            None,
            MetricType::Counter,
        )?;
        for snapshot in &self.snapshots {
            for (kind, n) in &snapshot.lost {
                let labels = [("spec", snapshot.spec.as_str()), ("kind", kind.as_str())];
                lost.encode_family(&labels)?
                    .encode_counter::<[(&str, &str); 0], u64, f64>(n, None)?;
            }
        }
        Ok(())
    }
}

/// The `/metrics` text of `snapshots`.
pub fn text(snapshots: &[Snapshot], layout: &BucketLayout) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector {
        snapshots: snapshots.to_vec(),
        boundaries: layout.boundaries_ns(),
    }));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftrace_common::hist::slot_of;

    #[test]
    fn a_snapshot_becomes_a_histogram_family_and_loss_counters() {
        // Samples of 100 ns, 300 ns (twice) and 5000 ns.
        let slots = vec![(slot_of(100), 1), (slot_of(300), 2), (slot_of(5000), 1)];
        let snapshot = Snapshot {
            spec: "syscalls".into(),
            time_ns: 1,
            keys: vec![KeyHistogram {
                key: "getppid".into(),
                count: 4,
                sum_ns: 5700,
                max_ns: 5000,
                slots,
            }],
            lost: vec![("end_without_start".into(), 3)],
        };
        let layout = BucketLayout {
            first_power: 8,
            step: 2,
            count: 3,
        };
        assert_eq!(layout.boundaries_ns(), [256, 1024, 4096]);
        assert_eq!(
            text(&[snapshot], &layout),
            "# HELP hytrace_syscall_latency_seconds Latency of hytrace hist syscalls, per key\n\
             # TYPE hytrace_syscall_latency_seconds histogram\n\
             # UNIT hytrace_syscall_latency_seconds seconds\n\
             hytrace_syscall_latency_seconds_sum{spec=\"syscalls\",key=\"getppid\"} 0.0000057\n\
             hytrace_syscall_latency_seconds_count{spec=\"syscalls\",key=\"getppid\"} 4\n\
             hytrace_syscall_latency_seconds_bucket{le=\"2.56e-7\",spec=\"syscalls\",key=\"getppid\"} 1\n\
             hytrace_syscall_latency_seconds_bucket{le=\"0.000001024\",spec=\"syscalls\",key=\"getppid\"} 3\n\
             hytrace_syscall_latency_seconds_bucket{le=\"0.000004096\",spec=\"syscalls\",key=\"getppid\"} 3\n\
             hytrace_syscall_latency_seconds_bucket{le=\"+Inf\",spec=\"syscalls\",key=\"getppid\"} 4\n\
             # HELP hytrace_lost_samples Samples hytrace hist could not measure, per spec and kind\n\
             # TYPE hytrace_lost_samples counter\n\
             hytrace_lost_samples_total{spec=\"syscalls\",kind=\"end_without_start\"} 3\n\
             # EOF\n"
        );
        assert_eq!(
            family_name("uprobe:/tmp/deep:descend"),
            "hytrace_uprobe_latency"
        );
        assert_eq!(family_name("kvm-exit"), "hytrace_kvm_exit_latency");
    }
}
