//! Files hytrace writes, made safe to write as root in directories other users can
//! write to (`/tmp`).
//!
//! Nothing is ever opened for writing through a path another user could have prepared:
//! every session works in a [`PrivateDir`], a directory with an unpredictable name
//! created exclusively (`mkdirat`, mode 0700) and then opened without following links,
//! and every file in it is created relative to that directory's descriptor with
//! `O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600. A finished file is renamed over the
//! user's [`OutputFile`]: the rename replaces a directory entry and never writes
//! through it, so a link planted at `-o FILE` cannot redirect the data, and an
//! interrupted session never leaves a half-written FILE under the user's name.
//!
//! Recordings are 0600 (owner root), like perf.data: they hold /proc/kallsyms as root
//! reads it (real kernel addresses), command names and arguments, and whatever the
//! traced programs wrote. [`OutputFile::mode`] widens that only when asked.

use std::{
    ffi::{CString, OsStr, OsString},
    fs::{File, Permissions},
    io::ErrorKind,
    os::{
        fd::{AsRawFd, FromRawFd},
        unix::{
            ffi::OsStrExt,
            fs::{MetadataExt, PermissionsExt},
        },
    },
    path::{Path, PathBuf},
};

use thiserror::Error;

/// Mode of every file hytrace creates unless `--mode` says otherwise.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode of a session's private directory.
const PRIVATE_DIR_MODE: u32 = 0o700;
/// Attempts at an unused random directory name before giving up.
const NAME_ATTEMPTS: usize = 16;

#[derive(Debug, Error)]
pub enum PrivateFileError {
    #[error("cannot open the directory {path}")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create a private working directory in {parent}")]
    CreateDirectory {
        parent: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not the private directory hytrace just created (owner uid {uid}, mode \
         {mode:o}): another user replaced it; nothing was written"
    )]
    NotPrivate { path: PathBuf, uid: u32, mode: u32 },
    #[error("cannot create {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is a symbolic link{target}: hytrace does not write through links; remove \
         it, or pass --force to replace the link itself (its target is never written)"
    )]
    Symlink { path: PathBuf, target: String },
    #[error(
        "{path} exists and is {kind}: hytrace writes recordings to regular files only \
         (and never replaces a device, FIFO or socket); name another file"
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path} is a directory: name a file to write")]
    IsDirectory { path: PathBuf },
    #[error("{path} names no file (it ends in `/`, `.` or `..`)")]
    NoFileName { path: PathBuf },
    #[error("{path} contains a NUL byte")]
    NulInName { path: PathBuf },
    #[error("cannot set mode {mode:o} on {path}")]
    Mode {
        path: PathBuf,
        mode: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot move {from} to {to}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no random bytes for a private name")]
    Random(#[source] std::io::Error),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `bytes` as the whole of `output`: into a file of a private directory beside
/// it, synced, then renamed over it (see [`PrivateDir::publish`]).
pub fn write_whole(output: &OutputFile, bytes: &[u8]) -> Result<(), PrivateFileError> {
    use std::io::Write as _;
    output.check()?;
    let work = PrivateDir::beside(output)?;
    const NAME: &str = "output";
    let mut file = work.create(NAME)?;
    let write_error = |source| PrivateFileError::Write {
        path: work.path_of(NAME),
        source,
    };
    file.write_all(bytes).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    drop(file);
    work.publish(NAME, output)
}

/// A file the user asked hytrace to write (`-o FILE`), and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    pub path: PathBuf,
    /// Mode of the finished file (0600 unless the user widened it).
    pub mode: u32,
    /// Replace a symbolic link at `path` (the link itself; nothing is written through
    /// it). Device nodes, FIFOs and sockets are never replaced.
    pub replace_link: bool,
}

impl OutputFile {
    /// `path`, mode 0600, refusing links.
    pub fn private(path: impl Into<PathBuf>) -> OutputFile {
        OutputFile {
            path: path.into(),
            mode: PRIVATE_FILE_MODE,
            replace_link: false,
        }
    }

    /// The same settings for another path (`FILE.2` beside `FILE`).
    pub fn with_path(&self, path: impl Into<PathBuf>) -> OutputFile {
        OutputFile {
            path: path.into(),
            ..self.clone()
        }
    }

    /// Fails when the file could not be put in place: its directory is missing, or
    /// something other than a regular file sits at its path (a symbolic link may be
    /// replaced when `replace_link` says so).
    /// Called before a session starts, so a long recording does not fail at its end;
    /// [`PrivateDir::publish`] checks again.
    pub fn check(&self) -> Result<(), PrivateFileError> {
        let (directory, _) = split(&self.path)?;
        let meta = std::fs::metadata(&directory).map_err(|source| PrivateFileError::Directory {
            path: directory.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(PrivateFileError::Directory {
                path: directory,
                source: std::io::Error::from(ErrorKind::NotADirectory),
            });
        }
        self.check_entry()
    }

    /// What sits at the path now may be replaced.
    fn check_entry(&self) -> Result<(), PrivateFileError> {
        let meta = match std::fs::symlink_metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(PrivateFileError::Open {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(());
        }
        if kind.is_dir() {
            return Err(PrivateFileError::IsDirectory {
                path: self.path.clone(),
            });
        }
        if kind.is_symlink() {
            if self.replace_link {
                return Ok(());
            }
            let target = std::fs::read_link(&self.path)
                .map(|t| format!(" (to {})", t.display()))
                .unwrap_or_default();
            return Err(PrivateFileError::Symlink {
                path: self.path.clone(),
                target,
            });
        }
        Err(PrivateFileError::NotRegular {
            path: self.path.clone(),
            kind: kind_name(&meta),
        })
    }
}

fn kind_name(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_char_device() {
        "a character device"
    } else {
        "not a regular file"
    }
}

/// The directory and the file name of `path` (`.` for a bare name).
fn split(path: &Path) -> Result<(PathBuf, OsString), PrivateFileError> {
    let name = match path.file_name() {
        Some(name) if !path.as_os_str().as_bytes().ends_with(b"/") => name.to_os_string(),
        _ => {
            return Err(PrivateFileError::NoFileName {
                path: path.to_path_buf(),
            });
        }
    };
    let directory = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((directory, name))
}

fn c_name(name: &OsStr, shown: &Path) -> Result<CString, PrivateFileError> {
    CString::new(name.as_bytes()).map_err(|_| PrivateFileError::NulInName {
        path: shown.to_path_buf(),
    })
}

/// Opens `path` as a directory (following links: the user named it).
fn open_directory(path: &Path) -> Result<File, PrivateFileError> {
    let c_path = c_name(path.as_os_str(), path)?;
    // SAFETY: c_path is a valid NUL-terminated string; open has no other preconditions.
    let fd = unsafe {
        libc::open(
            c_path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(PrivateFileError::Directory {
            path: path.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: fd was just returned by open and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Opens `name` in `dir` without following a link at `name`.
fn open_at(dir: &File, name: &CString, flags: i32, mode: u32) -> std::io::Result<File> {
    // SAFETY: dir is an open descriptor and name a valid NUL-terminated string; the
    // mode argument is read only with O_CREAT, as openat requires.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by openat and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn random_u64() -> Result<u64, PrivateFileError> {
    let mut bytes = [0u8; 8];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `bytes`.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(PrivateFileError::Random(error));
        }
        filled += n as usize;
    }
    Ok(u64::from_ne_bytes(bytes))
}

/// A directory only hytrace's user can enter, with an unpredictable name, holding a
/// session's working files (per-CPU spools, the file being written). Dropping it
/// removes it and everything in it, unless [`PrivateDir::keep`] was called.
#[derive(Debug)]
pub struct PrivateDir {
    dir: File,
    path: PathBuf,
    /// Device and inode of `dir`, to be sure the path still names it when removing.
    identity: (u64, u64),
    keep: bool,
}

impl PrivateDir {
    /// `.NAME.hytrace-PID-RANDOM` in the directory of `output`, so the finished file is
    /// renamed within one filesystem.
    pub fn beside(output: &OutputFile) -> Result<PrivateDir, PrivateFileError> {
        let (directory, name) = split(&output.path)?;
        let prefix = format!(".{}.hytrace", name.to_string_lossy());
        PrivateDir::create_in(&directory, &prefix)
    }

    /// `hytrace-WHAT-PID-RANDOM` in the temporary directory ($TMPDIR, else /tmp).
    pub fn temporary(what: &str) -> Result<PrivateDir, PrivateFileError> {
        PrivateDir::create_in(&std::env::temp_dir(), &format!("hytrace-{what}"))
    }

    fn create_in(parent_path: &Path, prefix: &str) -> Result<PrivateDir, PrivateFileError> {
        let parent = open_directory(parent_path)?;
        let create_error = |source| PrivateFileError::CreateDirectory {
            parent: parent_path.to_path_buf(),
            source,
        };
        let pid = std::process::id();
        for _ in 0..NAME_ATTEMPTS {
            let name = format!("{prefix}-{pid}-{:016x}", random_u64()?);
            let path = parent_path.join(&name);
            let c_name = c_name(OsStr::new(&name), &path)?;
            // SAFETY: parent is an open directory and c_name a valid NUL-terminated
            // string.
            let made = unsafe {
                libc::mkdirat(
                    parent.as_raw_fd(),
                    c_name.as_ptr(),
                    PRIVATE_DIR_MODE as libc::mode_t,
                )
            };
            if made < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() == ErrorKind::AlreadyExists {
                    continue;
                }
                return Err(create_error(error));
            }
            let dir = open_at(&parent, &c_name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                .map_err(create_error)?;
            let meta = dir.metadata().map_err(create_error)?;
            // SAFETY: geteuid has no preconditions and cannot fail.
            let uid = unsafe { libc::geteuid() };
            if meta.uid() != uid || meta.mode() & 0o022 != 0 {
                return Err(PrivateFileError::NotPrivate {
                    path,
                    uid: meta.uid(),
                    mode: meta.mode() & 0o7777,
                });
            }
            // The umask may have narrowed it; this user needs it whole.
            dir.set_permissions(Permissions::from_mode(PRIVATE_DIR_MODE))
                .map_err(create_error)?;
            return Ok(PrivateDir {
                identity: (meta.dev(), meta.ino()),
                dir,
                path,
                keep: false,
            });
        }
        Err(create_error(std::io::Error::from(ErrorKind::AlreadyExists)))
    }

    /// The directory's path (for messages and for readers that take paths).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in the directory.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Creates `name` (which must not exist), mode 0600, open for reading and writing.
    pub fn create(&self, name: &str) -> Result<File, PrivateFileError> {
        let path = self.path_of(name);
        let c_name = c_name(OsStr::new(name), &path)?;
        open_at(
            &self.dir,
            &c_name,
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
            PRIVATE_FILE_MODE,
        )
        .map_err(|source| PrivateFileError::Create { path, source })
    }

    /// Opens `name` for reading (never through a link).
    pub fn open(&self, name: &str) -> Result<File, PrivateFileError> {
        let path = self.path_of(name);
        let c_name = c_name(OsStr::new(name), &path)?;
        open_at(&self.dir, &c_name, libc::O_RDONLY, 0)
            .map_err(|source| PrivateFileError::Open { path, source })
    }

    /// Opens `name` for reading and writing (never through a link).
    pub fn open_rw(&self, name: &str) -> Result<File, PrivateFileError> {
        let path = self.path_of(name);
        let c_name = c_name(OsStr::new(name), &path)?;
        open_at(&self.dir, &c_name, libc::O_RDWR, 0)
            .map_err(|source| PrivateFileError::Open { path, source })
    }

    /// Removes `name` if it exists.
    pub fn remove(&self, name: &str) -> Result<(), PrivateFileError> {
        let path = self.path_of(name);
        let c_name = c_name(OsStr::new(name), &path)?;
        // SAFETY: dir is an open directory and c_name a valid NUL-terminated string.
        if unsafe { libc::unlinkat(self.dir.as_raw_fd(), c_name.as_ptr(), 0) } < 0 {
            let source = std::io::Error::last_os_error();
            if source.kind() != ErrorKind::NotFound {
                return Err(PrivateFileError::Remove { path, source });
            }
        }
        Ok(())
    }

    /// Gives the finished file `name` the output's mode and renames it over the
    /// output's path (which must be on the same filesystem). What sits there is
    /// replaced, never written through; a link or other non-regular file is refused
    /// unless the output says to replace it.
    pub fn publish(&self, name: &str, output: &OutputFile) -> Result<(), PrivateFileError> {
        let from = self.path_of(name);
        let file = self.open(name)?;
        file.set_permissions(Permissions::from_mode(output.mode))
            .map_err(|source| PrivateFileError::Mode {
                path: from.clone(),
                mode: output.mode,
                source,
            })?;
        drop(file);
        self.rename_over(name, output)
    }

    /// Renames `name` over the output's path as [`PrivateDir::publish`] does, leaving
    /// its mode as it is (for a hard link to a file hytrace does not own).
    pub fn rename_over(&self, name: &str, output: &OutputFile) -> Result<(), PrivateFileError> {
        let from = self.path_of(name);
        output.check_entry()?;
        let (directory, target_name) = split(&output.path)?;
        let target_dir = open_directory(&directory)?;
        let c_from = c_name(OsStr::new(name), &from)?;
        let c_to = c_name(&target_name, &output.path)?;
        // SAFETY: both descriptors are open directories and both names valid
        // NUL-terminated strings.
        let renamed = unsafe {
            libc::renameat(
                self.dir.as_raw_fd(),
                c_from.as_ptr(),
                target_dir.as_raw_fd(),
                c_to.as_ptr(),
            )
        };
        if renamed < 0 {
            return Err(PrivateFileError::Rename {
                from,
                to: output.path.clone(),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// Makes `name` a hard link to the file at `source` (not following a link there).
    pub fn link_from(&self, source: &Path, name: &str) -> Result<(), std::io::Error> {
        let c_source = CString::new(source.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
        let c_name =
            CString::new(name).map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
        // SAFETY: both strings are valid and NUL-terminated; dir is an open directory.
        let linked = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                c_source.as_ptr(),
                self.dir.as_raw_fd(),
                c_name.as_ptr(),
                0,
            )
        };
        if linked < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Leaves the directory and its files in place when dropped (what they hold could
    /// not be put where the user asked, and is not to be thrown away).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // Only if the path still names this directory (a user who can write to the
        // parent could have moved it and put something else there).
        let same = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|meta| meta.is_dir() && (meta.dev(), meta.ino()) == self.identity);
        if same {
            // remove_dir_all does not follow links inside the directory.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch parent directory for one test.
    fn scratch(tag: &str) -> PrivateDir {
        PrivateDir::temporary(&format!("private-files-test-{tag}")).unwrap()
    }

    fn mode_of(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn the_directory_is_private_and_unpredictable() {
        let parent = scratch("names");
        let output = OutputFile::private(parent.path_of("trace.dat"));
        let a = PrivateDir::beside(&output).unwrap();
        let b = PrivateDir::beside(&output).unwrap();
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().unwrap().to_string_lossy().into_owned();
        let prefix = format!(".trace.dat.hytrace-{}-", std::process::id());
        assert!(name.starts_with(&prefix), "{name}");
        assert_eq!(name.len(), prefix.len() + 16);
        assert_eq!(mode_of(a.path()), 0o700);
    }

    #[test]
    fn files_are_created_exclusively_0600_and_never_through_links() {
        let parent = scratch("create");
        let dir = PrivateDir::beside(&OutputFile::private(parent.path_of("x.dat"))).unwrap();
        let victim = parent.path_of("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path_of("cpu0")).unwrap();
        assert!(matches!(
            dir.create("cpu0"),
            Err(PrivateFileError::Create { .. })
        ));
        assert!(dir.open("cpu0").is_err(), "opened through a link");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

        let mut file = dir.create("cpu1").unwrap();
        std::io::Write::write_all(&mut file, b"pages").unwrap();
        assert_eq!(mode_of(&dir.path_of("cpu1")), 0o600);
        assert!(dir.create("cpu1").is_err(), "created twice");
        dir.remove("cpu1").unwrap();
        dir.remove("cpu1").unwrap();
        assert!(!dir.path_of("cpu1").exists());
    }

    #[test]
    fn publishing_replaces_regular_files_and_refuses_links_unless_forced() {
        let parent = scratch("publish");
        let target = parent.path_of("out.dat");
        let victim = parent.path_of("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, &target).unwrap();

        let output = OutputFile::private(&target);
        assert!(matches!(
            output.check(),
            Err(PrivateFileError::Symlink { .. })
        ));
        let dir = PrivateDir::beside(&output).unwrap();
        std::io::Write::write_all(&mut dir.create("f").unwrap(), b"new").unwrap();
        let refused = dir.publish("f", &output).unwrap_err();
        assert!(refused.to_string().contains("--force"), "{refused}");

        let forced = OutputFile {
            replace_link: true,
            ..output.clone()
        };
        dir.publish("f", &forced).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(mode_of(&target), 0o600);

        // A regular file is replaced (not truncated: a hard link to it keeps its data).
        let linked = parent.path_of("hardlink");
        std::fs::hard_link(&target, &linked).unwrap();
        std::io::Write::write_all(&mut dir.create("g").unwrap(), b"newer").unwrap();
        dir.publish("g", &output.with_path(&target)).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"newer");
        assert_eq!(std::fs::read(&linked).unwrap(), b"new");
    }

    #[test]
    fn devices_fifos_and_sockets_are_never_replaced() {
        let forced = OutputFile {
            replace_link: true,
            ..OutputFile::private("/dev/null")
        };
        let refused = forced.check().unwrap_err();
        assert!(matches!(
            refused,
            PrivateFileError::NotRegular {
                kind: "a character device",
                ..
            }
        ));
        assert!(
            refused.to_string().contains("never replaces a device"),
            "{refused}"
        );
    }

    #[test]
    fn a_wider_mode_is_applied_only_when_asked() {
        let parent = scratch("mode");
        let output = OutputFile {
            mode: 0o644,
            ..OutputFile::private(parent.path_of("shared.dat"))
        };
        let dir = PrivateDir::beside(&output).unwrap();
        dir.create("f").unwrap();
        assert_eq!(mode_of(&dir.path_of("f")), 0o600);
        dir.publish("f", &output).unwrap();
        assert_eq!(mode_of(&output.path), 0o644);
    }

    #[test]
    fn directories_and_missing_parents_are_refused_early() {
        let parent = scratch("check");
        assert!(matches!(
            OutputFile::private(parent.path()).check(),
            Err(PrivateFileError::IsDirectory { .. })
        ));
        assert!(matches!(
            OutputFile::private(parent.path_of("missing/x.dat")).check(),
            Err(PrivateFileError::Directory { .. })
        ));
        assert!(matches!(
            OutputFile::private(format!("{}/", parent.path().display())).check(),
            Err(PrivateFileError::NoFileName { .. })
        ));
        OutputFile::private(parent.path_of("new.dat"))
            .check()
            .unwrap();
    }

    #[test]
    fn dropping_removes_everything_unless_kept() {
        let parent = scratch("drop");
        let output = OutputFile::private(parent.path_of("y.dat"));
        let dir = PrivateDir::beside(&output).unwrap();
        dir.create("a").unwrap();
        let inner = PrivateDir::beside(&OutputFile::private(dir.path_of("z.dat"))).unwrap();
        let (path, inner_path) = (dir.path().to_path_buf(), inner.path().to_path_buf());
        drop(dir);
        assert!(!path.exists() && !inner_path.exists());
        drop(inner);

        let mut kept = PrivateDir::beside(&output).unwrap();
        kept.create("b").unwrap();
        kept.keep();
        let kept_path = kept.path().to_path_buf();
        drop(kept);
        assert!(kept_path.join("b").exists());
    }
}
