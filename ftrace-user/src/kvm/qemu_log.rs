//! QEMU's `log` trace backend file (`-trace enable=…,file=F -msg timestamp=on`): trace
//! lines with their thread id and wall-clock time (pure).
//!
//! Line shapes:
//! - QEMU ≤ 9: `TID@SECS.USECS:EVENT ARGS`, SECS.USECS the CLOCK_REALTIME of the
//!   event (`%06` microseconds).
//! - Newer QEMU puts an ISO-8601 UTC stamp (`2024-12-01T08:00:00.123456Z `) in front
//!   of every log line: in front of the shape above (the time is then still taken
//!   from SECS.USECS), or in front of a bare `EVENT ARGS` (no thread id; the time
//!   comes from the stamp).
//!
//! Without `-msg timestamp=on` QEMU writes bare `EVENT ARGS` lines: they carry no
//! time, and are skipped like QEMU's own messages.

use thiserror::Error;

use super::qemu_events::{QemuEvent, parse_qemu_event};

/// How many malformed lines [`parse_log`] keeps.
pub const MAX_MALFORMED: usize = 10;

/// How many characters of a malformed line an error quotes.
const EXCERPT_CHARS: usize = 80;

const NS_PER_SEC: u64 = 1_000_000_000;

/// A line that starts like a trace line but is not one. Each variant quotes the line
/// (at most its first 80 characters).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QemuLogError {
    #[error("thread id before '@' does not fit 32 bits: {line:?}")]
    BadTid { line: String },
    #[error("no SECS.USECS: (6-digit microseconds) after the thread id: {line:?}")]
    BadTime { line: String },
    #[error("malformed ISO-8601 UTC time (YYYY-MM-DDTHH:MM:SS[.F]Z): {line:?}")]
    BadIsoTime { line: String },
    #[error("time before 1970 or too large for 64-bit nanoseconds: {line:?}")]
    TimeOutOfRange { line: String },
    #[error("no event name after the time: {line:?}")]
    NoEvent { line: String },
}

/// One trace line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuLogLine {
    /// The thread that logged it (QEMU's `qemu_get_thread_id()`, the Linux tid); None
    /// where the line has only the ISO stamp.
    pub tid: Option<u32>,
    /// CLOCK_REALTIME of the event, in nanoseconds since the Unix epoch.
    pub realtime_ns: u64,
    /// The event and its fields.
    pub event: QemuEvent,
}

/// A whole log file. Every line of it is in exactly one of `lines`, `skipped` and
/// `malformed`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QemuLog {
    /// The trace lines, in file order.
    pub lines: Vec<QemuLogLine>,
    /// Lines that are no trace lines (blank lines, QEMU's own messages, untimed
    /// events), and malformed lines past the first [`MAX_MALFORMED`].
    pub skipped: usize,
    /// The first [`MAX_MALFORMED`] malformed lines: (1-based line number, error).
    pub malformed: Vec<(usize, QemuLogError)>,
}

/// Parses every line of a log file's text (`\n` or `\r\n` line ends).
pub fn parse_log(text: &str) -> QemuLog {
    let mut log = QemuLog::default();
    for (index, line) in text.lines().enumerate() {
        match parse_log_line(line) {
            Ok(Some(line)) => log.lines.push(line),
            Err(error) if log.malformed.len() < MAX_MALFORMED => {
                log.malformed.push((index + 1, error));
            }
            Ok(None) | Err(_) => log.skipped += 1,
        }
    }
    log
}

/// Parses one line of the log (a trailing `\n` or `\r\n` is ignored). Ok(None) for a
/// line that is no trace line; Err for one that starts like a trace line (`DIGITS@`,
/// or an ISO date `YYYY-MM-DDT`) but is malformed, such as a truncated last line.
pub fn parse_log_line(line: &str) -> Result<Option<QemuLogLine>, QemuLogError> {
    let line = line.trim_end_matches(['\n', '\r']);
    if starts_like_iso(line) {
        let (stamp, rest) = line.split_once(' ').unwrap_or((line, ""));
        let realtime_ns = match iso_to_ns(stamp) {
            Ok(ns) => ns,
            Err(problem) => return Err(problem.error(line)),
        };
        if starts_like_tid(rest) {
            return parse_tid_line(rest, line).map(Some);
        }
        return Ok(parse_qemu_event(rest).map(|event| QemuLogLine {
            tid: None,
            realtime_ns,
            event,
        }));
    }
    if starts_like_tid(line) {
        return parse_tid_line(line, line).map(Some);
    }
    Ok(None)
}

/// At most the first [`EXCERPT_CHARS`] characters of `line`.
fn excerpt(line: &str) -> String {
    line.chars().take(EXCERPT_CHARS).collect()
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `DIGITS@`.
fn starts_like_tid(text: &str) -> bool {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && text.as_bytes().get(digits) == Some(&b'@')
}

/// `YYYY-MM-DDT`.
fn starts_like_iso(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 11
        && bytes[..11]
            .iter()
            .enumerate()
            .all(|(index, &b)| match index {
                4 | 7 => b == b'-',
                10 => b == b'T',
                _ => b.is_ascii_digit(),
            })
}

/// Parses `TID@SECS.USECS:EVENT ARGS` in `text`; errors quote `line`.
fn parse_tid_line(text: &str, line: &str) -> Result<QemuLogLine, QemuLogError> {
    let (tid, rest) = text.split_once('@').unwrap_or((text, ""));
    let tid: u32 = tid.parse().map_err(|_| QemuLogError::BadTid {
        line: excerpt(line),
    })?;
    let bad_time = || QemuLogError::BadTime {
        line: excerpt(line),
    };
    let (time, payload) = rest.split_once(':').ok_or_else(bad_time)?;
    let (secs, usecs) = time.split_once('.').ok_or_else(bad_time)?;
    if !all_digits(secs) || usecs.len() != 6 || !all_digits(usecs) {
        return Err(bad_time());
    }
    let realtime_ns = secs
        .parse::<u64>()
        .ok()
        .zip(usecs.parse::<u64>().ok())
        .and_then(|(secs, usecs)| secs.checked_mul(NS_PER_SEC)?.checked_add(usecs * 1000))
        .ok_or_else(|| QemuLogError::TimeOutOfRange {
            line: excerpt(line),
        })?;
    let event = parse_qemu_event(payload).ok_or_else(|| QemuLogError::NoEvent {
        line: excerpt(line),
    })?;
    Ok(QemuLogLine {
        tid: Some(tid),
        realtime_ns,
        event,
    })
}

/// Why an ISO stamp gave no time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IsoProblem {
    Malformed,
    OutOfRange,
}

impl IsoProblem {
    fn error(self, line: &str) -> QemuLogError {
        let line = excerpt(line);
        match self {
            IsoProblem::Malformed => QemuLogError::BadIsoTime { line },
            IsoProblem::OutOfRange => QemuLogError::TimeOutOfRange { line },
        }
    }
}

/// The fields of a UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UtcTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    /// 0..=60 (a leap second).
    second: u32,
    /// The fraction of the second, in nanoseconds.
    nanos: u64,
}

/// `YYYY-MM-DDTHH:MM:SS[.F]Z` (F of 1 to 9 digits) → nanoseconds since the epoch.
fn iso_to_ns(stamp: &str) -> Result<u64, IsoProblem> {
    let time = parse_iso(stamp).ok_or(IsoProblem::Malformed)?;
    epoch_ns(time).ok_or(IsoProblem::OutOfRange)
}

/// The digits of `text` as a number, when it has exactly `len` of them.
fn fixed(text: &str, len: usize) -> Option<u32> {
    (text.len() == len && all_digits(text))
        .then(|| text.parse().ok())
        .flatten()
}

fn parse_iso(stamp: &str) -> Option<UtcTime> {
    let (date, time) = stamp.strip_suffix('Z')?.split_once('T')?;
    let mut date = date.split('-');
    let year = fixed(date.next()?, 4)?;
    let month = fixed(date.next()?, 2)?;
    let day = fixed(date.next()?, 2)?;
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time, None),
    };
    let mut clock = clock.split(':');
    let hour = fixed(clock.next()?, 2)?;
    let minute = fixed(clock.next()?, 2)?;
    let second = fixed(clock.next()?, 2)?;
    if date.next().is_some() || clock.next().is_some() {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(digits) if digits.len() <= 9 && all_digits(digits) => {
            let scale = 10u64.pow(9 - digits.len() as u32);
            digits.parse::<u64>().ok()? * scale
        }
        Some(_) => return None,
    };
    let year = i64::from(year);
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second <= 60;
    valid.then_some(UtcTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let march_based_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * march_based_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Nanoseconds since the epoch; None before 1970 or past u64.
fn epoch_ns(time: UtcTime) -> Option<u64> {
    let days = days_from_civil(time.year, time.month, time.day);
    let seconds = days
        .checked_mul(86_400)?
        .checked_add(i64::from(time.hour * 3600 + time.minute * 60 + time.second))?;
    u64::try_from(seconds)
        .ok()?
        .checked_mul(NS_PER_SEC)?
        .checked_add(time.nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-12-01T08:00:00Z.
    const DEC_1_2024: u64 = 1_733_040_000;

    fn trace_line(line: &str) -> QemuLogLine {
        parse_log_line(line)
            .expect("well-formed")
            .expect("a trace line")
    }

    #[test]
    fn qemu_9_lines_have_thread_and_microsecond_time() {
        let line = trace_line("12345@1733040000.123456:kvm_run_exit cpu_index 0, reason 2");
        assert_eq!(line.tid, Some(12345));
        assert_eq!(line.realtime_ns, DEC_1_2024 * NS_PER_SEC + 123_456_000);
        assert_eq!(line.event.name, "kvm_run_exit");
        assert_eq!(line.event.number("reason"), Some(2));
        assert_eq!(line.event.text, "cpu_index 0, reason 2");
    }

    #[test]
    fn an_iso_stamp_in_front_keeps_the_thread_and_its_time() {
        let line = trace_line(
            "2024-12-01T08:00:00.999999Z 12345@1733040000.123456:kvm_run_exit cpu_index 0, \
             reason 2",
        );
        assert_eq!(line.tid, Some(12345));
        assert_eq!(line.realtime_ns, DEC_1_2024 * NS_PER_SEC + 123_456_000);
        assert_eq!(line.event.number("cpu_index"), Some(0));
    }

    #[test]
    fn iso_only_lines_take_their_time_from_the_stamp() {
        let line = trace_line("2024-12-01T08:00:00.123456Z kvm_run_exit cpu_index 0, reason 2");
        assert_eq!(line.tid, None);
        assert_eq!(line.realtime_ns, DEC_1_2024 * NS_PER_SEC + 123_456_000);
        assert_eq!(line.event.name, "kvm_run_exit");

        for (stamp, ns) in [
            ("2024-12-01T08:00:00Z", DEC_1_2024 * NS_PER_SEC),
            (
                "2024-12-01T08:00:00.5Z",
                DEC_1_2024 * NS_PER_SEC + 500_000_000,
            ),
            (
                "2024-12-01T08:00:00.000000001Z",
                DEC_1_2024 * NS_PER_SEC + 1,
            ),
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T23:59:59Z", 951_868_799 * NS_PER_SEC),
            ("2100-03-01T00:00:00Z", 4_107_542_400 * NS_PER_SEC),
        ] {
            let line = trace_line(&format!("{stamp} cpu_in addr 0x71 value 0"));
            assert_eq!(line.realtime_ns, ns, "{stamp}");
        }
    }

    #[test]
    fn qemu_messages_and_blank_lines_are_no_trace_lines() {
        for line in [
            "",
            "   ",
            "\r",
            "qemu-system-x86_64: warning: host doesn't support requested feature",
            "kvm_run_exit cpu_index 0, reason 2",
            "2024-12-01T08:00:00.123456Z qemu-system-x86_64: terminating on signal 15",
            "2024-12-01T08:00:00.123456Z",
            "12345 items",
            "@1733040000.123456:kvm_run_exit",
            "\0\0\0\0",
            "日本語 ログ",
        ] {
            assert_eq!(parse_log_line(line), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn lines_that_start_like_trace_lines_but_break_say_why() {
        type MakeError = fn(String) -> QemuLogError;
        let cases: [(&str, MakeError); 12] = [
            ("99999999999@1733040000.123456:cpu_in addr 1", |line| {
                QemuLogError::BadTid { line }
            }),
            ("12345@1733040000.12", |line| QemuLogError::BadTime { line }),
            ("12345@1733040000.123:cpu_in", |line| {
                QemuLogError::BadTime { line }
            }),
            ("12345@1733040000:cpu_in", |line| QemuLogError::BadTime {
                line,
            }),
            ("12345@x.123456:cpu_in", |line| QemuLogError::BadTime {
                line,
            }),
            ("12345@", |line| QemuLogError::BadTime { line }),
            ("12345@1733040000.123456:", |line| QemuLogError::NoEvent {
                line,
            }),
            ("12345@1733040000.123456:Not an event", |line| {
                QemuLogError::NoEvent { line }
            }),
            ("2024-12-01T08:0", |line| QemuLogError::BadIsoTime { line }),
            ("2024-13-01T08:00:00Z cpu_in", |line| {
                QemuLogError::BadIsoTime { line }
            }),
            ("2023-02-29T08:00:00Z cpu_in", |line| {
                QemuLogError::BadIsoTime { line }
            }),
            ("1969-12-31T23:59:59Z cpu_in", |line| {
                QemuLogError::TimeOutOfRange { line }
            }),
        ];
        for (line, error) in cases {
            assert_eq!(parse_log_line(line), Err(error(line.to_string())), "{line}");
        }
        for line in [
            "2024-12-01T08:00:00.1234567890Z cpu_in",
            "2024-12-01T08:00:00.Z cpu_in",
            "2024-12-01T08:00:00+00:00 cpu_in",
            "2024-12-01T24:00:00Z cpu_in",
            "2024-12-01T08:00:00Z0 cpu_in",
            "2024-12-01T08:00:00:00Z cpu_in",
        ] {
            assert!(
                matches!(parse_log_line(line), Err(QemuLogError::BadIsoTime { .. })),
                "{line}"
            );
        }
    }

    #[test]
    fn huge_numbers_are_errors_not_overflows() {
        for line in [
            "12345@99999999999999999999999.000000:cpu_in addr 1",
            "12345@18446744073.709552:cpu_in addr 1",
            "9999-12-31T23:59:59.999999999Z cpu_in addr 1",
            "2024-12-01T08:00:00Z 1@18446744074.000000:cpu_in",
        ] {
            assert!(
                matches!(
                    parse_log_line(line),
                    Err(QemuLogError::TimeOutOfRange { .. })
                ),
                "{line}"
            );
        }
        // The last nanosecond that fits.
        let last = trace_line("1@18446744073.709551:cpu_in addr 1");
        assert_eq!(last.realtime_ns, 18_446_744_073_709_551_000);
        let tid = trace_line("4294967295@0.000000:cpu_in");
        assert_eq!(tid.tid, Some(u32::MAX));
    }

    #[test]
    fn errors_quote_at_most_80_characters() {
        let line = format!("12345@{}", "é".repeat(200));
        let Err(QemuLogError::BadTime { line: quoted }) = parse_log_line(&line) else {
            panic!("expected BadTime");
        };
        assert_eq!(quoted.chars().count(), EXCERPT_CHARS);
        assert!(line.starts_with(&quoted));
    }

    #[test]
    fn a_log_file_with_every_kind_of_line() {
        let text = "qemu-system-x86_64: -accel kvm: warning: something\r\n\
                    12345@1733040000.123456:kvm_run_exit cpu_index 0, reason 2\r\n\
                    \r\n\
                    2024-12-01T08:00:00.5Z 12346@1733040000.500000:cpu_out addr 0x3f8(b) value 17\n\
                    2024-12-01T08:00:01Z kvm_vcpu_ioctl cpu_index 0, type 0xae80, arg (nil)\n\
                    garbage \u{1} \u{7f} ÿ\n\
                    12345@1733040001.0000";
        let log = parse_log(text);
        assert_eq!(log.lines.len(), 3);
        assert_eq!(log.skipped, 3);
        assert_eq!(
            log.malformed,
            [(
                7,
                QemuLogError::BadTime {
                    line: "12345@1733040001.0000".to_string()
                }
            )]
        );
        assert_eq!(log.lines[0].event.field("reason"), Some("2"));
        assert_eq!(log.lines[1].tid, Some(12346));
        assert_eq!(log.lines[1].event.number("addr"), Some(0x3f8));
        assert_eq!(log.lines[2].tid, None);
        assert_eq!(log.lines[2].realtime_ns, (DEC_1_2024 + 1) * NS_PER_SEC);
        assert_eq!(log.lines[2].event.field("arg"), Some("(nil)"));
    }

    #[test]
    fn a_truncated_last_line_in_the_args_still_parses() {
        let log = parse_log("12345@1733040000.123456:kvm_run_exit cpu_index 0, rea");
        assert_eq!(log.lines.len(), 1);
        assert_eq!(log.lines[0].event.field("cpu_index"), Some("0"));
        assert_eq!(log.lines[0].event.field("arg0"), Some("rea"));
    }

    #[test]
    fn only_the_first_malformed_lines_are_kept() {
        let text = "1@x\n".repeat(MAX_MALFORMED + 5);
        let log = parse_log(&text);
        assert_eq!(log.malformed.len(), MAX_MALFORMED);
        assert_eq!(log.malformed[MAX_MALFORMED - 1].0, MAX_MALFORMED);
        assert_eq!(log.skipped, 5);
        assert!(log.lines.is_empty());
    }

    #[test]
    fn every_slice_of_odd_lines_parses_without_panic() {
        let lines = [
            "2024-12-01T08:00:00.123456789Z 4294967296@18446744073.709552:cpu_in addr 'é",
            "99@1.000000:x 'a' b=c , 日本\r\n",
            "0000-01-01T00:00:00Z 0@0.000000:_",
        ];
        for line in lines {
            for (start, _) in line.char_indices() {
                for (end, _) in line.char_indices() {
                    if let Some(part) = line.get(start..end) {
                        let _ = parse_log_line(part);
                    }
                }
            }
            let _ = parse_log(line);
        }
    }
}
