//! Latency between any two trace events on the same thread (`pair:SYS:BEGIN,SYS:END`),
//! optionally keyed by a field of the begin event whose offset and size the loader
//! takes from the event's format file. Keys may be sparse (pids, addresses), so the
//! samples go into the hashed tables.
//!
//! Classic tracepoint programs: they see the event's record, whose layout the format
//! file describes for any event, where a raw tracepoint sees the kernel's own
//! arguments, whose types differ per event.

use aya_ebpf::{macros::tracepoint, programs::TracePointContext};

use crate::hashed_tables::{current_is_target, thread_begin, thread_end};

/// Where the key field is in the begin event's record; size 0: no key (all in key 0).
#[unsafe(no_mangle)]
static EVENT_PAIR_KEY_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static EVENT_PAIR_KEY_SIZE: u32 = 0;

#[inline(always)]
fn global(value: &u32) -> u32 {
    // SAFETY: a read of a constant global the loader may have overridden.
    unsafe { core::ptr::read_volatile(value) }
}

fn read_key(ctx: &TracePointContext) -> u64 {
    let offset = global(&EVENT_PAIR_KEY_OFFSET) as usize;
    // SAFETY: reads of the key field at its offset inside the event record.
    unsafe {
        match global(&EVENT_PAIR_KEY_SIZE) {
            1 => ctx.read_at::<u8>(offset).map(u64::from).unwrap_or(0),
            2 => ctx.read_at::<u16>(offset).map(u64::from).unwrap_or(0),
            4 => ctx.read_at::<u32>(offset).map(u64::from).unwrap_or(0),
            8 => ctx.read_at::<u64>(offset).unwrap_or(0),
            _ => 0,
        }
    }
}

#[tracepoint]
pub fn event_pair_begin(ctx: TracePointContext) -> u32 {
    if current_is_target() {
        thread_begin(&ctx, read_key(&ctx));
    }
    0
}

#[tracepoint]
pub fn event_pair_end(ctx: TracePointContext) -> u32 {
    if current_is_target() {
        thread_end(&ctx);
    }
    0
}
