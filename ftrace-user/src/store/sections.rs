//! The metadata blocks shared by v6 (in sequence) and v7 (one per section):
//! header info, ftrace formats, event formats, kallsyms, printk formats and
//! saved cmdlines.

use super::bytes::{Cursor, Enc};
use super::error::StoreError;
use super::model::{EventFormats, TraceMeta};

/// `"header_page\0" u64 size, text, "header_event\0" u64 size, text`.
pub(crate) fn parse_header_info(
    cur: &mut Cursor<'_>,
    meta: &mut TraceMeta,
) -> Result<(), StoreError> {
    cur.set_section("header info");
    cur.expect(b"header_page\0")?;
    meta.header_page = cur.sized_u64()?.to_vec();
    cur.expect(b"header_event\0")?;
    meta.header_event = cur.sized_u64()?.to_vec();
    Ok(())
}

pub(crate) fn write_header_info(enc: &mut Enc, meta: &TraceMeta) {
    enc.bytes(b"header_page\0");
    enc.sized_u64(&meta.header_page);
    enc.bytes(b"header_event\0");
    enc.sized_u64(&meta.header_event);
}

/// `u32 count, count x (u64 size, format text)`.
pub(crate) fn parse_ftrace_formats(cur: &mut Cursor<'_>) -> Result<Vec<Vec<u8>>, StoreError> {
    cur.set_section("ftrace event formats");
    let count = cur.u32()?;
    // No with_capacity: `count` comes from the file.
    let mut formats = Vec::new();
    for _ in 0..count {
        formats.push(cur.sized_u64()?.to_vec());
    }
    Ok(formats)
}

fn count_u32(what: &str, n: usize) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::invalid(format!("too many {what}")))
}

pub(crate) fn write_ftrace_formats(enc: &mut Enc, formats: &[Vec<u8>]) -> Result<(), StoreError> {
    enc.u32(count_u32("ftrace formats", formats.len())?);
    for f in formats {
        enc.sized_u64(f);
    }
    Ok(())
}

/// `u32 systems, per system: name\0, u32 count, count x (u64 size, text)`.
pub(crate) fn parse_event_formats(cur: &mut Cursor<'_>) -> Result<EventFormats, StoreError> {
    cur.set_section("event formats");
    let systems = cur.u32()?;
    let mut out = Vec::new();
    for _ in 0..systems {
        let name = cur.string()?;
        let count = cur.u32()?;
        let mut formats = Vec::new();
        for _ in 0..count {
            formats.push(cur.sized_u64()?.to_vec());
        }
        out.push((name, formats));
    }
    Ok(out)
}

pub(crate) fn write_event_formats(
    enc: &mut Enc,
    systems: &[(String, Vec<Vec<u8>>)],
) -> Result<(), StoreError> {
    enc.u32(count_u32("event systems", systems.len())?);
    for (name, formats) in systems {
        if name.as_bytes().contains(&0) {
            return Err(StoreError::invalid(format!(
                "event system name {name:?} contains NUL"
            )));
        }
        enc.cstr(name.as_bytes());
        enc.u32(count_u32("event formats", formats.len())?);
        for f in formats {
            enc.sized_u64(f);
        }
    }
    Ok(())
}

/// `u32 size, kallsyms text`.
pub(crate) fn parse_kallsyms(cur: &mut Cursor<'_>) -> Result<Vec<u8>, StoreError> {
    cur.set_section("kallsyms");
    Ok(cur.sized_u32()?.to_vec())
}

/// `u32 size, printk_formats text`.
pub(crate) fn parse_printk(cur: &mut Cursor<'_>) -> Result<Vec<u8>, StoreError> {
    cur.set_section("printk formats");
    Ok(cur.sized_u32()?.to_vec())
}

/// `u64 size, saved_cmdlines text`.
pub(crate) fn parse_cmdlines(cur: &mut Cursor<'_>) -> Result<Vec<u8>, StoreError> {
    cur.set_section("saved cmdlines");
    Ok(cur.sized_u64()?.to_vec())
}

/// Writes all metadata blocks in v6 order (header info through cmdlines).
pub(crate) fn write_all_meta(enc: &mut Enc, meta: &TraceMeta) -> Result<(), StoreError> {
    write_header_info(enc, meta);
    write_ftrace_formats(enc, &meta.ftrace_formats)?;
    write_event_formats(enc, &meta.event_formats)?;
    enc.sized_u32("kallsyms", &meta.kallsyms)?;
    enc.sized_u32("printk formats", &meta.printk_formats)?;
    enc.sized_u64(&meta.cmdlines);
    Ok(())
}

/// Reads all metadata blocks in v6 order.
pub(crate) fn parse_all_meta(cur: &mut Cursor<'_>, meta: &mut TraceMeta) -> Result<(), StoreError> {
    parse_header_info(cur, meta)?;
    meta.ftrace_formats = parse_ftrace_formats(cur)?;
    meta.event_formats = parse_event_formats(cur)?;
    meta.kallsyms = parse_kallsyms(cur)?;
    meta.printk_formats = parse_printk(cur)?;
    meta.cmdlines = parse_cmdlines(cur)?;
    Ok(())
}
