//! Removing what hytrace sessions that died (SIGKILL, power loss of the process) left:
//! `instances/hytrace-<pid>` and dynamic probes named `hytrace_<pid>_…`, where no process
//! `<pid>` is alive. Nothing else is touched.

use super::{Tracefs, TracefsError, append, read, write};

/// What a reset removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResetReport {
    pub instances: Vec<String>,
    pub probes: Vec<String>,
}

impl ResetReport {
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.probes.is_empty()
    }

    /// One human line per removed thing.
    pub fn lines(&self) -> Vec<String> {
        self.instances
            .iter()
            .map(|i| format!("instance {i}"))
            .chain(self.probes.iter().map(|p| format!("probe {p}")))
            .collect()
    }
}

/// The pid in `hytrace-<pid>` (instance) or `hytrace_<pid>_x` (probe) names.
pub fn session_pid(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix("hytrace-")
        .or_else(|| name.strip_prefix("hytrace_"))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = &rest[digits.len()..];
    if digits.is_empty() || !(after.is_empty() || after.starts_with('_') || after.starts_with('-'))
    {
        return None;
    }
    digits.parse().ok()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Names of dynamic probes (`p:GROUP/NAME …` lines) in a *_events file.
pub fn probe_names(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let def = line.split_whitespace().next()?;
            let (_, name) = def.split_once(':')?;
            let (group, event) = name.split_once('/').unwrap_or(("", name));
            Some((group.to_string(), event.to_string()))
        })
        .collect()
}

pub fn reset_leftovers(tracefs: &Tracefs) -> Result<ResetReport, TracefsError> {
    let mut report = ResetReport::default();
    let instances = tracefs.path("instances");
    let entries = std::fs::read_dir(&instances).map_err(|source| TracefsError::Read {
        path: instances.clone(),
        source,
    })?;
    for entry in entries.filter_map(std::result::Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = session_pid(&name) else {
            continue;
        };
        if alive(pid) {
            continue;
        }
        let dir = entry.path();
        let _ = write(dir.join("tracing_on"), "0");
        let _ = write(dir.join("events/enable"), "0");
        std::fs::remove_dir(&dir).map_err(|source| TracefsError::RemoveInstance {
            path: dir.clone(),
            source,
        })?;
        report.instances.push(name);
    }
    for file in ["uprobe_events", "kprobe_events"] {
        let path = tracefs.path(file);
        let Ok(text) = read(path.clone()) else {
            continue;
        };
        for (group, event) in probe_names(&text) {
            let dead = [group.as_str(), event.as_str()]
                .iter()
                .filter_map(|n| session_pid(n))
                .any(|pid| !alive(pid));
            if !dead {
                continue;
            }
            let full = if group.is_empty() {
                event.clone()
            } else {
                format!("{group}/{event}")
            };
            let _ = write(tracefs.path(&format!("events/{full}/enable")), "0");
            // Appending "-:NAME" removes one probe without touching the others.
            append(path.clone(), &format!("-:{full}\n"))?;
            report.probes.push(full);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_pids_come_only_from_hytrace_names() {
        assert_eq!(session_pid("hytrace-1234"), Some(1234));
        assert_eq!(session_pid("hytrace-1234-probe"), Some(1234));
        assert_eq!(session_pid("hytrace_77_open"), Some(77));
        assert_eq!(session_pid("hytrace-abc"), None);
        assert_eq!(session_pid("hytrace-12x"), None);
        assert_eq!(session_pid("other-1234"), None);
    }

    #[test]
    fn probe_names_split_group_and_event() {
        assert_eq!(
            probe_names("p:uprobes/hytrace_5_nap /tmp/x:0x1136\nr:hytrace_5/ret /tmp/x:0x1136\n"),
            vec![
                ("uprobes".to_string(), "hytrace_5_nap".to_string()),
                ("hytrace_5".to_string(), "ret".to_string())
            ]
        );
    }

    /// Creates `instances/hytrace-<dead pid>` beside a live session's instance; reset
    /// removes only the dead one.
    #[test]
    fn reset_removes_only_dead_sessions() {
        if !super::super::is_root()
            || !std::path::Path::new("/sys/kernel/tracing/instances").is_dir()
        {
            eprintln!("skipped: needs root and tracefs");
            return;
        }
        let tracefs = Tracefs::open().unwrap();
        // pid_max is at most 4194304, so this pid cannot be alive.
        let dead = "hytrace-4194999";
        let live = format!("hytrace-{}", std::process::id());
        let dead_dir = tracefs.path("instances").join(dead);
        let live_dir = tracefs.path("instances").join(&live);
        std::fs::create_dir(&dead_dir).unwrap();
        std::fs::create_dir(&live_dir).unwrap();
        let report = reset_leftovers(&tracefs);
        let live_survived = live_dir.exists();
        let _ = std::fs::remove_dir(&live_dir);
        let _ = std::fs::remove_dir(&dead_dir);
        let report = report.unwrap();
        assert!(report.instances.contains(&dead.to_string()), "{report:?}");
        assert!(!report.instances.contains(&live));
        assert!(live_survived);
    }
}
