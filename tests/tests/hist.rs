//! `hytrace hist`: histograms computed in the kernel, checked against exact workloads
//! and against bpftrace's hist() on the same run.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use hytrace_tests::{
    TempDir, assert_fails_with, assert_no_hytrace_instance, assert_one_line_error, have_tool,
    hytrace, hytrace_ok, hytrace_record, hytrace_report, json_u64, json_u64s, require_root,
    require_tool, run_ok,
};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");
const KVMGUEST: &str = env!("CARGO_BIN_EXE_kvmguest");

/// Pulls (count, p50_ns) of one key out of a JSON snapshot line.
fn key_stats(line: &str, key: &str) -> (u64, u64) {
    let at = line
        .find(&format!("{{\"key\":\"{key}\""))
        .unwrap_or_else(|| panic!("no key {key} in {line}"));
    let rest = &line[at..];
    (json_u64(rest, "count"), json_u64(rest, "p50_ns"))
}

/// bpftrace's `hist()` / `lhist()` output: (bucket low bound, count) lines like
/// `[512, 1K)  99 |@@|` or `[250, 260)  99 |@@|`.
fn bpftrace_buckets(text: &str) -> Vec<(u64, u64)> {
    let parse_bound = |s: &str| -> u64 {
        let s = s.trim();
        let (digits, scale) = match s.chars().last() {
            Some('K') => (&s[..s.len() - 1], 1 << 10),
            Some('M') => (&s[..s.len() - 1], 1 << 20),
            Some('G') => (&s[..s.len() - 1], 1 << 30),
            _ => (s, 1),
        };
        digits.parse::<u64>().unwrap() * scale
    };
    text.lines()
        .filter(|l| l.starts_with('['))
        .map(|l| {
            let low = parse_bound(l[1..].split(',').next().unwrap());
            let count = l
                .split(')')
                .nth(1)
                .unwrap()
                .split('|')
                .next()
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            (low, count)
        })
        .collect()
}

/// spin calls getppid 1000000 times under `hist syscalls -- spin`: exactly 1000000
/// getppid samples (the command's pid filter keeps other processes out), and the p50
/// within 25% below to one resolution step above the p50 of bpftrace's 10 ns lhist()
/// of the same run. hytrace attaches first and bpftrace second (spin waits for a start
/// file), so both time the same calls, but bpftrace's span also holds its own exit
/// probe's map lookup before it reads the clock: measured 50–57 ns (about 15%) longer
/// at a median of 400 ns. (Comparing log2 buckets, as before, failed when the medians
/// straddled a power of two: 251 ns against bpftrace's [256, 512).)
#[test]
fn syscalls_counts_every_getppid_and_agrees_with_bpftrace() {
    require_root!();
    require_tool!("bpftrace");
    let (_dir, start_file) = TempDir::with_file("bpftrace-peer", "go");
    let hytrace = Command::new(hytrace_tests::hytrace_bin())
        .args([
            "hist",
            "syscalls",
            "--json",
            "--",
            SPIN,
            "1000000",
            &start_file,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start hytrace");
    // hytrace has attached once its command has exec'd into spin (it waits at hytrace's
    // start gate until then, and then at the start file).
    let started = std::time::Instant::now();
    let children = format!("/proc/{0}/task/{0}/children", hytrace.id());
    loop {
        let child = std::fs::read_to_string(&children).unwrap_or_default();
        let comm = child
            .split_whitespace()
            .next()
            .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
            .unwrap_or_default();
        if comm.trim() == "spin" {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "hytrace did not start spin"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut bpftrace = Command::new("bpftrace")
        .args([
            "-e",
            "tracepoint:raw_syscalls:sys_enter /comm == \"spin\" && args->id == 110/ { @s[tid] = nsecs; } \
             tracepoint:raw_syscalls:sys_exit /@s[tid]/ { @h = lhist(nsecs - @s[tid], 0, 4000, 10); delete(@s[tid]); }",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bpftrace");
    let mut reader = BufReader::new(bpftrace.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("Attaching") {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "bpftrace ended early"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(&start_file, b"").unwrap();
    let out = hytrace.wait_with_output().expect("wait for hytrace");
    assert!(out.status.success());
    let json = String::from_utf8(out.stdout).unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(bpftrace.id() as libc::pid_t, libc::SIGINT);
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    bpftrace.wait().unwrap();

    let last = json.lines().last().expect("a final snapshot");
    let (count, p50) = key_stats(last, "getppid");
    assert_eq!(count, 1_000_000);
    let buckets = bpftrace_buckets(&rest);
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    assert_eq!(total, 1_000_000, "bpftrace saw {total}:\n{rest}");
    let mut seen = 0;
    let bpftrace_p50 = buckets
        .iter()
        .find(|(_, n)| {
            seen += n;
            seen * 2 >= total
        })
        .unwrap()
        .0;
    // bpftrace's median bucket [b, b + 10): its middle; hytrace's p50 is a sub-bucket
    // of 1/16 of its power of two.
    let bpftrace_p50 = bpftrace_p50 + 5;
    assert!(
        p50 * 4 >= bpftrace_p50 * 3 && p50 <= bpftrace_p50 + 5 + p50 / 16,
        "hytrace p50 {p50} ns, bpftrace p50 {bpftrace_p50} ns:\n{rest}"
    );
}

/// The text form has a row per syscall and a bar chart; nothing is left attached.
#[test]
fn syscalls_text_table_and_cleanup() {
    require_root!();
    let out = hytrace_ok(&["hist", "syscalls", "--", SPIN, "5000"]);
    let row = out
        .lines()
        .find(|l| l.starts_with("syscalls: getppid "))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(row.split_whitespace().nth(2), Some("5000"), "{row}");
    assert!(out.contains("@syscalls[getppid] (ns):"));
    assert_no_hytrace_instance();
}

#[test]
fn unknown_specs_are_one_line_errors() {
    assert_one_line_error(&["hist", "nonsense"], "unknown histogram spec 'nonsense'");
}

/// Direct-I/O writes make the disk interrupt: the irq and softirq histograms of the
/// run are non-empty (every listed key has samples) and the disk irqs number at least
/// the writes.
#[test]
fn irq_and_softirq_fill_under_disk_load() {
    require_root!();
    let (_dir, target) = TempDir::with_file("irq", "direct.bin");
    let script =
        format!("dd if=/dev/zero of={target} bs=64k count=64 oflag=direct,sync 2>/dev/null");
    let json = hytrace_ok(&[
        "hist", "irq", "softirq", "--json", "--", "sh", "-c", &script,
    ]);
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len(), 2, "{json}");
    for (line, spec) in lines.iter().zip(["irq", "softirq"]) {
        assert!(
            line.starts_with(&format!("{{\"spec\":\"{spec}\"")),
            "{line}"
        );
        let counts = json_u64s(line, "count");
        assert!(
            !counts.is_empty() && counts.iter().all(|&n| n > 0),
            "{spec}: {line}"
        );
    }
    // 64 synchronous 64 KiB writes complete with at least 64 disk interrupts.
    let irq_total: u64 = json_u64s(lines[0], "count").iter().sum();
    assert!(irq_total >= 64, "{}", lines[0]);
}

const SLEEPER: &str = env!("CARGO_BIN_EXE_sleeper");

/// sleeper calls nap (a 1 ms sleep) 200 times: 200 samples, p50 between 1 and 2 ms.
#[test]
fn uprobe_measures_each_call_of_a_user_function() {
    require_root!();
    let spec = format!("uprobe:{SLEEPER}:nap");
    let json = hytrace_ok(&["hist", &spec, "--json", "--", SLEEPER, "200"]);
    let (count, p50) = key_stats(json.lines().last().unwrap(), "nap");
    assert_eq!(count, 200, "{json}");
    assert!((1_000_000..2_000_000).contains(&p50), "p50 {p50} ns");
    let missing = format!("uprobe:{SLEEPER}:no_such_function");
    assert_fails_with(
        &["hist", &missing, "--", SLEEPER, "1"],
        "no function named no_such_function",
    );
}

const DESCEND: &str = env!("CARGO_BIN_EXE_descend");

/// The samples of the one key of a uprobe spec's final JSON snapshot: (count, p50, max)
/// and the losses named `kind`.
fn uprobe_figures(json: &str, key: &str, kind: &str) -> (u64, u64, u64, u64) {
    let line = json.lines().last().unwrap();
    let (count, p50) = key_stats(line, key);
    let max = json_u64(
        &line[line.find(&format!("{{\"key\":\"{key}\"")).unwrap()..],
        "max_ns",
    );
    (count, p50, max, json_u64(line, kind))
}

/// descend recurses 31 deep 100 times, the outermost call of each then sleeping 1 ms:
/// each of the 3100 returns is paired with its own entry (3100 samples, no losses), and
/// the largest sample (an outermost call, over 1 ms) is at least 10x the median (a
/// nested call). 40 deep, 10 times: the 32 outer calls of each are measured (320
/// samples), the 8 beyond the depth counted as too deep (80).
#[test]
fn uprobe_measures_each_recursive_call() {
    require_root!();
    let spec = format!("uprobe:{DESCEND}:descend");
    let json = hytrace_ok(&["hist", &spec, "--json", "--", DESCEND, "100"]);
    let (count, p50, max, end_without_start) =
        uprobe_figures(&json, "descend", "end_without_start");
    assert_eq!((count, end_without_start), (3100, 0), "{json}");
    assert_eq!(
        json_u64(json.lines().last().unwrap(), "too_deep"),
        0,
        "{json}"
    );
    assert!(
        max >= 1_000_000 && max >= 10 * p50,
        "max {max} ns, p50 {p50} ns"
    );
    let json = hytrace_ok(&["hist", &spec, "--json", "--", DESCEND, "10", "40"]);
    let (count, _, _, too_deep) = uprobe_figures(&json, "descend", "too_deep");
    assert_eq!((count, too_deep), (320, 80), "{json}");
    assert_eq!(
        json_u64(json.lines().last().unwrap(), "end_without_start"),
        0,
        "{json}"
    );
}

/// Two busy threads pinned to CPU 0 wait for each other on the run queue: the runq
/// histogram of CPU 0 fills, with waits of a scheduler slice (over 1 ms) among them;
/// keyed by command (`runq:by-comm`), spin's median wait is a slice of the other spin
/// (over 0.5 ms).
#[test]
fn runq_fills_when_two_busy_tasks_share_a_cpu() {
    require_root!();
    let script = format!("taskset -c 0 {SPIN} 3000000 & taskset -c 0 {SPIN} 3000000; wait");
    let json = hytrace_ok(&[
        "hist",
        "runq:by-comm",
        "runq",
        "--json",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let by_comm = json.lines().next().expect("a runq:by-comm snapshot");
    assert!(
        by_comm.starts_with("{\"spec\":\"runq:by-comm\""),
        "{by_comm}"
    );
    let (count, p50) = key_stats(by_comm, "spin");
    assert!(count >= 10 && p50 >= 500_000, "{by_comm}");
    let last = json.lines().last().expect("a snapshot");
    assert!(last.starts_with("{\"spec\":\"runq\""), "{last}");
    let (count, _) = key_stats(last, "cpu0");
    assert!(count >= 10, "{last}");
    let at = last.find("{\"key\":\"cpu0\"").unwrap();
    let max = json_u64(&last[at..], "max_ns");
    assert!(max >= 1_000_000, "longest wait {max} ns: {last}");
}

/// A pair of any two events matched per thread: sys_enter_getppid → sys_exit_getppid of
/// spin's 5000 calls gives exactly 5000 samples under key "all"; keyed by the begin
/// event's `__syscall_nr` field, key "__syscall_nr=110" holds them.
#[test]
fn pair_matches_two_events_per_thread() {
    require_root!();
    let json = hytrace_ok(&[
        "hist",
        "pair:syscalls:sys_enter_getppid,syscalls:sys_exit_getppid",
        "pair:syscalls:sys_enter_getppid,syscalls:sys_exit_getppid,key=__syscall_nr",
        "--json",
        "--",
        SPIN,
        "5000",
    ]);
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len(), 2, "{json}");
    assert!(
        lines[0]
            .starts_with(r#"{"spec":"pair:syscalls:sys_enter_getppid,syscalls:sys_exit_getppid","#)
    );
    assert_eq!(key_stats(lines[0], "all").0, 5000, "{}", lines[0]);
    assert_eq!(
        key_stats(lines[1], "__syscall_nr=110").0,
        5000,
        "{}",
        lines[1]
    );
    assert_no_hytrace_instance();
}

/// A pair naming an event the kernel lacks, or a key field the begin event lacks, fails
/// with the reason before running anything.
#[test]
fn pair_with_unknown_event_or_field_fails() {
    require_root!();
    for (spec, reason) in [
        (
            "pair:sched:no_such_event,sched:sched_switch",
            "sched:no_such_event",
        ),
        (
            "pair:sched:sched_wakeup,sched:sched_switch,key=no_such_field",
            "no integer field no_such_field",
        ),
    ] {
        assert_one_line_error(&["hist", spec, "--", "true"], reason);
    }
}

/// `syscalls:by-comm` keys by command name and syscall: spin's 3000 getppid calls are
/// the key "spin getppid" with exactly 3000 samples.
#[test]
fn syscalls_by_comm_keys_by_command_and_syscall() {
    require_root!();
    let json = hytrace_ok(&["hist", "syscalls:by-comm", "--json", "--", SPIN, "3000"]);
    assert!(json.starts_with(r#"{"spec":"syscalls:by-comm","#), "{json}");
    assert_eq!(key_stats(&json, "spin getppid").0, 3000, "{json}");
}

/// kvm-exit on this kernel: KVM runs (kvm_pvm here) but the kvm_exit / kvm_entry
/// tracepoints never fire, so hytrace says so and measures KVM_RUN round trips. A
/// real-mode guest doing 1000 port writes makes 1001 KVM_RUN calls: exactly 1001
/// samples for the vCPU thread, named by its command.
#[test]
fn kvm_exit_measures_each_kvm_run_of_a_guest() {
    require_root!();
    if !std::path::Path::new("/dev/kvm").exists() {
        hytrace_tests::skip("no /dev/kvm");
        return;
    }
    let out = hytrace(&["hist", "kvm-exit", "--json", "--", KVMGUEST, "1000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json = String::from_utf8_lossy(&out.stdout);
    let line = json
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a snapshot");
    let vendor_emits_kvm_exit = ["kvm_intel", "kvm_amd"]
        .iter()
        .any(|m| std::path::Path::new(&format!("/sys/module/{m}")).exists());
    if vendor_emits_kvm_exit {
        // Per exit reason: every I/O exit (30 on VMX, 0x7b on SVM) and more.
        let count: u64 = line.matches("\"count\":").count() as u64;
        assert!(count > 0, "{line}");
        return;
    }
    assert!(
        stderr.contains("measuring KVM_RUN ioctl round trips per vCPU thread instead"),
        "{stderr}"
    );
    let at = line.find(r#"{"key":"kvmguest tid "#).expect(line);
    let key_end = line[at + 8..].find('"').unwrap() + at + 8;
    let key = &line[at + 8..key_end];
    assert_eq!(key_stats(line, key).0, 1001, "{line}");
}

/// A loop device over a file of the test's own, detached when dropped.
struct LoopDevice(String);

impl LoopDevice {
    fn attach(backing: &str) -> LoopDevice {
        let out = run_ok("losetup", &["--find", "--show", backing]);
        LoopDevice(out.trim().to_string())
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

/// 200 direct 4 KiB writes to a loop device of the test's own are 200 block requests
/// on that device: the block histogram keys them by its name and numbers
/// (`loopN (7,N)`) and counts exactly 200, none lost.
#[test]
fn block_measures_requests_per_device() {
    require_root!();
    let (_dir, backing) = TempDir::with_file("block", "backing.img");
    std::fs::write(&backing, vec![0u8; 1 << 20]).unwrap();
    let device = LoopDevice::attach(&backing);
    let script = format!(
        "dd if=/dev/zero of={} bs=4k count=200 oflag=direct 2>/dev/null",
        device.0
    );
    let json = hytrace_ok(&["hist", "block", "--json", "--", "sh", "-c", &script]);
    assert!(json.starts_with(r#"{"spec":"block","#), "{json}");
    let name = device.0.trim_start_matches("/dev/");
    let number: u32 = name.trim_start_matches("loop").parse().unwrap();
    let (requests, _) = key_stats(&json, &format!("{name} (7,{number})"));
    assert_eq!(requests, 200, "{json}");
    assert!(json_u64s(&json, "end_without_start") == [0], "{json}");
}

/// func:KFUNC needs fentry or kprobes; where the kernel refuses both (this machine),
/// hist fails naming each refusal, and leaves nothing attached.
#[test]
fn func_names_what_the_kernel_refused() {
    require_root!();
    let out = hytrace(&["hist", "func:do_nanosleep", "--", "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        // A kernel with fentry or kprobes: one key for the function.
        assert!(String::from_utf8_lossy(&out.stdout).contains("func:do_nanosleep"));
        return;
    }
    assert!(
        stderr.contains("the kernel refused every way to probe do_nanosleep: fentry/fexit: ")
            && stderr.contains("; kprobe/kretprobe: "),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

/// `record --hist syscalls` beside `-e raw_syscalls` for spin's 100000 getppid calls:
/// the stored eBPF histogram's getppid count equals the number of spin's getppid
/// sys_enter events in the recording, and `report --hist` says eBPF and the recorded
/// events agree on every key. (The 10 MB of events spin's burst writes fit in the
/// 32 MB per-CPU buffer, so no event is lost however late the reader runs on a busy
/// machine: the firehose itself is `cargo xtask bench record`'s.)
#[test]
fn record_hist_agrees_with_the_recorded_events() {
    require_root!();
    let (_dir, file) = TempDir::with_file("record-hist", "h.dat");
    let summary = hytrace_record(
        &[
            "--hist",
            "syscalls",
            "-e",
            "raw_syscalls",
            "-b",
            "32768",
            "-o",
            &file,
        ],
        &[SPIN, "100000"],
    );
    assert!(summary.contains("histogram syscalls: "), "{summary}");
    let events = hytrace_report(&file, &["--comm", "spin", "--event", "sys_enter"]);
    let getppid_enters = events.lines().filter(|l| l.contains("NR 110 ")).count();
    assert_eq!(getppid_enters, 100000);

    let report = hytrace_report(&file, &["--hist"]);
    let row = |label: &str| -> u64 {
        let prefix = format!("{label}: getppid ");
        let line = report
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {label} getppid row in\n{report}"));
        line[prefix.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(row("syscalls"), getppid_enters as u64, "{report}");
    assert_eq!(row("syscalls (stream)"), getppid_enters as u64, "{report}");
    let verdict = report
        .lines()
        .find(|l| l.starts_with("syscalls: eBPF and recorded events "))
        .expect("a verdict line");
    assert!(
        verdict.starts_with("syscalls: eBPF and recorded events agree: "),
        "{report}"
    );

    // trace-cmd skips the stored histograms and still reads the file.
    if have_tool("trace-cmd") {
        run_ok("trace-cmd", &["report", &file]);
    }
}

/// A system-wide pair histogram recorded beside its two events: the stream
/// recomputation is keyed like the aggregator (by the begin event's field).
#[test]
fn record_hist_pair_is_recomputed_from_its_events() {
    require_root!();
    let (_dir, file) = TempDir::with_file("record-hist-pair", "p.dat");
    let spec = "pair:syscalls:sys_enter_getppid,syscalls:sys_exit_getppid,key=__syscall_nr";
    hytrace_record(
        &[
            "--hist",
            spec,
            "-e",
            "syscalls:sys_enter_getppid",
            "-e",
            "syscalls:sys_exit_getppid",
            "-o",
            &file,
        ],
        &[SPIN, "2000"],
    );
    let report = hytrace_report(&file, &["--hist"]);
    let stream_row = report
        .lines()
        .find(|l| l.starts_with(&format!("{spec} (stream): __syscall_nr=110 ")))
        .unwrap_or_else(|| panic!("no stream row in\n{report}"));
    let count: u64 = stream_row
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(count, 2000, "{report}");
    assert!(
        report.contains(&format!(
            "{spec}: eBPF and recorded events agree: 2000 samples in 1 keys"
        )),
        "{report}"
    );
}

/// `report --hist` on a recording without histograms, and `record --hist` with a bad
/// spec: one-line errors, nothing recorded, no instance left.
#[test]
fn hist_errors_in_record_and_report() {
    require_root!();
    let (dir, file) = TempDir::with_file("record-hist-errors", "plain.dat");
    hytrace_record(&["-e", "sched:sched_switch", "-o", &file], &["true"]);
    assert_fails_with(
        &["report", "-i", &file, "--hist"],
        "the file holds no BPF histograms",
    );

    let bad = dir.path_str("bad.dat");
    assert_one_line_error(
        &[
            "record", "--hist", "sycalls", "-e", "sched", "-o", &bad, "--", "true",
        ],
        "unknown histogram spec 'sycalls'",
    );
    assert!(!std::path::Path::new(&bad).exists());
    assert_no_hytrace_instance();
}

/// `--comm spin` keeps only threads named spin, in every process: a shell running
/// spin (4000 getppid calls) and then sleeper gives a syscalls histogram whose only
/// getppid samples are spin's 4000, no key from the shell, and an empty uprobe
/// histogram for sleeper's nap.
#[test]
fn comm_limits_per_thread_specs_to_one_command_name() {
    require_root!();
    let script = format!("{SPIN} 4000; {SLEEPER} 5");
    let uprobe = format!("uprobe:{SLEEPER}:nap");
    let json = hytrace_ok(&[
        "hist", "syscalls", &uprobe, "--comm", "spin", "--json", "--", "sh", "-c", &script,
    ]);
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len(), 2, "{json}");
    assert_eq!(key_stats(lines[0], "getppid").0, 4000, "{}", lines[0]);
    assert!(!lines[0].contains(r#""key":"wait4""#), "{}", lines[0]);
    assert!(lines[1].contains(r#""keys":[]"#), "{}", lines[1]);
}

/// `--interval 0.25 --duration 1.2 --json`: one snapshot line per interval and a final
/// one (at least 4 lines in all), each a syscalls snapshot whose time grows.
#[test]
fn interval_prints_a_snapshot_per_interval_and_a_final_one() {
    require_root!();
    let json = hytrace_ok(&[
        "hist",
        "syscalls",
        "--interval",
        "0.25",
        "--duration",
        "1.2",
        "--json",
    ]);
    let times: Vec<u64> = json
        .lines()
        .map(|line| {
            assert!(
                line.starts_with(r#"{"spec":"syscalls","time_ns":"#),
                "{line}"
            );
            line[r#"{"spec":"syscalls","time_ns":"#.len()..]
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(times.len() >= 4, "{json}");
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert!(*times.last().unwrap() >= 1_200_000_000, "{times:?}");
}

/// Five calls of syscall number 1000 (past the 512-entry per-syscall table), pinned to
/// CPU 0: `hist syscalls --json` counts 5 key_out_of_range losses with or without -v;
/// with -v the programs' reports (aya-log) come on stderr at the 1st, 2nd and 4th
/// loss of that CPU, and without it none.
#[test]
fn verbose_prints_the_programs_failure_reports() {
    require_root!();
    let workload = [
        "--",
        "taskset",
        "-c",
        "0",
        "perl",
        "-e",
        "syscall(1000) for 1..5",
    ];
    let run = |verbose: bool| {
        let mut args = vec!["hist", "syscalls", "--json"];
        if verbose {
            args.push("-v");
        }
        args.extend_from_slice(&workload);
        let out = hytrace(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(json_u64s(&json, "key_out_of_range"), [5], "{json}");
        stderr
            .lines()
            .filter(|l| l.starts_with("hytrace: eBPF ("))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let report = |n: u32| {
        format!(
            "hytrace: eBPF (syscalls): key beyond the table, a sample was dropped ({n} on this CPU)"
        )
    };
    assert_eq!(run(true), [report(1), report(2), report(4)]);
    assert_eq!(run(false), Vec::<String>::new());
}
