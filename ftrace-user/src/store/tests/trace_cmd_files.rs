//! Reading files written by trace-cmd 3.1.6 (v7 zstd, v7 none, v6).

use super::fixtures::{read, read_zst};
use super::roundtrip::write_to_vec;
use super::trace_cmd::{TempFile, have_trace_cmd, run};
use crate::store::{TraceFile, TraceOption, read_trace_file};

fn v7_zstd() -> TraceFile {
    read_trace_file(&read("extract-v7-zstd.tracedat")).expect("reading the v7 fixture")
}

#[test]
fn v7_zstd_fixture_is_what_extract_writes() {
    let bytes = read("extract-v7-zstd.tracedat");
    assert_eq!(&bytes[..14], b"\x17\x08\x44tracing7\0\0\x08");
    assert_eq!(&bytes[18..29], b"zstd\x001.5.4\0");
}

#[test]
fn reads_trace_cmd_v7_zstd() {
    let f = v7_zstd();
    assert_eq!(f.version, 7);
    assert_eq!(
        f.compression,
        Some(("zstd".to_string(), "1.5.4".to_string()))
    );
    assert_eq!(f.cpu_count, 2);
    assert_eq!(f.buffer_names(), vec!["", "hystore-test"]);
    let top = &f.buffers[0];
    assert!(top.cpus.is_empty());
    let inst = f.buffer("hystore-test").expect("instance buffer");
    assert_eq!(inst.clock.as_deref(), Some("local"));
    assert_eq!(inst.page_size, 4096);
    assert_eq!(inst.cpus.iter().map(|c| c.cpu).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(inst.page_count(0), 1);
    assert_eq!(inst.page_count(1), 1);
    for c in &inst.cpus {
        assert_eq!(c.pages.len(), 4096);
    }

    let m = &f.meta;
    assert!(!m.big_endian);
    assert_eq!((m.long_size, m.page_size), (8, 4096));
    assert!(m.header_page.starts_with(b"\tfield: u64 timestamp;"));
    assert!(m.header_event.starts_with(b"# compressed entry header"));
    assert_eq!(m.ftrace_formats.len(), 18);
    assert!(
        m.ftrace_formats
            .iter()
            .any(|f| f.starts_with(b"name: print\n"))
    );
    let systems: Vec<&str> = m.event_formats.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(systems.len(), 2);
    assert!(systems.contains(&"sched") && systems.contains(&"irq"));
    let sched = &m
        .event_formats
        .iter()
        .find(|(s, _)| s == "sched")
        .expect("sched")
        .1;
    assert!(sched.iter().any(|f| f.starts_with(b"name: sched_switch\n")));
    assert!(!m.kallsyms.is_empty());
    assert!(String::from_utf8_lossy(&m.kallsyms).contains("tracing_mark_write"));
    assert!(!m.printk_formats.is_empty());
    assert!(!m.cmdlines.is_empty());
    assert!(
        m.cmdline_map()
            .values()
            .any(|c| c == "sleep" || c == "mkinst.sh")
    );
    assert_eq!(m.trace_clock().as_deref(), Some("local"));
    assert!(m.uname().is_some_and(|u| u.starts_with("Linux ")));
    assert_eq!(m.version_option(), Some("3.1.6 not-a-git-repo"));
    assert_eq!(m.cpu_count_option(), Some(2));
    let cpustats: Vec<Option<u32>> = m
        .options
        .iter()
        .filter_map(|o| match o {
            TraceOption::CpuStat { cpu, .. } => Some(*cpu),
            _ => None,
        })
        .collect();
    assert_eq!(cpustats, [Some(0), Some(1), None, Some(0), Some(1)]);
    assert!(
        m.options
            .iter()
            .any(|o| matches!(o, TraceOption::TraceId(_)))
    );
}

#[test]
fn v6_and_uncompressed_v7_match_the_zstd_file() {
    let z = v7_zstd();
    let none = read_trace_file(&read_zst("convert-v7-none.dat.zst")).expect("v7 none");
    let v6 = read_trace_file(&read_zst("convert-v6.dat.zst")).expect("v6");
    assert_eq!(none.version, 7);
    assert_eq!(none.compression, Some(("none".into(), "".into())));
    assert_eq!(v6.version, 6);
    for f in [&none, &v6] {
        assert_eq!(f.cpu_count, 2);
        assert_eq!(f.meta.header_page, z.meta.header_page);
        assert_eq!(f.meta.header_event, z.meta.header_event);
        assert_eq!(f.meta.ftrace_formats, z.meta.ftrace_formats);
        assert_eq!(f.meta.event_formats, z.meta.event_formats);
        assert_eq!(f.meta.kallsyms, z.meta.kallsyms);
        assert_eq!(f.meta.printk_formats, z.meta.printk_formats);
        assert_eq!(f.meta.cmdlines, z.meta.cmdlines);
        assert_eq!(f.meta.trace_clock(), z.meta.trace_clock());
        let a = f.buffer("hystore-test").expect("instance");
        let b = z.buffer("hystore-test").expect("instance");
        assert_eq!(a.cpus, b.cpus);
        assert_eq!(a.clock.as_deref(), Some("local"));
    }
    // `convert` drops the empty top buffer from v7 output but v6 always has one.
    assert_eq!(none.buffer_names(), vec!["hystore-test"]);
    assert_eq!(v6.buffer_names(), vec!["", "hystore-test"]);
    // v6 lists every CPU slot of the (empty) top buffer.
    let top = &v6.buffers[0];
    assert_eq!(top.cpus.len(), 2);
    assert!(top.cpus.iter().all(|c| c.pages.is_empty()));
    assert_eq!(top.clock.as_deref(), Some("local"));
}

/// Rewriting the instance of trace-cmd's file with our writer makes
/// `trace-cmd report` print the very same event lines.
#[test]
fn rewritten_trace_cmd_file_reports_identically() {
    if !have_trace_cmd("rewritten_trace_cmd_file_reports_identically") {
        return;
    }
    let z = v7_zstd();
    let inst = z.buffer("hystore-test").expect("instance");
    let cpus: Vec<(u32, Vec<u8>)> = inst
        .cpus
        .iter()
        .map(|c| (c.cpu, c.pages.to_vec()))
        .collect();
    let ours = TempFile::with("rewrite", &write_to_vec(&z.meta, &cpus));
    let orig = TempFile::with("orig", &read("extract-v7-zstd.tracedat"));
    let (ok, a, err) = run(&["report"], &orig.0);
    assert!(ok, "{err}");
    let (ok, b, err) = run(&["report"], &ours.0);
    assert!(ok, "{err}");
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| {
                l.strip_prefix("hystore-test:")
                    .unwrap_or(l)
                    .trim()
                    .to_string()
            })
            .filter(|l| !l.is_empty())
            .collect()
    };
    let (a, b) = (strip(&a), strip(&b));
    assert!(a.len() > 20, "too few events: {a:?}");
    assert_eq!(a, b);
}

/// Reading with shared pages (no copy of the CPU data) gives the same file as reading
/// from a slice, for v6, uncompressed v7 and zstd v7.
#[test]
fn shared_reading_equals_copying() {
    for bytes in [
        read_zst("convert-v6.dat.zst"),
        read_zst("convert-v7-none.dat.zst"),
        read("extract-v7-zstd.tracedat"),
    ] {
        let copied = read_trace_file(&bytes).unwrap();
        let shared = crate::store::read_trace_file_shared(std::sync::Arc::new(bytes)).unwrap();
        assert_eq!(shared, copied);
        assert!(
            shared
                .buffers
                .iter()
                .any(|b| b.cpus.iter().any(|c| !c.pages.is_empty()))
        );
    }
}
