//! `trace-cmd report` / `trace-cmd dump` on files we wrote. Skipped (with a
//! printed reason) when /usr/bin/trace-cmd is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::fixtures::{capture_counts, capture_meta, capture_pages};
use super::roundtrip::{capture_file, write_to_vec};
use crate::store::{TraceOption, hytrace_kind};

pub(crate) const TRACE_CMD: &str = "/usr/bin/trace-cmd";

pub(crate) fn have_trace_cmd(test: &str) -> bool {
    let ok = Path::new(TRACE_CMD).exists();
    if !ok {
        eprintln!("skipping {test}: {TRACE_CMD} is not installed");
    }
    ok
}

/// A file in a private temporary directory, removed on drop (with the directory it
/// holds).
pub(crate) struct TempFile(
    pub(crate) PathBuf,
    #[expect(dead_code, reason = "held only to be removed when dropped")]
    crate::private_files::PrivateDir,
);

impl TempFile {
    pub(crate) fn with(tag: &str, bytes: &[u8]) -> Self {
        let dir = crate::private_files::PrivateDir::temporary(&format!("store-{tag}"))
            .expect("create a temporary directory");
        std::io::Write::write_all(&mut dir.create("file.dat").expect("create"), bytes)
            .expect("write temp file");
        TempFile(dir.path_of("file.dat"), dir)
    }
}

/// Runs trace-cmd with `args` and `-i file`; returns (success, stdout, stderr).
pub(crate) fn run(args: &[&str], file: &Path) -> (bool, String, String) {
    let out = Command::new(TRACE_CMD)
        .args(args)
        .arg("-i")
        .arg(file)
        .output()
        .expect("running trace-cmd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The event name of a `trace-cmd report` line (the word after the
/// `timestamp:` field), or None for other lines.
pub(crate) fn event_name(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    words.find(|w| {
        w.strip_suffix(':')
            .is_some_and(|t| t.contains('.') && t.chars().all(|c| c.is_ascii_digit() || c == '.'))
    })?;
    words.next()?.strip_suffix(':')
}

fn counts(report: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for name in report.lines().filter_map(event_name) {
        *m.entry(name.to_string()).or_insert(0) += 1;
    }
    m
}

fn expected_counts() -> BTreeMap<String, usize> {
    capture_counts().into_iter().collect()
}

#[test]
fn trace_cmd_reports_our_file() {
    if !have_trace_cmd("trace_cmd_reports_our_file") {
        return;
    }
    let f = TempFile::with("report", &capture_file());
    let (ok, out, err) = run(&["report"], &f.0);
    assert!(ok, "trace-cmd report failed: {err}");
    assert!(out.starts_with("cpus=2\n"), "unexpected header: {out:.200}");
    assert_eq!(counts(&out), expected_counts(), "stderr: {err}");
    assert!(
        out.contains("tracing_mark_write: hello from hystore"),
        "{out:.2000}"
    );
    assert!(out.contains("sched_switch:"));

    let (ok, dump, err) = run(&["dump", "--summary"], &f.0);
    assert!(ok, "trace-cmd dump failed: {err}");
    assert!(dump.contains("6\t[Version]"), "{dump}");
    assert!(dump.contains("4096\t[Page size, bytes]"), "{dump}");
    assert!(dump.contains("[Events format, 3 systems]"), "{dump}");
    let (ok, clock, _) = run(&["dump", "--clock"], &f.0);
    assert!(ok && clock.contains("[mono]"), "{clock}");
    let (ok, fly, _) = run(&["dump", "--flyrecord"], &f.0);
    assert!(ok, "{fly}");
    let (ok, valid, err) = run(&["dump", "-v"], &f.0);
    assert!(ok, "dump -v: {valid} {err}");
}

#[test]
fn trace_cmd_skips_hytrace_options() {
    if !have_trace_cmd("trace_cmd_skips_hytrace_options") {
        return;
    }
    let mut meta = capture_meta();
    meta.options.insert(
        0,
        TraceOption::Hytrace {
            kind: hytrace_kind::BPF_STACKS,
            data: vec![0xde, 0xad, 0xbe, 0xef, 0, 1, 2],
        },
    );
    meta.options.push(TraceOption::SavedTgids("1 1\n".into()));
    let bytes = write_to_vec(&meta, &[(0, capture_pages(0)), (1, capture_pages(1))]);
    let f = TempFile::with("hyopt", &bytes);
    let (ok, out, err) = run(&["report"], &f.0);
    assert!(ok, "trace-cmd report failed: {err}");
    assert_eq!(counts(&out), expected_counts(), "stderr: {err}");
    // trace-cmd only warns about the ids it does not know.
    eprintln!("trace-cmd report stderr: {err}");
    let (ok, opts, err) = run(&["dump", "--options"], &f.0);
    assert!(ok, "{err}");
    eprintln!("trace-cmd dump --options:\n{opts}");
    assert_eq!(
        crate::store::read_trace_file(&bytes).expect("read").meta,
        meta
    );
}

#[test]
fn event_name_parses_report_lines() {
    assert_eq!(
        event_name("  bash-1  [001]  8861.357864: sched_switch:  a ==> b"),
        Some("sched_switch")
    );
    assert_eq!(
        event_name("hystore-test:  <idle>-0  [000]  1.5: print:  x"),
        Some("print")
    );
    assert_eq!(event_name("cpus=2"), None);
}
