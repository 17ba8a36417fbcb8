//! Rendering events for people and programs. No I/O: everything appends to a buffer.
//!
//! - [`text`]: trace-cmd report's line layout.
//! - [`json`]: one JSON object per event.

pub mod json;
pub mod text;

/// What every line shows besides the payload.
#[derive(Debug, Clone, Copy)]
pub struct EventHeader<'a> {
    /// Name of the buffer (instance) in files that hold more than one; else None.
    pub buffer: Option<&'a str>,
    pub comm: &'a str,
    pub pid: i32,
    pub cpu: u32,
    pub ts_ns: u64,
    pub system: &'a str,
    pub name: &'a str,
}
