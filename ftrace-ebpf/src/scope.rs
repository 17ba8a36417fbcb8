//! Which threads an aggregator measures, set by the loader: one process (`TARGET_TGID`,
//! 0 = all) and one command name (`TARGET_COMM`, the 16-byte comm as two little-endian
//! words, all zero = any).

use aya_ebpf::helpers::bpf_get_current_comm;

#[unsafe(no_mangle)]
static TARGET_TGID: u32 = 0;
#[unsafe(no_mangle)]
static TARGET_COMM: [u64; 2] = [0, 0];

/// Whether the thread of `pid_tgid` (from bpf_get_current_pid_tgid) is measured. The
/// command name is only fetched when a name is set.
#[inline(always)]
pub fn in_scope(pid_tgid: u64) -> bool {
    // SAFETY: reads of constant globals the loader may have overridden.
    let (tgid, comm) = unsafe {
        (
            core::ptr::read_volatile(&TARGET_TGID),
            core::ptr::read_volatile(&TARGET_COMM),
        )
    };
    if tgid != 0 && (pid_tgid >> 32) as u32 != tgid {
        return false;
    }
    if comm[0] == 0 {
        return true;
    }
    match bpf_get_current_comm() {
        Ok(current) => {
            let mut low = [0u8; 8];
            let mut high = [0u8; 8];
            low.copy_from_slice(&current[..8]);
            high.copy_from_slice(&current[8..]);
            u64::from_le_bytes(low) == comm[0] && u64::from_le_bytes(high) == comm[1]
        }
        Err(_) => false,
    }
}
