//! Test workload: `sleeper [COUNT [LONG_MS [NAP_MS]]]` calls `nap(NAP_MS)` (default 1
//! ms) COUNT times (default 200), then, when LONG_MS is given, sleeps once for LONG_MS
//! milliseconds.

/// Sleeps `ms` milliseconds; a real, exported function for uprobes to find, with a
/// parameter for probes by name to fetch.
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn nap(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
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
    let nap_ms: u64 = args
        .next()
        .map_or(1, |a| a.parse().expect("sleeper: NAP_MS must be a number"));
    for _ in 0..count {
        nap(std::hint::black_box(nap_ms));
    }
    if let Some(ms) = long_ms.filter(|&ms| ms > 0) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
