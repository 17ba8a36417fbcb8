//! Loading the fixtures under `store/fixtures/`.
//!
//! `capture/` was taken from a private tracefs instance (clock mono, events
//! sched_switch, sched_wakeup, raw_syscalls, irq, two trace_marker writes):
//! `cpuN.raw` are the raw pages read from `per_cpu/cpuN/trace_pipe_raw`,
//! `meta/` the matching format files (sched, irq, raw_syscalls, ftrace),
//! a reduced kallsyms, printk_formats and saved_cmdlines, and
//! `event_counts.txt` the per-event counts of the instance's `trace` file.
//!
//! `extract-v7-zstd.tracedat` (not `.dat`: the repository ignores `*.dat`)
//! is written by `trace-cmd extract -B hystore-test` (3.1.6; kallsyms and the events directory bind-mounted over with smaller
//! copies in a private mount namespace to keep it small); the `.zst` files
//! are `trace-cmd convert` outputs of it (`--file-version 6` and
//! `--compression none`), zstd-compressed for size.

use std::path::PathBuf;

use crate::store::{TraceMeta, TraceOption};

pub(crate) fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/store/fixtures")
}

pub(crate) fn read(rel: &str) -> Vec<u8> {
    let p = dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading fixture {}: {e}", p.display()))
}

/// A fixture file stored zstd-compressed.
pub(crate) fn read_zst(rel: &str) -> Vec<u8> {
    zstd::decode_all(&read(rel)[..]).expect("decompressing fixture")
}

/// Format files in `dir`, sorted by name.
fn formats_in(rel: &str) -> Vec<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir(dir().join(rel))
        .expect("fixture dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("utf8")
        })
        .collect();
    names.sort();
    names.iter().map(|n| read(&format!("{rel}/{n}"))).collect()
}

/// Meta matching the captured pages.
pub(crate) fn capture_meta() -> TraceMeta {
    let clock = String::from_utf8(read("capture/trace_clock")).expect("utf8");
    TraceMeta {
        big_endian: false,
        long_size: 8,
        page_size: 4096,
        header_page: read("capture/meta/header_page"),
        header_event: read("capture/meta/header_event"),
        ftrace_formats: formats_in("capture/meta/ftrace"),
        event_formats: ["irq", "raw_syscalls", "sched"]
            .iter()
            .map(|s| {
                (
                    s.to_string(),
                    formats_in(&format!("capture/meta/events/{s}")),
                )
            })
            .collect(),
        kallsyms: read("capture/meta/kallsyms"),
        printk_formats: read("capture/meta/printk_formats"),
        cmdlines: read("capture/meta/saved_cmdlines"),
        options: vec![
            TraceOption::TraceClock(clock.trim_end().to_string()),
            TraceOption::Uname("Linux test 6.0 x86_64".into()),
            TraceOption::Version("hytrace store test".into()),
            TraceOption::CpuCount(2),
        ],
    }
}

/// The captured raw pages of `cpu`.
pub(crate) fn capture_pages(cpu: u32) -> Vec<u8> {
    read(&format!("capture/cpu{cpu}.raw"))
}

/// `(event name as trace-cmd prints it, count)` of the capture.
pub(crate) fn capture_counts() -> Vec<(String, usize)> {
    String::from_utf8(read("capture/event_counts.txt"))
        .expect("utf8")
        .lines()
        .filter_map(|l| {
            let (name, n) = l.split_once(' ')?;
            // The `trace` file names the ftrace print event after its ip.
            let name = if name == "tracing_mark_write" {
                "print"
            } else {
                name
            };
            Some((name.to_string(), n.parse().ok()?))
        })
        .collect()
}
