//! `record --user-stack` on the guest's Debian 6.12 kernel, whose verifier is stricter
//! about the stack program's output length than this machine's.

use hytrace_tests::{TempDir, hytrace_record, hytrace_report, require_root};

const RSTACK: &str = env!("CARGO_BIN_EXE_rstack");

/// `record --user-stack -e raw_syscalls:sys_enter -f 'id == 110' -F -- rstack 20`:
/// 20 sys_enter events, each with a user stack whose innermost frame is
/// `hytrace_tests::workloads::raw_getppid` at the line of its `asm!` (the getppid
/// system call it makes itself), and no stack lost.
#[test]
fn user_stacks_are_captured_and_named_on_the_guest_kernel() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("ustack-guest", "u.dat");
    let summary = hytrace_record(
        &[
            "-e",
            "raw_syscalls:sys_enter",
            "-f",
            "id == 110",
            "--user-stack",
            "--no-build-id-cache",
            "-F",
            "-o",
            &dat,
        ],
        &[RSTACK, "20"],
    );
    assert!(summary.contains(", 0 lost (ring buffer full)"), "{summary}");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs");
    let asm_line = std::fs::read_to_string(source)
        .unwrap()
        .lines()
        .position(|l| l.contains("std::arch::asm!("))
        .unwrap()
        + 1;
    let rstack = std::fs::canonicalize(RSTACK).unwrap();
    let innermost = format!(
        "hytrace_tests::workloads::raw_getppid ({source}:{asm_line}) [{}]",
        rstack.display()
    );
    let report = hytrace_report(&dat, &[]);
    let mut firsts = Vec::new();
    let mut after_header = false;
    for line in report.lines() {
        if line == "<user stack trace >" {
            after_header = true;
            continue;
        }
        if after_header && let Some(frame) = line.strip_prefix("=> ") {
            let (name, rest) = frame.split_once(' ').unwrap_or((frame, ""));
            firsts.push(format!("{} {rest}", name.split('+').next().unwrap()));
        }
        after_header = false;
    }
    assert_eq!(firsts.len(), 20, "{report}");
    assert!(firsts.iter().all(|f| *f == innermost), "{firsts:#?}");
    assert_eq!(
        report
            .lines()
            .filter(|l| hytrace_tests::event_name_of(l) == Some("sys_enter"))
            .count(),
        20
    );
}
