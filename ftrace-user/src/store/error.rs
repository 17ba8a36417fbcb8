//! Errors of the trace.dat store.

/// Everything that can go wrong reading or writing a trace.dat file.
///
/// Offsets are byte offsets in the file (or, for compressed v7 sections, in
/// the section's uncompressed data; the `section` names which).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The magic bytes `17 08 44 "tracing"` are missing.
    #[error("not a trace.dat file (bad magic)")]
    NotTraceDat,

    /// A version this reader does not understand (only 6 and 7 are).
    #[error("unsupported trace.dat version {version:?} (only 6 and 7 are supported)")]
    UnsupportedVersion { version: String },

    /// The file ends before `section` is complete.
    #[error("truncated trace.dat: {section} needs {needed} bytes at offset {offset}")]
    Truncated {
        section: &'static str,
        offset: u64,
        needed: u64,
    },

    /// A structural value is impossible (bad tag, offset out of range, ...).
    #[error("corrupt trace.dat: {section} at offset {offset}: {reason}")]
    Corrupt {
        section: &'static str,
        offset: u64,
        reason: String,
    },

    /// A v7 file compressed with an algorithm this reader lacks.
    #[error("unsupported compression algorithm {name:?} (version {version:?})")]
    UnsupportedCompression { name: String, version: String },

    /// Decompressing a v7 section or CPU data chunk failed.
    #[error("decompressing {section} at offset {offset}: {reason}")]
    Compression {
        section: &'static str,
        offset: u64,
        reason: String,
    },

    /// A valid file using a feature this reader does not implement.
    #[error("unsupported trace.dat content: {what}")]
    Unsupported { what: String },

    /// The caller handed the writer something it cannot store.
    #[error("cannot write trace.dat: {reason}")]
    InvalidInput { reason: String },

    /// A per-CPU reader delivered fewer bytes than announced.
    #[error("CPU {cpu} data ended after {got} of {expected} announced bytes")]
    ShortCpuData { cpu: u32, expected: u64, got: u64 },

    /// I/O error while writing (or reading CPU spool files).
    #[error("trace.dat I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    pub(crate) fn corrupt(section: &'static str, offset: u64, reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            section,
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        StoreError::InvalidInput {
            reason: reason.into(),
        }
    }
}
