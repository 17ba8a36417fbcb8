//! The traced command's trace_marker and tracing_on, redirected into the session's
//! instance: the command runs in a private mount namespace where the instance's two
//! files are bind-mounted over the top-level ones of every tracefs mount. A program
//! that writes its own trace lines to `<tracefs>/trace_marker` (QEMU's ftrace backend,
//! scripts) then writes into the instance, and its write of `1` to the top-level
//! `tracing_on` lands on the instance's; the global buffer and the host's mount table
//! stay untouched. Kernels from 6.17 on can copy top-level marker writes into an
//! instance instead (`copy_trace_marker`), but only this also keeps a program from
//! switching global tracing on.
//!
//! Runs in the command's start gate (a process of its own), just before the exec.

use std::path::{Path, PathBuf};

/// The files redirected into the instance.
pub const REDIRECTED_FILES: [&str; 2] = ["trace_marker", "tracing_on"];

/// Mount points of the `fstype` mounts in a `/proc/self/mounts` text, octal escapes
/// (`\040` for a space) decoded.
fn mount_points(mounts: &str, fstype: &str) -> Vec<PathBuf> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let _source = fields.next()?;
            let point = fields.next()?;
            (fields.next()? == fstype).then(|| PathBuf::from(unescape_mount_field(point)))
        })
        .collect()
}

/// Mount points of the tracefs mounts in a `/proc/self/mounts` text.
pub fn tracefs_mount_points(mounts: &str) -> Vec<PathBuf> {
    mount_points(mounts, "tracefs")
}

/// A mounts field with the kernel's `\ooo` escapes (space, tab, newline, backslash)
/// turned back into bytes.
fn unescape_mount_field(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let octal = bytes
            .get(at + 1..at + 4)
            .filter(|d| bytes[at] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .map(|d| d.iter().fold(0u32, |v, b| v * 8 + u32::from(b - b'0')));
        match octal {
            Some(value) if value <= 0xff => {
                out.push(value as u8);
                at += 4;
            }
            _ => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The (instance file, top-level file) pairs to bind for the mounts in `mounts`:
/// every tracefs mount but the instance's own directory.
pub fn bind_pairs(instance: &Path, mounts: &str) -> Vec<(PathBuf, PathBuf)> {
    let mut pairs = Vec::new();
    for point in tracefs_mount_points(mounts) {
        for file in REDIRECTED_FILES {
            let top = point.join(file);
            if top.starts_with(instance) {
                continue;
            }
            pairs.push((instance.join(file), top));
        }
    }
    pairs.sort();
    pairs.dedup();
    pairs
}

/// Moves this process into a private mount namespace and binds the instance's
/// trace_marker and tracing_on over those of every tracefs mount it sees. Returns how
/// many files were redirected.
pub fn redirect_into(instance: &Path) -> std::io::Result<usize> {
    // SAFETY: unshare and mount take no pointers but the NUL-terminated strings built
    // below, which live across the calls; they only change this process's namespace.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts")?;
    // Looking at <debugfs>/tracing mounts tracefs there (inside this namespace), so
    // a program that finds tracefs through debugfs is redirected too.
    for debugfs in mount_points(&mounts, "debugfs") {
        let _ = std::fs::metadata(debugfs.join("tracing/trace_marker"));
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts")?;
    let mut bound = 0;
    for (from, to) in bind_pairs(instance, &mounts) {
        if !to.exists() {
            continue;
        }
        let from_c = path_cstring(&from)?;
        let to_c = path_cstring(&to)?;
        // SAFETY: both strings are NUL-terminated and outlive the call.
        let rc = unsafe {
            libc::mount(
                from_c.as_ptr(),
                to_c.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            return Err(std::io::Error::new(
                error.kind(),
                format!("bind {} over {}: {error}", from.display(), to.display()),
            ));
        }
        bound += 1;
    }
    if bound == 0 {
        return Err(std::io::Error::other("no tracefs mount to redirect"));
    }
    Ok(bound)
}

fn path_cstring(path: &Path) -> std::io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other(format!("{} holds a NUL byte", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTS: &str = "sysfs /sys sysfs rw,nosuid 0 0
tracefs /sys/kernel/tracing tracefs rw,nosuid,nodev,noexec,relatime 0 0
debugfs /sys/kernel/debug debugfs rw 0 0
tracefs /sys/kernel/debug/tracing tracefs rw 0 0
nodev /tmp/my\\040traces tracefs rw 0 0
";

    #[test]
    fn every_tracefs_mount_is_found_with_escapes_decoded() {
        assert_eq!(
            tracefs_mount_points(MOUNTS),
            vec![
                PathBuf::from("/sys/kernel/tracing"),
                PathBuf::from("/sys/kernel/debug/tracing"),
                PathBuf::from("/tmp/my traces"),
            ]
        );
        assert_eq!(
            mount_points(MOUNTS, "debugfs"),
            vec![PathBuf::from("/sys/kernel/debug")]
        );
    }

    #[test]
    fn both_files_of_every_mount_are_bound_from_the_instance() {
        let instance = Path::new("/sys/kernel/tracing/instances/hytrace-7");
        let pairs = bind_pairs(instance, MOUNTS);
        assert_eq!(pairs.len(), 6);
        assert!(pairs.contains(&(
            instance.join("trace_marker"),
            PathBuf::from("/sys/kernel/tracing/trace_marker")
        )));
        assert!(pairs.contains(&(
            instance.join("tracing_on"),
            PathBuf::from("/tmp/my traces/tracing_on")
        )));
        assert!(pairs.iter().all(|(from, _)| from.starts_with(instance)));
    }

    #[test]
    fn odd_mount_lines_are_skipped() {
        assert!(tracefs_mount_points("").is_empty());
        assert!(tracefs_mount_points("tracefs\n \n\\ \\0 tracefs").len() <= 1);
        assert_eq!(unescape_mount_field("a\\0"), "a\\0");
        assert_eq!(unescape_mount_field("a\\777b"), "a\\777b");
        assert_eq!(unescape_mount_field("\\134x"), "\\x");
    }
}
