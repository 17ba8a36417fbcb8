//! Where each recording in progress writes its file, for `hytrace reset` to point at
//! what a recorder that died (SIGKILL, OOM) left behind: one note per session in
//! [`NOTES_DIR`] (root's own, mode 0700), named `PID-RANDOM` after the session's
//! private directory and holding the output file's path; removed when the session
//! ends, whatever way it ends short of being killed (and the directory with its last
//! note).

use std::{
    ffi::OsString,
    io::Write,
    os::unix::{
        ffi::{OsStrExt, OsStringExt},
        fs::{DirBuilderExt, MetadataExt, OpenOptionsExt},
    },
    path::{Path, PathBuf},
};

use super::recovery::{Leftover, find_leftovers};

pub const NOTES_DIR: &str = "/run/hytrace";

/// A session's note; removed when dropped.
#[derive(Debug)]
pub struct SessionNote {
    path: PathBuf,
}

impl SessionNote {
    /// Leaves the note for the session whose private directory is `work_dir`, writing
    /// `output`. Best effort: None where /run/hytrace cannot be used safely (the
    /// recording goes on; only the hint from reset is missing).
    pub fn leave(work_dir: &Path, output: &Path) -> Option<SessionNote> {
        let name = work_dir.file_name()?.to_str()?;
        let (_, id) = name.rsplit_once(".hytrace-")?;
        let dir = notes_dir()?;
        let path = dir.join(id);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .ok()?;
        let note = SessionNote { path };
        file.write_all(output.as_os_str().as_bytes()).ok()?;
        Some(note)
    }
}

impl Drop for SessionNote {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        // The directory goes with its last note (a session starting at this moment
        // may find it gone and go without a note).
        let _ = std::fs::remove_dir(NOTES_DIR);
    }
}

/// /run/hytrace, created if missing; None unless it is a real directory of this user
/// that nobody else can write to.
fn notes_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(NOTES_DIR);
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    trusted_dir(&dir).then_some(dir)
}

fn trusted_dir(dir: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    meta.is_dir() && meta.uid() == uid && meta.mode() & 0o022 == 0
}

/// A session whose recorder is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadSession {
    pub pid: u32,
    /// The file it was writing.
    pub output: PathBuf,
    /// Its private directory, where it still holds a recording to recover.
    pub leftover: Option<Leftover>,
    note: PathBuf,
}

impl DeadSession {
    /// Removes the note (once nothing is left to recover), and the directory if it
    /// was the last.
    pub fn forget(&self) -> std::io::Result<()> {
        std::fs::remove_file(&self.note)?;
        let _ = std::fs::remove_dir(NOTES_DIR);
        Ok(())
    }
}

/// The notes of sessions whose recorder is no longer running.
pub fn dead_sessions() -> Vec<DeadSession> {
    let dir = PathBuf::from(NOTES_DIR);
    if !trusted_dir(&dir) {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut dead: Vec<DeadSession> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let pid: u32 = name.to_str()?.split_once('-')?.0.parse().ok()?;
            if Path::new(&format!("/proc/{pid}")).exists() {
                return None;
            }
            let note = entry.path();
            let meta = std::fs::symlink_metadata(&note).ok()?;
            if !meta.is_file() {
                return None;
            }
            let output = PathBuf::from(OsString::from_vec(std::fs::read(&note).ok()?));
            let leftover = find_leftovers(&output).into_iter().find(|l| l.pid == pid);
            Some(DeadSession {
                pid,
                output,
                leftover,
                note,
            })
        })
        .collect();
    dead.sort_by_key(|d| d.pid);
    dead
}
