//! Disk space for the finished file, so that a recording that filled its filesystem
//! still ends as a trace.dat:
//!
//! - [`reserve`]: before tracing starts, the file that will become the output (the
//!   recovery header in the private directory, which the finished file overwrites) is
//!   allocated as large as its final header plus the copy windows, so the header never
//!   competes with the pages for the last free blocks.
//! - [`FreeingSpool`]: the spool read back while the file is written, each copied
//!   window punched out of the spool behind the copy, so the finished file needs about
//!   one copy window beyond its own size instead of twice the pages.

use std::{
    fs::File,
    io::Read,
    os::{fd::AsRawFd, unix::fs::FileExt},
};

/// Bytes read back and written before they are freed from the spool.
pub const COPY_WINDOW: u64 = 1 << 20;

/// The size to reserve for a file whose header (without the session's last
/// figures) is `header_len` bytes: the header, what the end of the session adds to it
/// (saved command lines, options, statistics: a megabyte is generous), and the copy
/// windows.
pub fn reservation(header_len: u64) -> u64 {
    header_len + (1 << 20) + 2 * COPY_WINDOW
}

/// Allocates the bytes of `file` from its end up to `len` without changing its size
/// (readers see only what was written; the writer that later fills it needs no new
/// blocks). Ok(false) where the filesystem cannot preallocate; an error (ENOSPC) where
/// it has not that much room.
pub fn reserve(file: &File, len: u64) -> std::io::Result<bool> {
    let size = file.metadata()?.len();
    if size >= len {
        return Ok(true);
    }
    let (Ok(offset), Ok(extra)) = (
        libc::off_t::try_from(size),
        libc::off_t::try_from(len - size),
    ) else {
        return Ok(false);
    };
    // SAFETY: fallocate on a descriptor `file` owns, integer arguments only.
    let result =
        unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, offset, extra) };
    if result == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(error),
    }
}

/// A spool read from the start to `len`, freeing what has been read in windows of
/// [`COPY_WINDOW`] bytes (where the filesystem can punch holes; elsewhere it only
/// reads). The file must be open for writing too.
pub struct FreeingSpool {
    file: File,
    len: u64,
    read: u64,
    freed: u64,
    punching: bool,
}

impl FreeingSpool {
    pub fn new(file: File, len: u64) -> FreeingSpool {
        FreeingSpool {
            file,
            len,
            read: 0,
            freed: 0,
            punching: true,
        }
    }

    /// Frees everything read but the last window (which the writer may still hold
    /// in its buffer, not yet in the output file).
    fn free_behind(&mut self) {
        let until = self.read.saturating_sub(COPY_WINDOW) / COPY_WINDOW * COPY_WINDOW;
        if !self.punching || until <= self.freed {
            return;
        }
        let (Ok(offset), Ok(len)) = (
            libc::off_t::try_from(self.freed),
            libc::off_t::try_from(until - self.freed),
        ) else {
            return;
        };
        // SAFETY: fallocate on a descriptor this owns, integer arguments only.
        let result = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                offset,
                len,
            )
        };
        if result == 0 {
            self.freed = until;
        } else {
            // Not supported here: the spool stays whole until it is removed.
            self.punching = false;
        }
    }
}

impl Read for FreeingSpool {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len - self.read;
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.read)?;
        self.read += n as u64;
        self.free_behind();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{io::Write, os::unix::fs::OpenOptionsExt};

    fn temp_file() -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .open(std::env::temp_dir())
            .unwrap()
    }

    /// Allocated bytes of the file (st_blocks is in 512-byte units).
    fn allocated(file: &File) -> u64 {
        use std::os::unix::fs::MetadataExt;
        file.metadata().unwrap().blocks() * 512
    }

    #[test]
    fn reading_returns_every_byte_and_frees_all_but_the_last_window() {
        let mut spool = temp_file();
        let len = 5 * COPY_WINDOW + 12345;
        let bytes: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        spool.write_all(&bytes).unwrap();
        spool.sync_all().unwrap();
        let probe = spool.try_clone().unwrap();
        let mut source = FreeingSpool::new(spool, len);
        let mut copied = Vec::new();
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = source.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            copied.extend_from_slice(&buf[..n]);
        }
        assert_eq!(copied, bytes);
        assert_eq!(probe.metadata().unwrap().len(), len, "the size stays");
        if source.punching {
            // 5 windows and a bit read: the first 4 windows are freed.
            assert_eq!(source.freed, 4 * COPY_WINDOW);
            assert!(allocated(&probe) <= len - 4 * COPY_WINDOW + 4096);
        }
    }

    #[test]
    fn reserving_allocates_the_bytes_and_keeps_the_size() {
        let mut file = temp_file();
        file.write_all(&[7u8; 8192]).unwrap();
        if reserve(&file, 3 << 20).unwrap() {
            assert_eq!(file.metadata().unwrap().len(), 8192);
            assert!(allocated(&file) >= 3 << 20);
        }
    }
}
