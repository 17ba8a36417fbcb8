//! Recordings written in other tools' formats, fed by the recording reader (no tracefs
//! or BPF here).
//!
//! - [`perfetto`]: Perfetto's protobuf trace (`hytrace export --perfetto`).

pub mod perfetto;
