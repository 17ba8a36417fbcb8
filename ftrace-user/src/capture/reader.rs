//! One CPU's reader: `trace_pipe_raw` pages into a spool file.
//!
//! The file is opened non-blocking; the reader drains it until EAGAIN. Once it has
//! caught up with the writer the kernel hands out partly filled pages, so after a short
//! drain the reader sleeps a little to let pages fill (after a long drain it goes on at
//! once, since the writer is fast). Stopping: the session turns tracing off, then sets the
//! stop flag; the reader drains what is left once more and ends, so nothing is lost.

use std::{
    fs::File,
    io::{BufWriter, ErrorKind, Read, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use thiserror::Error;

use super::progress::CpuProgress;
use crate::decode::{Missed, Page, PageLayout};

/// How long a reader waits after a drain that found little.
const IDLE_WAIT: std::time::Duration = std::time::Duration::from_millis(10);
/// A drain that copied at least this many pages is followed by another at once.
const BUSY_PAGES: u64 = 16;
/// Spool writes are buffered this much.
const SPOOL_BUFFER: usize = 1 << 20;

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
        stop: Arc<AtomicBool>,
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
        let reader = Reader {
            pipe: pipe.to_path_buf(),
            source,
            sink: BufWriter::with_capacity(SPOOL_BUFFER, spool.file),
            page: vec![0; page_size],
            layout,
            result: CpuCaptureResult {
                cpu,
                spool: spool.path,
                pages: 0,
                data_bytes: 0,
                records: 0,
                records_by_type: Vec::new(),
                missed_events: 0,
                pages_with_unknown_loss: 0,
            },
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
    sink: BufWriter<File>,
    page: Vec<u8>,
    layout: PageLayout,
    result: CpuCaptureResult,
    progress: Arc<CpuProgress>,
}

impl Reader {
    fn run(mut self, stop: &AtomicBool) -> Result<CpuCaptureResult, CaptureError> {
        loop {
            let stopping = stop.load(Ordering::Acquire);
            let pages = self.drain(stopping)?;
            if stopping {
                break;
            }
            if pages < BUSY_PAGES {
                std::thread::sleep(IDLE_WAIT);
            }
        }
        self.sink.flush().map_err(|source| CaptureError::Spool {
            path: self.result.spool.clone(),
            source,
        })?;
        Ok(self.result)
    }

    /// Reads pages until the kernel has none (or, unless `to_the_end`, until a partly
    /// filled page shows the reader has caught up); returns how many it copied.
    fn drain(&mut self, to_the_end: bool) -> Result<u64, CaptureError> {
        let mut pages = 0;
        loop {
            match self.source.read(&mut self.page) {
                Ok(0) => return Ok(pages),
                Ok(n) => {
                    // A short read still is one page: the rest is zero-filled so the
                    // spool stays a sequence of whole pages.
                    self.page[n..].fill(0);
                    let Some(data_len) = self.account_page() else {
                        // The kernel hands out an empty page once the reader has
                        // caught up: nothing to keep, and the drain is over.
                        return Ok(pages);
                    };
                    pages += 1;
                    self.sink
                        .write_all(&self.page)
                        .map_err(|source| CaptureError::Spool {
                            path: self.result.spool.clone(),
                            source,
                        })?;
                    // A partly filled page means the reader has caught up with the
                    // writer; reading on would copy a page per handful of events
                    // (including the events of these very reads).
                    if !to_the_end && data_len < self.page.len() / 2 {
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

    /// Counts the page's records and losses and returns its data length; None for a
    /// page without data. A page whose header cannot be parsed is kept (the report
    /// tells about it) and counted as full.
    fn account_page(&mut self) -> Option<usize> {
        let Ok(page) = Page::parse(&self.page, self.layout) else {
            return Some(self.page.len());
        };
        if page.data_len() == 0 && page.missed == Missed::None {
            return None;
        }
        let result = &mut self.result;
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
        self.progress.records.fetch_add(records, Ordering::Relaxed);
        self.progress
            .bytes
            .fetch_add(page.data_len() as u64, Ordering::Relaxed);
        if lost > 0 {
            self.progress.lost.fetch_add(lost, Ordering::Relaxed);
        }
        Some(page.data_len())
    }
}
