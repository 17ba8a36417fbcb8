//! The session's private instance (`instances/<name>`): every setting a recording makes
//! lives here, and the guard removes it all when dropped.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use super::{
    EventId, Tracefs, TracefsError, append, read,
    stats::{CpuStats, parse_cpu_stats, validate_cpumask},
    write,
};

/// A private tracefs instance; dropping it (or [`Instance::remove`]) tears it down.
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
    top: PathBuf,
    removed: bool,
    /// Event trigger files written, and the command to remove each (`!traceon`).
    triggers: Vec<(PathBuf, String)>,
}

impl Instance {
    /// Creates `instances/<name>`. It starts empty: no events, tracing on, default clock.
    pub fn create(tracefs: &Tracefs, name: &str) -> Result<Instance, TracefsError> {
        let dir = tracefs.path("instances").join(name);
        std::fs::create_dir(&dir).map_err(|source| {
            if source.kind() == std::io::ErrorKind::PermissionDenied && !super::is_root() {
                TracefsError::NotRoot { path: dir.clone() }
            } else {
                TracefsError::CreateInstance {
                    path: dir.clone(),
                    source,
                }
            }
        })?;
        Ok(Instance {
            dir,
            top: tracefs.root().to_path_buf(),
            removed: false,
            triggers: Vec::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    pub fn set_tracing_on(&self, on: bool) -> Result<(), TracefsError> {
        write(self.path("tracing_on"), if on { "1" } else { "0" })
    }

    pub fn set_buffer_size_kb(&self, kb: u64) -> Result<(), TracefsError> {
        write(self.path("buffer_size_kb"), &kb.to_string())
    }

    /// How full (percent) a CPU's buffer must be before a reader waiting in poll(2) or
    /// a blocking read wakes.
    pub fn set_buffer_percent(&self, percent: u32) -> Result<(), TracefsError> {
        write(self.path("buffer_percent"), &percent.to_string())
    }

    /// Sets the trace clock after checking the kernel offers it.
    pub fn set_clock(&self, clock: &str) -> Result<(), TracefsError> {
        let available = parse_clocks(&read(self.path("trace_clock"))?);
        if !available.iter().any(|(name, _)| name == clock) {
            return Err(TracefsError::BadClock {
                clock: clock.to_string(),
                available: available
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            });
        }
        write(self.path("trace_clock"), clock)
    }

    pub fn set_cpumask(&self, mask: &str) -> Result<(), TracefsError> {
        validate_cpumask(mask)?;
        write(self.path("tracing_cpumask"), mask)
    }

    /// The tracers this instance offers (its own available_tracers: an instance may offer
    /// fewer than the top level).
    pub fn available_tracers(&self) -> Result<Vec<String>, TracefsError> {
        Ok(read(self.path("available_tracers"))?
            .split_whitespace()
            .map(str::to_string)
            .collect())
    }

    /// Sets the instance's tracer (`nop` to clear).
    pub fn set_tracer(&self, tracer: &str) -> Result<(), TracefsError> {
        write(self.path("current_tracer"), tracer)
    }

    /// Writes a function list file (set_graph_function, set_ftrace_filter,
    /// set_ftrace_notrace); a name the kernel does not know is a clear error.
    pub fn set_function_list(&self, file: &str, functions: &[String]) -> Result<(), TracefsError> {
        for function in functions {
            append(self.path(file), function).map_err(|e| match e {
                TracefsError::Write { source, .. }
                    if source.raw_os_error() == Some(libc::EINVAL) =>
                {
                    TracefsError::NoSuchFunction {
                        function: function.clone(),
                        file: file.to_string(),
                    }
                }
                other => other,
            })?;
        }
        Ok(())
    }

    /// Whether the instance has this control file (instances offer fewer than the top
    /// level, and fewer on older kernels).
    pub fn has_file(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// Limits function tracing to these pids (set_ftrace_pid), with their future
    /// children when `children` (options/function-fork).
    pub fn set_ftrace_pids(&self, pids: &[u32], children: bool) -> Result<(), TracefsError> {
        if children && self.has_option("function-fork") {
            self.set_option("function-fork", true)?;
        }
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        write(self.path("set_ftrace_pid"), &list.join(" "))
    }

    pub fn set_max_graph_depth(&self, depth: u32) -> Result<(), TracefsError> {
        write(self.path("max_graph_depth"), &depth.to_string())
    }

    pub fn has_option(&self, name: &str) -> bool {
        self.path("options").join(name).exists()
    }

    pub fn set_option(&self, name: &str, on: bool) -> Result<(), TracefsError> {
        write(self.path("options").join(name), if on { "1" } else { "0" })
    }

    /// With -c: children of the filtered pids are followed (options/event-fork).
    pub fn set_event_fork(&self, on: bool) -> Result<(), TracefsError> {
        self.set_option("event-fork", on)
    }

    /// Restricts events to these pids (set_event_pid).
    pub fn set_event_pids(&self, pids: &[u32]) -> Result<(), TracefsError> {
        let list: Vec<String> = pids.iter().map(u32::to_string).collect();
        write(self.path("set_event_pid"), &list.join(" "))
    }

    pub fn enable_event(&self, id: &EventId) -> Result<(), TracefsError> {
        write(
            self.path(&format!("events/{}/{}/enable", id.system, id.name)),
            "1",
        )
    }

    /// Adds an event trigger (`traceon`, `traceoff if common_pid != 0`, …) in this
    /// instance; removed again when the instance is.
    pub fn add_trigger(&mut self, id: &EventId, trigger: &str) -> Result<(), TracefsError> {
        let path = self.path(&format!("events/{}/{}/trigger", id.system, id.name));
        write(path.clone(), trigger)?;
        let command = trigger.split_whitespace().next().unwrap_or(trigger);
        self.triggers.push((path, format!("!{command}")));
        Ok(())
    }

    /// Sets an event filter; on rejection the error carries the kernel's error_log entry.
    pub fn set_filter(&self, id: &EventId, filter: &str) -> Result<(), TracefsError> {
        // Start from an empty instance error log so the entry read back is ours.
        let _ = write(self.path("error_log"), "");
        match write(
            self.path(&format!("events/{}/{}/filter", id.system, id.name)),
            filter,
        ) {
            Ok(()) => Ok(()),
            Err(TracefsError::Write { source, .. }) => {
                let log = last_error_entry(&read(self.path("error_log")).unwrap_or_default())
                    .or_else(|| {
                        last_error_entry(&read(self.top.join("error_log")).unwrap_or_default())
                    })
                    .unwrap_or_else(|| source.to_string());
                Err(TracefsError::BadFilter {
                    event: id.to_string(),
                    filter: filter.to_string(),
                    log,
                })
            }
            Err(other) => Err(other),
        }
    }

    pub fn per_cpu_stats(&self, cpu: u32) -> Result<CpuStats, TracefsError> {
        Ok(parse_cpu_stats(&read(
            self.path(&format!("per_cpu/cpu{cpu}/stats")),
        )?))
    }

    pub fn trace_pipe_raw_path(&self, cpu: u32) -> PathBuf {
        self.path(&format!("per_cpu/cpu{cpu}/trace_pipe_raw"))
    }

    pub fn trace_marker_path(&self) -> PathBuf {
        self.path("trace_marker")
    }

    /// Disables every event of the instance: once tracing is off, an enabled event
    /// still costs each hit a reservation attempt.
    pub fn disable_events(&self) -> Result<(), TracefsError> {
        write(self.path("events/enable"), "0")
    }

    /// Writes one line to the instance's trace_marker.
    pub fn write_marker(&self, text: &str) -> Result<(), TracefsError> {
        write(self.trace_marker_path(), text)
    }

    /// Tears the instance down, reporting failure (Drop does the same silently).
    pub fn remove(mut self) -> Result<(), TracefsError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), TracefsError> {
        if self.removed {
            return Ok(());
        }
        let _ = write(self.path("tracing_on"), "0");
        for (path, removal) in self.triggers.drain(..).rev() {
            let _ = write(path, &removal);
        }
        let _ = write(self.path("events/enable"), "0");
        let _ = write(self.path("set_event_pid"), "");
        // A tracer and its function lists go before the directory.
        if read(self.path("current_tracer")).is_ok_and(|t| t.trim() != "nop") {
            let _ = write(self.path("current_tracer"), "nop");
        }
        for list in [
            "set_graph_function",
            "set_ftrace_filter",
            "set_ftrace_notrace",
        ] {
            if self.path(list).exists() {
                let _ = write(self.path(list), "");
            }
        }
        let mut last = None;
        // rmdir answers EBUSY while a reader still holds a buffer file; readers are gone
        // by now in the normal path, so retry briefly.
        for _ in 0..50 {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => {
                    self.removed = true;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.removed = true;
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        Err(TracefsError::RemoveInstance {
            path: self.dir.clone(),
            source: last.unwrap_or_else(|| std::io::Error::other("busy")),
        })
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Err(error) = self.teardown() {
            crate::notes::warning(format_args!("{error} (run `hytrace reset` to retry)"));
        }
    }
}

/// "[local] global mono" → [("local", true), ("global", false), ("mono", false)].
pub fn parse_clocks(text: &str) -> Vec<(String, bool)> {
    text.split_whitespace()
        .map(
            |w| match w.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
                Some(current) => (current.to_string(), true),
                None => (w.to_string(), false),
            },
        )
        .collect()
}

/// The last entry of an error_log: its lines from the last one starting with '['.
pub fn last_error_entry(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.iter().rposition(|l| l.starts_with('['))?;
    let entry: Vec<&str> = lines[start..].iter().map(|l| l.trim_end()).collect();
    // Drop the "[  123.456] " timestamp of the first line.
    let mut text = entry.join("\n");
    if let Some(end) = text.find("] ") {
        text = text[end + 2..].to_string();
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_mark_the_current_one() {
        assert_eq!(
            parse_clocks("[local] global mono\n"),
            vec![
                ("local".to_string(), true),
                ("global".to_string(), false),
                ("mono".to_string(), false)
            ]
        );
    }

    #[test]
    fn error_log_entry_is_the_last_one() {
        let log = "[ 10.000000] event filter parse error: error: Invalid operator\n  Command: a = = 3\n              ^\n[ 12.500000] event filter parse error: error: Field not found\n  Command: no_such_field == 1\n           ^\n";
        assert_eq!(
            last_error_entry(log).unwrap(),
            "event filter parse error: error: Field not found\n  Command: no_such_field == 1\n           ^"
        );
        assert_eq!(last_error_entry(""), None);
    }
}
