//! v7 decompression: compressed sections (`u32 csize, u32 usize, data`) and
//! chunked CPU data (`u32 count, count x (u32 csize, u32 usize, data)`).
//!
//! Supported algorithms: `none` and `zstd` (what Debian's trace-cmd 3.1.6
//! can write; it has no zlib support, see `trace-cmd list -c`).

use std::io::Read;

use super::bytes::Cursor;
use super::error::StoreError;

/// The compression algorithm named in a v7 header.
#[derive(Debug, Clone)]
pub(crate) enum Codec {
    None,
    Zstd,
    Unsupported { name: String, version: String },
}

impl Codec {
    pub(crate) fn from_header(name: &str, version: &str) -> Self {
        match name {
            "none" | "" => Codec::None,
            "zstd" => Codec::Zstd,
            _ => Codec::Unsupported {
                name: name.to_string(),
                version: version.to_string(),
            },
        }
    }

    /// Decompresses one block that must expand to exactly `expected` bytes.
    fn decompress(
        &self,
        data: &[u8],
        expected: u32,
        section: &'static str,
        offset: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let fail = |reason: String| StoreError::Compression {
            section,
            offset,
            reason,
        };
        let out = match self {
            Codec::Unsupported { name, version } => {
                return Err(StoreError::UnsupportedCompression {
                    name: name.clone(),
                    version: version.clone(),
                });
            }
            Codec::None => data.to_vec(),
            Codec::Zstd => {
                let dec = zstd::stream::read::Decoder::with_buffer(data)
                    .map_err(|e| fail(e.to_string()))?;
                // Read at most one byte more than announced: no huge
                // allocation from a corrupt size, and overlong data is caught.
                let mut out = Vec::new();
                dec.take(u64::from(expected) + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| fail(e.to_string()))?;
                out
            }
        };
        if out.len() != expected as usize {
            return Err(fail(format!(
                "expanded to {} bytes, header says {expected}",
                out.len()
            )));
        }
        Ok(out)
    }

    /// Reads `u32 csize, u32 usize, csize bytes` at `cur` and decompresses.
    pub(crate) fn read_block(&self, cur: &mut Cursor<'_>) -> Result<Vec<u8>, StoreError> {
        let offset = cur.offset();
        let csize = cur.u32()?;
        let usize_ = cur.u32()?;
        let data = cur.bytes(u64::from(csize))?;
        self.decompress(data, usize_, cur.section(), offset)
    }

    /// Reads chunked CPU data at `cur`: `u32 count` then `count` blocks.
    pub(crate) fn read_chunks(&self, cur: &mut Cursor<'_>) -> Result<Vec<u8>, StoreError> {
        let count = cur.u32()?;
        let mut out = Vec::new();
        for _ in 0..count {
            out.extend_from_slice(&self.read_block(cur)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::bytes::Endian;
    use super::*;

    #[test]
    fn zstd_block_and_errors() {
        let plain = vec![7u8; 5000];
        let z = zstd::bulk::compress(&plain, 3).unwrap();
        let mut block = Vec::new();
        block.extend_from_slice(&(z.len() as u32).to_le_bytes());
        block.extend_from_slice(&5000u32.to_le_bytes());
        block.extend_from_slice(&z);
        let mut cur = Cursor::new(&block, 0, Endian::Little, "test");
        assert_eq!(Codec::Zstd.read_block(&mut cur).unwrap(), plain);

        // Wrong announced size.
        block[4..8].copy_from_slice(&4999u32.to_le_bytes());
        let mut cur = Cursor::new(&block, 0, Endian::Little, "test");
        assert!(matches!(
            Codec::Zstd.read_block(&mut cur),
            Err(StoreError::Compression { .. })
        ));
        // Garbage.
        let junk = [4u8, 0, 0, 0, 16, 0, 0, 0, 1, 2, 3, 4];
        let mut cur = Cursor::new(&junk, 0, Endian::Little, "test");
        assert!(Codec::Zstd.read_block(&mut cur).is_err());
        let mut cur = Cursor::new(&junk, 0, Endian::Little, "test");
        assert!(matches!(
            Codec::from_header("lz4", "1").read_block(&mut cur),
            Err(StoreError::UnsupportedCompression { .. })
        ));
    }
}
