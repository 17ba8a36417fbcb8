//! Records real workloads through hytrace's private instance and checks the file with
//! hytrace's own report and with trace-cmd's.

use std::process::Command;

use hytrace_tests::{
    TempDir, assert_no_hytrace_instance, assert_no_hytrace_uprobe, count_lines, event_counts,
    have_tool, hytrace_record, hytrace_report, lines_of_event, record_getppid_kernel_stacks,
    record_then_report, require_root, require_tool, run, run_ok,
};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");
const MARKER: &str = env!("CARGO_BIN_EXE_marker");

/// Records 200000 getppid calls with raw_syscalls and sched_switch; expects no loss,
/// exactly 200000 `NR 110` sys_enter lines for comm spin, and trace-cmd agreeing on
/// every event name's count. (About 15 MB reach one CPU's buffer in 0.1 s; 32 MB per
/// CPU holds all of it, so no event is lost however late the reader runs on a busy
/// machine: the firehose itself is `cargo xtask bench record`'s.)
#[test]
fn spin_getppid_is_recorded_without_loss_and_trace_cmd_agrees() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("spin", "a.dat");
    let events = ["-e", "raw_syscalls", "-e", "sched:sched_switch"];
    let summary = hytrace_record(
        &[&events[..], &["-b", "32768", "-o", &dat]].concat(),
        &[SPIN, "200000"],
    );
    assert!(
        summary.contains("lost events: 0\n"),
        "summary shows lost events:\n{summary}"
    );
    // The kernel hit counters ran beside the recording, system-wide, over a window
    // holding the recording's: they saw at least what was recorded.
    let bpf_line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("raw_syscalls:sys_enter"))
        .unwrap_or_else(|| panic!("no sys_enter row in summary:\n{summary}"));
    let numbers: Vec<u64> = bpf_line
        .split_whitespace()
        .skip(1)
        .take(2)
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "row: {bpf_line}");
    assert!(numbers[0] >= 200_000, "row: {bpf_line}");
    assert!(
        numbers[1] >= numbers[0],
        "BPF saw fewer hits than recorded: {bpf_line}"
    );

    let report = hytrace_report(&dat, &["--comm", "spin", "--event", "sys_enter"]);
    assert_eq!(count_lines(&report, " NR 110 ("), 200_000);
    assert!(
        report
            .lines()
            .all(|l| l.contains("spin-") && l.contains("sys_enter:"))
    );

    require_tool!("trace-cmd");
    let ours = event_counts(&hytrace_report(&dat, &[]));
    let theirs = event_counts(&run_ok("trace-cmd", &["report", &dat]));
    assert_eq!(ours, theirs);
    assert!(ours["sys_enter"] >= 200_000 && ours["sys_exit"] >= 200_000);
}

/// A process writing 1000 lines to the top-level trace_marker while hytrace records
/// yields 1000 tracing_mark_write lines with that process's pid and comm.
#[test]
fn trace_marker_writes_land_in_the_recording() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("marker", "m.dat");
    hytrace_record(
        &["-e", "sched:sched_process_exec", "-o", &dat],
        &[MARKER, "1000"],
    );
    let report = hytrace_report(&dat, &["--event", "^print$"]);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 1000, "report:\n{report}");
    let exec = hytrace_report(&dat, &["--event", "sched_process_exec"]);
    let pid = exec
        .split("pid=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no exec event: {exec}"))
        .to_string();
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.contains(&format!("marker-{pid} "))
                && line.ends_with(&format!("tracing_mark_write: hytrace-marker {i}")),
            "line {i}: {line}"
        );
    }
}

/// -F records only the command's own events: every sys_enter belongs to its pid.
#[test]
fn follow_command_records_only_its_pid() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("follow", "f.dat");
    hytrace_record(
        &["-e", "raw_syscalls:sys_enter", "-F", "-o", &dat],
        &[SPIN, "5000"],
    );
    let json = hytrace_report(&dat, &["--format", "json"]);
    let pids: std::collections::BTreeSet<String> = json
        .lines()
        .map(|l| {
            l.split("\"pid\":")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    assert_eq!(pids.len(), 1, "pids seen: {pids:?}");
    let getppid = json.lines().filter(|l| l.contains("\"id\":110,")).count();
    assert_eq!(getppid, 5000);
}

/// A filter on the preceding -e is applied in the kernel.
#[test]
fn filter_applies_to_its_event() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("filter", "flt.dat");
    let getppid = "id == 110";
    let report = record_then_report(
        &["-e", "raw_syscalls:sys_enter", "-f", getppid, "-o", &dat],
        &[SPIN, "3000"],
    );
    assert!(report.lines().count() >= 3000);
    assert!(report.lines().all(|l| l.contains(" NR 110 (")), "{report}");
    let spin_report = hytrace_report(&dat, &["--comm", "spin"]);
    assert_eq!(count_lines(&spin_report, "NR 110"), 3000);
}

/// -F -c follows the command's children: the exec of a grandchild `true` started by
/// `sh -c` is recorded; without -c only the shell's own events are.
#[test]
fn children_are_followed_with_dash_c() {
    require_root!();
    let dir = TempDir::new("children");
    let with = dir.path_str("with.dat");
    let without = dir.path_str("without.dat");
    let script = "/bin/true; /bin/true";
    for (dat, extra) in [(&with, Some("-c")), (&without, None)] {
        let mut options = vec!["-e", "sched:sched_process_exec", "-F"];
        options.extend(extra);
        options.extend(["-o", dat]);
        hytrace_record(&options, &["sh", "-c", script]);
    }
    let with = hytrace_report(&with, &[]);
    let without = hytrace_report(&without, &[]);
    assert_eq!(count_lines(&with, "filename=/bin/true"), 2, "{with}");
    assert_eq!(count_lines(&without, "filename=/bin/true"), 0, "{without}");
    assert_eq!(
        count_lines(&without, "filename=/usr/bin/sh")
            .max(count_lines(&without, "filename=/bin/sh")),
        1,
        "{without}"
    );
}

/// -P records only the given pid: a sleeping process's exit is recorded, nobody else's.
#[test]
fn pid_filter_records_only_that_pid() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("pid", "p.dat");
    let mut sleeper = Command::new("sleep")
        .arg("0.3")
        .spawn()
        .expect("start sleep");
    let pid = sleeper.id().to_string();
    hytrace_record(
        &[
            "-e",
            "sched:sched_process_exit",
            "-P",
            &pid,
            "--duration",
            "1",
            "-o",
            &dat,
        ],
        &[],
    );
    sleeper.wait().unwrap();
    let report = hytrace_report(&dat, &[]);
    assert_eq!(report.lines().count(), 1, "{report}");
    assert!(report.contains(&format!("sleep-{pid} ")), "{report}");
}

/// `--uprobe` entry and return probes on sleeper's nap, resolved from its symbol table:
/// 50 calls give exactly 50 `nap` and 50 `napret` events of sleeper, trace-cmd reads
/// them alike, and the session's probes are gone afterwards.
#[test]
fn uprobes_record_every_call_and_are_removed() {
    require_root!();
    let sleeper = env!("CARGO_BIN_EXE_sleeper");
    let (_dir, file) = TempDir::with_file("uprobes", "u.dat");
    let entry = format!("p:nap {sleeper}:nap");
    let exit = format!("r:napret {sleeper}:nap $retval");
    let summary = hytrace_record(
        &["--uprobe", &entry, "--uprobe", &exit, "-o", &file],
        &[sleeper, "50"],
    );
    assert!(
        summary
            .lines()
            .any(|l| l.contains(":nap ") && l.contains(" 50 ")),
        "{summary}"
    );
    let report = hytrace_report(&file, &["--comm", "sleeper"]);
    let count = |name: &str| lines_of_event(&report, name).count();
    assert_eq!((count("nap"), count("napret")), (50, 50), "{report}");
    if have_tool("trace-cmd") {
        let out = run("trace-cmd", &["report", &file]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.lines().filter(|l| l.contains(" nap: ")).count(), 50);
    }
    assert_no_hytrace_uprobe();
    assert_no_hytrace_instance();
}

/// `-T`: records 1000 getppid sys_enter events of spin with the kernel stack after
/// each; expects 1000 kernel_stack records, each right after a sys_enter of the same
/// thread on the same CPU and holding a `do_syscall_64` frame, and trace-cmd printing
/// the same lines.
#[test]
fn kernel_stacks_follow_each_event_and_trace_cmd_agrees() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("stacks", "s.dat");
    record_getppid_kernel_stacks(&dat, &[SPIN, "1000"]);
    let report = hytrace_report(&dat, &[]);
    let counts = event_counts(&report);
    assert_eq!(counts.get("sys_enter"), Some(&1000), "{counts:?}");
    assert_eq!(counts.get("kernel_stack"), Some(&1000), "{counts:?}");
    // (task-pid, [cpu]) of the previous event line, and whether the stack being read
    // has shown do_syscall_64.
    let mut previous: Option<(String, String)> = None;
    let mut stacks = 0;
    let mut in_stack_with_syscall = None;
    for line in report.lines() {
        if line.starts_with("=> ") {
            if line.starts_with("=> do_syscall_64 (") {
                in_stack_with_syscall = Some(true);
            }
            continue;
        }
        assert_ne!(
            in_stack_with_syscall,
            Some(false),
            "a stack without do_syscall_64"
        );
        in_stack_with_syscall = None;
        let mut words = line.split_whitespace();
        let (task, cpu) = (words.next().unwrap(), words.next().unwrap());
        let name = hytrace_tests::event_name_of(line).unwrap();
        if name == "kernel_stack" {
            stacks += 1;
            assert!(line.ends_with("<stack trace >"), "{line}");
            assert_eq!(
                previous.as_ref(),
                Some(&(task.to_string(), cpu.to_string())),
                "a stack not after its event: {line}"
            );
            in_stack_with_syscall = Some(false);
            previous = None;
        } else {
            assert_eq!(name, "sys_enter", "{line}");
            previous = Some((task.to_string(), cpu.to_string()));
        }
    }
    assert_ne!(
        in_stack_with_syscall,
        Some(false),
        "a stack without do_syscall_64"
    );
    assert_eq!(stacks, 1000);
    if have_tool("trace-cmd") {
        let theirs = run_ok("trace-cmd", &["report", &dat]);
        // Every line, trace-cmd's first (cpus=N) included.
        let report = hytrace_tests::hytrace_report_text(&dat, &[]);
        let theirs: Vec<&str> = theirs.lines().collect();
        assert_eq!(theirs, report.lines().collect::<Vec<_>>());
    }
}
