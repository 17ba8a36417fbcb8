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
/// Empty chunks a reader keeps for the next bursts once the writer has caught up; the
/// rest go back to the system, so a disk stall grows the reader's memory only while
/// it lasts.
pub const SPARE_CHUNKS: usize = 4;

/// Page-aligned memory of its own mapping: aligned for O_DIRECT by construction,
/// resident from the start (MAP_POPULATE: memory grows when a chunk is added, not later
/// as pages are first read into it), and given back to the system when dropped (a heap
/// allocation of this size would stay in the allocator's arena).
struct PageBuffer {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: a PageBuffer owns its mapping exclusively; moving it to another thread moves
// that ownership (the writer thread takes full chunks, the reader takes them back).
unsafe impl Send for PageBuffer {}

impl PageBuffer {
    fn new(len: usize) -> std::io::Result<PageBuffer> {
        // SAFETY: an anonymous private mapping at an address the kernel picks; no
        // existing memory is touched. The result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| std::io::Error::other("mmap returned address 0"))?;
        Ok(PageBuffer { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes, alive while self is, and only
        // borrowed through self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, borrowed mutably through &mut self only.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for PageBuffer {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; no borrow outlives self.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A page-aligned buffer of `CHUNK_PAGES` pages and how many of them hold data.
struct Chunk {
    storage: PageBuffer,
    pages: usize,
}

impl Chunk {
    fn new(page_size: usize) -> std::io::Result<Chunk> {
        Ok(Chunk {
            storage: PageBuffer::new(CHUNK_PAGES * page_size)?,
            pages: 0,
        })
    }

    fn filled(&self, page_size: usize) -> &[u8] {
        &self.storage.bytes()[..self.pages * page_size]
    }

    fn slot(&mut self, page_size: usize) -> &mut [u8] {
        let at = self.pages * page_size;
        &mut self.storage.bytes_mut()[at..at + page_size]
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
    /// Chunks that exist: the current one, those in flight, the spares.
    allocated: usize,
    /// Empty chunks back from the writer, at most `SPARE_CHUNKS` kept.
    spares: Vec<Chunk>,
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
            current: Chunk::new(page_size)?,
            allocated: 1,
            spares: Vec::new(),
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

    /// Takes back every chunk the writer has handed back, keeping SPARE_CHUNKS and
    /// freeing the rest. False once the writer thread is gone.
    fn take_back_written(&mut self) -> bool {
        loop {
            match self.empty.try_recv() {
                Ok(chunk) if self.spares.len() < SPARE_CHUNKS => self.spares.push(chunk),
                Ok(chunk) => {
                    drop(chunk);
                    self.allocated -= 1;
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn try_send_current(&mut self) -> bool {
        if !self.take_back_written() {
            return false;
        }
        let Some(sender) = &self.full else {
            return false;
        };
        let fresh = || Chunk::new(self.page_size).ok();
        let next = match self.spares.pop() {
            Some(chunk) => Some(chunk),
            None if self.allocated < MAX_CHUNKS => fresh().inspect(|_| self.allocated += 1),
            None => None,
        };
        // No spare and no more memory: wait for the writer to hand one back (the
        // kernel's ring buffer takes the events meanwhile).
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
            let mut chunk = Chunk::new(4096).unwrap();
            assert_eq!(chunk.slot(4096).as_ptr() as usize % 4096, 0);
            assert_eq!(chunk.slot(4096).len(), 4096);
        }
    }

    /// A writer held up (its spool is a pipe nobody reads until the reader has
    /// committed 40 chunks) makes the reader allocate a chunk per chunk committed;
    /// once the writer has caught up, the reader's next hand-over keeps SPARE_CHUNKS
    /// of the returned chunks and frees the rest.
    #[test]
    fn a_stalled_writer_grows_the_chunks_and_its_catching_up_frees_them() {
        let page_size = 4096;
        let (mut read_end, write_end) = std::io::pipe().unwrap();
        let spool = File::from(std::os::fd::OwnedFd::from(write_end));
        let mut writer = SpoolWriter::start(spool, page_size, "test-stall".into()).unwrap();
        let chunks = 40;
        for _ in 0..chunks * CHUNK_PAGES {
            writer.slot().fill(7);
            assert!(writer.commit());
        }
        // 40 sent, one current, none back yet (the pipe holds 64 KiB: at most the
        // first chunk's write has begun).
        assert_eq!(writer.allocated, chunks + 1);
        let mut drained = vec![0u8; chunks * CHUNK_PAGES * page_size];
        read_end.read_exact(&mut drained).unwrap();
        assert!(drained.iter().all(|&b| b == 7));
        // The writer hands each back once written: the reader keeps SPARE_CHUNKS of
        // the 40 and frees the others.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while writer.allocated > 1 + SPARE_CHUNKS && std::time::Instant::now() < deadline {
            assert!(writer.take_back_written());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(writer.allocated, 1 + SPARE_CHUNKS);
        assert_eq!(writer.spares.len(), SPARE_CHUNKS);
        // The next chunk goes out on a spare: nothing new is allocated.
        for _ in 0..CHUNK_PAGES {
            writer.slot().fill(8);
            assert!(writer.commit());
        }
        assert_eq!(writer.allocated, 1 + SPARE_CHUNKS);
        drop(read_end);
        let _ = writer.finish();
    }
}
