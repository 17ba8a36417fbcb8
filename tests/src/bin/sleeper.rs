//! Test workload: calls `nap` (which sleeps 1 ms) N times (default 200).

/// Sleeps one millisecond; a real, exported function for uprobes to find.
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn nap() {
    std::thread::sleep(std::time::Duration::from_millis(1));
}

fn main() {
    let count: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("sleeper: COUNT must be a number"))
        .unwrap_or(200);
    for _ in 0..count {
        nap();
    }
}
