//! A recording killed with SIGKILL, turned back into a trace.dat by `hytrace recover`.

use std::{os::unix::process::CommandExt, process::Command, time::Duration};

use hytrace_tests::{
    TempDir, assert_fails_with, assert_no_hytrace_instance, hytrace_bin, hytrace_ok, require_root,
};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");

/// `hytrace record -e raw_syscalls -o FILE -- spin CALLS`, not started yet.
fn firehose_record(file: &str, calls: &str) -> Command {
    let mut command = Command::new(hytrace_bin());
    command.args([
        "record",
        "-e",
        "raw_syscalls",
        "-o",
        file,
        "--",
        SPIN,
        calls,
    ]);
    command
}

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
/// readers had taken from the kernel; before that, `reset` removes the dead instance and
/// names the leftover directory and the `hytrace recover k.dat` that turns it into the
/// file; `report` and `trace-cmd report` read it, the leftovers are gone, a second
/// `reset` says nothing of it, and a second `recover` finds nothing and says where it
/// looked.
#[test]
fn a_killed_recording_is_recovered() {
    require_root!();
    let dir = TempDir::new("recover");
    let file = dir.root().join("k.dat");
    let file = file.to_str().unwrap();
    let mut recorder = firehose_record(file, "50000000")
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

    // reset removes the dead instance and says where the recording is and how to get it.
    let reset = |expect_hint: bool| {
        let out = Command::new(hytrace_bin()).arg("reset").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let hint = format!("the recording of dead session {pid} is left in ");
        assert_eq!(stderr.contains(&hint), expect_hint, "{stderr}");
        if expect_hint {
            assert!(
                stderr.contains(&format!(
                    ": `hytrace recover {file}` turns it into that file"
                )),
                "{stderr}"
            );
        }
    };
    reset(true);
    assert_no_hytrace_instance();

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

    reset(false);
    assert_fails_with(&["recover", file], "no leftovers of a dead recording of");
}

/// A tmpfs of the test's own, unmounted when dropped.
struct SmallTmpfs(std::path::PathBuf);

impl SmallTmpfs {
    fn mount(at: std::path::PathBuf, megabytes: u32) -> SmallTmpfs {
        std::fs::create_dir(&at).unwrap();
        let size = format!("size={megabytes}m");
        hytrace_tests::run_ok(
            "mount",
            &["-t", "tmpfs", "-o", &size, "tmpfs", at.to_str().unwrap()],
        );
        SmallTmpfs(at)
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// N in the record summary's first line ("hytrace: recorded N events ...").
fn recorded_events(summary: &str) -> u64 {
    let rest = summary
        .split("hytrace: recorded ")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary in {summary}"));
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// `record -e raw_syscalls -- spin 5000000` into a 20 MB tmpfs fills it: record exits
/// 1, says per CPU that its pages could not be written (ENOSPC) and that the file
/// holds every page written before; the file is there (0600, nothing else left on the
/// tmpfs), `report --count` finds exactly the events the summary counted, trace-cmd
/// reads as many sys_enter events, and the file takes all but at most one 4 MB buffer
/// per CPU of the 20 MB.
#[test]
fn a_filesystem_that_fills_keeps_every_page_written() {
    require_root!();
    let dir = TempDir::new("disk-full");
    let small = SmallTmpfs::mount(dir.root().join("small"), 20);
    let file = small.0.join("full.dat");
    let file = file.to_str().unwrap();
    let out = firehose_record(file, "5000000")
        .output()
        .expect("run hytrace record");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not be written (No space left on device")
            && stderr.contains("the file holds every page written before"),
        "{stderr}"
    );
    let recorded = recorded_events(&stderr);
    assert!(recorded > 0, "{stderr}");

    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file).expect("the file is there");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let left: Vec<_> = std::fs::read_dir(&small.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["full.dat"], "nothing else stays on the filesystem");
    let cpus = std::fs::read_dir("/sys/devices/system/cpu")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix("cpu")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count() as u64;
    assert!(
        meta.len() >= 20 * 1024 * 1024 - cpus * 4 * 1024 * 1024,
        "{} bytes of 20 MB ({cpus} CPUs)",
        meta.len()
    );

    let counts = hytrace_ok(&["report", "-i", file, "--count"]);
    let counted: u64 = counts
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(counted, recorded, "{counts}");
    if hytrace_tests::have_tool("trace-cmd") {
        let text = hytrace_tests::run_ok("trace-cmd", &["report", file]);
        let enters = text.lines().filter(|l| l.contains(" sys_enter: ")).count() as u64;
        let ours = counts
            .lines()
            .find(|l| l.trim_end().ends_with(" sys_enter"))
            .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            .expect("a sys_enter count");
        assert_eq!(enters, ours);
    }
    assert_no_hytrace_instance();
}
