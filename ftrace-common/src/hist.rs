//! Latency histograms shared by the BPF aggregators and userspace: the bucket layout
//! (log2 buckets split into linear sub-buckets) and the map records.

/// Each power of two is split into 2^SUB_BITS equal sub-buckets (16: a value's bucket
/// is at most 1/16 = 6.25% wide relative to its lower bound).
pub const SUB_BITS: u32 = 4;
const SUBS: u64 = 1 << SUB_BITS;
/// Number of slots needed for any u64 value.
pub const SLOTS: u32 = (64 - SUB_BITS + 1) << SUB_BITS;
/// Values at or above this many nanoseconds (about 18 minutes) share the last slot of
/// the compact tables, which then need only [`CAPPED_SLOTS`] slots per key.
pub const CAPPED_NS: u64 = 1 << 40;
/// Slots per key when values are capped at [`CAPPED_NS`].
pub const CAPPED_SLOTS: u32 = (40 - SUB_BITS + 1) << SUB_BITS;
/// Keys of the compact per-syscall tables (syscall numbers below this).
pub const SYSCALL_KEYS: u32 = 512;
/// Keys of the per-CPU pair aggregator's tables as built; the loader may shrink or
/// grow them per spec (irq numbers, softirq vectors).
pub const PAIR_KEYS: u32 = 1024;

/// The slot of `value` in a compact table (values capped at [`CAPPED_NS`] - 1).
#[inline(always)]
pub fn capped_slot_of(value: u64) -> u32 {
    slot_of(if value >= CAPPED_NS {
        CAPPED_NS - 1
    } else {
        value
    })
}

/// The slot of a value: values below 16 get one slot each; above, slot = (log2 - 3) *
/// 16 + the next four bits.
#[inline(always)]
pub fn slot_of(value: u64) -> u32 {
    if value < SUBS {
        return value as u32;
    }
    let log = 63 - value.leading_zeros();
    let sub = (value >> (log - SUB_BITS)) & (SUBS - 1);
    (((log - SUB_BITS + 1) as u64) << SUB_BITS | sub) as u32
}

/// The values `[low, high]` a slot holds.
pub fn slot_bounds(slot: u32) -> (u64, u64) {
    let slot = u64::from(slot);
    if slot < SUBS {
        return (slot, slot);
    }
    let log = (slot >> SUB_BITS) + u64::from(SUB_BITS) - 1;
    let sub = slot & (SUBS - 1);
    let width = 1u64 << (log - u64::from(SUB_BITS));
    let low = (1u64 << log) + sub * width;
    (low, low + (width - 1))
}

/// Key of one slot in a hashed table (for keys too sparse for a flat array).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SlotKey {
    pub key: u64,
    pub slot: u32,
    pub _pad: u32,
}

/// Per key totals beside the slots: for the average and the maximum.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyTotals {
    pub count: u64,
    pub sum_ns: u64,
    pub max_ns: u64,
}

impl KeyTotals {
    /// Totals of one sample.
    #[inline(always)]
    pub fn of(delta_ns: u64) -> KeyTotals {
        KeyTotals {
            count: 1,
            sum_ns: delta_ns,
            max_ns: delta_ns,
        }
    }

    /// Adds one sample.
    #[inline(always)]
    pub fn add(&mut self, delta_ns: u64) {
        self.count += 1;
        self.sum_ns += delta_ns;
        if delta_ns > self.max_ns {
            self.max_ns = delta_ns;
        }
    }

    /// Adds another set of totals (another CPU's).
    #[inline(always)]
    pub fn merge(&mut self, other: &KeyTotals) {
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        if other.max_ns > self.max_ns {
            self.max_ns = other.max_ns;
        }
    }
}

/// A begin timestamp waiting for its end, per thread (`ts_ns == 0`: none).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairStart {
    pub ts_ns: u64,
    pub key: u64,
}

/// Calls of a probed function (`uprobe:`, `func:`) one thread can be inside at once,
/// each with its own start; a call deeper than this is not measured (counted as
/// [`lost::TOO_DEEP`]) and its return is matched to nothing.
pub const CALL_STACK_DEPTH: usize = 32;

/// The starts of the calls a thread is inside, outermost first: `depth` calls, of
/// which the first [`CALL_STACK_DEPTH`] have their start in `ts_ns`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallStack {
    pub depth: u32,
    pub _pad: u32,
    pub ts_ns: [u64; CALL_STACK_DEPTH],
}

impl Default for CallStack {
    fn default() -> Self {
        CallStack {
            depth: 0,
            _pad: 0,
            ts_ns: [0; CALL_STACK_DEPTH],
        }
    }
}

/// The begin of the pair running on a CPU right now, and the thread it belongs to.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuPairStart {
    pub tid: u32,
    pub _pad: u32,
    pub ts_ns: u64,
    pub key: u64,
}

/// A block request in flight: its device (kernel dev_t) and first sector.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RequestKey {
    pub dev: u64,
    pub sector: u64,
}

/// A key (syscall number) of one command name's histogram.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CommKey {
    pub comm: [u8; 16],
    pub key: u64,
}

/// One slot of a (command name, key) histogram.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CommSlotKey {
    pub comm: [u8; 16],
    pub key: u64,
    pub slot: u32,
    pub _pad: u32,
}

/// A sample over the outlier threshold, as the aggregator saw it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outlier {
    /// bpf_ktime_get_ns() when the sample ended (CLOCK_MONOTONIC).
    pub end_ns: u64,
    pub delta_ns: u64,
    pub key: u64,
    pub pid_tgid: u64,
}

/// Indexes of the counters of what the aggregator could not record.
pub mod lost {
    /// A start could not be stored (start map full).
    pub const START_MAP_FULL: u32 = 0;
    /// An end came without a start (the thread began before attaching, or the start
    /// was lost).
    pub const END_WITHOUT_START: u32 = 1;
    /// The key does not fit the compact table (a syscall number >= SYSCALL_KEYS).
    pub const KEY_OUT_OF_RANGE: u32 = 2;
    /// A hashed table had no room for a new key or slot.
    pub const HIST_MAP_FULL: u32 = 3;
    /// A call nested deeper than [`CALL_STACK_DEPTH`](super::CALL_STACK_DEPTH) in the
    /// same function on one thread: not measured.
    pub const TOO_DEEP: u32 = 4;
    pub const COUNT: u32 = 5;
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain #[repr(C)] structs of integers with explicit padding fields: every
    // bit pattern is valid and there are no implicit padding bytes.
    unsafe impl aya::Pod for super::KeyTotals {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::CpuPairStart {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SlotKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PairStart {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::CallStack {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::RequestKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::CommKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::CommSlotKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Outlier {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cover_values_in_order_and_bounds_contain_them() {
        let mut previous = 0;
        for value in (0..5000u64).chain([1 << 20, (1 << 20) + 12345, u64::MAX / 3, u64::MAX]) {
            let slot = slot_of(value);
            assert!(slot >= previous || value > 5000);
            assert!(slot < SLOTS);
            let (low, high) = slot_bounds(slot);
            assert!(
                low <= value && value <= high,
                "{value} in slot {slot} = [{low}, {high}]"
            );
            if value < 5000 {
                previous = slot;
            }
        }
        assert_eq!(slot_bounds(slot_of(1000)), (992, 1023));
        assert_eq!(slot_bounds(16), (16, 16));
        assert_eq!(slot_bounds(17), (17, 17));
        assert_eq!(slot_bounds(slot_of(32)), (32, 33));
        assert_eq!(capped_slot_of(u64::MAX), CAPPED_SLOTS - 1);
        assert_eq!(capped_slot_of(CAPPED_NS - 1), CAPPED_SLOTS - 1);
        assert_eq!(capped_slot_of(5000), slot_of(5000));
        // Width never exceeds 1/16 of the lower bound above 16.
        for slot in 16..SLOTS {
            let (low, high) = slot_bounds(slot);
            assert!((high - low + 1) * 16 <= low.max(16), "slot {slot}");
        }
    }
}
