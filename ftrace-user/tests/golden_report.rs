//! Golden-file tests of `report`'s output formats on a real recording (made here with
//! `hytrace record -e sched -e irq -e raw_syscalls -e syscalls:sys_enter_openat
//! -e syscalls:sys_exit_openat -e block` around a small shell workload writing one
//! marker line, with kallsyms cut down to the symbols the events name).
//!
//! The text golden is `trace-cmd report`'s own output for the same file (Debian
//! trace-cmd 3.1.6), so these tests check that hytrace prints every line exactly as
//! trace-cmd does; they need no root and no kernel.

use std::path::Path;

use ftrace_user::{
    output::{cpu_spans, event_report, event_text::TextColumns},
    report::{RecordFilter, ReportStyle},
    trace::Recording,
};

const DAT: &str = "tests/fixtures/sched_irq_syscalls_block.tracedat";

fn run(style: ReportStyle, event: Option<&str>) -> String {
    let recording = Recording::open(Path::new(DAT)).expect("open fixture");
    let filter = RecordFilter::build(&recording, None, &[], None, event).expect("filter");
    let mut out = Vec::new();
    let stats = event_report::print(&recording, &filter, None, style, &mut out).expect("report");
    assert!(
        stats
            .streams
            .iter()
            .all(|(_, _, s)| s.corrupt_pages == 0 && s.missed_events == 0)
    );
    String::from_utf8(out).expect("UTF-8")
}

/// 1778 events of 31 kinds print byte for byte as trace-cmd prints them, after its
/// first line, `cpus=2`.
#[test]
fn text_matches_trace_cmd_byte_for_byte() {
    let expected =
        std::fs::read_to_string("tests/fixtures/sched_irq_syscalls_block.trace-cmd.txt").unwrap();
    let ours = run(ReportStyle::Text, None);
    assert_eq!(ours.lines().next(), Some("cpus=2"));
    assert_eq!(ours.lines().count(), 1 + 1778);
    for (i, (a, b)) in expected.lines().zip(ours.lines()).enumerate() {
        assert_eq!(b, a, "line {}", i + 1);
    }
    assert_eq!(ours, expected);
}

/// The same with trace-cmd report's -t (nanoseconds), --ts-diff (time since the
/// previous line), both, and -l (the latency columns: irqs-off, need-resched,
/// hardirq/softirq, preempt depth): each file is trace-cmd 3.1.6's output for those
/// options.
#[test]
fn time_options_match_trace_cmd_byte_for_byte() {
    for (nanos, diff, latency, golden) in [
        (true, false, false, "trace-cmd-t"),
        (false, true, false, "trace-cmd-ts-diff"),
        (true, true, false, "trace-cmd-t-ts-diff"),
        (false, false, true, "trace-cmd-l"),
    ] {
        let expected = std::fs::read_to_string(format!(
            "tests/fixtures/sched_irq_syscalls_block.{golden}.txt"
        ))
        .unwrap();
        let recording = Recording::open(Path::new(DAT)).expect("open fixture");
        let mut out = Vec::new();
        event_report::print_with_time(
            &recording,
            &RecordFilter::default(),
            None,
            ReportStyle::Text,
            TextColumns {
                nanos,
                diff,
                // The fixture names its trace clock: microseconds unless -t.
                diff_nanos: nanos,
                latency,
            },
            &mut out,
        )
        .expect("report");
        let ours = String::from_utf8(out).unwrap();
        for (i, (a, b)) in expected.lines().zip(ours.lines()).enumerate() {
            assert_eq!(b, a, "{golden}: line {}", i + 1);
        }
        assert_eq!(ours, expected, "{golden}");
    }
}

/// `--first-event`, `--last-event` and both with -t, as trace-cmd 3.1.6 prints them
/// for this file.
#[test]
fn first_and_last_events_match_trace_cmd() {
    let recording = Recording::open(Path::new(DAT)).expect("open fixture");
    let spans = ftrace_user::report::cpu_spans::top_buffer_spans(&recording);
    let list = |first, last, nanos| cpu_spans::text(DAT, &spans, first, last, nanos);
    let head = format!("List of CPUs in {DAT} with data:\n");
    assert_eq!(
        list(true, false, false),
        format!("{head}  0\tFirst event:10488.197713\n  1\tFirst event:10488.197720\n")
    );
    assert_eq!(
        list(false, true, false),
        format!("{head}  0\tLast event:10488.223766\n  1\tLast event:10488.223624\n")
    );
    assert_eq!(
        list(true, true, true),
        format!(
            "{head}  0\tFirst event:10488.197712637\tLast event:10488.223766157\n  \
             1\tFirst event:10488.197720218\tLast event:10488.223624074\n"
        )
    );
}

#[test]
fn json_matches_golden() {
    let expected = std::fs::read_to_string("tests/fixtures/sched_irq_syscalls_block.json").unwrap();
    let ours = run(
        ReportStyle::Json,
        Some("sched_switch|print|sys_enter_openat|irq_handler_entry|block_rq_issue"),
    );
    assert_eq!(ours, expected);
}

#[test]
fn count_adds_up_to_every_event() {
    let counts = run(ReportStyle::Count, None);
    let total: u64 = counts
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 1778);
}

/// A recording without function_graph events cannot be shown as a call graph: the
/// graph reader says so instead of printing comments only.
#[test]
fn graph_of_a_recording_without_graph_events_is_an_error() {
    let recording = Recording::open(Path::new(DAT)).expect("open fixture");
    let error = ftrace_user::graph::events::graph_events(&recording, |_, _| String::new())
        .expect_err("no graph events");
    assert_eq!(
        error,
        ftrace_user::graph::events::GraphEventsError::NoGraphEvents
    );
}
