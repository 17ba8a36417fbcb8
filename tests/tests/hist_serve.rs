//! `hist --serve`: the histograms scraped by a real Prometheus (Debian's package,
//! started by the test on 127.0.0.1 with a 1 s scrape interval and a private data
//! directory), checked through Prometheus's HTTP API against `hist --json`.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use hytrace_tests::{TempDir, hytrace_bin, require_root, require_tool, run_ok};
use serde_json::Value;

const SPIN: &str = env!("CARGO_BIN_EXE_spin");

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child killed (and reaped) when dropped, so nothing is left running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The body of `GET path` (HTTP/1.0), or None while nothing answers.
fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

/// `%XX` for everything but unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of an instant query's first sample, when Prometheus has one.
fn query(prometheus: SocketAddr, promql: &str) -> Option<f64> {
    let body = http_get(
        prometheus,
        &format!("/api/v1/query?query={}", percent_encode(promql)),
    )?;
    let json: Value = serde_json::from_str(&body).ok()?;
    json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Polls until `ready` holds or `limit` passes.
fn wait_for<T>(limit: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(value) = ready() {
            return Some(value);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// The bucket boundaries `hist --serve` uses by default, in nanoseconds.
fn boundaries_ns() -> Vec<f64> {
    (0..20).map(|i| (1u64 << (8 + 2 * i)) as f64).collect()
}

/// Which bucket (0 = below the first boundary) a latency in nanoseconds falls in.
fn bucket_of(ns: f64) -> usize {
    boundaries_ns().iter().filter(|b| **b < ns).count()
}

/// `hist syscalls --comm spin --json --serve 127.0.0.1:PORT` scraped every second by
/// Prometheus while `spin 1000000` runs: Prometheus's API returns
/// `hytrace_syscall_latency_seconds_count{key="getppid"}` = 1000000, and
/// `histogram_quantile(0.5, …)` lies within one bucket of the p50 `hist --json` prints
/// at its end (SIGTERM); Prometheus and hist are stopped afterwards.
#[test]
fn prometheus_scrapes_the_exact_count_and_a_matching_median() {
    require_root!();
    require_tool!("prometheus");
    let dir = TempDir::new("serve");
    let (hist_port, prometheus_port) = (free_port(), free_port());
    let hist_addr: SocketAddr = format!("127.0.0.1:{hist_port}").parse().unwrap();
    let prometheus_addr: SocketAddr = format!("127.0.0.1:{prometheus_port}").parse().unwrap();
    let hist = Running(
        Command::new(hytrace_bin())
            .args(["hist", "syscalls", "--comm", "spin", "--json", "--serve"])
            .arg(hist_addr.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for(Duration::from_secs(30), || http_get(hist_addr, "/metrics")).is_some(),
        "hist --serve never answered"
    );
    let config = dir.path("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  \
             - job_name: hytrace\n    static_configs:\n      - targets: ['{hist_addr}']\n"
        ),
    )
    .unwrap();
    let _prometheus = Running(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path_str("data")))
            .arg(format!("--web.listen-address={prometheus_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    run_ok(SPIN, &["1000000"]);
    let series = "hytrace_syscall_latency_seconds_count{key=\"getppid\"}";
    let count = wait_for(Duration::from_secs(60), || {
        query(prometheus_addr, series).filter(|v| *v >= 1_000_000.0)
    });
    assert_eq!(count, Some(1_000_000.0), "Prometheus's {series}");
    let median = query(
        prometheus_addr,
        "histogram_quantile(0.5, hytrace_syscall_latency_seconds_bucket{key=\"getppid\"})",
    )
    .expect("a median from Prometheus");

    // hist's own figures at its end.
    let mut hist = hist;
    // SAFETY: kill(2) on the child's pid, which has not been reaped.
    unsafe { libc::kill(hist.0.id() as i32, libc::SIGTERM) };
    let child = std::mem::replace(&mut hist.0, Command::new("true").spawn().unwrap());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("hist --json printed nothing");
    let json: Value = serde_json::from_str(last).unwrap();
    let getppid = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "getppid")
        .expect("a getppid key");
    assert_eq!(getppid["count"], 1_000_000);
    let p50 = getppid["p50_ns"].as_f64().unwrap();
    let (ours, theirs) = (bucket_of(p50), bucket_of(median * 1e9));
    assert!(
        ours.abs_diff(theirs) <= 1,
        "hist's p50 {p50} ns (bucket {ours}) against Prometheus's median {} ns (bucket {theirs})",
        median * 1e9
    );
}
