//! Writing our v6 files and reading them back.

use std::io::{Cursor, Read};

use super::fixtures::{capture_meta, capture_pages};
use crate::store::{
    StoreError, TraceMeta, TraceOption, hytrace_kind, read_trace_file, write_trace_file,
};

/// Writes `meta` and `(cpu, pages)` into memory.
pub(crate) fn write_to_vec(meta: &TraceMeta, cpus: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut readers: Vec<(u32, Box<dyn Read>, u64)> = cpus
        .iter()
        .map(|(cpu, p)| {
            (
                *cpu,
                Box::new(Cursor::new(p.clone())) as Box<dyn Read>,
                p.len() as u64,
            )
        })
        .collect();
    let mut out = Cursor::new(Vec::new());
    write_trace_file(&mut out, meta, &mut readers).expect("write");
    out.into_inner()
}

pub(crate) fn capture_file() -> Vec<u8> {
    write_to_vec(
        &capture_meta(),
        &[(0, capture_pages(0)), (1, capture_pages(1))],
    )
}

#[test]
fn own_file_reads_back_identically() {
    let meta = capture_meta();
    let bytes = capture_file();
    let file = read_trace_file(&bytes).expect("read back");
    assert_eq!(file.version, 6);
    assert_eq!(file.meta, meta);
    assert_eq!(file.cpu_count, 2);
    assert_eq!(file.compression, None);
    assert_eq!(file.buffer_names(), vec![""]);
    let top = &file.buffers[0];
    assert_eq!(top.clock.as_deref(), Some("mono"));
    assert_eq!(top.page_size, 4096);
    assert_eq!(top.cpus.len(), 2);
    for cpu in 0..2 {
        assert_eq!(top.cpus[cpu as usize].cpu, cpu);
        assert_eq!(top.cpus[cpu as usize].pages, capture_pages(cpu));
    }
    assert_eq!(top.page_count(0), 5);
    assert_eq!(top.page_count(1), 7);
    // CPU data is page aligned.
    let first = bytes.len() - capture_pages(0).len() - capture_pages(1).len();
    assert_eq!(first % 4096, 0);
    assert_eq!(&bytes[first..first + 4096], &capture_pages(0)[..4096]);
}

#[test]
fn private_options_and_sparse_cpus_round_trip() {
    let mut meta = capture_meta();
    meta.options
        .retain(|o| !matches!(o, TraceOption::CpuCount(_)));
    meta.options
        .push(TraceOption::SavedTgids("1 1\n42 40\n".into()));
    meta.options.push(TraceOption::Hytrace {
        kind: hytrace_kind::BPF_HISTOGRAMS,
        data: vec![0, 1, 2, 3, 0xff],
    });
    meta.options.push(TraceOption::Raw {
        id: 200,
        data: b"x".to_vec(),
    });
    let pages = capture_pages(1);
    let file = read_trace_file(&write_to_vec(&meta, &[(1, pages.clone())])).expect("read");
    assert_eq!(file.meta, meta);
    assert_eq!(file.meta.tgid_map().get(&42), Some(&40));
    assert_eq!(file.cpu_count, 2);
    let top = &file.buffers[0];
    assert_eq!(top.cpus.len(), 2);
    assert!(top.cpus[0].pages.is_empty());
    assert_eq!(top.cpus[1].pages, pages);
}

#[test]
fn big_endian_and_no_clock_round_trip() {
    let meta = TraceMeta {
        big_endian: true,
        long_size: 4,
        page_size: 1024,
        header_page: b"hp".to_vec(),
        header_event: b"he".to_vec(),
        ftrace_formats: vec![b"f1".to_vec()],
        event_formats: vec![("sys".into(), vec![b"e1".to_vec(), b"e2".to_vec()])],
        kallsyms: vec![],
        printk_formats: b"p".to_vec(),
        cmdlines: b"1 init\n".to_vec(),
        options: vec![TraceOption::TraceId(7), TraceOption::CpuCount(3)],
    };
    let pages: Vec<u8> = (0..2048u32).map(|i| i as u8).collect();
    let bytes = write_to_vec(&meta, &[(2, pages.clone()), (0, vec![])]);
    let file = read_trace_file(&bytes).expect("read");
    assert_eq!(file.meta, meta);
    assert_eq!(file.cpu_count, 3);
    let top = &file.buffers[0];
    assert_eq!(top.clock, None);
    assert_eq!(
        top.cpus.iter().map(|c| c.pages.len()).collect::<Vec<_>>(),
        [0, 0, 2048]
    );
    assert_eq!(top.cpus[2].pages, pages);
}

fn write_err(meta: &TraceMeta, cpus: Vec<(u32, Box<dyn Read>, u64)>) -> StoreError {
    let mut cpus = cpus;
    write_trace_file(Cursor::new(Vec::new()), meta, &mut cpus).expect_err("must fail")
}

#[test]
fn writer_rejects_bad_input() {
    let meta = capture_meta();
    let page = || Box::new(Cursor::new(vec![0u8; 4096])) as Box<dyn Read>;
    assert!(matches!(
        write_err(&meta, vec![(0, page(), 100)]),
        StoreError::InvalidInput { .. }
    ));
    assert!(matches!(
        write_err(&meta, vec![(0, page(), 4096), (0, page(), 4096)]),
        StoreError::InvalidInput { .. }
    ));
    assert!(matches!(
        write_err(&meta, vec![(0, page(), 8192)]),
        StoreError::ShortCpuData {
            cpu: 0,
            expected: 8192,
            got: 4096
        }
    ));
    // CPUCOUNT 2 in the meta but CPU 5 given.
    assert!(matches!(
        write_err(&meta, vec![(5, page(), 4096)]),
        StoreError::InvalidInput { .. }
    ));
    let mut bad = meta.clone();
    bad.options.push(TraceOption::Raw {
        id: 3,
        data: vec![],
    });
    assert!(matches!(
        write_err(&bad, vec![(0, page(), 4096)]),
        StoreError::InvalidInput { .. }
    ));
}

#[test]
fn writer_honours_start_position() {
    let meta = capture_meta();
    let pages = capture_pages(0);
    let mut out = Cursor::new(vec![0xaa; 100]);
    out.set_position(100);
    let mut cpus: Vec<(u32, Box<dyn Read>, u64)> =
        vec![(0, Box::new(Cursor::new(pages.clone())), pages.len() as u64)];
    write_trace_file(&mut out, &meta, &mut cpus).expect("write");
    let bytes = out.into_inner();
    // Offsets are absolute file offsets, so the data sits page aligned in the file.
    let data_at = bytes.len() - pages.len();
    assert_eq!(data_at % 4096, 0);
    assert_eq!(&bytes[data_at..], &pages[..]);
}
