//! Finding tracefs, mounting it when nothing is mounted, and reading the global files a
//! recording needs (read-only: nothing global is ever written).

use std::path::{Path, PathBuf};

use super::{EventId, TracefsError, read, stats::parse_cpu_list};

const DEFAULT_MOUNT: &str = "/sys/kernel/tracing";
const DEBUGFS_MOUNT: &str = "/sys/kernel/debug/tracing";

/// A mounted tracefs.
#[derive(Debug, Clone)]
pub struct Tracefs {
    root: PathBuf,
}

impl Tracefs {
    /// Finds tracefs (the usual mount point, any tracefs in /proc/mounts, the debugfs
    /// path) and mounts it at /sys/kernel/tracing when none is mounted.
    pub fn open() -> Result<Tracefs, TracefsError> {
        if let Some(root) = find_mounted() {
            return Ok(Tracefs { root });
        }
        mount_default()?;
        match find_mounted() {
            Some(root) => Ok(Tracefs { root }),
            None => Err(TracefsError::NotMounted {
                reason: "mounted, but no tracefs files appeared".into(),
            }),
        }
    }

    /// A tracefs at a known path (tests).
    pub fn at(root: impl Into<PathBuf>) -> Tracefs {
        Tracefs { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn header_page(&self) -> Result<String, TracefsError> {
        read(self.path("events/header_page"))
    }

    pub fn header_event(&self) -> Result<String, TracefsError> {
        read(self.path("events/header_event"))
    }

    pub fn event_format(&self, id: &EventId) -> Result<String, TracefsError> {
        read(self.path(&format!("events/{}/{}/format", id.system, id.name)))
    }

    /// The numeric type id the kernel gives the event.
    pub fn event_id(&self, id: &EventId) -> Result<u16, TracefsError> {
        let path = self.path(&format!("events/{}/{}/id", id.system, id.name));
        let text = read(path.clone())?;
        text.trim().parse().map_err(|_| TracefsError::Read {
            path,
            source: std::io::Error::other(format!("not an event id: {}", text.trim())),
        })
    }

    /// Names of ftrace's own events (print, bprint, function, …).
    pub fn ftrace_event_names(&self) -> Result<Vec<String>, TracefsError> {
        let dir = self.path("events/ftrace");
        let entries = std::fs::read_dir(&dir).map_err(|source| TracefsError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(std::result::Result::ok)
            .filter(|e| e.path().join("format").exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn ftrace_format(&self, name: &str) -> Result<String, TracefsError> {
        read(self.path(&format!("events/ftrace/{name}/format")))
    }

    pub fn available_events(&self) -> Result<String, TracefsError> {
        read(self.path("available_events"))
    }

    pub fn available_tracers(&self) -> Result<Vec<String>, TracefsError> {
        Ok(read(self.path("available_tracers"))?
            .split_whitespace()
            .map(str::to_string)
            .collect())
    }

    pub fn printk_formats(&self) -> Result<String, TracefsError> {
        read(self.path("printk_formats"))
    }

    pub fn saved_cmdlines(&self) -> Result<String, TracefsError> {
        read(self.path("saved_cmdlines"))
    }

    pub fn saved_tgids(&self) -> Result<String, TracefsError> {
        read(self.path("saved_tgids"))
    }

    /// /proc/kallsyms (real addresses need root, which recording has).
    pub fn kallsyms(&self) -> Result<String, TracefsError> {
        read(PathBuf::from("/proc/kallsyms"))
    }

    /// The CPUs that are online now.
    pub fn online_cpus(&self) -> Result<Vec<u32>, TracefsError> {
        let text = read(PathBuf::from("/sys/devices/system/cpu/online"))?;
        parse_cpu_list(text.trim())
    }
}

fn usable(root: &Path) -> bool {
    root.join("instances").is_dir() && root.join("trace_marker").exists()
}

fn find_mounted() -> Option<PathBuf> {
    let default = PathBuf::from(DEFAULT_MOUNT);
    if usable(&default) {
        return Some(default);
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let _device = parts.next()?;
            let mount_point = parts.next()?;
            (parts.next()? == "tracefs").then(|| PathBuf::from(mount_point))
        })
        .chain(std::iter::once(PathBuf::from(DEBUGFS_MOUNT)))
        .find(|p| usable(p))
}

fn mount_default() -> Result<(), TracefsError> {
    let target = std::ffi::CString::new(DEFAULT_MOUNT).map_err(|_| TracefsError::NotMounted {
        reason: "bad mount path".into(),
    })?;
    let fstype = c"tracefs";
    let source = c"nodev";
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call; data
    // is NULL, which mount(2) accepts.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        let error = std::io::Error::last_os_error();
        let reason = if super::is_root() {
            error.to_string()
        } else {
            format!("{error}; mounting needs root")
        };
        return Err(TracefsError::NotMounted { reason });
    }
    Ok(())
}
