//! A read-only memory map of a recording, so reading a large file costs no copy into
//! the heap (the store copies only the pages it keeps).

use std::{fs::File, os::fd::AsRawFd, path::Path};

/// A whole file mapped read-only and private; unmapped on drop.
pub struct MappedFile {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone; sharing `&[u8]` views
// of it between threads is as safe as sharing any immutable byte slice.
unsafe impl Send for MappedFile {}
// SAFETY: as above, no interior mutability.
unsafe impl Sync for MappedFile {}

impl MappedFile {
    pub fn open(path: &Path) -> std::io::Result<MappedFile> {
        let file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("file too large to map"))?;
        if len == 0 {
            return Ok(MappedFile {
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a fresh private read-only mapping of a file we opened for reading;
        // the kernel picks the address. If another process truncates the file while it
        // is mapped, reads past the new end fault (SIGBUS) — the same hazard every
        // mmap-based reader (trace-cmd included) accepts for recordings.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_POPULATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(MappedFile { ptr, len })
    }

    pub fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: ptr..ptr+len is a live read-only mapping owned by self, unmapped only
        // in Drop, so the slice cannot outlive it.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping exactly the region mmap returned, once.
            unsafe {
                libc::munmap(self.ptr, self.len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_whole_files_and_empty_ones() {
        use std::io::Write;
        let dir = crate::private_files::PrivateDir::temporary("map-test").unwrap();
        dir.create("f").unwrap().write_all(b"hello trace").unwrap();
        assert_eq!(
            MappedFile::open(&dir.path_of("f")).unwrap().bytes(),
            b"hello trace"
        );
        dir.create("empty").unwrap();
        assert_eq!(
            MappedFile::open(&dir.path_of("empty")).unwrap().bytes(),
            b""
        );
        assert!(MappedFile::open(&dir.path_of("missing")).is_err());
    }
}
