//! What a recording killed before it could write its file (SIGKILL, OOM) leaves, and
//! `hytrace recover` turning it back into a trace.dat.
//!
//! A recording's private directory (`.NAME.hytrace-PID-RANDOM` beside the output)
//! receives, before tracing is switched on, [`RECOVERY_META`]: a complete trace.dat
//! holding everything but the pages (formats, kernel symbols, the clock, the command
//! lines known then). The readers then append whole ring-buffer pages to the per-CPU
//! spool files as they read them. When the recorder dies, the directory stays: its
//! metadata plus every whole page that reached the spool files make a trace.dat that
//! `report` and `trace-cmd report` read. What can be missing: the pages a reader had
//! read but not yet handed to the disk (its current chunk, up to 128 KiB per CPU
//! under load, see `capture::spool_writer`), and what the kernel still held in its
//! buffers.
//!
//! At the end of a normal session the finished file is written over [`RECOVERY_META`]
//! (whose room was reserved at the start) while the spools are freed behind the copy;
//! a recorder killed in that last phase leaves a directory this module cannot turn
//! back into a file.

use std::{
    io::Read,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use thiserror::Error;

use super::spool_name;
use crate::{
    private_files::{OutputFile, PrivateDir, PrivateFileError},
    store::{self, StoreError, TraceMeta},
};

/// The metadata file of a recording in progress, in its private directory.
pub const RECOVERY_META: &str = "recovery.dat";

#[derive(Debug, Error)]
pub enum RecoveryError {
    #[error(
        "no leftovers of a dead recording of {output} (looked for .{name}.hytrace-PID-* \
         directories beside it, with {RECOVERY_META}, whose PID is not running)"
    )]
    NothingToRecover { output: PathBuf, name: String },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a readable recording header")]
    Meta {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error(
        "{output} exists; recover into another file with -o (nothing already recorded is \
         replaced)"
    )]
    OutputExists { output: PathBuf },
    #[error(transparent)]
    PrivateFile(#[from] PrivateFileError),
    #[error("cannot write the recovered file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error("cannot write {path}")]
    Sync {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove the recovered leftovers {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes the metadata of a recording in progress into its private directory.
/// Returns its size (about the size of the finished file's header).
pub fn write_meta(work: &PrivateDir, meta: &TraceMeta) -> Result<u64, RecoveryError> {
    write_synced(work, RECOVERY_META, meta, &mut [])
}

/// Writes the trace file `name` (new) in `work` and syncs it to the disk; returns its
/// size.
fn write_synced(
    work: &PrivateDir,
    name: &str,
    meta: &TraceMeta,
    cpus: &mut [(u32, Box<dyn Read>, u64)],
) -> Result<u64, RecoveryError> {
    let file = work.create(name)?;
    let path = work.path_of(name);
    let mut writer = std::io::BufWriter::new(file);
    store::write_trace_file(&mut writer, meta, cpus).map_err(|source| RecoveryError::Write {
        path: path.clone(),
        source,
    })?;
    let synced = writer
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)
        .and_then(|file| file.sync_all().and_then(|()| file.metadata()));
    synced
        .map(|m| m.len())
        .map_err(|source| RecoveryError::Sync { path, source })
}

/// A dead recording's private directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub dir: PathBuf,
    /// The recorder's pid (no longer running).
    pub pid: u32,
}

/// The recorder pid in a private directory's name `.NAME.hytrace-PID-RANDOM`, for the
/// output file named `NAME`.
pub fn leftover_pid(dir_name: &str, output_name: &str) -> Option<u32> {
    let rest = dir_name
        .strip_prefix('.')?
        .strip_prefix(output_name)?
        .strip_prefix(".hytrace-")?;
    let (pid, random) = rest.split_once('-')?;
    (random.len() == 16 && random.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Dead recordings of `output`: private directories beside it, holding
/// [`RECOVERY_META`], whose recorder is gone; the newest first.
pub fn find_leftovers(output: &Path) -> Vec<Leftover> {
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = output.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return Vec::new();
    };
    let mut found: Vec<(std::time::SystemTime, Leftover)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid = leftover_pid(entry.file_name().to_str()?, name)?;
            // A real directory of this user (never a link), as recordings make them.
            let dir_meta = std::fs::symlink_metadata(entry.path()).ok()?;
            // SAFETY: geteuid has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            if !dir_meta.is_dir() || dir_meta.uid() != uid || dir_meta.mode() & 0o077 != 0 {
                return None;
            }
            let dir = entry.path();
            let meta = std::fs::symlink_metadata(dir.join(RECOVERY_META)).ok()?;
            let alive = Path::new(&format!("/proc/{pid}")).exists();
            let modified = meta.modified().ok()?;
            (meta.is_file() && !alive).then_some((modified, Leftover { dir, pid }))
        })
        .collect();
    found.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    found.into_iter().map(|(_, leftover)| leftover).collect()
}

/// What one CPU's spool gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredCpu {
    pub cpu: u32,
    pub pages: u64,
    /// Bytes of a last page that was only partly written (left out).
    pub partial_bytes: u64,
}

/// What a recovery wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub output: PathBuf,
    pub from: PathBuf,
    pub page_size: u32,
    pub cpus: Vec<RecoveredCpu>,
}

/// Writes `output` from the leftover at `from`, then removes the leftover.
pub fn recover(from: &Leftover, output: &OutputFile) -> Result<Recovered, RecoveryError> {
    if std::fs::symlink_metadata(&output.path).is_ok() {
        return Err(RecoveryError::OutputExists {
            output: output.path.clone(),
        });
    }
    let meta_path = from.dir.join(RECOVERY_META);
    let bytes = read_no_follow(&meta_path)?;
    let header = store::read_trace_file(&bytes).map_err(|source| RecoveryError::Meta {
        path: meta_path.clone(),
        source,
    })?;
    let meta = header.meta;
    let page = u64::from(meta.page_size.max(1));
    let mut cpus = Vec::new();
    let mut sources: Vec<(u32, Box<dyn Read>, u64)> = Vec::new();
    for cpu in spool_cpus(&from.dir)? {
        let path = from.dir.join(spool_name(cpu));
        let file = open_no_follow(&path).map_err(|source| RecoveryError::Read {
            path: path.clone(),
            source,
        })?;
        let len = file
            .metadata()
            .map_err(|source| RecoveryError::Read {
                path: path.clone(),
                source,
            })?
            .len();
        let whole = len / page * page;
        cpus.push(RecoveredCpu {
            cpu,
            pages: whole / page,
            partial_bytes: len - whole,
        });
        sources.push((
            cpu,
            Box::new(std::io::BufReader::new(file).take(whole)),
            whole,
        ));
    }
    let work = PrivateDir::beside(output)?;
    let name = super::OUTPUT_NAME;
    write_synced(&work, name, &meta, &mut sources)?;
    work.publish(name, output)?;
    std::fs::remove_dir_all(&from.dir).map_err(|source| RecoveryError::Remove {
        path: from.dir.clone(),
        source,
    })?;
    Ok(Recovered {
        output: output.path.clone(),
        from: from.dir.clone(),
        page_size: meta.page_size,
        cpus,
    })
}

/// The CPUs with a spool file in `dir`, in order.
fn spool_cpus(dir: &Path) -> Result<Vec<u32>, RecoveryError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RecoveryError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut cpus: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let cpu: u32 = name
                .to_str()?
                .strip_prefix("cpu")?
                .strip_suffix(".pages")?
                .parse()
                .ok()?;
            (spool_name(cpu) == name.to_str()?).then_some(cpu)
        })
        .collect();
    cpus.sort_unstable();
    Ok(cpus)
}

fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

fn read_no_follow(path: &Path) -> Result<Vec<u8>, RecoveryError> {
    let mut bytes = Vec::new();
    open_no_follow(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| RecoveryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_names_give_the_recorder_pid() {
        assert_eq!(
            leftover_pid(".k.dat.hytrace-4242-00112233aabbccdd", "k.dat"),
            Some(4242)
        );
        assert_eq!(
            leftover_pid(".k.dat.hytrace-4242-00112233aabbccdd", "x.dat"),
            None
        );
        assert_eq!(leftover_pid(".k.dat.hytrace-4242-short", "k.dat"), None);
        assert_eq!(
            leftover_pid("k.dat.hytrace-4242-00112233aabbccdd", "k.dat"),
            None
        );
        assert_eq!(
            leftover_pid(".k.dat.hytrace-x-00112233aabbccdd", "k.dat"),
            None
        );
    }
}
