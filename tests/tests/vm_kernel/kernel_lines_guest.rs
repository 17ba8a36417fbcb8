//! A recording of the guest kernel's stacks for `report --kernel-lines` to name against
//! its real vmlinux (Debian's debug package, which `cargo xtask vm-test` fetches): the
//! guest records, the host names the frames afterwards (tests/kernel_lines.rs,
//! `a_guest_recording_is_named_as_addr2line_names_it`), natively, since reading a 350
//! MB vmlinux under the guest's software emulation takes minutes.

use hytrace_tests::{hytrace_ok, record_getppid_kernel_stacks, require_root};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");

/// `record -T` of 20 getppid calls into HYTRACE_GUEST_OUT (the directory the host
/// reads after the guest ends): 20 sys_enter events, each followed by its kernel_stack.
#[test]
fn kernel_stacks_are_recorded_for_the_host_to_name() {
    require_root!();
    let Ok(out) = std::env::var("HYTRACE_GUEST_OUT") else {
        hytrace_tests::skip(
            "HYTRACE_GUEST_OUT is not set (cargo xtask vm-test sets it in the guest)",
        );
        return;
    };
    let dat = format!("{out}/kernel-lines.dat");
    let _ = std::fs::remove_file(&dat);
    record_getppid_kernel_stacks(&dat, &[SPIN, "20"]);
    let counts = hytrace_ok(&["report", "-i", &dat, "--count"]);
    // The `#` lines after the counts are the stored kernel-hit audit.
    let lines: Vec<Vec<&str>> = counts
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [["20", "kernel_stack"], ["20", "sys_enter"]],
        "{counts}"
    );
}
