//! Samples over a threshold, sent to userspace as they happen (the trigger of
//! `hytrace graph --on-outlier`): one ring buffer per aggregator, off unless the
//! loader sets `OUTLIER_NS`. Reserve failures are counted.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::map,
    maps::{PerCpuArray, RingBuf},
};
use ftrace_common::hist::Outlier;

/// Samples longer than this are outliers (0: none are).
#[unsafe(no_mangle)]
static OUTLIER_NS: u64 = 0;

#[map(name = "OUTLIERS")]
static OUTLIERS: RingBuf = RingBuf::with_byte_size(64 * 1024, 0);
/// Outliers the ring buffer had no room for.
#[map(name = "OUTLIERS_LOST")]
static OUTLIERS_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Sends `delta_ns` of `key` when it is over the threshold.
#[inline(always)]
pub fn check(key: u64, delta_ns: u64) {
    // SAFETY: a read of a constant global the loader may have overridden.
    let threshold = unsafe { core::ptr::read_volatile(&OUTLIER_NS) };
    if threshold == 0 || delta_ns <= threshold {
        return;
    }
    let outlier = Outlier {
        // SAFETY: bpf_ktime_get_ns has no preconditions.
        end_ns: unsafe { bpf_ktime_get_ns() },
        delta_ns,
        key,
        pid_tgid: bpf_get_current_pid_tgid(),
    };
    if OUTLIERS.output::<Outlier>(&outlier, 0).is_err()
        && let Some(lost) = OUTLIERS_LOST.get_ptr_mut(0)
    {
        // SAFETY: this CPU's slot of a per-CPU array.
        unsafe { *lost += 1 };
    }
}
