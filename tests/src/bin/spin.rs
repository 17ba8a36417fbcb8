//! Test workload: calls getppid(2) N times (default 1000) and exits.
fn main() {
    let count: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("spin: COUNT must be a number"))
        .unwrap_or(1000);
    let mut sum = 0i64;
    for _ in 0..count {
        // SAFETY: getppid has no preconditions and cannot fail.
        sum = sum.wrapping_add(i64::from(unsafe { libc::getppid() }));
    }
    std::hint::black_box(sum);
}
