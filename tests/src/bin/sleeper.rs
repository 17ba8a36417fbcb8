//! Test workload: calls `nap` (which sleeps 1 ms) N times (default 200), then, when
//! LONG_MS is given, sleeps once for LONG_MS milliseconds.

/// Sleeps one millisecond; a real, exported function for uprobes to find.
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn nap() {
    std::thread::sleep(std::time::Duration::from_millis(1));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args
        .next()
        .map(|a| a.parse().expect("sleeper: COUNT must be a number"))
        .unwrap_or(200);
    let long_ms: Option<u64> = args
        .next()
        .map(|a| a.parse().expect("sleeper: LONG_MS must be a number"));
    for _ in 0..count {
        nap();
    }
    if let Some(ms) = long_ms {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
