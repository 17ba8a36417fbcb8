//! The initial format block common to all versions: magic, version,
//! endianness, long size and page size.

use super::bytes::{Cursor, Enc, Endian};
use super::error::StoreError;

/// `17 08 44` followed by `"tracing"`.
pub(crate) const MAGIC: &[u8; 10] = b"\x17\x08\x44tracing";

/// What the initial block says about the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Initial {
    pub(crate) version: u32,
    pub(crate) endian: Endian,
    pub(crate) long_size: u8,
    pub(crate) page_size: u32,
}

/// Parses the initial block; returns it and a cursor right after it (in the
/// file's byte order).
pub(crate) fn parse_initial(file: &[u8]) -> Result<(Initial, Cursor<'_>), StoreError> {
    if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
        return Err(StoreError::NotTraceDat);
    }
    let mut cur = Cursor::new(file, 0, Endian::Little, "initial format");
    cur.bytes(MAGIC.len() as u64)?;
    let raw_version = cur.cstr()?;
    let version_text = String::from_utf8_lossy(raw_version).into_owned();
    let Ok(version @ (6 | 7)) = version_text.parse::<u32>() else {
        return Err(StoreError::UnsupportedVersion {
            version: version_text,
        });
    };
    let at = cur.clone();
    let endian = match cur.u8()? {
        0 => Endian::Little,
        1 => Endian::Big,
        other => return Err(at.corrupt(format!("endian flag {other} is neither 0 nor 1"))),
    };
    let at = cur.clone();
    let long_size = cur.u8()?;
    if long_size != 4 && long_size != 8 {
        return Err(at.corrupt(format!("long size {long_size} is neither 4 nor 8")));
    }
    let mut cur = Cursor::at(file, cur.offset(), endian, "initial format")?;
    let at = cur.clone();
    let page_size = cur.u32()?;
    if page_size == 0 {
        return Err(at.corrupt("page size 0"));
    }
    Ok((
        Initial {
            version,
            endian,
            long_size,
            page_size,
        },
        cur,
    ))
}

/// Writes the initial block of a file of `version`.
pub(crate) fn write_initial(enc: &mut Enc, version: u32, long_size: u8, page_size: u32) {
    enc.bytes(MAGIC);
    enc.cstr(version.to_string().as_bytes());
    enc.bytes(&[u8::from(enc.endian == Endian::Big), long_size]);
    enc.u32(page_size);
}
