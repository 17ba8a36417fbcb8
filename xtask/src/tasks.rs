//! build, run and test.

use std::{os::unix::process::CommandExt, path::PathBuf, process::Command, time::Instant};

use anyhow::{Context, Result};

use crate::{
    setup::{
        cargo, ensure_ebpf_toolchain, ensure_test_packages, ensure_tracefs, is_root, run_checked,
        workspace_root,
    },
    summary,
};

/// Path of the release hytrace binary.
pub fn hytrace_binary() -> PathBuf {
    workspace_root().join("target/release/hytrace")
}

pub fn build() -> Result<()> {
    ensure_ebpf_toolchain()?;
    run_checked(cargo().args([
        "build",
        "--release",
        "--package",
        "ftrace-user",
        "--package",
        "hytrace-tests",
        "--bins",
    ]))
}

/// Builds, then replaces this process with hytrace (under sudo when not root).
pub fn run(args: &[String]) -> Result<()> {
    build()?;
    let binary = hytrace_binary();
    let error = if is_root() {
        Command::new(&binary).args(args).exec()
    } else {
        Command::new("sudo")
            .arg("-E")
            .arg(&binary)
            .args(args)
            .exec()
    };
    Err(error).with_context(|| format!("cannot run {}", binary.display()))
}

/// Everything CI checks, in the order that fails fastest; the guest's tests and the
/// fuzzing run side by side at the end (one core each).
pub fn test() -> Result<()> {
    let started = Instant::now();
    ensure_ebpf_toolchain()?;
    ensure_test_packages()?;
    ensure_tracefs()?;
    run_checked(cargo().args(["fmt", "--all", "--check"]))?;
    run_checked(cargo().args([
        "clippy",
        "--release",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    build()?;
    let skip_log = summary::skip_log();
    let _ = std::fs::remove_file(&skip_log);
    // Tests share tracefs (and the root ones create instances), so one thread.
    let host = summary::run_counted(
        cargo()
            .args(["test", "--release", "--workspace", "--", "--test-threads=1"])
            .env("HYTRACE_SKIP_LOG", &skip_log),
    )?;
    eprintln!(
        "xtask: lints, build and this kernel's tests took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // What this kernel lacks runs in a guest kernel, on one core; meanwhile the parsers
    // of untrusted input are fuzzed on the other, a minute each (HYTRACE_FUZZ_SECONDS).
    let guest_run = crate::vm::start_vm_test()?;
    let fuzz_started = Instant::now();
    let fuzzed = crate::fuzz::smoke();
    eprintln!(
        "xtask: fuzzing took {:.0} s",
        fuzz_started.elapsed().as_secs_f64()
    );
    // The guest is waited for even when fuzzing failed: nothing is left running.
    let guest = guest_run.finish();
    fuzzed?;
    let guest = guest?;
    summary::print(host, Some(guest));
    eprintln!(
        "xtask: the whole test run took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
