//! trace-cmd report's line layout:
//! `            bash-3185  [001]  6599.516832: sys_exit:             NR 1 = 2`
//! (comm right-aligned to 16, pid left-aligned to 5, CPU as 3 digits, seconds and
//! microseconds (rounded), the event name and colon padded to 21 columns). Files with
//! several buffers prefix each line with `NAME:` padded to the longest name.

use std::io::Write as _;

use super::EventHeader;

/// Width of the event name column (name plus padding, before the colon's space).
const NAME_WIDTH: usize = 20;

/// The columns before the event name (trace-cmd report's `-t`, `--ts-diff`, `-l`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextColumns {
    /// Nine decimals (nanoseconds) instead of six, rounded.
    pub nanos: bool,
    /// After the timestamp, `(+N)` since the previous line's, padded to 8 (empty on
    /// the first line): in microseconds, or in nanoseconds with `diff_nanos`.
    pub diff: bool,
    /// The `(+N)` column in nanoseconds: with `nanos`, and (as trace-cmd does) for a
    /// file that names no trace clock.
    pub diff_nanos: bool,
    /// The latency layout: `COMM-PID CPU` (comm cut to 8) then the irqs-off,
    /// need-resched, hardirq/softirq and preempt-depth columns, as ftrace's latency
    /// format.
    pub latency: bool,
}

/// trace_flag_type as libtraceevent reads common_flags.
const FLAG_IRQS_OFF: u8 = 0x01;
const FLAG_IRQS_NOSUPPORT: u8 = 0x02;
const FLAG_NEED_RESCHED: u8 = 0x04;
const FLAG_HARDIRQ: u8 = 0x08;
const FLAG_SOFTIRQ: u8 = 0x10;

/// `%8.8s-%-5d %3d` and the latency columns (libtraceevent's data_latency_format):
/// `d`/`X`/`.`, `N`/`.`, `H`/`h`/`s`/`.`, then the preempt count's low and high nibbles
/// in hex (`.` for 0).
fn write_latency_prefix(out: &mut Vec<u8>, header: &EventHeader<'_>) {
    let comm = header.comm.as_bytes();
    let comm = &comm[..comm.len().min(8)];
    pad(out, 8 - comm.len());
    out.extend_from_slice(comm);
    let flags = header.common_flags;
    let pc = header.preempt_count;
    let irqs = if flags & FLAG_IRQS_OFF != 0 {
        'd'
    } else if flags & FLAG_IRQS_NOSUPPORT != 0 {
        'X'
    } else {
        '.'
    };
    let resched = if flags & FLAG_NEED_RESCHED != 0 {
        'N'
    } else {
        '.'
    };
    let context = match (flags & FLAG_HARDIRQ != 0, flags & FLAG_SOFTIRQ != 0) {
        (true, true) => 'H',
        (true, false) => 'h',
        (false, true) => 's',
        (false, false) => '.',
    };
    let nibble = |n: u8| match n {
        0 => ".".to_string(),
        n => format!("{n:x}"),
    };
    let _ = write!(
        out,
        "-{:<5} {:>3}{irqs}{resched}{context}{}{}",
        header.pid,
        header.cpu,
        nibble(pc & 0xf),
        nibble(pc >> 4)
    );
}

/// Appends everything up to the payload (which the caller appends, then a newline).
/// `buffer_width` is the width of the widest `NAME:` prefix, 0 for single-buffer files.
#[inline]
pub fn write_prefix(out: &mut Vec<u8>, header: &EventHeader<'_>, buffer_width: usize) {
    write_buffer_column(out, header, buffer_width);
    write_task_prefix(out, header, TextColumns::default(), None);
}

/// The buffer name column of files with several buffers (nothing when `buffer_width`
/// is 0).
pub fn write_buffer_column(out: &mut Vec<u8>, header: &EventHeader<'_>, buffer_width: usize) {
    if buffer_width > 0 {
        match header.buffer {
            Some(name) => {
                out.extend_from_slice(name.as_bytes());
                out.push(b':');
                pad(out, buffer_width.saturating_sub(name.len() + 1));
            }
            None => pad(out, buffer_width),
        }
        out.push(b' ');
    }
}

/// `comm-pid [cpu] timestamp: name:` padded as trace-cmd pads it; `previous_ns` is
/// the previous line's timestamp, for `time.diff`.
pub fn write_task_prefix(
    out: &mut Vec<u8>,
    header: &EventHeader<'_>,
    time: TextColumns,
    previous_ns: Option<u64>,
) {
    if time.latency {
        write_latency_prefix(out, header);
        out.push(b' ');
        write_timestamp(out, header.ts_ns, time.nanos);
        write_time_rest(out, header, time, previous_ns);
        return;
    }
    pad(out, 16usize.saturating_sub(header.comm.len()));
    out.extend_from_slice(header.comm.as_bytes());
    out.push(b'-');
    let mut digits = itoa_buf();
    let pid = format_i64(&mut digits, i64::from(header.pid));
    out.extend_from_slice(pid);
    pad(out, 5usize.saturating_sub(pid.len()));
    out.extend_from_slice(b" [");
    let mut cpu = [b'0'; 3];
    if header.cpu < 1000 {
        cpu[0] = b'0' + (header.cpu / 100) as u8;
        cpu[1] = b'0' + (header.cpu / 10 % 10) as u8;
        cpu[2] = b'0' + (header.cpu % 10) as u8;
        out.extend_from_slice(&cpu);
    } else {
        let _ = write!(out, "{}", header.cpu);
    }
    out.extend_from_slice(b"] ");
    write_timestamp(out, header.ts_ns, time.nanos);
    write_time_rest(out, header, time, previous_ns);
}

/// After the timestamp: `:`, the `--ts-diff` column, the event name padded.
fn write_time_rest(
    out: &mut Vec<u8>,
    header: &EventHeader<'_>,
    time: TextColumns,
    previous_ns: Option<u64>,
) {
    out.push(b':');
    if time.diff {
        // trace-cmd: " %-8s" of "(+N)", N between the two rounded timestamps.
        let unit = |ns: u64| if time.diff_nanos { ns } else { in_micros(ns) };
        let text = previous_ns
            .map(|p| format!("(+{})", unit(header.ts_ns) as i64 - unit(p) as i64))
            .unwrap_or_default();
        let _ = write!(out, " {text:<8}");
    }
    out.push(b' ');
    out.extend_from_slice(header.name.as_bytes());
    out.push(b':');
    pad(out, NAME_WIDTH.saturating_sub(header.name.len()));
    out.push(b' ');
}

/// `SECS.USECS`, rounded to the nearest microsecond as trace-cmd does, or with `nanos`
/// `SECS.NNNNNNNNN`; the seconds right-aligned to 5 columns, as trace-cmd prints them.
pub fn write_timestamp(out: &mut Vec<u8>, ts_ns: u64, nanos: bool) {
    let mut digits = itoa_buf();
    let (units, per_second, decimals) = match nanos {
        true => (ts_ns, 1_000_000_000, 9),
        false => (in_micros(ts_ns), 1_000_000, 6),
    };
    let secs_text = format_i64(&mut digits, (units / per_second) as i64);
    pad(out, 5usize.saturating_sub(secs_text.len()));
    out.extend_from_slice(secs_text);
    out.push(b'.');
    let mut frac = [b'0'; 9];
    let mut rest = units % per_second;
    for slot in frac[..decimals].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&frac[..decimals]);
}

/// Nanoseconds to microseconds, rounded to the nearest as trace-cmd rounds them.
fn in_micros(ns: u64) -> u64 {
    ns.saturating_add(500) / 1000
}

#[inline]
fn pad(out: &mut Vec<u8>, n: usize) {
    const SPACES: &[u8; 32] = b"                                ";
    let mut left = n;
    while left > 0 {
        let chunk = left.min(SPACES.len());
        out.extend_from_slice(&SPACES[..chunk]);
        left -= chunk;
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// Decimal digits of `value` in `buf`, returned as a slice of it.
#[inline]
fn format_i64(buf: &mut [u8; 20], value: i64) -> &[u8] {
    let negative = value < 0;
    let mut v = value.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(buffer: Option<&'a str>, comm: &'a str, name: &'a str) -> EventHeader<'a> {
        EventHeader {
            buffer,
            comm,
            pid: 3185,
            cpu: 1,
            ts_ns: 6_599_516_832_474,
            system: "raw_syscalls",
            name,
            common_flags: 0,
            preempt_count: 0,
        }
    }

    #[test]
    fn matches_trace_cmd_single_buffer_layout() {
        let mut out = Vec::new();
        write_prefix(&mut out, &header(None, "bash", "sys_exit"), 0);
        out.extend_from_slice(b"NR 1 = 2");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "            bash-3185  [001]  6599.516832: sys_exit:             NR 1 = 2"
        );
    }

    #[test]
    fn matches_trace_cmd_multi_buffer_layout() {
        let mut out = Vec::new();
        write_prefix(&mut out, &header(Some("probe1"), "bash", "sys_enter"), 7);
        out.push(b'\n');
        write_prefix(&mut out, &header(None, "bash", "print"), 7);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "probe1:             bash-3185  [001]  6599.516832: sys_enter:            \n                    bash-3185  [001]  6599.516832: print:                "
        );
    }

    #[test]
    fn long_names_and_negative_or_wide_numbers() {
        let mut out = Vec::new();
        let mut h = header(None, "a-very-long-command", "an_event_name_longer_than_20");
        h.pid = 1234567;
        h.cpu = 12;
        h.ts_ns = 123_456_000_001_499;
        write_prefix(&mut out, &h, 0);
        out.push(b'|');
        // 999_999_500 ns rounds up into the next second.
        h.ts_ns = 7_999_999_500;
        write_prefix(&mut out, &h, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a-very-long-command-1234567 [012] 123456.000001: an_event_name_longer_than_20: |a-very-long-command-1234567 [012]     8.000000: an_event_name_longer_than_20: "
        );
    }
}
