//! Block I/O latency per device (`block`): block_rq_issue → block_rq_complete of the
//! same request, matched by (device, sector) since issue and completion happen on
//! different threads and CPUs. Field offsets come from the events' format files.

use aya_ebpf::{
    macros::{map, tracepoint},
    maps::LruHashMap,
    programs::TracePointContext,
};
use ftrace_common::hist::{RequestKey, lost};

use crate::hashed_tables::{count_lost, now_ns, record};

#[unsafe(no_mangle)]
static BLOCK_ISSUE_DEV_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static BLOCK_ISSUE_SECTOR_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static BLOCK_COMPLETE_DEV_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static BLOCK_COMPLETE_SECTOR_OFFSET: u32 = 0;

/// Issue time of each request in flight.
#[map(name = "BLOCK_START")]
static BLOCK_START: LruHashMap<RequestKey, u64> = LruHashMap::with_max_entries(65536, 0);

#[inline(always)]
fn request(ctx: &TracePointContext, dev_offset: &u32, sector_offset: &u32) -> RequestKey {
    // SAFETY: reads of constant globals the loader may have overridden, and of the
    // fields at those offsets inside the event record (dev_t is u32, sector_t u64).
    unsafe {
        let dev = core::ptr::read_volatile(dev_offset) as usize;
        let sector = core::ptr::read_volatile(sector_offset) as usize;
        RequestKey {
            dev: ctx.read_at::<u32>(dev).map(u64::from).unwrap_or(0),
            sector: ctx.read_at::<u64>(sector).unwrap_or(0),
        }
    }
}

#[tracepoint]
pub fn block_issue(ctx: TracePointContext) -> u32 {
    let key = request(&ctx, &BLOCK_ISSUE_DEV_OFFSET, &BLOCK_ISSUE_SECTOR_OFFSET);
    if BLOCK_START.insert(&key, &now_ns(), 0).is_err() {
        count_lost(&ctx, lost::START_MAP_FULL);
    }
    0
}

#[tracepoint]
pub fn block_complete(ctx: TracePointContext) -> u32 {
    let now = now_ns();
    let key = request(
        &ctx,
        &BLOCK_COMPLETE_DEV_OFFSET,
        &BLOCK_COMPLETE_SECTOR_OFFSET,
    );
    let Some(issued) = BLOCK_START.get_ptr(&key) else {
        count_lost(&ctx, lost::END_WITHOUT_START);
        return 0;
    };
    // SAFETY: a value of the hash, read once before its removal.
    let issued = unsafe { *issued };
    let _ = BLOCK_START.remove(&key);
    record(&ctx, key.dev, now.saturating_sub(issued));
    0
}
