//! Build-ids of ELF files, and the build-id cache: a copy (or hard link) of every
//! object a recorded stack points into, named by its build-id, so a report names
//! frames after the binary was deleted or rebuilt (what perf's buildid-cache does, but
//! kept at the end of every record without being asked).
//!
//! The cache is `$XDG_CACHE_HOME/hytrace/build-id/<hex>` (else `~/.cache/…`); each
//! entry is put in place by a rename from a private directory beside it, never written
//! through a path another user could have prepared.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
};

use object::{Object, read::ReadRef};
use thiserror::Error;

use crate::private_files::{OutputFile, PrivateDir, PrivateFileError};

/// Largest file read whole to find a build-id or to copy into the cache.
const MAX_OBJECT_BYTES: u64 = 2 << 30;

#[derive(Debug, Error)]
pub enum BuildIdError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an ELF file hytrace can read")]
    NotElf { path: PathBuf },
    #[error("{path} has build-id {found}, not {wanted}")]
    Mismatch {
        path: PathBuf,
        found: String,
        wanted: String,
    },
    #[error("cannot create the build-id cache directory {path}")]
    CacheDirectory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Private(#[from] PrivateFileError),
    #[error("cannot copy {path} into the build-id cache")]
    Copy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `bytes` as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The build-id of the ELF file at `path` (read through `ReadRef` on the open file,
/// so only the headers and notes are read).
pub fn build_id_of_file(path: &Path) -> Result<Option<Vec<u8>>, BuildIdError> {
    let file = std::fs::File::open(path).map_err(|source| BuildIdError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let cache = object::read::ReadCache::new(file);
    let not_elf = || BuildIdError::NotElf {
        path: path.to_path_buf(),
    };
    if (&cache).read_bytes_at(0, 4).map_err(|()| not_elf())? != b"\x7fELF" {
        return Err(not_elf());
    }
    let parsed = object::File::parse(&cache).map_err(|_| not_elf())?;
    Ok(parsed.build_id().ok().flatten().map(<[u8]>::to_vec))
}

/// The cache directory: `$XDG_CACHE_HOME/hytrace/build-id`, else
/// `$HOME/.cache/hytrace/build-id`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })?;
    Some(base.join("hytrace").join("build-id"))
}

/// How an object came to be in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    AlreadyThere,
    Linked,
    Copied,
}

/// A build-id cache directory.
#[derive(Debug, Clone)]
pub struct BuildIdCache {
    pub dir: PathBuf,
}

impl BuildIdCache {
    /// The entry for `build_id` (which may not exist).
    pub fn entry(&self, build_id: &[u8]) -> PathBuf {
        self.dir.join(hex(build_id))
    }

    /// Keeps the file at `source`, which must have `build_id`, under its build-id:
    /// a hard link where the filesystem allows, a copy otherwise.
    pub fn keep(&self, source: &Path, build_id: &[u8]) -> Result<Kept, BuildIdError> {
        let entry = self.entry(build_id);
        if matches!(build_id_of_file(&entry), Ok(Some(id)) if id == build_id) {
            return Ok(Kept::AlreadyThere);
        }
        let found = build_id_of_file(source)?;
        if found.as_deref() != Some(build_id) {
            return Err(BuildIdError::Mismatch {
                path: source.to_path_buf(),
                found: found.as_deref().map(hex).unwrap_or_else(|| "none".into()),
                wanted: hex(build_id),
            });
        }
        create_private_dirs(&self.dir)?;
        let output = OutputFile::private(&entry);
        let work = PrivateDir::beside(&output)?;
        const NAME: &str = "object";
        if work.link_from(source, NAME).is_ok() {
            work.rename_over(NAME, &output)?;
            return Ok(Kept::Linked);
        }
        let copy_error = |source_error| BuildIdError::Copy {
            path: source.to_path_buf(),
            source: source_error,
        };
        let mut from = std::fs::File::open(source).map_err(copy_error)?;
        let mut to = work.create(NAME)?;
        let copied =
            std::io::copy(&mut (&mut from).take(MAX_OBJECT_BYTES), &mut to).map_err(copy_error)?;
        if copied == MAX_OBJECT_BYTES {
            return Err(copy_error(std::io::Error::other("larger than 2 GiB")));
        }
        to.flush().map_err(copy_error)?;
        to.sync_all().map_err(copy_error)?;
        drop(to);
        // Readable by this user only, like the recordings.
        work.publish(NAME, &output)?;
        Ok(Kept::Copied)
    }
}

/// Creates `dir` and its missing parents, mode 0700.
fn create_private_dirs(dir: &Path) -> Result<(), BuildIdError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| BuildIdError::CacheDirectory {
            path: dir.to_path_buf(),
            source,
        })
}

/// Where an object with `build_id`, last seen at `recorded_path`, can be read now:
/// the first file with that build-id among `debug_dirs` (`DIR/<hex>` and
/// `DIR/.build-id/<xx>/<rest>.debug`), the caches, the recorded path, and
/// `/usr/lib/debug/.build-id/`. Objects without a build-id are read at their path.
pub fn locate(
    build_id: &[u8],
    recorded_path: &str,
    debug_dirs: &[PathBuf],
    caches: &[BuildIdCache],
) -> Option<PathBuf> {
    if build_id.is_empty() {
        return (!recorded_path.is_empty()).then(|| PathBuf::from(recorded_path));
    }
    let name = hex(build_id);
    let nested = |root: &Path| {
        (name.len() > 2).then(|| {
            root.join(".build-id")
                .join(&name[..2])
                .join(format!("{}.debug", &name[2..]))
        })
    };
    let mut candidates: Vec<PathBuf> = Vec::new();
    for dir in debug_dirs {
        candidates.push(dir.join(&name));
        candidates.extend(nested(dir));
    }
    candidates.extend(caches.iter().map(|c| c.entry(build_id)));
    if !recorded_path.is_empty() {
        candidates.push(PathBuf::from(recorded_path));
    }
    candidates.extend(nested(Path::new("/usr/lib/debug")));
    candidates
        .into_iter()
        .find(|path| matches!(build_id_of_file(path), Ok(Some(id)) if id == build_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_build_id_of_a_real_binary_as_readelf_prints_it() {
        let exe = std::env::current_exe().unwrap();
        let Some(id) = build_id_of_file(&exe).unwrap() else {
            // Rust test binaries are linked with a build-id by default on Linux.
            panic!("{} has no build-id", exe.display());
        };
        let readelf = std::process::Command::new("readelf")
            .args(["-n"])
            .arg(&exe)
            .output();
        if let Ok(out) = readelf
            && out.status.success()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains(&format!("Build ID: {}", hex(&id))),
                "readelf -n says:\n{text}"
            );
        }
        assert!(matches!(
            build_id_of_file(Path::new("/proc/self/status")),
            Err(BuildIdError::NotElf { .. })
        ));
    }

    #[test]
    fn the_cache_keeps_a_file_under_its_build_id_and_locate_finds_it() {
        let exe = std::env::current_exe().unwrap();
        let id = build_id_of_file(&exe).unwrap().unwrap();
        let dir = std::env::temp_dir().join(format!("hytrace-bid-test-{}", std::process::id()));
        let cache = BuildIdCache {
            dir: dir.join("cache"),
        };
        let first = cache.keep(&exe, &id).unwrap();
        assert!(matches!(first, Kept::Linked | Kept::Copied));
        assert_eq!(cache.keep(&exe, &id).unwrap(), Kept::AlreadyThere);
        assert_eq!(
            locate(
                &id,
                "/nonexistent/old/path",
                &[],
                std::slice::from_ref(&cache)
            ),
            Some(cache.entry(&id))
        );
        assert!(matches!(
            cache.keep(&exe, &[1, 2, 3]),
            Err(BuildIdError::Mismatch { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
