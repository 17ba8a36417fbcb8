//! hytrace report reads trace.dat files written by trace-cmd and prints the same lines.

use hytrace_tests::{
    HandInstance, TempDir, event_name_of, hytrace_report, normalize_spaces, require_root,
    require_tool, run_ok,
};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");
const MARKER: &str = env!("CARGO_BIN_EXE_marker");

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
fn extract_and_report(instance: HandInstance, dat: &str) -> String {
    instance.write("tracing_on", "0");
    run_ok("trace-cmd", &["extract", "-B", instance.name(), "-o", dat]);
    drop(instance);
    run_ok("trace-cmd", &["report", dat])
}

/// An instance of 8 KiB per CPU that spin's 20000 getppid calls overrun on CPU 0: the
/// file's first CPU 0 page says how many events were overwritten, and hytrace prints
/// trace-cmd's "CPU:0 [N EVENTS DROPPED]" line before the same record, with the same N.
#[test]
fn prints_dropped_events_where_trace_cmd_does() {
    require_root!();
    require_tool!("trace-cmd");
    let dir = TempDir::new("peer-loss");
    let instance = HandInstance::create(
        "hyt-peer-loss",
        &[("buffer_size_kb", "8"), ("events/raw_syscalls/enable", "1")],
    );
    run_ok("taskset", &["-c", "0", SPIN, "20000"]);
    let dat = dir.path_str("loss.dat");
    // (trace-cmd extract removes the instance it read.)
    let theirs = event_lines(&extract_and_report(instance, &dat));
    let ours = event_lines(&hytrace_report(&dat, &[]));
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
    let instance = HandInstance::create(
        "hyt-peer",
        &[
            ("buffer_size_kb", "2048"),
            ("events/sched/enable", "1"),
            ("events/raw_syscalls/enable", "1"),
            ("events/irq/enable", "1"),
        ],
    );
    let name = instance.name().to_string();
    let marker_path = instance.path("trace_marker");
    run_ok(MARKER, &["50", &marker_path.to_string_lossy()]);
    run_ok(SPIN, &["2000"]);
    let dat = dir.path_str("peer.dat");
    let theirs = event_lines(&extract_and_report(instance, &dat));
    let ours = event_lines(&hytrace_report(&dat, &[]));
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
