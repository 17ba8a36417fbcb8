//! One CPU's reader: `trace_pipe_raw` pages into a spool file.
//!
//! The file is opened non-blocking; the reader drains it until EAGAIN or until a partly
//! filled page shows it has caught up with the writer. Between drains it waits in
//! poll(2), which the kernel ends when the CPU's buffer is `buffer_percent` full (the
//! instance's watermark, see `WATERMARK_PERCENT`), so a fast writer wakes the reader
//! long before the buffer overflows and a quiet one costs no wake-ups; a timeout still
//! drains what has arrived now and then, so pages reach the spool (and a recovery) while
//! the session runs. Stopping: the session turns tracing off, then sets the stop flag;
//! the reader drains what is left once more and ends, so nothing is lost.

use std::{
    fs::File,
    io::{ErrorKind, Read},
    os::{fd::AsRawFd, unix::fs::OpenOptionsExt},
    path::{Path, PathBuf},
    sync::{Arc, atomic::Ordering},
    thread::JoinHandle,
};

use thiserror::Error;

use super::{
    progress::CpuProgress,
    spool_writer::{CHUNK_PAGES, SpoolWriter},
    stop::StopSignal,
};
use crate::decode::{Missed, Page, PageLayout};

/// The instance's `buffer_percent`: how full a CPU's buffer is when poll(2) wakes its
/// reader. A quarter leaves three quarters of the buffer for the time the reader takes to
/// wake and drain (at 5.5M events/s a 4 MB buffer fills in about 20 ms).
pub const WATERMARK_PERCENT: u32 = 25;
/// The longest a reader waits for the watermark before draining what has arrived.
const POLL_TIMEOUT_MS: i32 = 100;
/// A drain that copied at least this many pages is followed by another at once.
const BUSY_PAGES: u64 = 16;

#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("cannot open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write spool file {path}")]
    Spool {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the readers' stop signal (eventfd)")]
    StopSignal(#[source] std::io::Error),
    #[error("the reader thread of CPU {cpu} panicked")]
    Panicked { cpu: u32 },
}

/// What one CPU's reader copied.
#[derive(Debug, Clone)]
pub struct CpuCaptureResult {
    pub cpu: u32,
    pub spool: PathBuf,
    /// Pages written to the spool (each `page_size` bytes).
    pub pages: u64,
    /// Bytes of record data in those pages.
    pub data_bytes: u64,
    pub records: u64,
    /// Records per event type id (index = common_type).
    pub records_by_type: Vec<u64>,
    /// Lost events counted in page headers, and pages that lost an unknown number.
    pub missed_events: u64,
    pub pages_with_unknown_loss: u64,
    /// Why the spool stopped growing before the end (ENOSPC, EIO); the counts above
    /// are then those of the pages the spool holds.
    pub write_error: Option<String>,
}

impl CpuCaptureResult {
    /// Nothing copied yet.
    fn empty(cpu: u32, spool: PathBuf) -> CpuCaptureResult {
        CpuCaptureResult {
            cpu,
            spool,
            pages: 0,
            data_bytes: 0,
            records: 0,
            records_by_type: Vec::new(),
            missed_events: 0,
            pages_with_unknown_loss: 0,
            write_error: None,
        }
    }
}

/// A spool file its creator opened (privately: see `crate::private_files`), and its
/// path for messages.
#[derive(Debug)]
pub struct SpoolFile {
    pub file: File,
    pub path: PathBuf,
}

/// A running reader thread.
pub struct CpuCapture {
    cpu: u32,
    handle: JoinHandle<Result<CpuCaptureResult, CaptureError>>,
}

impl CpuCapture {
    /// Starts reading `pipe` (a `trace_pipe_raw`) into `spool`.
    pub fn start(
        cpu: u32,
        pipe: &Path,
        spool: SpoolFile,
        page_size: usize,
        layout: PageLayout,
        stop: Arc<StopSignal>,
        progress: Arc<CpuProgress>,
    ) -> Result<CpuCapture, CaptureError> {
        let source = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(pipe)
            .map_err(|source| CaptureError::Open {
                path: pipe.to_path_buf(),
                source,
            })?;
        let writer = SpoolWriter::start(spool.file, page_size, format!("hytrace-spool{cpu}"))
            .map_err(|source| CaptureError::Spool {
                path: spool.path.clone(),
                source,
            })?;
        let reader = Reader {
            pipe: pipe.to_path_buf(),
            source,
            spool: writer,
            page_size,
            layout,
            result: CpuCaptureResult::empty(cpu, spool.path),
            progress,
        };
        let handle = std::thread::Builder::new()
            .name(format!("hytrace-cpu{cpu}"))
            .spawn(move || reader.run(&stop))
            .map_err(|source| CaptureError::Read {
                path: pipe.to_path_buf(),
                source,
            })?;
        Ok(CpuCapture { cpu, handle })
    }

    /// Waits for the reader to finish (after the stop flag is set).
    pub fn join(self) -> Result<CpuCaptureResult, CaptureError> {
        self.handle
            .join()
            .map_err(|_| CaptureError::Panicked { cpu: self.cpu })?
    }
}

struct Reader {
    pipe: PathBuf,
    source: File,
    spool: SpoolWriter,
    page_size: usize,
    layout: PageLayout,
    result: CpuCaptureResult,
    progress: Arc<CpuProgress>,
}

impl Reader {
    fn run(mut self, stop: &StopSignal) -> Result<CpuCaptureResult, CaptureError> {
        let drained = loop {
            let stopping = stop.is_raised();
            let pages = match self.drain(stopping) {
                Ok(pages) => pages,
                Err(error) => break Err(error),
            };
            if stopping || self.spool.stopped() {
                break Ok(());
            }
            if pages < BUSY_PAGES {
                if !self.spool.send_partial() {
                    break Ok(());
                }
                self.wait_for_watermark(stop);
            }
        };
        let written = self.spool.finish();
        drained?;
        if let Some(error) = written.error {
            // What reached the spool is kept and counted again from the spool itself.
            self.progress.write_failed.store(true, Ordering::Release);
            let mut result = count_spool(
                &self.result.spool,
                self.result.cpu,
                self.page_size,
                self.layout,
            )
            .map_err(|source| CaptureError::Read {
                path: self.result.spool.clone(),
                source,
            })?;
            result.write_error = Some(error.to_string());
            return Ok(result);
        }
        Ok(self.result)
    }

    /// Waits until the kernel says the buffer reached the watermark, the stop signal is
    /// raised, or the timeout.
    fn wait_for_watermark(&self, stop: &StopSignal) {
        let mut polls = [self.source.as_raw_fd(), stop.wake_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: two valid pollfds for the duration of the call; both descriptors stay
        // open while `self` and `stop` live. An error (EINTR) just ends the wait early.
        unsafe {
            libc::poll(
                polls.as_mut_ptr(),
                polls.len() as libc::nfds_t,
                POLL_TIMEOUT_MS,
            )
        };
    }

    /// Reads pages until the kernel has none (or, unless `to_the_end`, until a partly
    /// filled page shows the reader has caught up); returns how many it copied.
    fn drain(&mut self, to_the_end: bool) -> Result<u64, CaptureError> {
        let mut pages = 0;
        loop {
            let slot = self.spool.slot();
            match self.source.read(slot) {
                Ok(0) => return Ok(pages),
                Ok(n) => {
                    // A short read still is one page: the rest is zero-filled so the
                    // spool stays a sequence of whole pages.
                    slot[n..].fill(0);
                    let page_len = slot.len();
                    let Some(data_len) =
                        account_page(slot, self.layout, &mut self.result, &self.progress)
                    else {
                        // The kernel hands out an empty page once the reader has
                        // caught up: nothing to keep, and the drain is over.
                        return Ok(pages);
                    };
                    pages += 1;
                    if !self.spool.commit() {
                        // The writer stopped on an error; `run` reports it.
                        return Ok(pages);
                    }
                    // A partly filled page means the reader has caught up with the
                    // writer; reading on would copy a page per handful of events
                    // (including the events of these very reads).
                    if !to_the_end && data_len < page_len / 2 {
                        return Ok(pages);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(pages),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Read {
                        path: self.pipe.clone(),
                        source,
                    });
                }
            }
        }
    }
}

/// The counts of the pages a spool file holds.
fn count_spool(
    path: &Path,
    cpu: u32,
    page_size: usize,
    layout: PageLayout,
) -> std::io::Result<CpuCaptureResult> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut result = CpuCaptureResult::empty(cpu, path.to_path_buf());
    let progress = CpuProgress::default();
    let mut chunk = vec![0u8; CHUNK_PAGES * page_size];
    loop {
        let n = read_full(&mut file, &mut chunk)?;
        for page in chunk[..n].chunks_exact(page_size) {
            account_page(page, layout, &mut result, &progress);
        }
        if n < chunk.len() {
            return Ok(result);
        }
    }
}

/// Fills `buf` unless the file ends first; returns how much it read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Counts the page's records and losses and returns its data length; None for a
/// page without data. A page whose header cannot be parsed is kept (the report
/// tells about it) and counted as full.
fn account_page(
    bytes: &[u8],
    layout: PageLayout,
    result: &mut CpuCaptureResult,
    progress: &CpuProgress,
) -> Option<usize> {
    let Ok(page) = Page::parse(bytes, layout) else {
        return Some(bytes.len());
    };
    if page.data_len() == 0 && page.missed == Missed::None {
        return None;
    }
    result.pages += 1;
    result.data_bytes += page.data_len() as u64;
    let lost = match page.missed {
        Missed::None => 0,
        Missed::Unknown => {
            result.pages_with_unknown_loss += 1;
            0
        }
        Missed::Count(n) => n,
    };
    result.missed_events += lost;
    let mut records = 0u64;
    for record in page.records().flatten() {
        records += 1;
        if let Some(id) = record.data.get(..2) {
            let id = usize::from(u16::from_le_bytes([id[0], id[1]]));
            if id >= result.records_by_type.len() {
                result.records_by_type.resize(id + 1, 0);
            }
            result.records_by_type[id] += 1;
        }
    }
    result.records += records;
    progress.records.fetch_add(records, Ordering::Relaxed);
    progress
        .bytes
        .fetch_add(page.data_len() as u64, Ordering::Relaxed);
    if lost > 0 {
        progress.lost.fetch_add(lost, Ordering::Relaxed);
    }
    Some(page.data_len())
}
