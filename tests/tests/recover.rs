//! A recording killed with SIGKILL, turned back into a trace.dat by `hytrace recover`.

use std::{os::unix::process::CommandExt, process::Command, time::Duration};

use hytrace_tests::{
    TempDir, assert_fails_with, assert_no_hytrace_instance, hytrace_bin, hytrace_ok, require_root,
};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");

/// Sum of `read events:` over the per-CPU stats of an instance (events its readers
/// consumed from the kernel's buffers).
fn read_events(instance: &str) -> u64 {
    let per_cpu = format!("/sys/kernel/tracing/instances/{instance}/per_cpu");
    std::fs::read_dir(&per_cpu)
        .unwrap_or_else(|e| panic!("{per_cpu}: {e}"))
        .filter_map(Result::ok)
        .filter_map(|cpu| std::fs::read_to_string(cpu.path().join("stats")).ok())
        .flat_map(|stats| {
            stats
                .lines()
                .filter_map(|l| l.strip_prefix("read events: "))
                .filter_map(|n| n.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// `record -e raw_syscalls -o k.dat -- spin 50000000`, the recorder and its command
/// killed with SIGKILL after 1.5 s: k.dat was never written, but `recover k.dat` writes
/// it from the session's leftovers with at least 95% of the events the session's
/// readers had taken from the kernel; `report` and `trace-cmd report` read it, the
/// leftovers are gone, `reset` removes the dead instance, and a second `recover`
/// finds nothing and says where it looked.
#[test]
fn a_killed_recording_is_recovered() {
    require_root!();
    let dir = TempDir::new("recover");
    let file = dir.root().join("k.dat");
    let file = file.to_str().unwrap();
    let mut recorder = Command::new(hytrace_bin())
        .args([
            "record",
            "-e",
            "raw_syscalls",
            "-o",
            file,
            "--",
            SPIN,
            "50000000",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start hytrace record");
    let pid = recorder.id();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill has no memory-safety preconditions; the group is the recorder's.
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    let _ = recorder.wait();
    let instance = format!("hytrace-{pid}");
    let taken = read_events(&instance);
    assert!(taken > 100_000, "only {taken} events read in 1.5 s");
    assert!(!std::path::Path::new(file).exists());

    let out = Command::new(hytrace_bin())
        .args(["recover", file])
        .output()
        .expect("run hytrace recover");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.starts_with("hytrace: recovered "), "{stderr}");
    let counts = hytrace_ok(&["report", "-i", file, "--count"]);
    let recovered: u64 = counts
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    assert!(
        recovered * 100 >= taken * 95,
        "recovered {recovered} of {taken} events read:\n{counts}\n{stderr}"
    );
    let theirs = Command::new("trace-cmd")
        .args(["report", file])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run trace-cmd report");
    assert!(theirs.success(), "trace-cmd report of {file}");
    let leftovers: Vec<String> = std::fs::read_dir(dir.root())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".hytrace-"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());

    hytrace_ok(&["reset"]);
    assert_no_hytrace_instance();
    assert_fails_with(&["recover", file], "no leftovers of a dead recording of");
}
