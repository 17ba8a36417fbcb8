//! Test workload: calls getppid(2) N times (default 1000) and exits. Usage:
//! `spin [N] [START_FILE]`: with START_FILE, waits until that file exists before the
//! loop (so a test can attach more tools between start and loop). With SPIN_REPORT in
//! the environment, prints `spin: N calls, T ns per call` on stderr after the loop
//! (the benchmarks time the loop itself, not the tool that started spin).
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
    let started = std::time::Instant::now();
    let mut sum = 0i64;
    for _ in 0..count {
        // SAFETY: getppid has no preconditions and cannot fail.
        sum = sum.wrapping_add(i64::from(unsafe { libc::getppid() }));
    }
    std::hint::black_box(sum);
    if std::env::var_os("SPIN_REPORT").is_some() {
        let ns = started.elapsed().as_nanos() as f64 / count.max(1) as f64;
        eprintln!("spin: {count} calls, {ns:.1} ns per call");
    }
}
