//! Everything that touches tracefs. hytrace never changes the global tracing state:
//! sessions work in a private instance ([`Instance`]) whose guard removes it on every
//! exit path.
//!
//! - [`root`]: finding (or mounting) tracefs and reading its global, read-only files.
//! - [`instance`]: the private instance and its settings.
//! - [`events`]: event names in trace-cmd's syntax resolved against the kernel's list.
//! - [`dynamic_events`]: the session's kprobe and uprobe events (`--kprobe`,
//!   `--uprobe`).
//! - [`stats`]: `per_cpu/cpuN/stats` and CPU lists (pure parsers).
//! - [`reset`]: removing what dead sessions left.
//! - [`features`]: probing what the kernel offers, for `hytrace doctor`.

pub mod dynamic_events;
pub mod events;
pub mod features;
pub mod instance;
pub mod reset;
pub mod root;
pub mod stats;

use std::path::PathBuf;

use thiserror::Error;

pub use events::{EventId, resolve_events};
pub use features::{FeatureProbe, probe_features};
pub use instance::Instance;
pub use reset::{ResetReport, reset_leftovers};
pub use root::Tracefs;
pub use stats::{CpuStats, cpus_of_mask};

#[derive(Debug, Error)]
pub enum TracefsError {
    #[error(
        "tracefs is not mounted and mounting it failed ({reason}); as root: mount -t tracefs nodev /sys/kernel/tracing"
    )]
    NotMounted { reason: String },
    #[error("tracefs needs root (permission denied on {path})")]
    NotRoot { path: PathBuf },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write '{value}' to {path}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create instance {path}")]
    CreateInstance {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove instance {path}")]
    RemoveInstance {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no event matches '{spec}'{hint}")]
    NoSuchEvent { spec: String, hint: String },
    #[error("filter '{filter}' on {event} rejected by the kernel: {log}")]
    BadFilter {
        event: String,
        filter: String,
        log: String,
    },
    #[error("trace clock '{clock}' is not offered by this kernel (available: {available})")]
    BadClock { clock: String, available: String },
    #[error(
        "bad CPU mask '{mask}': expected hex digits, optionally comma-separated (e.g. 3 or ff,ffffffff)"
    )]
    BadCpumask { mask: String },
    #[error("bad CPU list '{list}'")]
    BadCpuList { list: String },
    #[error("the kernel has no {what} ({detail})")]
    Missing { what: String, detail: String },
    #[error(
        "cannot enable probe {name}: {reason} (a uprobe offset must point at code inside the file)"
    )]
    ProbeNotEnabled { name: String, reason: String },
    #[error("no traceable kernel function matches '{function}' (writing {file} failed)")]
    NoSuchFunction { function: String, file: String },
}

/// Reads a tracefs file. Some (events/header_page, header_event) answer only the first
/// read call and return nothing at a non-zero position, so every read asks for a large
/// chunk (std's read_to_string starts with a 32-byte probe and would truncate them).
pub(crate) fn read(path: PathBuf) -> Result<String, TracefsError> {
    use std::io::Read as _;
    const CHUNK: usize = 1 << 16;
    let result = std::fs::File::open(&path).and_then(|mut file| {
        let mut bytes = Vec::new();
        loop {
            let start = bytes.len();
            bytes.resize(start + CHUNK, 0);
            match file.read(&mut bytes[start..]) {
                Ok(0) => {
                    bytes.truncate(start);
                    return Ok(bytes);
                }
                Ok(n) => bytes.truncate(start + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => bytes.truncate(start),
                Err(e) => return Err(e),
            }
        }
    });
    match result {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(source) => Err(TracefsError::Read { path, source }),
    }
}

/// Writes a value to a tracefs file (one write call, as the kernel expects).
/// Appends to a tracefs file (function lists add a name per write without clearing).
pub(crate) fn append(path: PathBuf, value: &str) -> Result<(), TracefsError> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(value.as_bytes()))
        .map_err(|source| TracefsError::Write {
            path: path.clone(),
            value: value.to_string(),
            source,
        })
}

pub(crate) fn write(path: PathBuf, value: &str) -> Result<(), TracefsError> {
    use std::io::Write as _;
    let result = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    result.map_err(|source| {
        if source.kind() == std::io::ErrorKind::PermissionDenied && !is_root() {
            TracefsError::NotRoot { path: path.clone() }
        } else {
            TracefsError::Write {
                path,
                value: value.trim_end().to_string(),
                source,
            }
        }
    })
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    /// header_page answers only the first read call: the whole text must come back.
    #[test]
    fn header_page_is_read_whole() {
        let path = std::path::PathBuf::from("/sys/kernel/tracing/events/header_page");
        if !path.exists() {
            eprintln!("skipped: no tracefs");
            return;
        }
        let text = super::read(path).unwrap();
        assert!(text.contains("field: u64 timestamp"), "{text}");
        assert!(text.contains("field: char data"), "{text}");
    }
}
