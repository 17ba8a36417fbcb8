//! Test workload: calls getppid(2) N times (default 1000) and exits. Usage:
//! `spin [N] [START_FILE]`: with START_FILE, waits until that file exists before the
//! loop (so a test can attach more tools between start and loop).
fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args
        .next()
        .map(|a| a.parse().expect("spin: COUNT must be a number"))
        .unwrap_or(1000);
    if let Some(start_file) = args.next() {
        while !std::path::Path::new(&start_file).exists() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let mut sum = 0i64;
    for _ in 0..count {
        // SAFETY: getppid has no preconditions and cannot fail.
        sum = sum.wrapping_add(i64::from(unsafe { libc::getppid() }));
    }
    std::hint::black_box(sum);
}
