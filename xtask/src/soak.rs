//! `cargo xtask soak [--minutes N]`: `hytrace hist syscalls runq irq --interval 1` and
//! `hytrace record -e sched` side by side for N minutes (default 30) under a steady
//! load (getppid bursts and 1 ms naps in a loop), with each one's resident memory and
//! open file descriptors printed every minute. Fails when either grows by more than 5%
//! after the first minute, or when either hytrace ends early or with an error.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{
    setup::{ensure_tracefs, workspace_root},
    tasks::{build, hytrace_binary},
};

/// Growth allowed after the first minute, in percent.
const ALLOWED_GROWTH_PERCENT: f64 = 5.0;

/// Resident memory (kB) and open descriptors of one process at one minute.
#[derive(Clone, Copy)]
pub struct Sample {
    pub rss_kb: u64,
    pub fds: u64,
}

pub fn run(minutes: u64) -> Result<()> {
    if minutes < 2 {
        bail!("a soak needs at least 2 minutes (the first is the baseline)");
    }
    ensure_tracefs()?;
    build()?;
    let bin = workspace_root().join("target/release");
    let dir = workspace_root().join("target/soak");
    std::fs::create_dir_all(&dir)?;
    let recording = dir.join("soak.dat");
    let _ = std::fs::remove_file(&recording);
    let seconds = (minutes * 60).to_string();

    let mut load = start_load(&bin)?;
    let started = Instant::now();
    let hist = Command::new(hytrace_binary())
        .args([
            "hist",
            "syscalls",
            "runq",
            "irq",
            "--interval",
            "1",
            "--duration",
        ])
        .arg(&seconds)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start hytrace hist")?;
    let record = Command::new(hytrace_binary())
        .args(["record", "-e", "sched", "--duration"])
        .arg(&seconds)
        .arg("-o")
        .arg(&recording)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start hytrace record")?;
    let watched = soak_minutes(minutes, started, &hist, &record);
    stop_load(&mut load);
    if watched.is_err() {
        // One ended early: the other is stopped as by Ctrl-C.
        for child in [&hist, &record] {
            // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        }
    }
    let hist_out = hist.wait_with_output()?;
    let record_out = record.wait_with_output()?;
    let (hist_samples, record_samples) = watched?;
    if !hist_out.status.success() {
        bail!(
            "hytrace hist failed:\n{}",
            String::from_utf8_lossy(&hist_out.stderr)
        );
    }
    if !record_out.status.success() {
        bail!(
            "hytrace record failed:\n{}",
            String::from_utf8_lossy(&record_out.stderr)
        );
    }
    print!("{}", String::from_utf8_lossy(&record_out.stderr));
    let size = std::fs::metadata(&recording)?.len();
    std::fs::remove_file(&recording)?;
    println!("recording: {:.1} MB", size as f64 / 1e6);
    let hist_growth = judge("hist", &hist_samples);
    let record_growth = judge("record", &record_samples);
    hist_growth.and(record_growth)
}

/// Samples both processes once a minute; returns their samples.
fn soak_minutes(
    minutes: u64,
    started: Instant,
    hist: &Child,
    record: &Child,
) -> Result<(Vec<Sample>, Vec<Sample>)> {
    println!("minute  hist RSS MB  hist fds  record RSS MB  record fds");
    let mut hist_samples = Vec::new();
    let mut record_samples = Vec::new();
    for minute in 1..=minutes {
        let due = started + Duration::from_secs(minute * 60 - 5);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let h = sample(hist.id()).context("hytrace hist ended early")?;
        let r = sample(record.id()).context("hytrace record ended early")?;
        println!(
            "{minute:>6} {:>12.1} {:>9} {:>14.1} {:>11}",
            h.rss_kb as f64 / 1024.0,
            h.fds,
            r.rss_kb as f64 / 1024.0,
            r.fds
        );
        hist_samples.push(h);
        record_samples.push(r);
    }
    Ok((hist_samples, record_samples))
}

/// The largest growth of RSS and fds over the first minute's figures, checked.
fn judge(who: &str, samples: &[Sample]) -> Result<()> {
    let first = samples[0];
    let growth = |now: u64, then: u64| 100.0 * (now as f64 - then as f64) / then.max(1) as f64;
    let rss = samples[1..]
        .iter()
        .map(|s| growth(s.rss_kb, first.rss_kb))
        .fold(f64::MIN, f64::max);
    let fds = samples[1..]
        .iter()
        .map(|s| growth(s.fds, first.fds))
        .fold(f64::MIN, f64::max);
    println!(
        "{who}: after the first minute RSS grew at most {rss:.1}%, open fds at most {fds:.1}% (allowed: {ALLOWED_GROWTH_PERCENT}%)"
    );
    if rss > ALLOWED_GROWTH_PERCENT || fds > ALLOWED_GROWTH_PERCENT {
        bail!("{who} grew beyond {ALLOWED_GROWTH_PERCENT}% during the soak");
    }
    Ok(())
}

/// VmRSS and the number of open descriptors of a running process.
pub fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    if status
        .lines()
        .any(|l| l.starts_with("State:") && l.contains("zombie"))
    {
        return None;
    }
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Sample { rss_kb, fds })
}

/// The steady load: bursts of 200000 getppid calls and 100 naps of 1 ms, in a loop, in
/// a process group of its own.
fn start_load(bin: &Path) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let script = format!(
        "while :; do {spin} 200000; {sleeper} 100; done",
        spin = bin.join("spin").display(),
        sleeper = bin.join("sleeper").display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("cannot start the load")
}

fn stop_load(load: &mut Child) {
    // SAFETY: kill has no memory-safety preconditions; the group is the load's own.
    unsafe { libc::kill(-(load.id() as libc::pid_t), libc::SIGKILL) };
    let _ = load.wait();
}
