//! hytrace report reads trace.dat files written by trace-cmd and prints the same lines.

use std::{path::PathBuf, process::Command};

use hytrace_tests::{
    TRACEFS, TempDir, event_name_of, hytrace_ok, normalize_spaces, require_root, require_tool,
};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");
const MARKER: &str = env!("CARGO_BIN_EXE_marker");

/// A hand-made instance (not named like a hytrace session) removed on drop.
struct HandInstance(PathBuf);

impl HandInstance {
    fn create(name: &str) -> HandInstance {
        let path = PathBuf::from(TRACEFS).join("instances").join(name);
        std::fs::create_dir(&path).expect("create instance");
        HandInstance(path)
    }

    fn write(&self, file: &str, value: &str) {
        std::fs::write(self.0.join(file), value)
            .unwrap_or_else(|e| panic!("write {value} to {file}: {e}"));
    }
}

impl Drop for HandInstance {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = std::fs::write(self.0.join("tracing_on"), "0");
            let _ = std::fs::write(self.0.join("events/enable"), "0");
            let _ = std::fs::remove_dir(&self.0);
        }
    }
}

/// Event lines and loss lines ("CPU:0 [123 EVENTS DROPPED]").
fn event_lines(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|l| event_name_of(l).is_some() || is_loss(l))
        .map(normalize_spaces)
        .collect()
}

/// "CPU:0 [12 EVENTS DROPPED]", after the buffer name in files with several buffers.
fn is_loss(line: &str) -> bool {
    let line = line.split_once(": CPU:").map_or(line, |(_, rest)| rest);
    line.trim_start_matches("CPU:")
        .split_once(' ')
        .is_some_and(|(cpu, rest)| {
            cpu.chars().all(|c| c.is_ascii_digit()) && rest.ends_with("EVENTS DROPPED]")
        })
}

/// trace-cmd extract of an instance and trace-cmd report of the file (its stdout).
fn extract_and_report(instance: HandInstance, name: &str, dat: &str) -> String {
    instance.write("tracing_on", "0");
    let out = Command::new("trace-cmd")
        .args(["extract", "-B", name, "-o", dat])
        .output()
        .expect("run trace-cmd extract");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(instance);
    let peer = Command::new("trace-cmd")
        .args(["report", dat])
        .output()
        .expect("trace-cmd report");
    assert!(peer.status.success());
    String::from_utf8_lossy(&peer.stdout).into_owned()
}

/// An instance of 8 KiB per CPU that spin's 20000 getppid calls overrun on CPU 0: the
/// file's first CPU 0 page says how many events were overwritten, and hytrace prints
/// trace-cmd's "CPU:0 [N EVENTS DROPPED]" line before the same record, with the same N.
#[test]
fn prints_dropped_events_where_trace_cmd_does() {
    require_root!();
    require_tool!("trace-cmd");
    let dir = TempDir::new("peer-loss");
    let name = format!("hyt-peer-loss-{}", std::process::id());
    let instance = HandInstance::create(&name);
    instance.write("buffer_size_kb", "8");
    instance.write("events/raw_syscalls/enable", "1");
    let status = Command::new("taskset")
        .args(["-c", "0", SPIN, "20000"])
        .status()
        .expect("run spin");
    assert!(status.success());
    let dat = dir.path_str("loss.dat");
    // (trace-cmd extract removes the instance it read.)
    let theirs = event_lines(&extract_and_report(instance, &name, &dat));
    let ours = event_lines(&hytrace_ok(&["report", "-i", &dat]));
    let losses: Vec<&String> = theirs.iter().filter(|l| is_loss(l)).collect();
    assert!(!losses.is_empty(), "trace-cmd saw no loss");
    for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(b, a, "line {i} differs");
    }
    assert_eq!(ours.len(), theirs.len());
}

/// Events of sched, raw_syscalls and irq plus 50 marker writes, extracted by trace-cmd:
/// hytrace prints every event line exactly as trace-cmd report does (spacing aside).
#[test]
fn reads_trace_cmd_extract_files_line_for_line() {
    require_root!();
    require_tool!("trace-cmd");
    let dir = TempDir::new("peer");
    let name = format!("hyt-peer-{}", std::process::id());
    let instance = HandInstance::create(&name);
    instance.write("buffer_size_kb", "2048");
    instance.write("events/sched/enable", "1");
    instance.write("events/raw_syscalls/enable", "1");
    instance.write("events/irq/enable", "1");
    let marker_path = instance.0.join("trace_marker");
    let status = Command::new(MARKER)
        .args(["50", &marker_path.to_string_lossy()])
        .status()
        .expect("run marker");
    assert!(status.success());
    let status = Command::new(SPIN).arg("2000").status().expect("run spin");
    assert!(status.success());
    let dat = dir.path_str("peer.dat");
    let theirs = event_lines(&extract_and_report(instance, &name, &dat));
    let ours = event_lines(&hytrace_ok(&["report", "-i", &dat]));
    assert!(theirs.len() > 4000, "only {} events recorded", theirs.len());
    // trace-cmd extract also takes the top-level buffer (where other tests' marker
    // writes land); the lines of our instance carry its name.
    let instance_prefix = format!("{name}:");
    assert_eq!(
        theirs
            .iter()
            .filter(|l| l.starts_with(&instance_prefix)
                && l.contains("tracing_mark_write: hytrace-marker"))
            .count(),
        50
    );
    for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(b, a, "line {i} differs");
    }
    assert_eq!(ours.len(), theirs.len());
}
