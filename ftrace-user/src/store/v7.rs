//! Version 7 reading: a compression header, then a chain of OPTIONS sections
//! whose options point at the metadata sections and describe each buffer's
//! (possibly compressed, chunked) per-CPU data.

use std::borrow::Cow;
use std::collections::HashSet;

use super::bytes::{Cursor, Endian};
use super::compress::Codec;
use super::error::StoreError;
use super::header::Initial;
use super::model::{Buffer, CpuData, TraceFile, TraceMeta};
use super::model::{Pages, SharedBytes};
use super::options::{
    self, BUFFER, BUFFER_TEXT, CMDLINES, DONE, EVENT_FORMATS, FTRACE_EVENTS, HEADER_INFO, KALLSYMS,
    PRINTK,
};
use super::reader::cpu_pages;
use super::sections;

/// Section flag: the section body is compressed.
const FLAG_COMPRESSED: u16 = 1;

/// A BUFFER option: where the buffer's section is and its CPUs' data.
struct BufferDesc {
    section_offset: u64,
    name: String,
    clock: String,
    page_size: u32,
    /// `(cpu, offset, size)`
    cpus: Vec<(u32, u64, u64)>,
}

/// Id of the section holding the NUL-separated metadata strings.
const STRINGS: u16 = 15;

/// Context shared by the section readers.
struct Ctx<'a> {
    file: &'a [u8],
    endian: Endian,
    codec: Codec,
    share: Option<&'a SharedBytes>,
}

/// A section's header fields and uncompressed body.
struct Section<'a> {
    flags: u16,
    body: Cow<'a, [u8]>,
    body_offset: u64,
}

impl<'a> Ctx<'a> {
    /// Reads the section header at `offset` (which must have id `want`) and,
    /// if `with_body`, its (uncompressed) body.
    fn section(
        &self,
        offset: u64,
        want: u16,
        name: &'static str,
        with_body: bool,
    ) -> Result<Section<'a>, StoreError> {
        let mut cur = Cursor::at(self.file, offset, self.endian, name)?;
        let id = cur.u16()?;
        if id != want {
            return Err(StoreError::corrupt(
                name,
                offset,
                format!("section id {id}, expected {want}"),
            ));
        }
        let flags = cur.u16()?;
        let _description = cur.u32()?;
        let size = cur.u64()?;
        let body_offset = cur.offset();
        let body = if !with_body {
            Cow::Borrowed(&[][..])
        } else if flags & FLAG_COMPRESSED != 0 {
            Cow::Owned(self.codec.read_block(&mut cur)?)
        } else {
            Cow::Borrowed(cur.bytes(size)?)
        };
        Ok(Section {
            flags,
            body,
            body_offset,
        })
    }

    /// Reads one OPTIONS section; returns the offset of the next one (0: none).
    fn options_section(
        &self,
        offset: u64,
        meta: &mut TraceMeta,
        buffers: &mut Vec<BufferDesc>,
        sections: &mut Vec<(u16, u64)>,
    ) -> Result<u64, StoreError> {
        let sec = self.section(offset, DONE, "options", true)?;
        let mut cur = Cursor::new(&sec.body, sec.body_offset, self.endian, "options");
        while !cur.is_empty() {
            let id = cur.u16()?;
            let size = cur.u32()?;
            let at = cur.offset();
            let data = cur.bytes(u64::from(size))?;
            match id {
                DONE => {
                    let mut d = Cursor::new(data, at, self.endian, "options");
                    return d.u64();
                }
                BUFFER => buffers.push(parse_buffer_option(data, at, self.endian)?),
                BUFFER_TEXT => {
                    return Err(StoreError::Unsupported {
                        what: "latency (text) trace data".into(),
                    });
                }
                HEADER_INFO..=CMDLINES => {
                    let mut d = Cursor::new(data, at, self.endian, "section offset option");
                    sections.push((id, d.u64()?));
                }
                _ => meta.options.push(options::decode(id, data, self.endian)),
            }
        }
        Ok(0)
    }

    /// Walks the sections from the first OPTIONS section to the end of the
    /// file the way trace-cmd looks for STRINGS sections, checking that each
    /// one lies inside the file and that there is a STRINGS section (without
    /// one trace-cmd refuses the file). Returns the strings.
    fn scan_sections(&self, first: u64) -> Result<Vec<u8>, StoreError> {
        let mut cur = Cursor::at(self.file, first, self.endian, "section list")?;
        let mut strings = Vec::new();
        let mut found = false;
        while !cur.is_empty() {
            let at = cur.offset();
            let id = cur.u16()?;
            let flags = cur.u16()?;
            let _description = cur.u32()?;
            let size = cur.u64()?;
            if id == STRINGS {
                found = true;
                cur.set_section("strings");
                let mut body = Cursor::at(self.file, cur.offset(), self.endian, "strings")?;
                if flags & FLAG_COMPRESSED != 0 {
                    strings.extend_from_slice(&self.codec.read_block(&mut body)?);
                } else {
                    strings.extend_from_slice(body.bytes(size)?);
                }
            }
            cur.bytes(size).map_err(|_| StoreError::Truncated {
                section: if id == STRINGS {
                    "strings"
                } else {
                    "section list"
                },
                offset: at,
                needed: size.saturating_add(16),
            })?;
            cur.set_section("section list");
        }
        if !found {
            return Err(StoreError::corrupt(
                "section list",
                first,
                "no STRINGS section after the first OPTIONS section",
            ));
        }
        Ok(strings)
    }

    /// Parses the metadata section `id` at `offset` into `meta`.
    fn meta_section(&self, id: u16, offset: u64, meta: &mut TraceMeta) -> Result<(), StoreError> {
        let name = match id {
            HEADER_INFO => "header info",
            FTRACE_EVENTS => "ftrace event formats",
            EVENT_FORMATS => "event formats",
            KALLSYMS => "kallsyms",
            PRINTK => "printk formats",
            _ => "saved cmdlines",
        };
        let sec = self.section(offset, id, name, true)?;
        let mut cur = Cursor::new(&sec.body, sec.body_offset, self.endian, name);
        match id {
            HEADER_INFO => sections::parse_header_info(&mut cur, meta)?,
            FTRACE_EVENTS => meta.ftrace_formats = sections::parse_ftrace_formats(&mut cur)?,
            EVENT_FORMATS => meta.event_formats = sections::parse_event_formats(&mut cur)?,
            KALLSYMS => meta.kallsyms = sections::parse_kallsyms(&mut cur)?,
            PRINTK => meta.printk_formats = sections::parse_printk(&mut cur)?,
            _ => meta.cmdlines = sections::parse_cmdlines(&mut cur)?,
        }
        Ok(())
    }

    /// Reads a buffer's per-CPU data.
    fn buffer(&self, desc: BufferDesc) -> Result<Buffer, StoreError> {
        let sec = self.section(desc.section_offset, BUFFER, "buffer", false)?;
        let compressed = sec.flags & FLAG_COMPRESSED != 0;
        let mut cpus = Vec::new();
        for (cpu, offset, size) in desc.cpus {
            let (pages, missing_bytes) = if size == 0 {
                (Pages::default(), 0)
            } else if compressed {
                // `size` excludes the chunk count; the chunks carry their sizes.
                let mut cur = Cursor::at(self.file, offset, self.endian, "cpu data")?;
                (Pages::owned(self.codec.read_chunks(&mut cur)?), 0)
            } else {
                cpu_pages(
                    self.file,
                    offset,
                    size,
                    desc.page_size,
                    self.endian,
                    self.share,
                )?
            };
            cpus.push(CpuData {
                cpu,
                pages,
                missing_bytes,
            });
        }
        Ok(Buffer {
            name: desc.name,
            cpus,
            clock: Some(desc.clock),
            page_size: desc.page_size,
        })
    }
}

/// `u64 offset, name\0, clock\0, u32 page size, u32 count, count x (u32 cpu, u64 offset, u64 size)`.
fn parse_buffer_option(data: &[u8], at: u64, endian: Endian) -> Result<BufferDesc, StoreError> {
    let mut cur = Cursor::new(data, at, endian, "BUFFER option");
    let section_offset = cur.u64()?;
    let name = cur.string()?;
    let clock = cur.string()?;
    let page_size = cur.u32()?;
    let count = cur.u32()?;
    let mut cpus = Vec::new();
    for _ in 0..count {
        cpus.push((cur.u32()?, cur.u64()?, cur.u64()?));
    }
    Ok(BufferDesc {
        section_offset,
        name,
        clock,
        page_size,
        cpus,
    })
}

pub(crate) fn parse(
    file: &[u8],
    init: Initial,
    mut cur: Cursor<'_>,
    mut meta: TraceMeta,
    share: Option<&SharedBytes>,
) -> Result<TraceFile, StoreError> {
    cur.set_section("compression header");
    let comp_name = cur.string()?;
    let comp_version = cur.string()?;
    cur.set_section("options offset");
    let mut next = cur.u64()?;
    let ctx = Ctx {
        file,
        endian: init.endian,
        codec: Codec::from_header(&comp_name, &comp_version),
        share,
    };

    let _strings = ctx.scan_sections(next)?;
    let mut descs = Vec::new();
    let mut section_offsets = Vec::new();
    let mut seen = HashSet::new();
    while next != 0 {
        if !seen.insert(next) {
            return Err(StoreError::corrupt(
                "options",
                next,
                "options sections form a loop",
            ));
        }
        next = ctx.options_section(next, &mut meta, &mut descs, &mut section_offsets)?;
    }
    for (id, offset) in section_offsets {
        ctx.meta_section(id, offset, &mut meta)?;
    }
    let mut buffers = Vec::new();
    for desc in descs {
        buffers.push(ctx.buffer(desc)?);
    }
    let cpu_count = meta.cpu_count_option().unwrap_or_else(|| {
        buffers
            .iter()
            .flat_map(|b| b.cpus.iter().map(|c| c.cpu.saturating_add(1)))
            .max()
            .unwrap_or(0)
    });
    Ok(TraceFile {
        version: init.version,
        meta,
        buffers,
        cpu_count,
        compression: Some((comp_name, comp_version)),
    })
}
