//! Test workload: `descend [COUNT [DEPTH]]` calls `descend(DEPTH)` (default 31) COUNT
//! times (default 100); `descend` calls itself until the depth is 1, so each outer call
//! holds DEPTH nested calls of the same function, and the outermost one then sleeps 1
//! ms, so it lasts far longer than the calls nested in it.

/// Recurses `depth` deep; a real, exported function for uprobes to find. The add
/// after the call keeps it from becoming a loop.
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn descend(depth: u32, outermost: u32) -> u32 {
    let below = if depth > 1 {
        descend(std::hint::black_box(depth - 1), outermost)
    } else {
        0
    };
    if depth == outermost {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::hint::black_box(below) + 1
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args
        .next()
        .map_or(100, |a| a.parse().expect("descend: COUNT must be a number"));
    let depth: u32 = args
        .next()
        .map_or(31, |a| a.parse().expect("descend: DEPTH must be a number"));
    let mut calls = 0u64;
    for _ in 0..count {
        calls += u64::from(descend(std::hint::black_box(depth), depth));
    }
    assert_eq!(calls, count * u64::from(depth));
}
