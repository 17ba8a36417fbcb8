//! Bounds-checked, endian-aware reading of byte slices and the matching
//! encoding helpers. Every read on file-derived data goes through [`Cursor`],
//! so a short or corrupt file yields [`StoreError::Truncated`], never a panic.

use super::error::StoreError;

/// Byte order of the numbers in a trace.dat file (fixed by its header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    pub(crate) fn from_big(big_endian: bool) -> Self {
        if big_endian {
            Endian::Big
        } else {
            Endian::Little
        }
    }

    pub(crate) fn u16_bytes(self, v: u16) -> [u8; 2] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    pub(crate) fn u32_bytes(self, v: u32) -> [u8; 4] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    pub(crate) fn u64_bytes(self, v: u64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    /// Decodes a number from exactly 2, 4 or 8 bytes (callers guarantee it).
    fn read_uint(self, b: &[u8]) -> u64 {
        let mut v: u64 = 0;
        match self {
            Endian::Big => {
                for &x in b {
                    v = (v << 8) | u64::from(x);
                }
            }
            Endian::Little => {
                for &x in b.iter().rev() {
                    v = (v << 8) | u64::from(x);
                }
            }
        }
        v
    }
}

/// Appends numbers and strings in a file's byte order.
pub(crate) struct Enc {
    pub(crate) endian: Endian,
    pub(crate) buf: Vec<u8>,
}

impl Enc {
    pub(crate) fn new(endian: Endian) -> Self {
        Enc {
            endian,
            buf: Vec::new(),
        }
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&self.endian.u16_bytes(v));
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&self.endian.u32_bytes(v));
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&self.endian.u64_bytes(v));
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Writes `b` followed by a NUL byte.
    pub(crate) fn cstr(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
        self.buf.push(0);
    }

    /// Writes a u32 length, then the bytes. Fails if they do not fit in u32.
    pub(crate) fn sized_u32(&mut self, what: &str, b: &[u8]) -> Result<(), StoreError> {
        let len = u32::try_from(b.len())
            .map_err(|_| StoreError::invalid(format!("{what} is larger than 4 GiB")))?;
        self.u32(len);
        self.bytes(b);
        Ok(())
    }

    /// Writes a u64 length, then the bytes.
    pub(crate) fn sized_u64(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.bytes(b);
    }
}

/// A read position in a byte slice that knows the slice's file offset and
/// which section it is reading (both only for error messages).
#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    endian: Endian,
    section: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`, whose first byte is at file offset `base`.
    pub(crate) fn new(data: &'a [u8], base: u64, endian: Endian, section: &'static str) -> Self {
        Cursor {
            data,
            pos: 0,
            base,
            endian,
            section,
        }
    }

    /// A cursor over a whole file positioned at `offset`.
    pub(crate) fn at(
        file: &'a [u8],
        offset: u64,
        endian: Endian,
        section: &'static str,
    ) -> Result<Self, StoreError> {
        let pos = usize::try_from(offset)
            .ok()
            .filter(|&p| p <= file.len())
            .ok_or(StoreError::Truncated {
                section,
                offset,
                needed: 1,
            })?;
        Ok(Cursor {
            data: file,
            pos,
            base: 0,
            endian,
            section,
        })
    }

    pub(crate) fn set_section(&mut self, section: &'static str) {
        self.section = section;
    }

    pub(crate) fn section(&self) -> &'static str {
        self.section
    }

    pub(crate) fn endian(&self) -> Endian {
        self.endian
    }

    /// File offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn truncated(&self, needed: u64) -> StoreError {
        StoreError::Truncated {
            section: self.section,
            offset: self.offset(),
            needed,
        }
    }

    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        StoreError::corrupt(self.section, self.offset(), reason)
    }

    pub(crate) fn bytes(&mut self, n: u64) -> Result<&'a [u8], StoreError> {
        let len = usize::try_from(n)
            .ok()
            .filter(|&l| l <= self.remaining())
            .ok_or_else(|| self.truncated(n))?;
        let out = &self.data[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    fn uint(&mut self, n: u64) -> Result<u64, StoreError> {
        let b = self.bytes(n)?;
        Ok(self.endian.read_uint(b))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, StoreError> {
        // The value has 2 bytes, so it fits.
        Ok(self.uint(2)? as u16)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(self.uint(4)? as u32)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, StoreError> {
        self.uint(8)
    }

    /// The bytes up to the next NUL; consumes the NUL too.
    pub(crate) fn cstr(&mut self) -> Result<&'a [u8], StoreError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.truncated(rest.len() as u64 + 1))?;
        let s = &rest[..n];
        self.pos += n + 1;
        Ok(s)
    }

    /// Like [`Cursor::cstr`], as an owned (lossily decoded) string.
    pub(crate) fn string(&mut self) -> Result<String, StoreError> {
        Ok(String::from_utf8_lossy(self.cstr()?).into_owned())
    }

    /// Consumes `tag` or fails with [`StoreError::Corrupt`].
    pub(crate) fn expect(&mut self, tag: &[u8]) -> Result<(), StoreError> {
        let at = self.clone();
        let got = self.bytes(tag.len() as u64)?;
        if got != tag {
            return Err(at.corrupt(format!(
                "expected {:?}, found {:?}",
                String::from_utf8_lossy(tag),
                String::from_utf8_lossy(got)
            )));
        }
        Ok(())
    }

    /// A u32 length followed by that many bytes.
    pub(crate) fn sized_u32(&mut self) -> Result<&'a [u8], StoreError> {
        let n = self.u32()?;
        self.bytes(u64::from(n))
    }

    /// A u64 length followed by that many bytes.
    pub(crate) fn sized_u64(&mut self) -> Result<&'a [u8], StoreError> {
        let n = self.u64()?;
        self.bytes(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_endians_and_reports_truncation() {
        let data = [1u8, 2, 3, 4, 0x61, 0];
        let mut c = Cursor::new(&data, 100, Endian::Little, "t");
        assert_eq!(c.u16().unwrap(), 0x0201);
        let mut b = Cursor::new(&data, 100, Endian::Big, "t");
        assert_eq!(b.u32().unwrap(), 0x01020304);
        assert_eq!(b.cstr().unwrap(), b"a");
        match b.u8() {
            Err(StoreError::Truncated {
                section: "t",
                offset: 106,
                needed: 1,
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(c.bytes(u64::MAX).is_err());
    }
}
