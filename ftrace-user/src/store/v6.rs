//! Version 6 reading: metadata in sequence, then the CPU count, options,
//! and the flyrecord table of the top buffer; instance buffers are found
//! through BUFFER options pointing at their own flyrecord tables.

use super::bytes::Cursor;
use super::error::StoreError;
use super::header::Initial;
use super::model::{Buffer, CpuData, TraceFile, TraceMeta, TraceOption, selected_clock};
use super::model::{Pages, SharedBytes};
use super::options::{self, BUFFER, BUFFER_TEXT, DONE};
use super::reader::cpu_pages;
use super::sections;

/// `(offset of the buffer's flyrecord tag, name)` from a v6 BUFFER option.
struct BufferRef {
    offset: u64,
    name: String,
}

/// Reads v6 options up to the DONE id (which has no size in v6).
fn parse_options(
    cur: &mut Cursor<'_>,
    out: &mut Vec<TraceOption>,
    buffers: &mut Vec<BufferRef>,
) -> Result<(), StoreError> {
    cur.set_section("options");
    loop {
        let id = cur.u16()?;
        if id == DONE {
            return Ok(());
        }
        let size = cur.u32()?;
        let at = cur.offset();
        let data = cur.bytes(u64::from(size))?;
        match id {
            BUFFER => {
                let mut b = Cursor::new(data, at, cur.endian(), "BUFFER option");
                let offset = b.u64()?;
                let name = b.string()?;
                buffers.push(BufferRef { offset, name });
            }
            BUFFER_TEXT => {
                return Err(StoreError::Unsupported {
                    what: "latency (text) trace data".into(),
                });
            }
            _ => out.push(options::decode(id, data, cur.endian())),
        }
    }
}

/// Reads the 10-byte tags (`options  `, then `flyrecord`) that precede a
/// flyrecord table; options found on the way are appended.
fn parse_data_tags(
    cur: &mut Cursor<'_>,
    opts: &mut Vec<TraceOption>,
    buffers: &mut Vec<BufferRef>,
) -> Result<(), StoreError> {
    cur.set_section("data type tag");
    let mut tag = cur.bytes(10)?;
    if tag.starts_with(b"options") {
        parse_options(cur, opts, buffers)?;
        cur.set_section("data type tag");
        tag = cur.bytes(10)?;
    }
    if tag.starts_with(b"flyrecord") {
        Ok(())
    } else if tag.starts_with(b"latency") {
        Err(StoreError::Unsupported {
            what: "latency (text) trace data".into(),
        })
    } else {
        Err(StoreError::corrupt(
            "data type tag",
            cur.offset() - 10,
            format!("unknown tag {:?}", String::from_utf8_lossy(tag)),
        ))
    }
}

/// Reads a flyrecord table of `cpus` entries (and the clock trace-cmd puts
/// after it when the file has a TRACECLOCK option) and the CPU data.
fn parse_flyrecord(
    file: &[u8],
    cur: &mut Cursor<'_>,
    cpus: u32,
    has_clock: bool,
    name: String,
    page_size: u32,
    share: Option<&SharedBytes>,
) -> Result<Buffer, StoreError> {
    cur.set_section("flyrecord table");
    let mut table = Vec::new();
    for cpu in 0..cpus {
        table.push((cpu, cur.u64()?, cur.u64()?));
    }
    // trace-cmd falls back to "local" if this is unreadable; we report None.
    let clock = if has_clock {
        cur.sized_u64()
            .ok()
            .and_then(|t| selected_clock(&String::from_utf8_lossy(t)))
    } else {
        None
    };
    let mut out = Vec::new();
    for (cpu, offset, size) in table {
        let (pages, missing_bytes) = if size == 0 {
            (Pages::default(), 0)
        } else {
            cpu_pages(file, offset, size, page_size, cur.endian(), share)?
        };
        out.push(CpuData {
            cpu,
            pages,
            missing_bytes,
        });
    }
    Ok(Buffer {
        name,
        cpus: out,
        clock,
        page_size,
    })
}

pub(crate) fn parse(
    file: &[u8],
    init: Initial,
    mut cur: Cursor<'_>,
    mut meta: TraceMeta,
    share: Option<&SharedBytes>,
) -> Result<TraceFile, StoreError> {
    sections::parse_all_meta(&mut cur, &mut meta)?;
    cur.set_section("cpu count");
    let header_cpus = cur.u32()?;
    let mut refs = Vec::new();
    parse_data_tags(&mut cur, &mut meta.options, &mut refs)?;
    // Like trace-cmd, a CPUCOUNT option overrides the header count.
    let cpus = meta.cpu_count_option().unwrap_or(header_cpus);
    let has_clock = meta
        .options
        .iter()
        .any(|o| matches!(o, TraceOption::TraceClock(_)));

    let mut buffers = vec![parse_flyrecord(
        file,
        &mut cur,
        cpus,
        has_clock,
        String::new(),
        init.page_size,
        share,
    )?];
    for r in refs {
        let mut c = Cursor::at(file, r.offset, init.endian, "buffer instance")?;
        let mut ignored_opts = Vec::new();
        let mut nested = Vec::new();
        parse_data_tags(&mut c, &mut ignored_opts, &mut nested)?;
        buffers.push(parse_flyrecord(
            file,
            &mut c,
            cpus,
            has_clock,
            r.name,
            init.page_size,
            share,
        )?);
    }
    Ok(TraceFile {
        version: init.version,
        meta,
        buffers,
        cpu_count: cpus,
        compression: None,
    })
}
