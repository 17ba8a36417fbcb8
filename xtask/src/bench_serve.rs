//! `cargo xtask bench serve`: what serving the histograms to Prometheus costs. In one
//! run: getppid alone, under `hist syscalls`, and under `hist syscalls --serve` with
//! /metrics fetched every second, alternating five times (the added costs per
//! syscall and their ratio, goal at most 1.05x; where there are two CPUs the loop
//! runs on its own, and the scrapes' CPU time is given apart); then hytrace's
//! resident memory after 1 minute and after 10 (goal: within 5%) of scrapes every
//! second while bursts of getppid run (HYTRACE_SERVE_MINUTES sets the 10; 0 skips the
//! memory phase).

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{
    bench_common::interrupt,
    setup::{ensure_tracefs, workspace_root},
    soak::sample,
    tasks::{build, hytrace_binary},
};

/// Minutes of the memory phase unless HYTRACE_SERVE_MINUTES says otherwise.
const MINUTES: u64 = 10;
/// Growth of RSS allowed from the first minute to the last, in percent.
const ALLOWED_GROWTH_PERCENT: f64 = 5.0;

/// Fetches /metrics once; its size in bytes.
fn scrape(addr: SocketAddr) -> Option<usize> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").ok()?;
    let mut body = Vec::new();
    stream.read_to_end(&mut body).ok()?;
    body.starts_with(b"HTTP/1.0 200").then_some(body.len())
}

/// A thread fetching /metrics every second until stopped; counts the scrapes.
struct Scraper {
    stop: Arc<AtomicBool>,
    scrapes: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Scraper {
    fn start(addr: SocketAddr) -> Scraper {
        let stop = Arc::new(AtomicBool::new(false));
        let scrapes = Arc::new(AtomicU64::new(0));
        let (stopped, counted) = (stop.clone(), scrapes.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                if scrape(addr).is_some() {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Scraper {
            stop,
            scrapes,
            thread,
        }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.scrapes.load(Ordering::Relaxed)
    }
}

/// `hist syscalls --json --serve ADDR`, answering.
fn start_serving(addr: SocketAddr) -> Result<Child> {
    let child = Command::new(hytrace_binary())
        .args(["hist", "syscalls", "--json", "--serve", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start hytrace hist --serve")?;
    let started = Instant::now();
    while scrape(addr).is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("hist --serve did not answer at {addr} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(child)
}

/// Alternations of hist without and with --serve; each side keeps its best.
const ROUNDS: usize = 5;

/// Where the loop and hytrace run: on a machine of two CPUs or more, getppid's loop
/// on the last CPU and hytrace (with the scraper, this process) on the first, so the
/// figure is the per-syscall cost of the programs, not a scrape sharing the loop's
/// CPU now and then (the scrapes' own CPU time is measured apart).
struct Placement {
    loop_cpu: Option<usize>,
}

impl Placement {
    fn choose() -> Result<Placement> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        if cpus < 2 {
            return Ok(Placement { loop_cpu: None });
        }
        // This process and what it starts (hytrace) on CPU 0.
        let status = Command::new("taskset")
            .args(["-a", "-p", "-c", "0", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .context("cannot run taskset")?;
        if !status.success() {
            bail!("taskset could not pin the bench to CPU 0");
        }
        Ok(Placement {
            loop_cpu: Some(cpus - 1),
        })
    }

    /// getppid's cost in spin's own loop (SPIN_REPORT), best of 3.
    fn loop_ns(&self, spin: &Path, calls: u64) -> Result<f64> {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let mut cmd = match self.loop_cpu {
                Some(cpu) => {
                    let mut cmd = Command::new("taskset");
                    cmd.args(["-c", &cpu.to_string()]).arg(spin);
                    cmd
                }
                None => Command::new(spin),
            };
            let out = cmd
                .arg(calls.to_string())
                .env("SPIN_REPORT", "1")
                .stdout(Stdio::null())
                .output()
                .context("cannot run spin")?;
            let said = String::from_utf8_lossy(&out.stderr);
            let ns: f64 = said
                .split(", ")
                .nth(1)
                .and_then(|s| s.strip_suffix(" ns per call\n"))
                .and_then(|s| s.parse().ok())
                .with_context(|| format!("spin said {said:?}"))?;
            best = best.min(ns);
        }
        Ok(best)
    }

    fn describe(&self) -> String {
        match self.loop_cpu {
            Some(cpu) => format!("getppid's loop on CPU {cpu}, hytrace and the scraper on CPU 0"),
            None => "one CPU: loop, hytrace and scraper share it".to_string(),
        }
    }
}

/// User plus system CPU time of process `pid`, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the 3rd field,
    // utime the 14th, stime the 15th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks as f64 / per_second as f64)
}

/// `hist syscalls --json` (system-wide, no --serve), given time to attach.
fn start_plain() -> Result<Child> {
    let child = Command::new(hytrace_binary())
        .args(["hist", "syscalls", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start hytrace hist")?;
    // hist prints nothing until it ends; give it time to load and attach.
    std::thread::sleep(Duration::from_secs(2));
    Ok(child)
}

pub fn run(calls: u64) -> Result<()> {
    ensure_tracefs()?;
    build()?;
    let spin = workspace_root().join("target/release/spin");
    let addr: SocketAddr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let placement = Placement::choose()?;

    let alone = placement.loop_ns(&spin, calls)?;
    // Without and with --serve in turn, the best of each: a run's noise (tens of ns
    // here) is larger than what a scrape a second could add.
    let (mut without, mut with, mut scrapes, mut scrape_cpu) = (f64::MAX, f64::MAX, 0, 0.0);
    for _ in 0..ROUNDS {
        let mut plain = start_plain()?;
        let measured = placement.loop_ns(&spin, calls);
        interrupt(&mut plain)?;
        without = without.min(measured?);

        let mut serving = start_serving(addr)?;
        let before = cpu_seconds(serving.id());
        let scraper = Scraper::start(addr);
        let measured = placement.loop_ns(&spin, calls);
        scrapes += scraper.finish();
        if let (Some(before), Some(after)) = (before, cpu_seconds(serving.id())) {
            scrape_cpu += after - before;
        }
        interrupt(&mut serving)?;
        with = with.min(measured?);
    }
    let (added_without, added_with) = (without - alone, with - alone);
    println!("placement: {}", placement.describe());
    println!("getppid alone: {alone:.1} ns per call ({calls} calls, best of 3)");
    println!(
        "under hist syscalls: {without:.1} ns (+{added_without:.1} ns); with --serve scraped \
         every second: {with:.1} ns (+{added_with:.1} ns); best of {ROUNDS} rounds of 3 runs"
    );
    println!(
        "--serve's added cost is {:.3}x hist's without it (goal: at most 1.05x)",
        added_with / added_without
    );
    if scrapes > 0 {
        println!(
            "hytrace's CPU time while served: {:.2} ms per scrape ({scrapes} scrapes)",
            scrape_cpu * 1000.0 / scrapes as f64
        );
    }

    let minutes = std::env::var("HYTRACE_SERVE_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(MINUTES);
    // 0 measures the cost only.
    if minutes == 0 {
        return Ok(());
    }
    let minutes = minutes.max(2);
    let mut serving = start_serving(addr)?;
    let scraper = Scraper::start(addr);
    let pid = serving.id();
    let started = Instant::now();
    let mut at_one = None;
    let mut last = None;
    while started.elapsed() < Duration::from_secs(minutes * 60) {
        // Keys stay the same; the counts grow: a burst every few seconds.
        let _ = Command::new(&spin).arg("200000").status();
        std::thread::sleep(Duration::from_secs(3));
        let now = sample(pid).context("hist --serve ended during the memory phase")?;
        if at_one.is_none() && started.elapsed() >= Duration::from_secs(60) {
            at_one = Some(now);
        }
        last = Some(now);
    }
    let scrapes = scraper.finish();
    interrupt(&mut serving)?;
    let (Some(first), Some(last)) = (at_one, last) else {
        bail!("no RSS sample after the first minute");
    };
    let growth = (last.rss_kb as f64 - first.rss_kb as f64) * 100.0 / first.rss_kb as f64;
    println!(
        "RSS of hist --serve: {:.1} MB after 1 minute, {:.1} MB after {minutes} ({growth:+.1}%, \
         goal: within {ALLOWED_GROWTH_PERCENT}%), {scrapes} scrapes, {} open fds at the end",
        first.rss_kb as f64 / 1024.0,
        last.rss_kb as f64 / 1024.0,
        last.fds
    );
    Ok(())
}
