//! One ring-buffer page (as read from `per_cpu/cpuN/trace_pipe_raw`) into its events.
//!
//! Layout (see `events/header_page` and `events/header_event`): a page header of a u64
//! base timestamp and a `local_t` commit word (data length in the low 27 bits, bit 31 =
//! events were lost before this page, bit 30 = the lost count is stored after the data),
//! then records with a 32-bit header: `type_len` in the low 5 bits, `time_delta` in the
//! upper 27.

use thiserror::Error;

/// `type_len` values with special meanings.
const TYPE_PADDING: u32 = 29;
const TYPE_TIME_EXTEND: u32 = 30;
const TYPE_TIME_STAMP: u32 = 31;
/// Bits of the commit word.
const COMMIT_LENGTH_MASK: u64 = (1 << 27) - 1;
const MISSED_EVENTS: u64 = 1 << 31;
const MISSED_STORED: u64 = 1 << 30;
/// Upper timestamp bits an absolute time stamp record does not carry.
const TS_MSB_MASK: u64 = 0xf8 << 56;

/// Where the page header's fields are: 64-bit kernels use an 8-byte commit word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLayout {
    pub commit_size: usize,
    pub data_offset: usize,
}

impl PageLayout {
    /// The layout of a 64-bit kernel: u64 timestamp, u64 commit, data at 16.
    pub const LP64: PageLayout = PageLayout {
        commit_size: 8,
        data_offset: 16,
    };

    /// The layout for a kernel whose `long` is `long_size` bytes.
    pub fn for_long_size(long_size: u8) -> PageLayout {
        if long_size == 4 {
            PageLayout {
                commit_size: 4,
                data_offset: 12,
            }
        } else {
            PageLayout::LP64
        }
    }
}

/// Events the kernel dropped before a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    None,
    /// Events were lost but the kernel did not record how many.
    Unknown,
    Count(u64),
}

impl Missed {
    /// Two losses in a row as one.
    pub fn and(self, other: Missed) -> Missed {
        match (self, other) {
            (Missed::Count(a), Missed::Count(b)) => Missed::Count(a.saturating_add(b)),
            (Missed::None, missed) | (missed, Missed::None) => missed,
            _ => Missed::Unknown,
        }
    }
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("ring-buffer page of {len} bytes is shorter than its {need}-byte header")]
    ShortPage { len: usize, need: usize },
    #[error("page header claims {claimed} bytes of data but the page holds {available}")]
    BadCommit { claimed: usize, available: usize },
    #[error("record at page offset {offset} runs past the page's data ({len} bytes)")]
    RecordOverrun { offset: usize, len: usize },
}

/// One trace record: its absolute timestamp and its payload (starting at common_type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub ts: u64,
    pub data: &'a [u8],
    /// Events the kernel dropped just before this record (set by [`super::CpuStream`]
    /// on the first record after a page that says so).
    pub missed: Missed,
}

/// A decoded page header and an iterator over the page's records.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub timestamp: u64,
    pub missed: Missed,
    data: &'a [u8],
    data_offset: usize,
}

impl<'a> Page<'a> {
    /// Parses the page header. `page` may be longer than the data (the rest is ignored).
    pub fn parse(page: &'a [u8], layout: PageLayout) -> Result<Page<'a>, DecodeError> {
        // The commit word is a u64 or a u32; the header holds the timestamp and it,
        // whatever data offset a (possibly damaged) file's header_page names.
        let commit_bytes = if layout.commit_size == 8 { 8 } else { 4 };
        let need = layout.data_offset.max(8 + commit_bytes);
        if page.len() < need {
            return Err(DecodeError::ShortPage {
                len: page.len(),
                need,
            });
        }
        let timestamp = read_u64(page, 0);
        let commit = if commit_bytes == 8 {
            read_u64(page, 8)
        } else {
            u64::from(read_u32(page, 8))
        };
        let length = (commit & COMMIT_LENGTH_MASK) as usize;
        let available = page.len() - layout.data_offset;
        if length > available {
            return Err(DecodeError::BadCommit {
                claimed: length,
                available,
            });
        }
        let data_end = layout.data_offset + length;
        let missed = if commit & MISSED_EVENTS == 0 {
            Missed::None
        } else if commit & MISSED_STORED != 0 && data_end + commit_bytes <= page.len() {
            let count = if commit_bytes == 8 {
                read_u64(page, data_end)
            } else {
                u64::from(read_u32(page, data_end))
            };
            Missed::Count(count)
        } else {
            Missed::Unknown
        };
        Ok(Page {
            timestamp,
            missed,
            data: &page[layout.data_offset..data_end],
            data_offset: layout.data_offset,
        })
    }

    /// Bytes of record data the page holds.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// The page's records in order.
    pub fn records(&self) -> Records<'a> {
        Records {
            data: self.data,
            pos: 0,
            ts: self.timestamp,
            data_offset: self.data_offset,
        }
    }
}

/// Iterator over the records of one page; yields an error once and then stops when a
/// record header is inconsistent with the page.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    data: &'a [u8],
    pos: usize,
    ts: u64,
    data_offset: usize,
}

impl<'a> Records<'a> {
    /// Timestamp of the last record returned (or the page's base time).
    pub fn current_ts(&self) -> u64 {
        self.ts
    }

    /// The data record at `start..end` (checked by the caller), `delta` after the
    /// previous one; the next record follows it.
    #[inline]
    fn data_record(&mut self, start: usize, end: usize, delta: u64) -> Record<'a> {
        self.pos = end;
        self.ts = self.ts.wrapping_add(delta);
        Record {
            ts: self.ts,
            data: &self.data[start..end],
            missed: Missed::None,
        }
    }

    fn overrun(&mut self) -> Option<Result<Record<'a>, DecodeError>> {
        let offset = self.data_offset + self.pos;
        self.pos = self.data.len();
        Some(Err(DecodeError::RecordOverrun {
            offset,
            len: self.data.len(),
        }))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let data = self.data;
            let pos = self.pos;
            if pos + 4 > data.len() {
                return None;
            }
            let header = read_u32(data, pos);
            let type_len = header & 0x1f;
            let delta = u64::from(header >> 5);
            match type_len {
                1..=28 => {
                    let start = pos + 4;
                    let end = start + type_len as usize * 4;
                    if end > data.len() {
                        return self.overrun();
                    }
                    return Some(Ok(self.data_record(start, end, delta)));
                }
                0 => {
                    if pos + 8 > data.len() {
                        return self.overrun();
                    }
                    let length = read_u32(data, pos + 4) as usize;
                    let start = pos + 8;
                    let end = (pos + 4).saturating_add(length);
                    if length < 4 || end > data.len() {
                        return self.overrun();
                    }
                    return Some(Ok(self.data_record(start, end, delta)));
                }
                TYPE_PADDING => {
                    if delta == 0 {
                        // The rest of the page is unused.
                        self.pos = data.len();
                        return None;
                    }
                    if pos + 8 > data.len() {
                        return self.overrun();
                    }
                    let length = read_u32(data, pos + 4) as usize;
                    let end = (pos + 4).saturating_add(length);
                    if end > data.len() || length == 0 {
                        return self.overrun();
                    }
                    self.pos = end;
                }
                TYPE_TIME_EXTEND => {
                    if pos + 8 > data.len() {
                        return self.overrun();
                    }
                    let high = u64::from(read_u32(data, pos + 4));
                    self.ts = self.ts.wrapping_add((high << 27) | delta);
                    self.pos = pos + 8;
                }
                _ => {
                    debug_assert_eq!(type_len, TYPE_TIME_STAMP);
                    if pos + 8 > data.len() {
                        return self.overrun();
                    }
                    let high = u64::from(read_u32(data, pos + 4));
                    let absolute = (high << 27) | delta;
                    self.ts = (self.ts & TS_MSB_MASK) | absolute;
                    self.pos = pos + 8;
                }
            }
        }
    }
}

#[inline]
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(raw)
}

#[inline]
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(raw)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a page from (delta, payload) records for tests.
    pub(crate) struct PageBuilder {
        bytes: Vec<u8>,
    }

    impl PageBuilder {
        pub(crate) fn new(timestamp: u64) -> Self {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&timestamp.to_le_bytes());
            bytes.extend_from_slice(&0u64.to_le_bytes());
            PageBuilder { bytes }
        }

        pub(crate) fn record(mut self, delta: u32, payload: &[u8]) -> Self {
            assert_eq!(payload.len() % 4, 0);
            let words = payload.len() / 4;
            if (1..=28).contains(&words) {
                self.bytes
                    .extend_from_slice(&((delta << 5) | words as u32).to_le_bytes());
            } else {
                self.bytes.extend_from_slice(&(delta << 5).to_le_bytes());
                self.bytes
                    .extend_from_slice(&(payload.len() as u32 + 4).to_le_bytes());
            }
            self.bytes.extend_from_slice(payload);
            self
        }

        pub(crate) fn time_extend(self, delta: u64) -> Self {
            self.time_record(TYPE_TIME_EXTEND, delta)
        }

        pub(crate) fn time_stamp(self, ts: u64) -> Self {
            self.time_record(TYPE_TIME_STAMP, ts)
        }

        /// A time-extend or absolute time-stamp record: 27 low bits in the header word,
        /// the rest in the next.
        fn time_record(mut self, kind: u32, value: u64) -> Self {
            let low = (value & ((1 << 27) - 1)) as u32;
            self.bytes
                .extend_from_slice(&((low << 5) | kind).to_le_bytes());
            self.bytes
                .extend_from_slice(&((value >> 27) as u32).to_le_bytes());
            self
        }

        pub(crate) fn padding(mut self, length: u32) -> Self {
            self.bytes
                .extend_from_slice(&((1 << 5) | TYPE_PADDING).to_le_bytes());
            self.bytes.extend_from_slice(&length.to_le_bytes());
            self.bytes
                .extend(std::iter::repeat_n(0u8, length as usize - 4));
            self
        }

        pub(crate) fn finish(mut self, flags: u64, page_size: usize) -> Vec<u8> {
            let len = (self.bytes.len() - 16) as u64;
            self.bytes[8..16].copy_from_slice(&(len | flags).to_le_bytes());
            self.bytes.resize(page_size, 0);
            self.bytes
        }
    }

    fn collect(page: &[u8]) -> Vec<(u64, Vec<u8>)> {
        Page::parse(page, PageLayout::LP64)
            .unwrap()
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r.ts, r.data.to_vec())
            })
            .collect()
    }

    #[test]
    fn small_and_large_records_accumulate_deltas() {
        let big = vec![7u8; 200];
        let page = PageBuilder::new(1000)
            .record(5, &[1, 2, 3, 4])
            .record(10, &big)
            .record(0, &[9; 8])
            .finish(0, 4096);
        let records = collect(&page);
        assert_eq!(
            records,
            vec![
                (1005, vec![1, 2, 3, 4]),
                (1015, big.clone()),
                (1015, vec![9; 8])
            ]
        );
    }

    #[test]
    fn time_extend_and_absolute_stamps_move_the_clock() {
        let page = PageBuilder::new(1 << 40)
            .time_extend(1 << 30)
            .record(1, &[0; 4])
            .time_stamp(5_000_000_000)
            .record(3, &[0; 4])
            .finish(0, 4096);
        let ts: Vec<u64> = collect(&page).into_iter().map(|r| r.0).collect();
        assert_eq!(ts, vec![(1 << 40) + (1 << 30) + 1, 5_000_000_003]);
    }

    #[test]
    fn padding_is_skipped_and_null_padding_ends_the_page() {
        let mut page = PageBuilder::new(0)
            .record(1, &[1; 4])
            .padding(12)
            .record(1, &[2; 4])
            .finish(0, 4096);
        // A null padding event (delta 0) followed by garbage inside the committed length.
        let len = u64::from_le_bytes(page[8..16].try_into().unwrap()) as usize;
        page[16 + len..16 + len + 4].copy_from_slice(&TYPE_PADDING.to_le_bytes());
        page[16 + len + 4..16 + len + 8].copy_from_slice(&[0xff; 4]);
        page[8..16].copy_from_slice(&((len + 8) as u64).to_le_bytes());
        let records = collect(&page);
        assert_eq!(records, vec![(1, vec![1; 4]), (2, vec![2; 4])]);
    }

    #[test]
    fn missed_events_flags_and_stored_count() {
        let page = PageBuilder::new(0)
            .record(1, &[0; 4])
            .finish(MISSED_EVENTS, 4096);
        assert_eq!(
            Page::parse(&page, PageLayout::LP64).unwrap().missed,
            Missed::Unknown
        );
        let mut page = PageBuilder::new(0)
            .record(1, &[0; 4])
            .finish(MISSED_EVENTS | MISSED_STORED, 4096);
        page[24..32].copy_from_slice(&42u64.to_le_bytes());
        assert_eq!(
            Page::parse(&page, PageLayout::LP64).unwrap().missed,
            Missed::Count(42)
        );
    }

    /// Found by fuzzing (tests/fuzz/crashes/page): a header_page layout whose data
    /// offset ends before the commit word, or whose commit size is neither 4 nor 8,
    /// and stored missed counts that add up past u64::MAX.
    #[test]
    fn odd_layouts_and_huge_missed_counts_never_read_past_the_header() {
        let layouts = [(8, 1), (8, 0), (3, 12), (5, 4), (0, 0)];
        for (commit_size, data_offset) in layouts {
            let layout = PageLayout {
                commit_size,
                data_offset,
            };
            for len in 0..20 {
                let _ = Page::parse(&vec![0xff; len], layout);
            }
            assert!(matches!(
                Page::parse(&[0; 11], layout),
                Err(DecodeError::ShortPage { need: 12.., .. })
            ));
        }
        assert_eq!(
            Missed::Count(u64::MAX).and(Missed::Count(2)),
            Missed::Count(u64::MAX)
        );
    }

    #[test]
    fn corrupt_pages_give_errors_not_panics() {
        assert!(matches!(
            Page::parse(&[0; 10], PageLayout::LP64),
            Err(DecodeError::ShortPage { .. })
        ));
        let mut page = vec![0u8; 64];
        page[8..16].copy_from_slice(&100u64.to_le_bytes());
        assert!(matches!(
            Page::parse(&page, PageLayout::LP64),
            Err(DecodeError::BadCommit { .. })
        ));
        // A record whose length runs past the committed data.
        let mut page = PageBuilder::new(0).record(1, &[0; 8]).finish(0, 64);
        page[16..20].copy_from_slice(&((1u32 << 5) | 20).to_le_bytes());
        let results: Vec<_> = Page::parse(&page, PageLayout::LP64)
            .unwrap()
            .records()
            .collect();
        assert_eq!(results.len(), 1);
        assert!(results[0].is_err());
        // Every prefix of random bytes parses or errors without panicking.
        let mut noise = 0x1234_5678_9abc_def0u64;
        let mut bytes = vec![0u8; 4096];
        for round in 0..200 {
            for b in bytes.iter_mut() {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                *b = noise as u8;
            }
            let commit = (round * 37) as u64 % 4000;
            bytes[8..16].copy_from_slice(&commit.to_le_bytes());
            if let Ok(page) = Page::parse(&bytes, PageLayout::LP64) {
                for record in page.records() {
                    let _ = record;
                }
            }
        }
    }
}
