//! `hytrace kvm` on this machine's kernel, where KVM runs but kvm_exit / kvm_entry never
//! fire: KVM_RUN round trips are the unit, each with the QEMU-format marker the test
//! VMM wrote after it, through a trace_marker redirected into the instance. Also the
//! analysis of a trace.dat built from the seed's kernel lines, and the errors.

use hytrace_tests::{
    TempDir, assert_fails_with, assert_kvm_reason_with_markers, assert_tracefs_as_before,
    global_snapshot, hytrace, hytrace_ok, json_u64, kvm_json_line, kvm_reason_object,
    kvm_timeline_marker_values, require_root, run, with_command,
};

const KVMGUEST: &str = env!("CARGO_BIN_EXE_kvmguest");
const SEED_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ftrace-user/src/kvm/fixtures/seed003_kvm_vmx.dat"
);

/// Lines of the top-level buffer that a test VMM's markers would have left there.
fn top_level_marker_lines() -> usize {
    std::fs::read_to_string("/sys/kernel/tracing/trace")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("cpu_out addr 0x3f8(b) value"))
        .count()
}

fn vendor_emits_kvm_exit() -> bool {
    ["kvm_intel", "kvm_amd"]
        .iter()
        .any(|m| std::path::Path::new(&format!("/sys/module/{m}")).exists())
}

/// `kvm --json -- kvmguest --markers 1000`: 1001 KVM_RUN calls; the first 1000 end on
/// port I/O (KVM_EXIT_IO) and are each served by one `cpu_out` marker the VMM writes
/// through <tracefs>/trace_marker; the last ends on HLT and is still open at the end.
/// The markers land in the recording, not in the top-level buffer, and tracefs is left
/// as it was.
#[test]
fn each_kvm_run_round_trip_carries_its_marker() {
    require_root!();
    if !std::path::Path::new("/dev/kvm").exists() || vendor_emits_kvm_exit() {
        hytrace_tests::skip("needs /dev/kvm without kvm_exit (the guest test covers kvm_exit)");
        return;
    }
    let before = global_snapshot();
    let top_before = top_level_marker_lines();
    let (_dir, file) = TempDir::with_file("kvm", "k.dat");
    let out = hytrace(&with_command(
        &["kvm", "--json", "-o", &file],
        &[KVMGUEST, "--markers", "1000"],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("kvmguest: 1001 KVM_RUN calls, 1000 I/O exits, 1000 markers"),
        "{stdout}"
    );
    let json = kvm_json_line(&stdout);
    assert!(
        json.starts_with("{\"unit\":\"kvm_run\",\"vcpus\":1,"),
        "{json}"
    );
    assert_kvm_reason_with_markers(json, "KVM_EXIT_IO", 1000);
    assert_eq!(json_u64(json, "open_at_end"), 1, "{json}");
    assert_eq!(json_u64(json, "qemu_outside_exits"), 0, "{json}");
    assert_eq!(json_u64(json, "reports"), 0, "{json}");
    assert_eq!(top_level_marker_lines(), top_before);
    assert_tracefs_as_before(&before);

    // The same file analysed again: the table says what the unit is, the timeline has
    // one exit per line with its marker, values 0…999 in order.
    let text = hytrace_ok(&["kvm", "-i", &file, "--timeline"]);
    assert!(
        text.contains("kvm:kvm_exit did not fire in this recording"),
        "{text}"
    );
    let values = kvm_timeline_marker_values(&text, " KVM_EXIT_IO ");
    assert_eq!(values, (0..1000).collect::<Vec<u64>>());

    // trace-cmd reads the file and counts the same kvm_userspace_exit events.
    let report = run("trace-cmd", &["report", &file]);
    let trace_cmd = String::from_utf8_lossy(&report.stdout);
    assert_eq!(
        trace_cmd.matches("kvm_userspace_exit:").count(),
        1001,
        "trace-cmd report of {file}"
    );
}

/// The seed's exit, rebuilt as binary records (kvm_exit IO_INSTRUCTION → kvm_pio →
/// kvm_userspace_exit → two QEMU marker lines → kvm_entry): one IO_INSTRUCTION exit
/// that went to userspace, served by cpu_set_apic_base and cpu_in, 13 µs from exit to
/// entry of which QEMU's part is 8 µs (kvm_userspace_exit to kvm_entry: the fixture has
/// no KVM_RUN calls).
#[test]
fn the_seed_exit_is_paired_with_its_qemu_events() {
    let text = hytrace_ok(&["kvm", "-i", SEED_FIXTURE, "--timeline"]);
    let line = text
        .lines()
        .find(|l| l.starts_with("23580.595951 "))
        .unwrap_or_else(|| panic!("no exit line in {text}"));
    assert_eq!(
        line,
        "23580.595951 tid 31930 vcpu 0 IO_INSTRUCTION (KVM_EXIT_IO) rip 0xc45d kernel 5.000 us \
         qemu 8.000 us | cpu_set_apic_base 00000000fee00900; cpu_in addr 0x71 value 0"
    );
    let json = hytrace_ok(&["kvm", "-i", SEED_FIXTURE, "--json"]);
    assert_eq!(
        json.trim(),
        "{\"unit\":\"kvm_exit\",\"vcpus\":1,\"exits\":[{\"reason\":\"IO_INSTRUCTION\",\"count\":1,\
         \"to_userspace\":1,\"kernel_ns\":{\"avg\":5000,\"p50\":5000,\"p99\":5000,\"max\":5000},\
         \"user_ns\":{\"avg\":8000,\"p50\":8000,\"p99\":8000,\"max\":8000},\"qemu_events\":[\
         {\"event\":\"cpu_in\",\"count\":1},{\"event\":\"cpu_set_apic_base\",\"count\":1}]}],\
         \"unpaired\":{\"exit_without_entry\":0,\"entry_without_exit\":0,\
         \"userspace_exit_without_exit\":0,\"handling_without_exit\":0,\"qemu_outside_exits\":0,\
         \"qemu_other_threads\":0,\"run_without_userspace_exit\":0,\"open_at_end\":0},\
         \"lost\":{\"reports\":0,\"incomplete_exits\":0}}"
    );
}

/// Bad input: a missing file, a recording without kvm events, a vCPU that is not in
/// the recording, a QEMU log for a file that has no clock offset: one clear line each.
#[test]
fn bad_input_is_refused_clearly() {
    let dir = TempDir::new("kvm-errors");
    let missing = dir.root().join("missing.dat");
    assert_fails_with(&["kvm", "-i", missing.to_str().unwrap()], "missing.dat");
    assert_fails_with(
        &["kvm", "-i", SEED_FIXTURE, "--vcpu", "3"],
        "no exit of vCPU 3 in the recording (vCPU ids seen: 0;",
    );
    let log = dir.root().join("q.log");
    std::fs::write(
        &log,
        "4242@1733040000.123456:kvm_run_exit cpu_index 0, reason 2\n",
    )
    .unwrap();
    assert_fails_with(
        &[
            "kvm",
            "-i",
            SEED_FIXTURE,
            "--qemu-log",
            log.to_str().unwrap(),
        ],
        "--qemu-log needs a recording on the mono clock",
    );
}

/// Two VMs at once (`sh -c 'kvmguest --markers 100 & kvmguest --markers 200; wait'`):
/// the saved tgids group each vCPU thread into its process, so the table comes once
/// per VM, with 100 and 200 round trips each carrying its own markers, then for all.
#[test]
fn two_vms_get_a_table_each() {
    require_root!();
    if !std::path::Path::new("/dev/kvm").exists() || vendor_emits_kvm_exit() {
        hytrace_tests::skip("needs /dev/kvm without kvm_exit (the guest test covers kvm_exit)");
        return;
    }
    let (_dir, file) = TempDir::with_file("kvm-two", "k.dat");
    let script = format!("{KVMGUEST} --markers 100 & {KVMGUEST} --markers 200; wait");
    let text = hytrace_ok(&with_command(&["kvm", "-o", &file], &["sh", "-c", &script]));
    let tables: Vec<(&str, &str)> = text
        .lines()
        .zip(text.lines().skip(3))
        .filter(|(title, _)| {
            title.starts_with("VM kvmguest (pid ") || title.starts_with("all VMs:")
        })
        .collect();
    assert_eq!(tables.len(), 3, "{text}");
    let mut per_vm: Vec<u64> = tables[..2]
        .iter()
        .map(|(title, row)| {
            assert!(title.ends_with("exits on 1 vCPU thread"), "{title}");
            assert!(row.starts_with("KVM_EXIT_IO "), "{row}");
            let count: u64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
            assert!(row.ends_with(&format!("cpu_out {count}")), "{row}");
            count
        })
        .collect();
    per_vm.sort_unstable();
    assert_eq!(per_vm, [100, 200], "{text}");
    assert!(
        tables[2]
            .0
            .starts_with("all VMs: 300 exits on 2 vCPU threads"),
        "{text}"
    );
}

/// `kvm -P PID` of a VMM that is already running: its thread is followed from the
/// start of the session, and its marker writes to the top-level trace_marker reach the
/// recording through copy_trace_marker (Linux 6.17+): 500 round trips, each with its
/// `cpu_out`. Where the kernel cannot copy markers, hytrace says what is missing.
#[test]
fn a_running_vmm_is_followed_by_pid() {
    require_root!();
    if !std::path::Path::new("/dev/kvm").exists() || vendor_emits_kvm_exit() {
        hytrace_tests::skip("needs /dev/kvm without kvm_exit (the guest test covers kvm_exit)");
        return;
    }
    let (_dir, file) = TempDir::with_file("kvm-pid", "k.dat");
    // The shell execs the VMM after a pause, keeping its pid.
    let script = format!("sleep 2; exec {KVMGUEST} --markers 500");
    let mut vmm = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the VMM");
    let pid = vmm.id().to_string();
    let out = hytrace(&["kvm", "-P", &pid, "--duration", "5", "--json", "-o", &file]);
    assert!(vmm.wait().expect("wait for the VMM").success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json = String::from_utf8_lossy(&out.stdout);
    let io = kvm_reason_object(&json, "KVM_EXIT_IO");
    assert_eq!(json_u64(io, "count"), 500, "{json}");
    if std::path::Path::new("/sys/kernel/tracing/options/copy_trace_marker").exists() {
        assert!(
            io.ends_with("\"qemu_events\":[{\"event\":\"cpu_out\",\"count\":500}]}"),
            "{io}"
        );
    } else {
        assert!(
            stderr.contains("copy_trace_marker, Linux 6.17+"),
            "{stderr}"
        );
    }
}
