//! The one reader of recordings every job reads through: the mapped file, its tables
//! turned into lookups (event formats by type id, kernel symbols, printk formats,
//! comms by pid), and the one merge of every buffer's and every CPU's records on the
//! clock.
//!
//! - [`byte_order`]: a big-endian kernel's pages rewritten little-endian.
//! - [`mapped`]: the file mapped read-only (no copy of the CPU data).
//! - [`recording`]: [`Recording`], the parsed file and its merged records.

pub mod byte_order;
pub mod mapped;
pub mod recording;

pub use recording::{Origin, Recording, RecordingError};
