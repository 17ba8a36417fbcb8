//! `cargo xtask bench serve`: what serving the histograms to Prometheus costs. In one
//! run: getppid alone, under `hist syscalls`, and under `hist syscalls --serve` with
//! /metrics fetched every second (the added costs and their ratio, goal at most
//! 1.05x); then hytrace's resident memory after 1 minute and after 10 (goal: within
//! 5%) of scrapes every second while bursts of getppid run (HYTRACE_SERVE_MINUTES
//! sets the 10; 0 skips the memory phase).

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{
    bench::{ns_per_call, under_hytrace},
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

pub fn run(calls: u64) -> Result<()> {
    ensure_tracefs()?;
    build()?;
    let spin = workspace_root().join("target/release/spin");
    let addr: SocketAddr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;

    let alone = ns_per_call(&spin, calls)?;
    // Without and with --serve in turn, three times, the best of each: a run's noise
    // (tens of ns here) is larger than what a scrape a second can add.
    let (mut without, mut with, mut scrapes) = (f64::MAX, f64::MAX, 0);
    for _ in 0..3 {
        without = without.min(under_hytrace(
            &spin,
            calls,
            &["hist", "syscalls", "--json"],
        )?);
        let mut serving = start_serving(addr)?;
        let scraper = Scraper::start(addr);
        let measured = ns_per_call(&spin, calls);
        scrapes += scraper.finish();
        interrupt(&mut serving)?;
        with = with.min(measured?);
    }
    let (added_without, added_with) = (without - alone, with - alone);
    println!("getppid alone: {alone:.0} ns per call ({calls} calls, best of 3)");
    println!(
        "under hist syscalls: {without:.0} ns (+{added_without:.0} ns); with --serve scraped \
         every second ({scrapes} scrapes meanwhile): {with:.0} ns (+{added_with:.0} ns), \
         best of 3 runs of 3 each"
    );
    println!(
        "--serve's added cost is {:.3}x hist's without it (goal: at most 1.05x)",
        added_with / added_without
    );

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
