//! Ring-buffer pages decoded: one page's header and records, the same bytes as a CPU's
//! stream of pages, and as two CPUs merged on the clock.
//!
//! Input: a layout byte, a little-endian u16 page size, then the page bytes.
//! - Layout byte below 0x80: the layouts of real kernels, 32-bit (bit 0 set) or
//!   64-bit.
//! - Layout byte from 0x80: the layout a file's `header_page` text names, which a
//!   corrupt file can set to anything (`Recording::from_file` takes it as written):
//!   commit word size = bits 0-3, data offset = bits 4-6 times 4.

#![no_main]

use ftrace_user::decode::{CpuStream, Merger, Page, PageLayout};
use libfuzzer_sys::fuzz_target;

/// The page layout the first input byte selects (see the module comment).
fn layout(selector: u8) -> PageLayout {
    if selector < 0x80 {
        PageLayout::for_long_size(if selector & 1 == 1 { 4 } else { 8 })
    } else {
        PageLayout {
            commit_size: usize::from(selector & 0x0f),
            data_offset: usize::from((selector >> 4) & 0x07) * 4,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[selector, size_low, size_high], pages)) = data.split_first_chunk::<3>() else {
        return;
    };
    let layout = layout(selector);
    let page_size = usize::from(u16::from_le_bytes([size_low, size_high]));

    // The input as one page.
    if let Ok(page) = Page::parse(pages, layout) {
        let _ = page.data_len();
        let mut records = page.records();
        for record in records.by_ref() {
            let _ = record.map(|r| (r.ts, r.data.len()));
        }
        let _ = records.current_ts();
    }

    // The input as one CPU's pages.
    let mut stream = CpuStream::new(pages, page_size, layout);
    for record in stream.by_ref() {
        let _ = (record.ts, record.data.len(), record.missed);
    }
    let _ = stream.stats();

    // The input as two CPUs' pages (split at a page boundary), merged.
    let split = match page_size {
        0 => pages.len() / 2,
        size => (pages.len() / 2) / size * size,
    };
    let (first, second) = pages.split_at(split);
    let merger = Merger::new(vec![
        (0, CpuStream::new(first, page_size, layout)),
        (1, CpuStream::new(second, page_size, layout)),
    ]);
    for merged in merger {
        let _ = (merged.origin, merged.cpu, merged.record.ts);
    }
});
