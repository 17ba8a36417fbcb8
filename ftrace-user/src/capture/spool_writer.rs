//! Pages on their way from a reader to its spool file.
//!
//! The reader reads each page straight into a slot of a chunk (a page-aligned buffer of
//! `CHUNK_PAGES` pages); a full chunk (or, once the reader has caught up, a partial
//! one) goes to a writer thread, which writes it to the
//! spool and hands the buffer back. The spool is written with O_DIRECT where the
//! filesystem takes it: the page cache would copy every page once more into memory that
//! is new each time (on this project's test machine buffered writes ran at 339 MB/s
//! against 787 MB/s direct, and the copy was three quarters of the reader's CPU time).
//! Where O_DIRECT is refused, at open or at the first write, the spool is written
//! through the page cache as before.
//!
//! Chunks in flight are bounded (`MAX_CHUNKS`): when the disk is slower than the
//! events, the reader waits for a buffer and the kernel's ring buffer takes up the rest,
//! which is where losses are counted.
//!
//! A write error (ENOSPC, EIO) stops the writer; the pages written before it stay in
//! the spool, and [`SpoolWriter::finish`] returns how many there are with the error.

use std::{
    fs::File,
    io::Write,
    os::fd::AsRawFd,
    sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel},
    thread::JoinHandle,
};

/// Pages per chunk: 128 KiB of 4 KiB pages (a write of that size runs at the disk's
/// speed; a small chunk keeps a quiet reader's memory small).
pub const CHUNK_PAGES: usize = 32;
/// Chunks one reader may have allocated: 32 MiB of 4 KiB pages waiting for the disk.
pub const MAX_CHUNKS: usize = 256;

/// A page-aligned buffer of `CHUNK_PAGES` pages and how many of them hold data.
struct Chunk {
    storage: Vec<u8>,
    /// Where the aligned part of `storage` starts.
    start: usize,
    pages: usize,
}

impl Chunk {
    fn new(page_size: usize) -> Chunk {
        let len = CHUNK_PAGES * page_size;
        let mut storage = vec![0u8; len + page_size];
        // Touched now, so that the reader's resident memory grows when a chunk is
        // added (the disk fell behind), not later as pages are first read into it.
        storage.fill(1);
        let misalignment = storage.as_ptr() as usize % page_size;
        let start = if misalignment == 0 {
            0
        } else {
            page_size - misalignment
        };
        Chunk {
            storage,
            start,
            pages: 0,
        }
    }

    fn filled(&self, page_size: usize) -> &[u8] {
        &self.storage[self.start..self.start + self.pages * page_size]
    }

    fn slot(&mut self, page_size: usize) -> &mut [u8] {
        let at = self.start + self.pages * page_size;
        &mut self.storage[at..at + page_size]
    }
}

/// What the writer thread did.
#[derive(Debug)]
pub struct SpoolWritten {
    /// Whole pages in the spool.
    pub pages: u64,
    /// Whether the spool was written with O_DIRECT to the end.
    pub direct: bool,
    /// The write error that stopped the writer, if one did.
    pub error: Option<std::io::Error>,
}

/// The reader's side: slots to read pages into.
pub struct SpoolWriter {
    page_size: usize,
    current: Chunk,
    allocated: usize,
    full: Option<SyncSender<Chunk>>,
    empty: Receiver<Chunk>,
    thread: JoinHandle<SpoolWritten>,
    /// Set once a hand-over failed: the writer thread has stopped on an error.
    stopped: bool,
}

impl SpoolWriter {
    /// Starts the writer thread for `spool` (named `name` for the thread).
    pub fn start(spool: File, page_size: usize, name: String) -> std::io::Result<SpoolWriter> {
        let (full_tx, full_rx) = sync_channel::<Chunk>(MAX_CHUNKS);
        let (empty_tx, empty_rx) = sync_channel::<Chunk>(MAX_CHUNKS);
        let direct = set_direct(&spool, true);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || write_chunks(spool, page_size, direct, &full_rx, &empty_tx))?;
        Ok(SpoolWriter {
            page_size,
            current: Chunk::new(page_size),
            allocated: 1,
            full: Some(full_tx),
            empty: empty_rx,
            thread,
            stopped: false,
        })
    }

    /// The slot the next page is read into; it joins the spool once committed.
    pub fn slot(&mut self) -> &mut [u8] {
        self.current.slot(self.page_size)
    }

    /// Keeps the page in the slot. Returns false once the writer has stopped on an
    /// error (the page is then dropped; [`SpoolWriter::finish`] says why).
    pub fn commit(&mut self) -> bool {
        self.current.pages += 1;
        if self.current.pages < CHUNK_PAGES {
            return true;
        }
        self.send_current()
    }

    /// Whether the writer thread has stopped on an error (pages committed since are
    /// dropped).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Hands the current chunk to the writer and takes an empty one.
    fn send_current(&mut self) -> bool {
        let sent = self.try_send_current();
        self.stopped |= !sent;
        sent
    }

    fn try_send_current(&mut self) -> bool {
        let next = match self.empty.try_recv() {
            Ok(chunk) => Some(chunk),
            Err(TryRecvError::Empty) if self.allocated < MAX_CHUNKS => {
                self.allocated += 1;
                Some(Chunk::new(self.page_size))
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => return false,
        };
        let Some(sender) = &self.full else {
            return false;
        };
        let mut next = match next {
            Some(chunk) => chunk,
            None => match self.empty.recv() {
                Ok(chunk) => chunk,
                Err(_) => return false,
            },
        };
        next.pages = 0;
        let full = std::mem::replace(&mut self.current, next);
        sender.send(full).is_ok()
    }

    /// Hands the pages read so far to the writer even though their chunk is not full:
    /// the reader calls this when it has caught up, so a quiet CPU's pages reach the
    /// disk (and a recovery after SIGKILL) within a poll timeout. Returns false once the
    /// writer has stopped on an error.
    pub fn send_partial(&mut self) -> bool {
        self.current.pages == 0 || self.send_current()
    }

    /// Writes what is left and ends the writer thread.
    pub fn finish(mut self) -> SpoolWritten {
        if self.current.pages > 0 {
            self.send_current();
        }
        drop(self.full.take());
        self.thread.join().unwrap_or_else(|_| SpoolWritten {
            pages: 0,
            direct: false,
            error: Some(std::io::Error::other("the spool writer thread panicked")),
        })
    }
}

/// The writer thread: writes chunks in order until the reader hangs up or a write fails.
fn write_chunks(
    mut spool: File,
    page_size: usize,
    mut direct: bool,
    full: &Receiver<Chunk>,
    empty: &SyncSender<Chunk>,
) -> SpoolWritten {
    let mut pages = 0u64;
    while let Ok(chunk) = full.recv() {
        let bytes = chunk.filled(page_size);
        let mut result = spool.write_all(bytes);
        if direct && result.is_err() && written_pages(&spool, page_size) == pages {
            // A filesystem that took the flag but not the write: go on through the
            // page cache (only when nothing of this chunk reached the file).
            direct = !set_direct(&spool, false);
            if !direct {
                result = spool.write_all(bytes);
            }
        }
        if let Err(error) = result {
            // A write cut short may have left part of a page: the spool keeps whole
            // pages only.
            let pages = written_pages(&spool, page_size);
            let _ = spool.set_len(pages * page_size as u64);
            return SpoolWritten {
                pages,
                direct,
                error: Some(error),
            };
        }
        pages += chunk.pages as u64;
        // The reader may have hung up already; the buffer is then simply dropped.
        let _ = empty.send(chunk);
    }
    let error = spool.flush().err();
    SpoolWritten {
        pages,
        direct,
        error,
    }
}

/// Whole pages the spool holds (what a failed write left).
fn written_pages(spool: &File, page_size: usize) -> u64 {
    spool
        .metadata()
        .map(|m| m.len() / page_size as u64)
        .unwrap_or(0)
}

/// Turns O_DIRECT on or off; returns whether the kernel took the change.
fn set_direct(file: &File, on: bool) -> bool {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor `file` owns, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return false;
    }
    let wanted = if on {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETFL, wanted) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn temp_file() -> File {
        let dir = std::env::temp_dir();
        // An unnamed file in the temp directory (it vanishes with the handle).
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .open(dir)
            .unwrap()
    }

    use std::os::unix::fs::OpenOptionsExt;

    #[test]
    fn pages_reach_the_spool_in_order_across_chunks() {
        let page_size = 4096;
        let file = temp_file();
        // A description of its own: the writer's has O_DIRECT, which refuses
        // unaligned reads.
        let mut reader_side =
            std::fs::File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap();
        let mut writer = SpoolWriter::start(file, page_size, "test-spool".into()).unwrap();
        let pages = CHUNK_PAGES * 3 + 7;
        for i in 0..pages {
            writer.slot().fill((i % 251) as u8);
            assert!(writer.commit());
        }
        let written = writer.finish();
        assert!(written.error.is_none(), "{:?}", written.error);
        assert_eq!(written.pages, pages as u64);
        let mut bytes = Vec::new();
        reader_side.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.len(), pages * page_size);
        for (i, page) in bytes.chunks(page_size).enumerate() {
            assert!(page.iter().all(|&b| b == (i % 251) as u8), "page {i}");
        }
    }

    #[test]
    fn chunks_are_page_aligned() {
        for _ in 0..8 {
            let mut chunk = Chunk::new(4096);
            assert_eq!(chunk.slot(4096).as_ptr() as usize % 4096, 0);
            assert_eq!(chunk.slot(4096).len(), 4096);
        }
    }
}
