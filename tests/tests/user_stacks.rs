//! `record --user-stack`: whole user stacks captured by eBPF at the recorded
//! tracepoints, stored in the file, joined to their events and symbolized by report
//! (file:line, inlined functions), also after the binary is deleted.

use std::{collections::BTreeMap, path::Path};

use hytrace_tests::{
    DEEP_SOURCE, TempDir, assert_no_hytrace_instance, build_deep, chromium_dom,
    frame_without_offset, have_tool, hytrace_ok, hytrace_report, json_u64, raw_getppid_frame,
    record_rstack_user_stacks, require_root, require_tool, run_ok, user_stacks_of_events,
    with_command,
};

/// The line of each `/* call: NAME */` marker of the source.
fn call_lines() -> BTreeMap<String, u32> {
    let source = std::fs::read_to_string(DEEP_SOURCE).unwrap();
    source
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let name = line.split("/* call: ").nth(1)?.split(" */").next()?;
            Some((name.to_string(), i as u32 + 1))
        })
        .collect()
}

/// The frames (function, file:line) every getppid stack must start with.
fn expected_frames(exe: &str) -> Vec<String> {
    let lines = call_lines();
    let at = |marker: &str| format!("({DEEP_SOURCE}:{}) [{exe}]", lines[marker]);
    let mut frames = vec![
        format!("raw_getppid [inlined] {}", at("syscall")),
        format!("recurse {}", at("raw_getppid")),
    ];
    frames.extend((0..24).map(|_| format!("recurse {}", at("recurse"))));
    for (function, marker) in [("c", "c"), ("b", "b"), ("a", "a"), ("main", "main")] {
        frames.push(format!("{function} {}", at(marker)));
    }
    frames
}

/// Each sys_enter line's user stack (frames without offsets) and whether a kernel
/// stack holding do_syscall_64 followed it.
fn stacks_of(report: &str) -> Vec<(Vec<String>, bool)> {
    let mut out: Vec<(Vec<String>, bool)> = Vec::new();
    let mut in_user_stack = false;
    let mut in_kernel_stack = false;
    for line in report.lines() {
        if line == "<user stack trace >" {
            in_user_stack = true;
            continue;
        }
        if let Some(frame) = line.strip_prefix("=> ") {
            if in_user_stack {
                out.last_mut().unwrap().0.push(frame_without_offset(frame));
            } else if in_kernel_stack && frame.starts_with("do_syscall_64 (") {
                out.last_mut().unwrap().1 = true;
            }
            continue;
        }
        in_user_stack = false;
        in_kernel_stack = false;
        match hytrace_tests::event_name_of(line) {
            Some("sys_enter") => out.push((Vec::new(), false)),
            Some("kernel_stack") => in_kernel_stack = true,
            other => panic!("unexpected line {other:?}: {line}"),
        }
    }
    out
}

/// Records 1000 getppid calls of `deep` with -T and --user-stack; expects 1000
/// sys_enter events, each with a user stack of the inlined raw_getppid, 25 recurse
/// frames, then c, b, a, main, every frame at the source line of its call, and a
/// kernel stack holding do_syscall_64. Then deletes `deep` and expects the same
/// report from the build-id cache; and trace-cmd reads the file, printing the same
/// events and kernel stacks.
#[test]
fn deep_recursion_stacks_name_every_frame_with_its_line_also_after_the_binary_is_gone() {
    require_root!();
    require_tool!("gcc");
    let dir = TempDir::new("ustack");
    let exe = build_deep(&dir);
    let dat = dir.path_str("u.dat");
    let cache = dir.path_str("build-id-cache");
    let summary = hytrace_tests::record_getppid_user_stacks(&dat, &cache, true, &[&exe, "1000"]);
    assert!(summary.contains("  user stacks: "), "{summary}");
    assert!(summary.contains(", 0 lost (ring buffer full)"), "{summary}");
    let report_args = ["--build-id-cache", &cache];
    let report = hytrace_report(&dat, &report_args);
    let stacks = stacks_of(&report);
    assert_eq!(stacks.len(), 1000);
    let expected = expected_frames(&exe);
    for (frames, kernel) in &stacks {
        assert!(
            *kernel,
            "a getppid without do_syscall_64 in its kernel stack"
        );
        assert!(frames.len() >= expected.len(), "a short stack: {frames:#?}");
        assert_eq!(frames[..expected.len()], expected[..]);
    }

    // Folded: one stack, 1000 times, root first, user frames then kernel frames.
    let folded = hytrace_report(&dat, &["--folded", "--build-id-cache", &cache]);
    let lines: Vec<&str> = folded.lines().collect();
    assert_eq!(lines.len(), 1, "{folded}");
    let (stack, count) = lines[0].rsplit_once(' ').unwrap();
    assert_eq!(count, "1000");
    let names: Vec<&str> = stack.split(';').collect();
    let mut user: Vec<String> = vec!["main", "a", "b", "c"]
        .into_iter()
        .map(String::from)
        .collect();
    user.extend((0..25).map(|_| "recurse".to_string()));
    user.push("raw_getppid".into());
    let at = names.iter().position(|n| *n == "main").unwrap();
    assert_eq!(names[0], "deep");
    assert_eq!(names[at..at + user.len()], user[..]);
    assert!(
        names[at + user.len()..].contains(&"do_syscall_64_[k]"),
        "{stack}"
    );

    // The flame graph of the same stacks, as a browser builds it.
    if have_tool("chromium") {
        let svg = dir.path_str("u.svg");
        hytrace_ok(&[
            "report",
            "-i",
            &dat,
            "--build-id-cache",
            &cache,
            "--flamegraph",
            &svg,
        ]);
        let dom = chromium_dom(Path::new(&svg));
        for name in ["recurse", "c", "b", "a", "main"] {
            assert!(
                dom.contains(&format!("<title>{name} (")),
                "{name} is not a frame of the flame graph's DOM"
            );
        }
        assert!(
            dom.contains("<title>recurse (1,000 events"),
            "recurse's count"
        );
    } else {
        hytrace_tests::skip("chromium is not installed: the flame graph is not opened");
    }

    // The binary is gone: its frames come from the build-id cache.
    std::fs::remove_file(&exe).unwrap();
    assert!(!Path::new(&exe).exists());
    assert_eq!(hytrace_report(&dat, &report_args), report);

    // JSON carries the same frames.
    let json = hytrace_report(&dat, &["--format", "json", "--build-id-cache", &cache]);
    let first = json.lines().next().unwrap();
    assert!(
        first.contains(r#""function":"c","offset":"#)
            && first.contains(&format!(r#""line":{}"#, call_lines()["c"])),
        "{first}"
    );
    assert!(json_u64(first, "pid") > 0, "{first}");

    if have_tool("trace-cmd") {
        let theirs = run_ok("trace-cmd", &["report", &dat]);
        let theirs: Vec<&str> = theirs.lines().filter(|l| !l.starts_with("cpus=")).collect();
        let ours = without_user_stacks(&report);
        assert_eq!(theirs, ours);
    }
    assert_no_hytrace_instance();
}

/// The report's lines without the user stacks (what trace-cmd prints).
fn without_user_stacks(report: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_user_stack = false;
    for line in report.lines() {
        if line == "<user stack trace >" {
            in_user_stack = true;
            continue;
        }
        if in_user_stack && line.starts_with("=> ") {
            continue;
        }
        in_user_stack = false;
        out.push(line);
    }
    out
}

/// `hist syscalls --stacks -- deep 1000`: getppid's top stack (by total latency) has
/// 1000 samples, kernel frames holding do_syscall_64, and the same user frames as the
/// recording (inlined raw_getppid, 25 recurse, c, b, a, main at their lines); the
/// folded file has that stack weighted by its nanoseconds, and the flame graph names
/// its functions.
#[test]
fn hist_stacks_key_getppid_samples_by_the_stack_they_began_in() {
    require_root!();
    require_tool!("gcc");
    let dir = TempDir::new("hstack");
    let exe = build_deep(&dir);
    let folded_path = dir.path_str("h.folded");
    let svg_path = dir.path_str("h.svg");
    let out = hytrace_ok(&with_command(
        &[
            "hist",
            "syscalls",
            "--stacks",
            "--folded",
            &folded_path,
            "--flamegraph",
            &svg_path,
        ],
        &[&exe, "1000"],
    ));
    let section = out
        .split("\ngetppid\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no getppid stacks in:\n{out}"));
    let mut lines = section.lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with("  1000 samples, total "), "{head}");
    let frames: Vec<&str> = lines
        .take_while(|l| l.starts_with("    "))
        .map(str::trim_start)
        .collect();
    let kernel: Vec<&str> = frames
        .iter()
        .filter_map(|f| f.strip_suffix(" [kernel]"))
        .collect();
    assert!(kernel.contains(&"do_syscall_64"), "{frames:#?}");
    let user: Vec<String> = frames
        .iter()
        .filter(|f| !f.ends_with(" [kernel]"))
        .map(|f| frame_without_offset(f))
        .collect();
    let expected = expected_frames(&exe);
    assert!(user.len() >= expected.len(), "{frames:#?}");
    assert_eq!(user[..expected.len()], expected[..]);

    let folded = std::fs::read_to_string(&folded_path).unwrap();
    let line = folded
        .lines()
        .find(|l| l.starts_with("getppid;") && l.contains(";raw_getppid;"))
        .unwrap_or_else(|| panic!("no getppid stack in:\n{folded}"));
    let (stack, ns) = line.rsplit_once(' ').unwrap();
    assert!(ns.parse::<u64>().unwrap() > 0, "{line}");
    let names: Vec<&str> = stack.split(';').collect();
    let at = names.iter().position(|n| *n == "main").unwrap();
    assert_eq!(names[at..at + 4], ["main", "a", "b", "c"]);
    assert_eq!(
        names.iter().filter(|n| **n == "recurse").count(),
        25,
        "{stack}"
    );
    assert!(names.contains(&"do_syscall_64_[k]"), "{stack}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    for name in ["recurse", "main", "do_syscall_64"] {
        assert!(svg.contains(name), "{name} not in the flame graph");
    }
}

/// A Rust workload's frames print demangled: 100 getppid calls made by
/// `hytrace_tests::workloads::raw_getppid` give 100 stacks whose innermost frame is
/// that function, at the line of its `asm!` in tests/src/lib.rs.
#[test]
fn rust_frames_are_demangled_with_their_file_and_line() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("rstack", "r.dat");
    record_rstack_user_stacks(&dat, RSTACK, 100);
    let expected = raw_getppid_frame(RSTACK);
    let report = hytrace_report(&dat, &[]);
    let stacks = user_stacks_of_events(&report, "sys_enter");
    assert_eq!(stacks.len(), 100);
    for frames in stacks {
        assert_eq!(frames.first(), Some(&expected), "{frames:#?}");
    }
}

const RSTACK: &str = env!("CARGO_BIN_EXE_rstack");

const SLEEPER: &str = env!("CARGO_BIN_EXE_sleeper");

/// `record --profile -- sleeper 50` (50 naps of 1 ms, each a nanosleep made by `nap`
/// itself): report --profile says sleeper blocked in 50 waits at a stack holding the
/// kernel's nanosleep path and its `nap` frame, for at least the 50 ms asked and at
/// most the time the naps took by sleeper's own clock (which adds the run-queue waits
/// after each wake-up and the little it ran).
#[test]
fn profile_attributes_sleepers_blocked_time_to_its_nap_stack() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("profile", "p.dat");
    // SLEEPER_REPORT reaches sleeper through hytrace and its start gate.
    let out = std::process::Command::new(hytrace_tests::hytrace_bin())
        .args([
            "record",
            "--profile",
            "--no-build-id-cache",
            "-o",
            &dat,
            "--",
            SLEEPER,
            "50",
        ])
        .env("SLEEPER_REPORT", "1")
        .output()
        .expect("run hytrace record");
    hytrace_tests::assert_succeeded(&out, "hytrace record --profile -- sleeper 50");
    let summary = String::from_utf8_lossy(&out.stderr);
    let naps_ms: f64 = summary
        .lines()
        .find_map(|l| l.strip_prefix("sleeper: 50 naps in "))
        .and_then(|l| l.strip_suffix(" ns"))
        .and_then(|n| n.parse::<f64>().ok())
        .map(|ns| ns / 1e6)
        .unwrap_or_else(|| panic!("no sleeper timing in {summary}"));
    let report = hytrace_report(&dat, &["--profile"]);
    let section = report
        .split('\n')
        .skip_while(|l| !l.starts_with("sleeper-"))
        .collect::<Vec<_>>();
    assert!(!section.is_empty(), "no sleeper in:\n{report}");
    let head = section[0];
    let top = section[1];
    let words: Vec<&str> = top.split_whitespace().collect();
    // "blocked 53.22 ms in 50 waits at:"
    assert_eq!(
        (words[0], words[2], words[3], words[4]),
        ("blocked", "ms", "in", "50"),
        "{top}"
    );
    let blocked_ms: f64 = words[1].parse().unwrap();
    // The report prints two decimals: allow their rounding.
    assert!(
        (50.0..=naps_ms + 0.01).contains(&blocked_ms),
        "blocked {blocked_ms} ms for 50 naps of 1 ms that took {naps_ms} ms: {head}"
    );
    let frames: Vec<&str> = section[2..]
        .iter()
        .take_while(|l| l.starts_with("    "))
        .map(|l| l.trim())
        .collect();
    for kernel in ["do_nanosleep [kernel]", "__x64_sys_nanosleep [kernel]"] {
        assert!(frames.contains(&kernel), "{kernel} missing: {frames:#?}");
    }
    assert!(
        frames
            .iter()
            .any(|f| f.starts_with("nap+") && f.contains("sleeper.rs:")),
        "no nap frame: {frames:#?}"
    );
    assert_no_hytrace_instance();
}

/// `hist uprobe:SLEEPER:nap --stacks -- sleeper 5`: the five calls of nap are keyed by
/// the user stack at its entry, whose innermost frame is nap itself at offset 0.
#[test]
fn hist_stacks_key_uprobe_samples_too() {
    require_root!();
    let spec = format!("uprobe:{SLEEPER}:nap");
    let out = hytrace_ok(&with_command(&["hist", &spec, "--stacks"], &[SLEEPER, "5"]));
    let section = out
        .split("\nnap\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no nap stacks in:\n{out}"));
    let mut lines = section.lines();
    assert!(
        lines.next().unwrap().starts_with("  5 samples, total "),
        "{section}"
    );
    let first = lines.next().unwrap().trim();
    assert!(
        first.starts_with("nap+0x0 (") && first.contains("sleeper.rs:"),
        "{first}"
    );
}
