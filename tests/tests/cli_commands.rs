//! list, doctor and the recording options that shape the instance (-M, --clock, -b).

use hytrace_tests::{
    TempDir, assert_no_hytrace_instance, assert_one_line_error, assert_tracefs_as_before,
    global_snapshot, hytrace_ok, hytrace_record, hytrace_report, require_root,
};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");

#[test]
fn list_events_and_tracers_come_from_the_kernel() {
    require_root!();
    let events = hytrace_ok(&["list", "events"]);
    let available = std::fs::read_to_string("/sys/kernel/tracing/available_events").unwrap();
    assert_eq!(events.lines().count(), available.lines().count());
    assert!(events.lines().any(|l| l == "sched:sched_switch"));
    let tracers = hytrace_ok(&["list", "tracers"]);
    let available = std::fs::read_to_string("/sys/kernel/tracing/available_tracers").unwrap();
    assert_eq!(
        tracers.split_whitespace().collect::<Vec<_>>(),
        available.split_whitespace().collect::<Vec<_>>()
    );
}

/// doctor probes every feature and leaves nothing behind; raw_tp (which record's
/// counters use) and tracefs instances must work on any machine hytrace supports.
#[test]
fn doctor_probes_features_and_cleans_up() {
    require_root!();
    let before = global_snapshot();
    let probes_before = std::fs::read_to_string("/sys/kernel/tracing/uprobe_events").unwrap();
    let out = hytrace_ok(&["doctor"]);
    let row = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with("  "))
            .unwrap_or_else(|| panic!("no '{name}' row in:\n{out}"))
            .to_string()
    };
    for name in [
        "tracefs instances",
        "tracer function_graph",
        "trace clocks",
        "copy_trace_marker",
        "kernel stacks",
        "kprobe_events",
        "uprobe_events",
        "bpf raw_tp",
        "bpf tp_btf",
        "bpf fentry",
        "kernel BTF",
        "user stacks",
    ] {
        let line = row(name);
        let verdict = line[name.len()..].split_whitespace().next().unwrap();
        assert!(verdict == "yes" || verdict == "no", "{line}");
    }
    assert!(row("bpf raw_tp").contains(" yes "), "{out}");
    assert!(row("tracefs instances").contains(" yes "), "{out}");
    assert!(row("trace clocks").contains("mono"), "{out}");
    // This kernel takes user stacks with build-id frames (record --user-stack).
    assert!(row("user stacks").contains(" yes "), "{out}");
    assert_tracefs_as_before(&before);
    assert_eq!(
        std::fs::read_to_string("/sys/kernel/tracing/uprobe_events").unwrap(),
        probes_before
    );
}

/// -M 1 restricts recording to CPU 0: every recorded event is on CPU 0.
#[test]
fn cpumask_limits_recording_to_its_cpus() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("cpumask", "m.dat");
    hytrace_record(
        &["-e", "raw_syscalls", "-M", "1", "-b", "1024", "-o", &dat],
        &["taskset", "-c", "0", SPIN, "1000"],
    );
    let report = hytrace_report(&dat, &["--comm", "spin"]);
    assert!(report.lines().count() >= 2000, "{report}");
    let all = hytrace_report(&dat, &[]);
    assert!(
        all.lines().all(|l| l.contains(" [000] ")),
        "events outside CPU 0"
    );
    assert!(hytrace_report(&dat, &["--cpu", "1"]).is_empty());
}

#[test]
fn bad_clock_and_mask_are_one_line_errors() {
    require_root!();
    let dir = TempDir::new("badopts");
    for (args, needle) in [
        (vec!["--clock", "bogus"], "trace clock 'bogus'"),
        (vec!["-M", "xyz"], "bad CPU mask 'xyz'"),
    ] {
        let mut argv = vec!["record", "-e", "sched", "-o"];
        let dat = dir.path_str("x.dat");
        argv.push(&dat);
        argv.extend(args);
        argv.extend(["--", "true"]);
        assert_one_line_error(&argv, needle);
    }
    assert_no_hytrace_instance();
}

/// The mono clock (default) is stored in the file and trace-cmd reads it back.
#[test]
fn clock_is_stored_in_the_file() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("clock", "c.dat");
    hytrace_record(&["-e", "sched:sched_process_exec", "-o", &dat], &["true"]);
    let bytes = std::fs::read(&dat).unwrap();
    let file = ftrace_user_clock(&bytes);
    assert_eq!(file.as_deref(), Some("mono"));
}

fn ftrace_user_clock(bytes: &[u8]) -> Option<String> {
    ftrace_user::store::read_trace_file(bytes)
        .ok()?
        .meta
        .trace_clock()
}
