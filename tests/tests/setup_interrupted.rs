//! `record -e all` (every event of this kernel) is set up, recorded and written in one
//! go, and an end signal that comes while record or hist is still setting up leaves
//! nothing behind: no instance, no eBPF program, no command left running, no half
//! file; record says it was interrupted before anything was recorded and exits 1, or,
//! when set-up had finished, stops and keeps what it recorded, exiting 0.

use std::{collections::BTreeSet, path::Path, thread::sleep, time::Duration};

use hytrace_tests::{
    TempDir, assert_no_hytrace_instance, assert_no_program_left, bpf_program_ids, have_tool,
    hytrace_ok, hytrace_record, require_root, run_ok, spawn_hytrace, with_command,
};

/// The systems of the events `record`'s summary says were recorded at least once.
fn systems_recorded(summary: &str) -> BTreeSet<String> {
    summary
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (name, recorded) = (words.next()?, words.next()?.parse::<u64>().ok()?);
            let (system, _) = name.split_once(':')?;
            (recorded > 0).then(|| system.to_string())
        })
        .collect()
}

/// `record -e all -o a.dat -- true`: the summary folds the table (one line for the
/// events whose count equals the kernel's hits, the syscalls:* events named once as not
/// a raw tracepoint); report --count lists the same events; at least 20 subsystems
/// recorded events; trace-cmd report reads the file.
#[test]
fn every_event_is_recorded_and_the_file_reads() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("all", "a.dat");
    let summary = hytrace_record(&["-e", "all", "-o", &dat], &["true"]);
    assert!(
        summary.contains(" events: recorded = kernel hits ("),
        "{summary}"
    );
    assert!(
        summary.contains(" events not counted (not a raw tracepoint): syscalls:* ("),
        "{summary}"
    );
    assert!(summary.lines().count() < 200, "{summary}");
    let counts = hytrace_ok(&["report", "-i", &dat, "--count"]);
    let counted: u64 = counts
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    let recorded: u64 = summary
        .lines()
        .next()
        .and_then(|l| l.split("recorded ").nth(1)?.split(' ').next()?.parse().ok())
        .unwrap();
    assert_eq!(counted, recorded);
    // The folded table names only the events whose counts differ; the file's stored
    // audit lists every event.
    let systems = systems_recorded(&counts.replace("# ", ""));
    assert!(systems.len() >= 20, "{systems:?}");
    if have_tool("trace-cmd") {
        run_ok("trace-cmd", &["report", &dat]);
    }
    assert_no_hytrace_instance();
}

/// What an end signal `after` into `hytrace ARGS` left: the exit status and stderr.
fn signal_after(args: &[&str], after: Duration, signal: i32) -> (Option<i32>, String) {
    let child = spawn_hytrace(args);
    sleep(after);
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether a process runs `sleep 5` (the command, if it was released).
fn command_running() -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x005\x00")
    })
}

/// `record -e all -o s.dat -- sleep 5` sent SIGTERM `after` start: either it was still
/// setting up (exit 1, "interrupted by SIGTERM while setting up", no file, the command
/// never ran) or it had begun (exit 0, "stopped by SIGTERM", a file report reads);
/// either way no hytrace instance, no eBPF program of the run, no `sleep 5` and no
/// private directory beside the output remain.
fn sigterm_during_record_all(after: Duration) {
    let programs = bpf_program_ids();
    let dir = TempDir::new("all-sigterm");
    let dat = dir.path_str("s.dat");
    let args = with_command(&["record", "-e", "all", "-o", &dat], &["sleep", "5"]);
    let (status, stderr) = signal_after(&args, after, libc::SIGTERM);
    match status {
        Some(1) => {
            assert!(
                stderr.contains("interrupted by SIGTERM while setting up"),
                "{stderr}"
            );
            assert!(!Path::new(&dat).exists());
        }
        Some(0) => {
            assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
            hytrace_ok(&["report", "-i", &dat, "--count"]);
        }
        other => panic!("exit status {other:?}: {stderr}"),
    }
    assert_no_hytrace_instance();
    assert_no_program_left(&programs);
    assert!(!command_running(), "sleep 5 is still running");
    let entries: Vec<String> = std::fs::read_dir(dir.path(""))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "s.dat")
        .collect();
    assert_eq!(entries, Vec::<String>::new(), "left beside the output");
}

#[test]
fn record_all_sigterm_at_200_ms_leaves_nothing() {
    require_root!();
    sigterm_during_record_all(Duration::from_millis(200));
}

#[test]
fn record_all_sigterm_at_500_ms_leaves_nothing() {
    require_root!();
    sigterm_during_record_all(Duration::from_millis(500));
}

#[test]
fn record_all_sigterm_at_1_s_leaves_nothing() {
    require_root!();
    sigterm_during_record_all(Duration::from_secs(1));
}

#[test]
fn record_all_sigterm_at_2_s_leaves_nothing() {
    require_root!();
    sigterm_during_record_all(Duration::from_secs(2));
}

/// `record -e all -- sleep 5` sent SIGINT as soon as its instance exists (mid-set-up):
/// interrupted, exit 1, nothing left.
#[test]
fn record_all_sigint_mid_setup_is_interrupted_and_leaves_nothing() {
    require_root!();
    let programs = bpf_program_ids();
    let (_dir, dat) = TempDir::with_file("all-sigint", "s.dat");
    let child = spawn_hytrace(&with_command(
        &["record", "-e", "all", "-o", &dat],
        &["sleep", "5"],
    ));
    let instance = format!("hytrace-{}", child.id());
    while !hytrace_tests::hytrace_instances().contains(&instance) {
        sleep(Duration::from_millis(2));
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGINT while setting up"),
        "{stderr}"
    );
    assert!(!Path::new(&dat).exists());
    assert_no_hytrace_instance();
    assert_no_program_left(&programs);
    assert!(!command_running());
}

/// `hist syscalls runq irq softirq block` sent SIGTERM `after` start: it prints the
/// histograms it has (exit 0, as on any SIGTERM) and leaves no eBPF program loaded.
fn sigterm_during_hist_start(after: Duration) {
    let programs = bpf_program_ids();
    let (status, stderr) = signal_after(
        &["hist", "syscalls", "runq", "irq", "softirq", "block"],
        after,
        libc::SIGTERM,
    );
    assert_eq!(status, Some(0), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    assert_no_program_left(&programs);
    assert_no_hytrace_instance();
}

#[test]
fn hist_sigterm_during_start_leaves_no_program() {
    require_root!();
    for ms in [20, 100, 200, 500, 1000] {
        sigterm_during_hist_start(Duration::from_millis(ms));
    }
}

/// An error in the middle of set-up, after 745 events are enabled (xfs:* and ext4:*,
/// then sched_switch with a filter the kernel refuses): a non-zero exit naming the
/// field, no file, no instance, no eBPF program, the command never run.
#[test]
fn an_error_in_the_middle_of_setup_leaves_nothing() {
    require_root!();
    let programs = bpf_program_ids();
    let (dir, dat) = TempDir::with_file("mid-setup", "m.dat");
    let args = with_command(
        &[
            "record",
            "-e",
            "xfs:*",
            "-e",
            "ext4:*",
            "-e",
            "sched:sched_switch",
            "-f",
            "no_such_field == 1",
            "-o",
            &dat,
        ],
        &["sleep", "5"],
    );
    let out = hytrace_tests::hytrace(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no_such_field"), "{stderr}");
    assert!(!Path::new(&dat).exists());
    assert_no_hytrace_instance();
    assert_no_program_left(&programs);
    assert!(!command_running());
    assert_eq!(std::fs::read_dir(dir.path("")).unwrap().count(), 0);
}
