//! `record --user-stack` on the guest's Debian 6.12 kernel, whose verifier is stricter
//! about the stack program's output length than this machine's.

use hytrace_tests::{
    TempDir, hytrace_report, raw_getppid_frame, record_rstack_user_stacks, require_root,
    user_stacks_of_events,
};

const RSTACK: &str = env!("CARGO_BIN_EXE_rstack");

/// `record --user-stack -e raw_syscalls:sys_enter -f 'id == 110' -F -- rstack 20`:
/// 20 sys_enter events, each with a user stack whose innermost frame is
/// `hytrace_tests::workloads::raw_getppid` at the line of its `asm!` (the getppid
/// system call it makes itself), and no stack lost.
#[test]
fn user_stacks_are_captured_and_named_on_the_guest_kernel() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("ustack-guest", "u.dat");
    let summary = record_rstack_user_stacks(&dat, RSTACK, 20);
    assert!(summary.contains(", 0 lost (ring buffer full)"), "{summary}");
    let innermost = raw_getppid_frame(RSTACK);
    let report = hytrace_report(&dat, &[]);
    let stacks = user_stacks_of_events(&report, "sys_enter");
    assert_eq!(stacks.len(), 20, "{report}");
    for frames in stacks {
        assert_eq!(frames.first(), Some(&innermost), "{frames:#?}");
    }
}
