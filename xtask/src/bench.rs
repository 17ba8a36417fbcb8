//! Benchmarks against peer tools, measured in the same run. Figures are ratios or
//! throughputs printed for people; nothing here asserts a time.

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    bench_common::{ftrace_user_bench, interrupt},
    setup::{ensure_test_packages, ensure_tracefs, run_checked, workspace_root},
    tasks::{build, hytrace_binary},
};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Which {
    /// `hytrace report` vs `trace-cmd report` on the same recording, and decode-only speed.
    Report,
    /// Added cost per syscall of `hytrace hist syscalls` vs a bpftrace latency script.
    Hist,
    /// In the guest kernel: added cost per syscall of `hytrace graph --on-outlier` while
    /// it waits vs `trace-cmd record -p function_graph -g FUNC`.
    Outlier,
    /// User stacks: a report naming every frame of many distinct stacks vs addr2line
    /// given the same addresses, and the added cost per event of `--user-stack`.
    Symbolize,
    /// In the guest kernel (real KVM): added cost per VM exit of `hytrace kvm` vs
    /// `trace-cmd record` of the same events.
    Kvm,
    /// The raw_syscalls firehose of one core: events lost and CPU per MB of
    /// `hytrace record` vs a plain `cat trace_pipe_raw` reader.
    Record,
    /// `hist syscalls --serve` scraped every second: added cost per syscall against
    /// `hist syscalls` without it, and its RSS after 1 and after 10 minutes
    /// (HYTRACE_SERVE_MINUTES) of scrapes.
    Serve,
    /// `record -e all` (every event): time until the command runs and in all, beside
    /// the same with `--no-bpf` (the tracefs writes alone).
    Start,
}

/// `events` or the benchmark's own default size.
pub fn run(which: Which, events: Option<u64>) -> Result<()> {
    match which {
        Which::Report => report(events.unwrap_or(1_000_000)),
        Which::Hist => hist(events.unwrap_or(1_000_000)),
        // Software emulation: a smaller workload.
        Which::Outlier => crate::bench_outlier::run(events.unwrap_or(20_000)),
        Which::Symbolize => crate::bench_symbolize::run(events.unwrap_or(100_000)),
        // Nested emulation: each exit costs tens of microseconds.
        Which::Kvm => crate::bench_kvm::run(events.unwrap_or(20_000)),
        // getppid calls: two events each.
        Which::Record => crate::bench_record::run(events.unwrap_or(5_000_000)),
        // Long enough runs for several scrapes each.
        Which::Serve => crate::bench_serve::run(events.unwrap_or(5_000_000)),
        Which::Start => crate::bench_start::run(),
    }
}

/// Wall time of one run of `cmd` with stdout to /dev/null.
pub(crate) fn time_to_null(cmd: &mut Command) -> Result<f64> {
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
    run_checked(ftrace_user_bench("decode").arg(&dat))?;
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

/// bpftrace's equivalent of `hytrace hist syscalls`, system-wide.
const BPFTRACE_SYSCALL_HIST: &str = "tracepoint:raw_syscalls:sys_enter { @s[tid] = nsecs; } \
    tracepoint:raw_syscalls:sys_exit /@s[tid]/ { @h = hist(nsecs - @s[tid]); delete(@s[tid]); }";

/// Nanoseconds per getppid of `spin calls`, best of three runs.
pub(crate) fn ns_per_call(spin: &Path, calls: u64) -> Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let seconds = time_to_null(Command::new(spin).arg(calls.to_string()))?;
        best = best.min(seconds);
    }
    Ok(best * 1e9 / calls as f64)
}

fn hist(calls: u64) -> Result<()> {
    ensure_tracefs()?;
    ensure_test_packages()?;
    build()?;
    let spin = workspace_root().join("target/release/spin");
    let alone = ns_per_call(&spin, calls)?;
    println!("getppid alone: {alone:.0} ns per call ({calls} calls, best of 3)");

    let with_hytrace = under_hytrace(&spin, calls, &["hist", "syscalls", "--json"])?;
    // The same programs attached but returning at once (every thread filtered out but
    // init's): what the kernel charges for running raw tracepoint programs on
    // sys_enter and sys_exit at all.
    let with_floor = under_hytrace(&spin, calls, &["hist", "syscalls", "--json", "-P", "1"])?;

    let mut bpftrace = Command::new("bpftrace")
        .args(["-e", BPFTRACE_SYSCALL_HIST])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut reader = std::io::BufReader::new(bpftrace.stdout.take().context("bpftrace stdout")?);
    let mut line = String::new();
    while !line.starts_with("Attaching") {
        line.clear();
        if std::io::BufRead::read_line(&mut reader, &mut line)? == 0 {
            bail!("bpftrace ended before attaching");
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let with_bpftrace = ns_per_call(&spin, calls);
    interrupt(&mut bpftrace)?;
    let with_bpftrace = with_bpftrace?;

    let added_hytrace = with_hytrace - alone;
    let added_bpftrace = with_bpftrace - alone;
    let floor = with_floor - alone;
    println!("under hytrace hist syscalls: {with_hytrace:.0} ns (+{added_hytrace:.0} ns)");
    println!("under bpftrace: {with_bpftrace:.0} ns (+{added_bpftrace:.0} ns)");
    println!(
        "dispatch floor (the programs attached, returning at once, -P 1): {with_floor:.0} ns \
         (+{floor:.0} ns)"
    );
    println!(
        "hytrace minus the floor: {:+.0} ns (goal: at most 40 ns)",
        added_hytrace - floor
    );
    println!(
        "hytrace's added cost is {:.2}x bpftrace's (goal: at most 0.2x where the floor allows \
         it; the floor alone is {:.2}x)",
        added_hytrace / added_bpftrace,
        floor / added_bpftrace
    );
    Ok(())
}

/// ns per getppid while `hytrace ARGS` runs in the background.
pub(crate) fn under_hytrace(spin: &Path, calls: u64, args: &[&str]) -> Result<f64> {
    let mut hytrace = Command::new(hytrace_binary())
        .args(args)
        .stdout(Stdio::null())
        .spawn()?;
    // hist prints nothing until it ends; give it time to load and attach.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let measured = ns_per_call(spin, calls);
    interrupt(&mut hytrace)?;
    measured
}
