//! Graph events for tests, built the same way everywhere.

use super::GraphEvent;

/// A funcgraph_entry at timestamp 0.
pub(crate) fn entry(cpu: u32, pid: i32, func: u64, depth: u32) -> GraphEvent {
    GraphEvent::Entry {
        cpu,
        pid,
        func,
        depth,
        ts: 0,
    }
}

/// A funcgraph_exit at timestamp 0 of a call that took `ns` (called at 1000 ns).
pub(crate) fn exit(cpu: u32, pid: i32, func: u64, depth: u32, ns: u64) -> GraphEvent {
    GraphEvent::Exit {
        cpu,
        pid,
        func,
        depth,
        calltime: 1000,
        rettime: 1000 + ns,
        ts: 0,
    }
}
