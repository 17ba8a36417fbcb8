//! Helpers shared by the integration tests: where the binaries are, running hytrace and
//! its peers, skipping when the machine lacks root or a tool, and tracefs snapshots.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Top-level tracefs files a session must leave as it found them.
pub const GLOBAL_FILES: &[&str] = &[
    "current_tracer",
    "tracing_on",
    "trace_clock",
    "set_event",
    "buffer_size_kb",
    "set_event_pid",
    "tracing_cpumask",
];

/// The target directory this test binary was built into (target/<profile>).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("test executable lives in target/<profile>/deps")
}

/// The hytrace binary of the same profile; `cargo xtask test` builds it first.
pub fn hytrace_bin() -> PathBuf {
    let path = profile_dir().join("hytrace");
    assert!(
        path.exists(),
        "{} does not exist: build it first (`cargo xtask test` does)",
        path.display()
    );
    path
}

/// Why a root test cannot run here, if it cannot.
pub fn root_skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root".into());
    }
    if !Path::new(TRACEFS).join("instances").is_dir() {
        return Some(format!("tracefs is not mounted at {TRACEFS}"));
    }
    None
}

/// Says why the running test is skipped: on stderr, and as a line
/// `TEST<TAB>REASON` in the file `HYTRACE_SKIP_LOG` names, if set (`cargo xtask test`
/// lists those lines in its summary, since test output is captured).
pub fn skip(reason: &str) {
    eprintln!("skipped: {reason}");
    if let Some(log) = std::env::var_os("HYTRACE_SKIP_LOG") {
        let test = std::thread::current()
            .name()
            .unwrap_or("unnamed test")
            .to_string();
        let line = format!("{test}\t{reason}\n");
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        if let Err(e) = appended {
            eprintln!("cannot note the skip in HYTRACE_SKIP_LOG: {e}");
        }
    }
}

/// Returns early from a test, saying why, when it cannot run on this machine.
#[macro_export]
macro_rules! require_root {
    () => {
        if let Some(reason) = $crate::root_skip_reason() {
            $crate::skip(&reason);
            return;
        }
    };
}

/// Returns early when `tool` is not installed.
#[macro_export]
macro_rules! require_tool {
    ($tool:expr) => {
        if !$crate::have_tool($tool) {
            $crate::skip(&format!("{} is not installed", $tool));
            return;
        }
    };
}

pub fn have_tool(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs hytrace with `args`, returning its output (any exit status).
pub fn hytrace(args: &[&str]) -> Output {
    Command::new(hytrace_bin())
        .args(args)
        .output()
        .expect("cannot run hytrace")
}

/// Runs hytrace and asserts it succeeded, returning stdout.
pub fn hytrace_ok(args: &[&str]) -> String {
    let out = hytrace(args);
    assert!(
        out.status.success(),
        "hytrace {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("report output is UTF-8")
}

/// Runs `hytrace record …`, asserts it succeeded, and returns its summary (stderr).
pub fn record_ok(args: &[&str]) -> String {
    let out = hytrace(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "hytrace {args:?} failed:\n{stderr}");
    stderr
}

/// A scratch directory removed at drop: created exclusively with an unpredictable name
/// and mode 0700, so nothing another user planted in /tmp is written through.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::os::unix::fs::DirBuilderExt;
        for _ in 0..16 {
            let dir = std::env::temp_dir().join(format!(
                "hytrace-test-{tag}-{}-{:016x}",
                std::process::id(),
                random_u64()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return TempDir(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create {}: {e}", dir.display()),
            }
        }
        panic!("no unused temporary directory name for {tag}");
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.0
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn path_str(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Eight random bytes from the kernel.
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .expect("read /dev/urandom");
    u64::from_ne_bytes(bytes)
}

/// Contents of the global tracefs files a session must not change.
pub fn global_snapshot() -> Vec<(String, String)> {
    GLOBAL_FILES
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(Path::new(TRACEFS).join(f)).unwrap_or_default();
            (f.to_string(), text)
        })
        .collect()
}

/// Instance directories whose name mentions hytrace.
pub fn hytrace_instances() -> Vec<String> {
    std::fs::read_dir(Path::new(TRACEFS).join("instances"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("hytrace"))
                .collect()
        })
        .unwrap_or_default()
}

/// Count of lines of `text` that contain `needle`.
pub fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// Event name → count from trace-cmd-style report lines (`... name: payload`).
pub fn event_counts(report: &str) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for line in report.lines() {
        if let Some(name) = event_name_of(line) {
            *counts.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// The event name of a report line: the word after `SECONDS.MICROS: `.
pub fn event_name_of(line: &str) -> Option<&str> {
    let after_cpu = line.split_once("] ")?.1;
    let after_ts = after_cpu.split_once(": ")?.1;
    let name = after_ts.split(':').next()?;
    (!name.is_empty() && !name.contains(' ')).then_some(name)
}

/// Whitespace runs collapsed to one space, ends trimmed.
pub fn normalize_spaces(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_come_from_report_lines() {
        let line = "            bash-3185  [001]  6599.516832: sys_exit:             NR 1 = 2";
        assert_eq!(event_name_of(line), Some("sys_exit"));
        assert_eq!(event_name_of("cpus=2"), None);
        assert_eq!(normalize_spaces("  a   b\tc "), "a b c".to_string());
    }
}
