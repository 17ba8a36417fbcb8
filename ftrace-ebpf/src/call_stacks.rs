//! Per-thread stacks of call starts for the function probes (`uprobe:`, `func:`), so
//! that a recursive or nested call's return is paired with its own entry: an entry
//! pushes its timestamp, a return pops the innermost. Up to CALL_STACK_DEPTH calls
//! deep; deeper ones are counted as too deep, not measured, and their returns pop
//! nothing measured. A thread's stack is created on its first call from an all-zero
//! value kept in a one-entry array (not on the 512-byte BPF stack).

use aya_ebpf::{macros::map, maps::Array, maps::LruHashMap};
use ftrace_common::hist::{CALL_STACK_DEPTH, CallStack, lost};

/// The all-zero stack new threads start from; never written.
#[map(name = "EMPTY_CALL_STACK")]
static EMPTY_CALL_STACK: Array<CallStack> = Array::with_max_entries(1, 0);

/// Why an entry or a return could not be measured (a `lost::` counter).
pub type Lost = u32;

/// Pushes the start `now_ns` of a call of thread `tid` onto its stack in `calls`.
#[inline(always)]
pub fn push(calls: &LruHashMap<u32, CallStack>, tid: u32, now_ns: u64) -> Result<(), Lost> {
    let stack = match calls.get_ptr_mut(tid) {
        Some(stack) => stack,
        None => {
            let empty = EMPTY_CALL_STACK.get(0).ok_or(lost::START_MAP_FULL)?;
            calls
                .insert(tid, empty, 0)
                .map_err(|_| lost::START_MAP_FULL)?;
            calls.get_ptr_mut(tid).ok_or(lost::START_MAP_FULL)?
        }
    };
    // SAFETY: the thread's own entry; only this thread writes it.
    let stack = unsafe { &mut *stack };
    // The bound is checked on the very register that indexes the array (older
    // verifiers do not carry a bound over from depth + 1 to depth).
    let depth = stack.depth;
    if depth as usize >= CALL_STACK_DEPTH {
        stack.depth = depth.saturating_add(1);
        return Err(lost::TOO_DEEP);
    }
    stack.ts_ns[depth as usize] = now_ns;
    stack.depth = depth + 1;
    Ok(())
}

/// Pops the innermost call of thread `tid`: its start, or None for a return of a call
/// too deep to have been measured (counted at its entry).
#[inline(always)]
pub fn pop(calls: &LruHashMap<u32, CallStack>, tid: u32) -> Result<Option<u64>, Lost> {
    let stack = calls.get_ptr_mut(tid).ok_or(lost::END_WITHOUT_START)?;
    // SAFETY: the thread's own entry; only this thread writes it.
    let stack = unsafe { &mut *stack };
    if stack.depth == 0 {
        return Err(lost::END_WITHOUT_START);
    }
    let depth = stack.depth - 1;
    stack.depth = depth;
    if depth as usize >= CALL_STACK_DEPTH {
        return Ok(None);
    }
    Ok(Some(stack.ts_ns[depth as usize]))
}
