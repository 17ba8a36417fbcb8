//! The columns of ftrace's function_graph output (kernel/trace/trace_functions_graph.c):
//! the CPU column, the duration column with its overhead marks, the task column of
//! context-switch lines (pure).

use std::fmt::Write as _;

/// Spaces per call depth.
pub const INDENT: usize = 2;

/// The duration column left empty: `              |  `.
pub const FILL_FULL: &str = "              |  ";

/// The overhead mark of a duration: `$` over 1 s, `@` 100 ms, `*` 10 ms, `#` 1 ms,
/// `!` 100 us, `+` 10 us, else a space.
pub fn mark(duration_ns: u64) -> char {
    const MARKS: [(u64, char); 6] = [
        (1_000_000_000, '$'),
        (100_000_000, '@'),
        (10_000_000, '*'),
        (1_000_000, '#'),
        (100_000, '!'),
        (10_000, '+'),
    ];
    MARKS
        .iter()
        .find(|(limit, _)| duration_ns > *limit)
        .map_or(' ', |(_, c)| *c)
}

/// ` 15) `: the CPU right-aligned to the width of the largest CPU number.
pub fn cpu_column(out: &mut String, cpu: u32, width: usize) {
    let _ = write!(out, " {cpu:>width$}) ");
}

/// `+ 14.536 us   |  `: mark, microseconds with three decimals (fewer when the integer
/// part is long, none from seven digits on), padded to the column.
pub fn duration_column(out: &mut String, duration_ns: u64) {
    out.push(mark(duration_ns));
    out.push(' ');
    let usecs = (duration_ns / 1000).to_string();
    let nsecs_rem = duration_ns % 1000;
    out.push_str(&usecs);
    let mut len = usecs.len();
    if len < 7 {
        // The kernel prints "%03lu" into a buffer of min(5, 8 - len) bytes.
        let digits = format!("{nsecs_rem:03}");
        let keep = (8 - len).min(5) - 1;
        let shown = &digits[..keep.min(digits.len())];
        out.push('.');
        out.push_str(shown);
        len += shown.len() + 1;
    }
    out.push_str(" us ");
    for _ in len..8 {
        out.push(' ');
    }
    out.push_str("|  ");
}

/// `comm-pid` centred in 14 columns, the comm cut to 7 characters.
pub fn task_column(out: &mut String, comm: &str, pid: i32) {
    let comm: String = comm.chars().take(7).collect();
    let pid = pid.to_string();
    let len = comm.len() + pid.len() + 1;
    let spaces = 14usize.saturating_sub(len);
    out.extend(std::iter::repeat_n(' ', spaces / 2));
    let _ = write!(out, "{comm}-{pid}");
    out.extend(std::iter::repeat_n(' ', spaces - spaces / 2));
}

/// The width of the CPU column for CPUs `0..cpus`.
pub fn cpu_width(cpus: u32) -> usize {
    cpus.saturating_sub(1).to_string().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duration(ns: u64) -> String {
        let mut out = String::new();
        duration_column(&mut out, ns);
        out
    }

    #[test]
    fn durations_as_the_kernel_prints_them() {
        assert_eq!(duration(3036), "  3.036 us    |  ");
        assert_eq!(duration(14_536), "+ 14.536 us   |  ");
        assert_eq!(duration(10_000), "  10.000 us   |  ");
        assert_eq!(duration(100_001), "! 100.001 us  |  ");
        assert_eq!(duration(1_234_567), "# 1234.567 us |  ");
        assert_eq!(duration(12_345_678), "* 12345.67 us |  ");
        assert_eq!(duration(123_456_789), "@ 123456.7 us |  ");
        assert_eq!(duration(1_234_567_890), "$ 1234567 us  |  ");
        assert_eq!(duration(12_345_678_901), "$ 12345678 us |  ");
        assert_eq!(duration(80), "  0.080 us    |  ");
    }

    #[test]
    fn cpu_and_task_columns() {
        let mut out = String::new();
        cpu_column(&mut out, 0, cpu_width(16));
        cpu_column(&mut out, 98, cpu_width(200));
        assert_eq!(out, "  0)   98) ");
        let mut task = String::new();
        task_column(&mut task, "bash", 1234);
        assert_eq!(task, "  bash-1234   ");
        let mut long = String::new();
        task_column(&mut long, "kworker/0:1", 123456);
        assert_eq!(long, "kworker-123456");
    }
}
