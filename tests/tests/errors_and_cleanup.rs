//! Bad input gets a one-line reason and a non-zero exit; every way a recording ends
//! leaves no instance behind and the global tracefs files unchanged.

use std::{
    thread::sleep,
    time::{Duration, Instant},
};

use hytrace_tests::{
    TempDir, assert_fails_with, assert_no_hytrace_instance, assert_no_hytrace_uprobe,
    assert_one_line_error, assert_succeeded, assert_tracefs_as_before, global_snapshot, hytrace,
    hytrace_instances, hytrace_record, require_root, spawn_hytrace, wait_ok, with_command,
};

#[test]
fn unknown_event_is_a_one_line_error_and_leaves_nothing() {
    require_root!();
    let before = global_snapshot();
    let (dir, dat) = TempDir::with_file("badevent", "x.dat");
    assert_one_line_error(
        &with_command(&["record", "-e", "no_such_event", "-o", &dat], &["true"]),
        "no_such_event",
    );
    assert!(!dir.path("x.dat").exists());
    assert_tracefs_as_before(&before);
}

#[test]
fn a_file_that_is_not_a_trace_is_a_one_line_error() {
    assert_one_line_error(&["report", "-i", "/etc/passwd"], "/etc/passwd");
}

#[test]
fn truncated_recordings_are_reported_not_panicked_on() {
    require_root!();
    let (dir, dat) = TempDir::with_file("trunc", "t.dat");
    hytrace_record(&["-e", "raw_syscalls", "-o", &dat], &["true"]);
    let bytes = std::fs::read(&dat).unwrap();
    for cut in [16usize, 100, 1000, bytes.len() / 2, bytes.len() - 1] {
        let cut_path = dir.path_str(&format!("cut{cut}.dat"));
        std::fs::write(&cut_path, &bytes[..cut.min(bytes.len())]).unwrap();
        let out = hytrace(&["report", "-i", &cut_path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "cut at {cut}: {stderr}");
        if !out.status.success() {
            assert!(
                stderr.starts_with("hytrace: error: "),
                "cut at {cut}: {stderr}"
            );
        }
    }
}

#[test]
fn bad_filter_shows_the_kernels_error_log() {
    require_root!();
    let before = global_snapshot();
    let (_dir, dat) = TempDir::with_file("badfilter", "x.dat");
    let stderr = assert_fails_with(
        &with_command(
            &[
                "record",
                "-e",
                "sched:sched_switch",
                "-f",
                "no_such_field == 1",
                "-o",
                &dat,
            ],
            &["true"],
        ),
        "no_such_field",
    );
    assert!(
        stderr.to_lowercase().contains("field not found"),
        "stderr: {stderr}"
    );
    assert_tracefs_as_before(&before);
}

/// Starts `hytrace record -- sleep 30`, waits until its instance exists, sends
/// `signal`, and checks it exits, wrote a readable file, and cleaned up.
fn stop_with_signal(signal: i32) {
    let before = global_snapshot();
    let (_dir, dat) = TempDir::with_file(&format!("sig{signal}"), "s.dat");
    let child = spawn_hytrace(&with_command(
        &["record", "-e", "sched:sched_switch", "-o", &dat],
        &["sleep", "30"],
    ));
    let instance = format!("hytrace-{}", child.id());
    let started = Instant::now();
    while !hytrace_instances().contains(&instance) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "instance never appeared"
        );
        sleep(Duration::from_millis(20));
    }
    sleep(Duration::from_millis(300));
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
    let stderr = wait_ok(child);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "did not stop on signal {signal}"
    );
    assert!(stderr.contains("stopped by SIG"), "{stderr}");
    assert_tracefs_as_before(&before);
    assert_succeeded(&hytrace(&["report", "-i", &dat]), "hytrace report");
}

#[test]
fn sigint_stops_and_cleans_up() {
    require_root!();
    stop_with_signal(libc::SIGINT);
}

#[test]
fn sigterm_stops_and_cleans_up() {
    require_root!();
    stop_with_signal(libc::SIGTERM);
}

#[test]
fn sighup_stops_and_cleans_up() {
    require_root!();
    stop_with_signal(libc::SIGHUP);
}

#[test]
fn duration_and_command_exit_clean_up() {
    require_root!();
    let before = global_snapshot();
    let dir = TempDir::new("duration");
    let (during, until_exit) = (dir.path_str("d.dat"), dir.path_str("c.dat"));
    hytrace_record(&["-e", "sched", "--duration", "0.5", "-o", &during], &[]);
    hytrace_record(&["-e", "irq", "-o", &until_exit], &["true"]);
    assert_tracefs_as_before(&before);
}

#[test]
fn missing_command_is_a_one_line_error_and_leaves_nothing() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("nocmd", "x.dat");
    assert_one_line_error(
        &with_command(
            &["record", "-e", "sched", "-o", &dat],
            &["/no/such/program"],
        ),
        "/no/such/program",
    );
    assert_no_hytrace_instance();
}

/// A tracer this kernel's instances lack (function_graph here), a kprobe on a kernel
/// without kprobe_events, a uprobe on a symbol the binary lacks: each is a one-line
/// error naming what is missing, records nothing and leaves no instance or probe.
#[test]
fn missing_tracers_and_probes_fail_fast_naming_the_feature() {
    require_root!();
    let before = global_snapshot();
    let (dir, out) = TempDir::with_file("missing-features", "x.dat");
    let tracers =
        std::fs::read_to_string("/sys/kernel/tracing/available_tracers").unwrap_or_default();
    if !tracers.split_whitespace().any(|t| t == "function_graph") {
        assert_one_line_error(
            &with_command(
                &[
                    "record",
                    "-p",
                    "function_graph",
                    "-g",
                    "vfs_read",
                    "-o",
                    &out,
                ],
                &["true"],
            ),
            "the kernel has no function_graph tracer in tracefs instances",
        );
    } else {
        eprintln!("function_graph present: its recording is tested in the VM");
    }
    if !std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists() {
        assert_one_line_error(
            &with_command(
                &["record", "--kprobe", "p:op do_sys_openat2", "-o", &out],
                &["true"],
            ),
            "the kernel has no kprobe_events",
        );
    }
    let sleeper = env!("CARGO_BIN_EXE_sleeper");
    let missing = format!("p:nap {sleeper}:no_such_function");
    assert_one_line_error(
        &with_command(&["record", "--uprobe", &missing, "-o", &out], &["true"]),
        "no function named no_such_function",
    );
    assert_one_line_error(
        &with_command(
            &[
                "record",
                "--uprobe",
                "p:bad-name /bin/true:main",
                "-o",
                &out,
            ],
            &["true"],
        ),
        "NAME must be letters, digits and _",
    );
    assert!(!dir.path("x.dat").exists());
    assert_no_hytrace_uprobe();
    assert_tracefs_as_before(&before);
}

/// A recording of 5000 getppid calls cut 2000 bytes short (a copy interrupted): report
/// prints every event of the intact pages (the other CPUs' lines all, the cut CPU's a
/// prefix of its lines, missing only the last page's), says on stderr which CPU was
/// cut, exits 0; with --strict it exits 1.
#[test]
fn a_recording_cut_short_prints_its_intact_pages() {
    require_root!();
    let (dir, dat) = TempDir::with_file("cut", "whole.dat");
    hytrace_record(
        &["-e", "raw_syscalls", "-F", "-o", &dat],
        &[env!("CARGO_BIN_EXE_spin"), "5000"],
    );
    let bytes = std::fs::read(&dat).unwrap();
    let cut = dir.path_str("cut.dat");
    std::fs::write(&cut, &bytes[..bytes.len() - 2000]).unwrap();
    let whole = hytrace_tests::hytrace_report_text(&dat, &[]);
    let out = hytrace(&["report", "-i", &cut]);
    assert_succeeded(&out, "report of the cut file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let cut_cpu: u32 = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("hytrace: cpu ")?
                .split_once(": the file is cut short")?
                .0
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no cut-short line: {stderr}"));
    let report = String::from_utf8(out.stdout).unwrap();
    let column = format!("[{cut_cpu:03}]");
    let of_cpu = |text: &str, on_cut_cpu: bool| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains(&column) == on_cut_cpu)
            .map(str::to_string)
            .collect()
    };
    assert_eq!(of_cpu(&report, false), of_cpu(&whole, false));
    let (kept, all) = (of_cpu(&report, true), of_cpu(&whole, true));
    assert!(kept.len() < all.len(), "nothing of cpu {cut_cpu} missing");
    assert_eq!(kept[..], all[..kept.len()]);
    // At most one page's records are missing (a 4 KiB page holds fewer than 256).
    assert!(
        all.len() - kept.len() < 256,
        "{} missing",
        all.len() - kept.len()
    );

    let strict = hytrace(&["report", "-i", &cut, "--strict"]);
    assert_eq!(strict.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&strict.stdout), report);
}
