//! Entry point of trace.dat reading, dispatching on the file version.

use super::bytes::{Cursor, Endian};
use super::error::StoreError;
use super::header::parse_initial;
use super::model::{Pages, SharedBytes, TraceFile, TraceMeta};
use super::{v6, v7};

/// Parses a whole trace.dat file (version 6, or version 7 uncompressed or
/// zstd-compressed) held in memory.
///
/// Pure over `bytes`; a truncated or corrupt file gives an error, never a
/// panic. Latency-tracer files (text trace data) are refused as
/// [`StoreError::Unsupported`].
pub fn read_trace_file(bytes: &[u8]) -> Result<TraceFile, StoreError> {
    parse(bytes, None)
}

/// Like [`read_trace_file`], but uncompressed CPU data is not copied: the pages point
/// into `file`, which they keep alive.
pub fn read_trace_file_shared(file: SharedBytes) -> Result<TraceFile, StoreError> {
    let bytes: &[u8] = (*file).as_ref();
    parse(bytes, Some(&file))
}

fn parse(bytes: &[u8], share: Option<&SharedBytes>) -> Result<TraceFile, StoreError> {
    let (init, cur) = parse_initial(bytes)?;
    let meta = TraceMeta {
        big_endian: init.endian == Endian::Big,
        long_size: init.long_size,
        page_size: init.page_size,
        ..TraceMeta::default()
    };
    match init.version {
        6 => v6::parse(bytes, init, cur, meta, share),
        _ => v7::parse(bytes, init, cur, meta, share),
    }
}

/// Whether `bytes` start like a trace.dat file (magic only).
pub fn looks_like_trace_dat(bytes: &[u8]) -> bool {
    bytes.starts_with(super::header::MAGIC)
}

/// The CPU data `[offset, offset + size)` of the file, bounds-checked.
pub(crate) fn cpu_slice(
    file: &[u8],
    offset: u64,
    size: u64,
    endian: Endian,
) -> Result<&[u8], StoreError> {
    let mut cur = Cursor::at(file, offset, endian, "cpu data")?;
    cur.bytes(size)
}

/// The pages of one CPU, `[offset, offset + size)` of the file: a range of the shared
/// file when there is one, else a copy. A file that ends inside the range (cut short)
/// keeps the whole pages of `page_size` before its end; the second value is how many
/// bytes of the range are missing.
pub(crate) fn cpu_pages(
    file: &[u8],
    offset: u64,
    size: u64,
    page_size: u32,
    endian: Endian,
    share: Option<&SharedBytes>,
) -> Result<(Pages, u64), StoreError> {
    if offset >= file.len() as u64 && page_size > 0 {
        return Ok((Pages::default(), size));
    }
    let available = (file.len() as u64).saturating_sub(offset);
    let (kept, missing) = if size <= available || page_size == 0 {
        (size, 0)
    } else {
        let whole = available - available % u64::from(page_size);
        (whole, size - whole)
    };
    let slice = cpu_slice(file, offset, kept, endian)?;
    let pages = match share {
        Some(shared) => {
            let start = offset as usize;
            Pages::in_file(shared.clone(), start..start + slice.len())
        }
        None => Pages::owned(slice.to_vec()),
    };
    Ok((pages, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_data_past_the_end_keeps_the_whole_pages_before_it() {
        let file: Vec<u8> = (0..100u8).collect();
        // 64 bytes at 10 need 74: all there.
        let (pages, missing) = cpu_pages(&file, 10, 64, 16, Endian::Little, None).unwrap();
        assert_eq!((pages.as_ref().len(), missing), (64, 0));
        // 160 bytes of 16-byte pages at 10: 90 remain, 5 whole pages (80 bytes).
        let (pages, missing) = cpu_pages(&file, 10, 160, 16, Endian::Little, None).unwrap();
        assert_eq!(pages.as_ref(), &file[10..90]);
        assert_eq!(missing, 80);
        // Starting past the end: nothing kept, everything missing.
        let (pages, missing) = cpu_pages(&file, 200, 32, 16, Endian::Little, None).unwrap();
        assert_eq!((pages.as_ref().len(), missing), (0, 32));
    }
}
