//! Test workload: `sleeper [COUNT [LONG_MS [NAP_MS]]]` calls `nap(NAP_MS)` (default 1
//! ms) COUNT times (default 200), then, when LONG_MS is given, sleeps once for LONG_MS
//! milliseconds. Its timer slack is 1 ns, so a nap lasts what it asks for (the default
//! 50 us slack would add 5% to each 1 ms nap). With `SLEEPER_REPORT` set it prints, on
//! stderr, how long the naps took in all: `sleeper: COUNT naps in T ns` (sleep, the
//! run-queue waits after each wake-up and the little it runs).

/// Sleeps `ms` milliseconds; a real, exported function for uprobes to find, with a
/// parameter for probes by name to fetch. It makes the nanosleep system call itself,
/// so a user stack taken while it sleeps starts in `nap` (a call through libc and std,
/// built without frame pointers, would leave nap out of the frame-pointer walk).
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn nap(ms: u64) {
    let request = libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    };
    let mut left = request;
    loop {
        let ret: i64;
        // SAFETY: nanosleep(2) reads `request` and writes `left`, both live timespecs on
        // this stack; the syscall instruction clobbers rcx and r11, declared here.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") libc::SYS_nanosleep => ret,
                in("rdi") &raw const request,
                in("rsi") &raw mut left,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack)
            );
        }
        // Interrupted: sleep what is left.
        if ret != -i64::from(libc::EINTR) {
            return;
        }
        let _ = std::hint::black_box(&left);
    }
}

fn main() {
    // SAFETY: PR_SET_TIMERSLACK takes a value and changes only this thread's slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
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
    let started = std::time::Instant::now();
    for _ in 0..count {
        nap(std::hint::black_box(nap_ms));
    }
    if std::env::var_os("SLEEPER_REPORT").is_some() {
        eprintln!(
            "sleeper: {count} naps in {} ns",
            started.elapsed().as_nanos()
        );
    }
    if let Some(ms) = long_ms.filter(|&ms| ms > 0) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
