//! Counters one CPU reader updates and the main thread reads for the progress line.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct CpuProgress {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub lost: AtomicU64,
    /// Set when the reader stopped because its spool could not be written.
    pub write_failed: std::sync::atomic::AtomicBool,
}

/// A snapshot of all CPUs' counters added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressTotals {
    pub records: u64,
    pub bytes: u64,
    pub lost: u64,
}

impl ProgressTotals {
    pub fn of<'a>(cpus: impl IntoIterator<Item = &'a CpuProgress>) -> ProgressTotals {
        cpus.into_iter()
            .fold(ProgressTotals::default(), |acc, cpu| ProgressTotals {
                records: acc.records + cpu.records.load(Ordering::Relaxed),
                bytes: acc.bytes + cpu.bytes.load(Ordering::Relaxed),
                lost: acc.lost + cpu.lost.load(Ordering::Relaxed),
            })
    }
}

/// The progress line: `recording: 123456 events (45678/s), 12.3 MB, 0 lost`.
pub fn progress_line(now: ProgressTotals, rate_per_s: u64) -> String {
    format!(
        "recording: {} events ({}/s), {:.1} MB, {} lost",
        now.records,
        rate_per_s,
        now.bytes as f64 / 1e6,
        now.lost
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_cpus_and_format() {
        let a = CpuProgress::default();
        let b = CpuProgress::default();
        a.records.store(10, Ordering::Relaxed);
        b.records.store(5, Ordering::Relaxed);
        b.bytes.store(2_500_000, Ordering::Relaxed);
        b.lost.store(3, Ordering::Relaxed);
        let totals = ProgressTotals::of([&a, &b]);
        assert_eq!(
            totals,
            ProgressTotals {
                records: 15,
                bytes: 2_500_000,
                lost: 3
            }
        );
        assert_eq!(
            progress_line(totals, 7),
            "recording: 15 events (7/s), 2.5 MB, 3 lost"
        );
    }
}
