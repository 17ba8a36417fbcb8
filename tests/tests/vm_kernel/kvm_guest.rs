//! Real KVM in the guest (kvm_amd, loaded by the guest's /init when TCG offers SVM):
//! kvm_exit and kvm_entry fire, so `hytrace kvm` pairs exits by kvm_exit's own reasons
//! and `hist kvm-exit` keys by them. Skipped, with the reason, where the kernel's KVM
//! does not fire kvm_exit (the development machine; `tests/tests/kvm.rs` covers it).

use std::collections::BTreeMap;

use hytrace_tests::{
    TempDir, assert_kvm_reason_with_markers, have_tool, hytrace, hytrace_ok, json_u64,
    kvm_json_line, kvm_reason_object, kvm_timeline_marker_values, require_root, run, with_command,
};

const KVMGUEST: &str = env!("CARGO_BIN_EXE_kvmguest");

/// Whether KVM here fires kvm_exit / kvm_entry (a VMX or SVM backend with /dev/kvm).
fn kvm_fires_kvm_exit() -> bool {
    std::path::Path::new("/dev/kvm").exists()
        && ["kvm_intel", "kvm_amd"]
            .iter()
            .any(|m| std::path::Path::new(&format!("/sys/module/{m}")).exists())
}

macro_rules! require_kvm_exit {
    () => {
        if !kvm_fires_kvm_exit() {
            hytrace_tests::skip(
                "KVM here does not fire kvm_exit (no kvm_amd / kvm_intel with /dev/kvm); the \
                 guest of cargo xtask vm-test loads kvm_amd when its CPU offers SVM",
            );
            return;
        }
    };
}

/// `{"reason":NAME,"count":N` of every row of `kvm --json`.
fn reason_counts(json: &str) -> BTreeMap<String, u64> {
    json.match_indices("{\"reason\":\"")
        .map(|(at, m)| {
            let rest = &json[at + m.len()..];
            let name = &rest[..rest.find('"').unwrap()];
            (name.to_string(), json_u64(rest, "count"))
        })
        .collect()
}

/// `kvm --json -- kvmguest --markers 1000` on real KVM: the guest's 1000 port writes are
/// 1000 `io` exits (SVM's name, from kvm_exit's print format), each served in QEMU's
/// place by exactly one `cpu_out` marker, values 0…999 in order on the timeline; the
/// other exits (npf, interrupt…) are handled in the kernel; the final HLT is still open
/// at the end. Per reason, the counts plus the exits left open equal what trace-cmd
/// report (print formats only, -N) shows of the same file.
#[test]
fn kvm_exit_pairs_each_io_exit_with_its_marker() {
    require_root!();
    require_kvm_exit!();
    let (_dir, file) = TempDir::with_file("kvm", "k.dat");
    let out = hytrace(&with_command(
        &["kvm", "--json", "-o", &file],
        &[KVMGUEST, "--markers", "1000"],
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = kvm_json_line(&stdout);
    assert!(
        json.starts_with("{\"unit\":\"kvm_exit\",\"vcpus\":1,"),
        "{json}"
    );
    assert_kvm_reason_with_markers(json, "io", 1000);
    assert_eq!(
        json_u64(kvm_reason_object(json, "io"), "to_userspace"),
        1000,
        "{json}"
    );
    assert_eq!(json_u64(json, "qemu_outside_exits"), 0, "{json}");
    assert_eq!(json_u64(json, "incomplete_exits"), 0, "{json}");

    // vCPU 0 is the only one: the same rows.
    let vcpu0 = hytrace_ok(&["kvm", "-i", &file, "--json", "--vcpu", "0"]);
    assert_eq!(vcpu0.trim(), json);

    let timeline = hytrace_ok(&["kvm", "-i", &file, "--timeline"]);
    let values = kvm_timeline_marker_values(&timeline, " io (KVM_EXIT_IO) ");
    assert_eq!(values, (0..1000).collect::<Vec<u64>>());
    // For the host to export to Perfetto after the guest ends (tests/export_perfetto.rs).
    if let Ok(out) = std::env::var("HYTRACE_GUEST_OUT") {
        std::fs::copy(&file, format!("{out}/kvm.dat")).unwrap();
    }

    if have_tool("trace-cmd") {
        let report = run("trace-cmd", &["report", "-N", &file]);
        let text = String::from_utf8_lossy(&report.stdout);
        let mut theirs: BTreeMap<String, u64> = BTreeMap::new();
        for line in text.lines().filter(|l| l.contains(" kvm_exit: ")) {
            let (_, rest) = line.split_once(" reason ").expect(line);
            let (reason, _) = rest.split_once(" rip ").expect(line);
            *theirs.entry(reason.to_string()).or_default() += 1;
        }
        let ours = reason_counts(json);
        let left_open = json_u64(json, "open_at_end") + json_u64(json, "exit_without_entry");
        assert_eq!(theirs.get("io"), Some(&1000), "{text}");
        let mut differences = 0;
        for reason in theirs.keys().chain(ours.keys()) {
            let (a, b) = (
                theirs.get(reason).copied().unwrap_or(0),
                ours.get(reason).copied().unwrap_or(0),
            );
            differences += a.abs_diff(b);
        }
        // Each reason is walked twice when both sides have it.
        assert_eq!(
            differences / 2 + differences % 2,
            left_open,
            "{theirs:?} vs {ours:?}"
        );
    }
}

/// `hist kvm-exit -- kvmguest 1000`: the histogram is keyed by exit reason names as the
/// kernel prints them, with exactly 1000 `io` samples.
#[test]
fn hist_kvm_exit_keys_by_reason_name() {
    require_root!();
    require_kvm_exit!();
    let out = hytrace_ok(&["hist", "kvm-exit", "--json", "--", KVMGUEST, "1000"]);
    let line = out
        .lines()
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no snapshot in {out}"));
    let at = line
        .find("{\"key\":\"io\",")
        .unwrap_or_else(|| panic!("no io key in {line}"));
    assert_eq!(json_u64(&line[at..], "count"), 1000, "{line}");
    assert!(!line.contains("exit_reason "), "{line}");
}

/// Debian's QEMU, nested on the guest's KVM, with its log trace backend: `kvm
/// --qemu-log` places each `kvm_run_exit` line (wall clock) on the recording's clock and
/// attaches it to the exit it was written in: at least 99% of the exits that reached
/// QEMU as KVM_EXIT_IO carry exactly one `kvm_run_exit … reason 2`, no exit carries two,
/// and the lines attached add up to what the summary says.
#[test]
fn qemu_log_lines_are_attached_to_their_exits() {
    require_root!();
    require_kvm_exit!();
    if !have_tool("qemu-system-x86_64") {
        hytrace_tests::skip("no qemu-system-x86_64");
        return;
    }
    let dir = TempDir::new("kvm-qemu");
    let file = dir.root().join("q.dat");
    let log = dir.root().join("q.log");
    let (file, log) = (file.to_str().unwrap(), log.to_str().unwrap());
    // QEMU (SeaBIOS without a boot device runs until stopped) is stopped 5 s after its
    // log's first lines reach the file: nested under emulation its start takes from 2 s
    // to over 8 s with the host loaded, so a fixed time would catch nothing at all.
    let script = format!(
        "qemu-system-x86_64 -accel kvm -m 64 -nographic -nodefaults \
         -trace enable=kvm_run_exit,file={log} -msg timestamp=on & q=$!; i=0; \
         while [ ! -s {log} ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done; \
         sleep 5; kill $q; wait $q; [ -s {log} ]"
    );
    let out = hytrace(&with_command(
        &["kvm", "-o", file, "--qemu-log", log, "--timeline"],
        &["sh", "-c", &script],
    ));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let io_exits: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(KVM_EXIT_IO)"))
        .collect();
    assert!(io_exits.len() > 100, "{text}");
    let with_line = io_exits
        .iter()
        .filter(|l| l.matches("kvm_run_exit cpu_index 0, reason 2").count() == 1)
        .count();
    assert!(
        with_line * 100 >= io_exits.len() * 99,
        "{with_line} of {} io exits carry their log line",
        io_exits.len()
    );
    let attached_in_timeline: usize = text
        .lines()
        .map(|l| {
            let n = l.matches("kvm_run_exit cpu_index").count();
            assert!(n <= 1, "{l}");
            n
        })
        .sum();
    let summary = text
        .lines()
        .find(|l| l.starts_with("QEMU log: "))
        .unwrap_or_else(|| panic!("no QEMU log line in {text}"));
    let attached: usize = summary
        .split(", ")
        .nth(1)
        .and_then(|s| s.strip_suffix(" attached to exits"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert_eq!(attached, attached_in_timeline, "{summary}");
}

/// A trace-cmd recording of the same VMM (`trace-cmd record` of the same events, -F, the
/// markers in its top-level buffer) is paired the same way by `kvm -i`: 100 `io` exits,
/// each with one `cpu_out`.
#[test]
fn a_trace_cmd_recording_is_paired_too() {
    require_root!();
    require_kvm_exit!();
    if !have_tool("trace-cmd") {
        hytrace_tests::skip("no trace-cmd");
        return;
    }
    let (_dir, file) = TempDir::with_file("kvm-trace-cmd", "t.dat");
    let out = run(
        "trace-cmd",
        &[
            "record",
            "-e",
            "kvm:kvm_exit",
            "-e",
            "kvm:kvm_entry",
            "-e",
            "kvm:kvm_userspace_exit",
            "-e",
            "kvm:kvm_pio",
            "-e",
            "syscalls:sys_enter_ioctl",
            "-f",
            "cmd == 0xae80",
            "-e",
            "syscalls:sys_exit_ioctl",
            "-o",
            &file,
            "-F",
            KVMGUEST,
            "--markers",
            "100",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = hytrace_ok(&["kvm", "-i", &file, "--json"]);
    assert_kvm_reason_with_markers(&json, "io", 100);
}
