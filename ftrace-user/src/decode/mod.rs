//! Raw ring-buffer pages into timestamped records (pure; no I/O).
//!
//! - [`page`]: one page's header and records.
//! - [`stream`]: all pages of one CPU, in order.
//! - [`merge`]: the records of all CPUs in timestamp order.

pub mod merge;
pub mod page;
pub mod stream;

pub use merge::{MergedRecord, Merger};
pub use page::{DecodeError, Missed, Page, PageLayout, Record};
pub use stream::{CpuStream, StreamStats};
