//! Test workload for Rust user stacks: calls `hytrace_tests::workloads::raw_getppid`
//! (a getppid system call made by the function itself, so the innermost user frame is
//! Rust code) N times (default 1000).
fn main() {
    let count: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("rstack: COUNT must be a number"))
        .unwrap_or(1000);
    let mut sum = 0i64;
    for _ in 0..count {
        sum = sum.wrapping_add(hytrace_tests::workloads::raw_getppid());
    }
    std::hint::black_box(sum);
}
