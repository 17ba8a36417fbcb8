//! Test workload: writes N lines ("hytrace-marker <i>") to a trace_marker file, one
//! write(2) each. Usage: marker N [PATH] (default /sys/kernel/tracing/trace_marker).
use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args
        .next()
        .map(|a| a.parse().expect("marker: COUNT must be a number"))
        .unwrap_or(1000);
    let path = args
        .next()
        .unwrap_or_else(|| "/sys/kernel/tracing/trace_marker".to_string());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("marker: cannot open {path}: {e}"));
    for i in 0..count {
        file.write_all(format!("hytrace-marker {i}\n").as_bytes())
            .unwrap_or_else(|e| panic!("marker: write to {path} failed: {e}"));
    }
}
