//! `cargo xtask bench outlier`: what `hytrace graph --on-outlier` costs while it waits.
//! function_graph exists only in the guest kernel, so the measurement runs there (the
//! xtask binary itself, started in the guest with a hidden subcommand): getppid calls
//! timed by the spinning process itself, alone, under the eBPF aggregator only
//! (`hist syscalls`), under the whole trigger (aggregator plus the function_graph
//! flight recorder, threshold never reached), and under the peer a person would run
//! instead, `trace-cmd record -p function_graph -g FUNC -F` (continuous capture).
//! Figures are printed, never asserted; software emulation inflates every absolute
//! number, the ratios are what compare.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result};

use crate::{
    bench_common::{best_of_three, interrupt},
    setup::workspace_root,
    tasks::hytrace_binary,
};

/// The function the trigger would graph; spin never calls it, so nothing fires.
const FUNC: &str = "do_nanosleep";
/// A threshold no getppid reaches (10 s).
const NEVER_US: u64 = 10_000_000;

/// Host side: boots the guest and runs [`in_guest`] there.
pub fn run(calls: u64) -> Result<()> {
    crate::bench_common::in_guest(
        "bench-outlier",
        "guest-bench-outlier",
        calls,
        "software emulation",
    )
}

/// ns per call as the workload reported it on stderr (`spin: …, X ns per call`), best
/// of three runs of `command`.
fn spin_ns(command: impl FnMut() -> Command) -> Result<f64> {
    best_of_three(command, "SPIN_REPORT", |stderr| {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix("spin: "))
            .and_then(|l| l.split(", ").nth(1))
            .and_then(|l| l.strip_suffix(" ns per call"))
            .and_then(|n| n.parse::<f64>().ok())
    })
}

/// Guest side: the four measurements and the figures.
pub fn in_guest(calls: u64) -> Result<()> {
    let spin = workspace_root().join("target/release/spin");
    let hytrace = hytrace_binary();
    let n = calls.to_string();
    let alone = spin_ns(|| {
        let mut cmd = Command::new(&spin);
        cmd.arg(&n);
        cmd
    })?;

    let mut hist = Command::new(&hytrace)
        .args(["hist", "syscalls", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start hytrace hist")?;
    // Loading and attaching is slow under emulation.
    std::thread::sleep(Duration::from_secs(5));
    let with_hist = spin_ns(|| {
        let mut cmd = Command::new(&spin);
        cmd.arg(&n);
        cmd
    });
    interrupt(&mut hist)?;
    let with_hist = with_hist?;

    let trigger = format!("syscalls:{NEVER_US}");
    let with_trigger = spin_ns(|| {
        let mut cmd = Command::new(&hytrace);
        cmd.args(["graph", "-g", FUNC, "--on-outlier", &trigger, "--"])
            .arg(&spin)
            .arg(&n);
        cmd
    })?;

    // In the workspace's target (not a shared /tmp), as root writes it.
    let dat = crate::setup::workspace_root().join("target/bench/outlier-trace-cmd.dat");
    std::fs::create_dir_all(dat.parent().unwrap_or(&dat))?;
    let with_trace_cmd = spin_ns(|| {
        let mut cmd = Command::new("trace-cmd");
        cmd.args(["record", "-p", "function_graph", "-g", FUNC, "-o"])
            .arg(&dat)
            .arg("-F")
            .arg(&spin)
            .arg(&n);
        cmd
    })?;
    let _ = std::fs::remove_file(&dat);

    let added = |ns: f64| ns - alone;
    println!("getppid in the guest, {calls} calls, best of 3 (ns per call):");
    println!("  alone:                                    {alone:>10.0}");
    println!(
        "  hytrace hist syscalls (aggregator only):  {with_hist:>10.0}  (+{:.0})",
        added(with_hist)
    );
    println!(
        "  hytrace graph -g {FUNC} --on-outlier syscalls:{NEVER_US}, waiting: {with_trigger:>10.0}  (+{:.0})",
        added(with_trigger)
    );
    println!(
        "  trace-cmd record -p function_graph -g {FUNC} -F: {with_trace_cmd:>10.0}  (+{:.0})",
        added(with_trace_cmd)
    );
    println!(
        "waiting for an outlier adds {:.2}x what trace-cmd's continuous capture of {FUNC} \
         adds (the eBPF aggregator alone: {:.2}x)",
        added(with_trigger) / added(with_trace_cmd),
        added(with_hist) / added(with_trace_cmd)
    );
    Ok(())
}
