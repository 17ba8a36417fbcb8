//! `cargo xtask bench kvm`: what `hytrace kvm` costs per VM exit while it records.
//! kvm_exit fires only in the guest (real KVM on its emulated SVM), so the measurement
//! runs there (the xtask binary itself, started in the guest with a hidden subcommand):
//! the test VMM `kvmguest` times its own KVM_RUN loop (port writes, one exit each),
//! alone, under `hytrace kvm`, and under the peer a person would run instead,
//! `trace-cmd record` of the same events (kvm_exit, kvm_entry, kvm_userspace_exit, the
//! handling events, KVM_RUN's ioctl calls and returns), limited to the VMM (-F).
//! Figures are printed, never asserted; nested emulation inflates every absolute
//! number, the differences and their ratio are what compare.

use std::process::Command;

use anyhow::{Result, bail};

use crate::{bench_common::best_of_three, setup::workspace_root, tasks::hytrace_binary};

/// Host side: boots the guest and runs [`in_guest`] there.
pub fn run(exits: u64) -> Result<()> {
    crate::bench_common::in_guest(
        "bench-kvm",
        "guest-bench-kvm",
        exits,
        "software emulation, nested KVM",
    )
}

/// ns per call as the workload reported it on stderr (`kvmguest: …, X ns per call`), best
/// of three runs of `command`.
fn run_ns(command: impl FnMut() -> Command) -> Result<f64> {
    best_of_three(command, "KVMGUEST_REPORT", |stderr| {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix("kvmguest: "))
            .and_then(|l| l.split(", ").nth(1))
            .and_then(|l| l.strip_suffix(" ns per call"))
            .and_then(|n| n.parse::<f64>().ok())
    })
}

/// The events both recorders record, as trace-cmd's -e/-f arguments.
const EVENTS: &[&str] = &[
    "-e",
    "kvm:kvm_exit",
    "-e",
    "kvm:kvm_entry",
    "-e",
    "kvm:kvm_userspace_exit",
    "-e",
    "kvm:kvm_pio",
    "-e",
    "kvm:kvm_mmio",
    "-e",
    "kvm:kvm_fast_mmio",
    "-e",
    "kvm:kvm_msr",
    "-e",
    "kvm:kvm_hypercall",
    "-e",
    "syscalls:sys_enter_ioctl",
    "-f",
    "cmd == 0xae80",
    "-e",
    "syscalls:sys_exit_ioctl",
];

/// Guest side: the three measurements and the figures.
pub fn in_guest(exits: u64) -> Result<()> {
    if !std::path::Path::new("/sys/module/kvm_amd").exists() {
        bail!("no kvm_amd in the guest (its CPU offers no SVM?): kvm_exit would not fire");
    }
    let kvmguest = workspace_root().join("target/release/kvmguest");
    let hytrace = hytrace_binary();
    let n = exits.to_string();
    let dir = workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let alone = run_ns(|| {
        let mut cmd = Command::new(&kvmguest);
        cmd.arg(&n);
        cmd
    })?;
    let ours = dir.join("kvm-hytrace.dat");
    let with_hytrace = run_ns(|| {
        let mut cmd = Command::new(&hytrace);
        cmd.args(["kvm", "-o"])
            .arg(&ours)
            .arg("--")
            .arg(&kvmguest)
            .arg(&n);
        cmd
    })?;
    let theirs = dir.join("kvm-trace-cmd.dat");
    let with_trace_cmd = run_ns(|| {
        let mut cmd = Command::new("trace-cmd");
        cmd.arg("record")
            .args(EVENTS)
            .arg("-o")
            .arg(&theirs)
            .arg("-F")
            .arg(&kvmguest)
            .arg(&n);
        cmd
    })?;
    let _ = std::fs::remove_file(&ours);
    let _ = std::fs::remove_file(&theirs);

    let added = |ns: f64| ns - alone;
    println!("kvmguest in the guest, {exits} port-I/O exits, best of 3 (ns per KVM_RUN):");
    println!("  alone:                   {alone:>10.0}");
    println!(
        "  hytrace kvm:             {with_hytrace:>10.0}  (+{:.0})",
        added(with_hytrace)
    );
    println!(
        "  trace-cmd record -F:     {with_trace_cmd:>10.0}  (+{:.0})",
        added(with_trace_cmd)
    );
    println!(
        "hytrace kvm adds {:.2}x what trace-cmd record of the same events adds",
        added(with_hytrace) / added(with_trace_cmd)
    );
    Ok(())
}
