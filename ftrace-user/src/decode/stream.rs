//! The pages of one CPU, concatenated as a recorder copied them, as one record stream.

use super::DecodeError;
use super::page::{Missed, Page, PageLayout, Record, Records};

/// What a stream saw besides records: lost events and corrupt pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub pages: u64,
    /// Lost events the page headers counted.
    pub missed_events: u64,
    /// Pages whose header said events were lost without saying how many.
    pub pages_with_unknown_loss: u64,
    /// Pages (or page tails) skipped because they were corrupt, with the first reason.
    pub corrupt_pages: u64,
    pub first_error: Option<DecodeError>,
}

/// Iterator over every record of one CPU's pages.
#[derive(Debug, Clone)]
pub struct CpuStream<'a> {
    pages: &'a [u8],
    page_size: usize,
    layout: PageLayout,
    next_page: usize,
    current: Option<Records<'a>>,
    /// A loss the next record is to carry (a page header said so).
    pending_loss: Missed,
    stats: StreamStats,
}

impl<'a> CpuStream<'a> {
    /// `pages` is a whole number of `page_size` pages (a short last page is decoded as far
    /// as it goes).
    pub fn new(pages: &'a [u8], page_size: usize, layout: PageLayout) -> CpuStream<'a> {
        CpuStream {
            pages,
            page_size: page_size.max(layout.data_offset + 1),
            layout,
            next_page: 0,
            current: None,
            pending_loss: Missed::None,
            stats: StreamStats::default(),
        }
    }

    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    fn note_error(&mut self, error: DecodeError) {
        self.stats.corrupt_pages += 1;
        if self.stats.first_error.is_none() {
            self.stats.first_error = Some(error);
        }
    }

    /// Moves to the next page; false at the end of the data.
    fn advance_page(&mut self) -> bool {
        while self.next_page < self.pages.len() {
            let start = self.next_page;
            let end = (start + self.page_size).min(self.pages.len());
            self.next_page = end;
            match Page::parse(&self.pages[start..end], self.layout) {
                Ok(page) => {
                    self.stats.pages += 1;
                    match page.missed {
                        Missed::None => {}
                        Missed::Unknown => self.stats.pages_with_unknown_loss += 1,
                        Missed::Count(n) => {
                            self.stats.missed_events = self.stats.missed_events.saturating_add(n);
                        }
                    }
                    // Losses before pages that hold no record go to the next record.
                    self.pending_loss = self.pending_loss.and(page.missed);
                    self.current = Some(page.records());
                    return true;
                }
                Err(error) => self.note_error(error),
            }
        }
        self.current = None;
        false
    }
}

impl<'a> Iterator for CpuStream<'a> {
    type Item = Record<'a>;

    #[inline]
    fn next(&mut self) -> Option<Record<'a>> {
        loop {
            if let Some(records) = self.current.as_mut() {
                match records.next() {
                    Some(Ok(mut record)) => {
                        if self.pending_loss != Missed::None {
                            record.missed = std::mem::replace(&mut self.pending_loss, Missed::None);
                        }
                        return Some(record);
                    }
                    Some(Err(error)) => self.note_error(error),
                    None => {}
                }
            }
            if !self.advance_page() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::page::tests::PageBuilder;

    #[test]
    fn walks_pages_in_order_and_counts_losses() {
        let mut pages = PageBuilder::new(100)
            .record(1, &[1; 4])
            .record(1, &[2; 4])
            .finish(0, 64);
        let mut second = PageBuilder::new(200)
            .record(5, &[3; 4])
            .finish((1 << 31) | (1 << 30), 64);
        second[24..32].copy_from_slice(&7u64.to_le_bytes());
        pages.extend_from_slice(&second);
        // An empty page (commit 0) contributes nothing.
        pages.extend_from_slice(&PageBuilder::new(300).finish(0, 64));
        let mut stream = CpuStream::new(&pages, 64, PageLayout::LP64);
        let got: Vec<(u64, u8, Missed)> = stream
            .by_ref()
            .map(|r| (r.ts, r.data[0], r.missed))
            .collect();
        // The loss before the second page is carried by its first record.
        assert_eq!(
            got,
            vec![
                (101, 1, Missed::None),
                (102, 2, Missed::None),
                (205, 3, Missed::Count(7))
            ]
        );
        assert_eq!(stream.stats().pages, 3);
        assert_eq!(stream.stats().missed_events, 7);
        assert_eq!(stream.stats().corrupt_pages, 0);
    }

    #[test]
    fn a_corrupt_page_is_skipped_and_reported() {
        let mut pages = PageBuilder::new(0).record(1, &[1; 4]).finish(0, 64);
        let mut bad = PageBuilder::new(0).record(1, &[2; 4]).finish(0, 64);
        bad[8..16].copy_from_slice(&1000u64.to_le_bytes());
        pages.extend_from_slice(&bad);
        pages.extend_from_slice(&PageBuilder::new(10).record(1, &[3; 4]).finish(0, 64));
        let mut stream = CpuStream::new(&pages, 64, PageLayout::LP64);
        let got: Vec<u8> = stream.by_ref().map(|r| r.data[0]).collect();
        assert_eq!(got, vec![1, 3]);
        assert_eq!(stream.stats().corrupt_pages, 1);
        assert!(matches!(
            stream.stats().first_error,
            Some(DecodeError::BadCommit { .. })
        ));
    }
}

#[cfg(test)]
mod real_pages {
    use super::*;

    /// Five pages read from per_cpu/cpu0/trace_pipe_raw of an instance recording
    /// raw_syscalls and sched_switch (mono clock). The instance's `trace` text of the same
    /// buffer listed 397 events (timestamps rounded to the microsecond), the first a sys_exit of pid 8190 at 7481.632738 and the
    /// last a sched_switch at 7481.656045.
    const PAGES: &[u8] = include_bytes!("fixtures/raw_syscalls_sched_switch_cpu0.pages");
    const SYS_EXIT_ID: u16 = 442;
    const SCHED_SWITCH_ID: u16 = 372;

    fn type_and_pid(data: &[u8]) -> (u16, i32) {
        (
            u16::from_le_bytes([data[0], data[1]]),
            i32::from_le_bytes([data[4], data[5], data[6], data[7]]),
        )
    }

    #[test]
    fn decodes_every_event_the_kernel_listed() {
        let mut stream = CpuStream::new(PAGES, 4096, PageLayout::LP64);
        let records: Vec<Record<'_>> = stream.by_ref().collect();
        assert_eq!(records.len(), 397);
        assert_eq!(stream.stats().pages, 5);
        assert_eq!(stream.stats().corrupt_pages, 0);
        assert_eq!(stream.stats().missed_events, 0);
        let first = records[0];
        assert_eq!((first.ts + 500) / 1000, 7_481_632_738);
        assert_eq!(type_and_pid(first.data), (SYS_EXIT_ID, 8190));
        let last = records[records.len() - 1];
        assert_eq!((last.ts + 500) / 1000, 7_481_656_045);
        assert_eq!(type_and_pid(last.data), (SCHED_SWITCH_ID, 15));
        assert!(records.windows(2).all(|w| w[0].ts <= w[1].ts));
    }
}
