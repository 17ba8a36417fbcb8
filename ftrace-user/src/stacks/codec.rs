//! The file's user-stack option: [`UserStacks`] as bytes, little-endian (pure).
//!
//! ```text
//! "HYUSTK01" lost:u64 event_types:u32 { type:u16 }
//! objects:u32 { build_id_len:u8 build_id path_len:u32 path }
//! stacks:u32  { frames:u32 { kind:u8 a:u32 b:u64 } }      kind 0 object(a, offset b)
//!                                                           kind 1/2 address b (gone/no file)
//! samples:u64 { ktime:u64 tid:u32 tgid:u32 cpu:u32 status:u16 value:u32 }
//!                                                           status 0 stack value, 1 empty,
//!                                                           2 errno value
//! ```
//!
//! Decoding trusts nothing: every count is checked against the bytes left before
//! anything is allocated.

use thiserror::Error;

use super::{Frame, StackError, StackObject, StackSample, Unplaced, UserStacks};

const MAGIC: &[u8; 8] = b"HYUSTK01";
const FRAME_BYTES: usize = 13;
const SAMPLE_BYTES: usize = 26;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum StackCodecError {
    #[error("user stacks: not a user-stack section (bad magic)")]
    Magic,
    #[error("user stacks: cut short at byte {at} (reading {what})")]
    Short { at: usize, what: &'static str },
    #[error("user stacks: {what} {value} at byte {at} is out of range")]
    Range {
        at: usize,
        what: &'static str,
        value: u64,
    },
}

/// Encodes `stacks`.
pub fn encode(stacks: &UserStacks) -> Vec<u8> {
    let frames: usize = stacks.stacks.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(
        64 + frames * FRAME_BYTES + stacks.samples.len() * SAMPLE_BYTES + stacks.objects.len() * 64,
    );
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&stacks.lost.to_le_bytes());
    out.extend_from_slice(&(stacks.event_types.len() as u32).to_le_bytes());
    for event_type in &stacks.event_types {
        out.extend_from_slice(&event_type.to_le_bytes());
    }
    out.extend_from_slice(&(stacks.objects.len() as u32).to_le_bytes());
    for object in &stacks.objects {
        let id = &object.build_id[..object.build_id.len().min(255)];
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&(object.path.len() as u32).to_le_bytes());
        out.extend_from_slice(object.path.as_bytes());
    }
    out.extend_from_slice(&(stacks.stacks.len() as u32).to_le_bytes());
    for stack in &stacks.stacks {
        out.extend_from_slice(&(stack.len() as u32).to_le_bytes());
        for frame in stack {
            let (kind, a, b) = match *frame {
                Frame::Object { object, offset } => (0u8, object, offset),
                Frame::Address {
                    ip,
                    why: Unplaced::ProcessGone,
                } => (1, 0, ip),
                Frame::Address {
                    ip,
                    why: Unplaced::NoFile,
                } => (2, 0, ip),
            };
            out.push(kind);
            out.extend_from_slice(&a.to_le_bytes());
            out.extend_from_slice(&b.to_le_bytes());
        }
    }
    out.extend_from_slice(&(stacks.samples.len() as u64).to_le_bytes());
    for sample in &stacks.samples {
        out.extend_from_slice(&sample.ktime_ns.to_le_bytes());
        out.extend_from_slice(&sample.tid.to_le_bytes());
        out.extend_from_slice(&sample.tgid.to_le_bytes());
        out.extend_from_slice(&sample.cpu.to_le_bytes());
        let (status, value) = match sample.stack {
            Ok(index) => (0u16, index),
            Err(StackError::Empty) => (1, 0),
            Err(StackError::Errno(e)) => (2, e as u32),
        };
        out.extend_from_slice(&status.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

/// Decodes a user-stack option.
pub fn decode(bytes: &[u8]) -> Result<UserStacks, StackCodecError> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len(), "magic")? != MAGIC {
        return Err(StackCodecError::Magic);
    }
    let lost = r.u64("lost count")?;
    let type_count = r.count32(2, "event type count")?;
    let mut event_types = Vec::with_capacity(type_count);
    for _ in 0..type_count {
        event_types.push(r.u16("event type")?);
    }
    let object_count = r.count32(5, "object count")?;
    let mut objects = Vec::with_capacity(object_count);
    for _ in 0..object_count {
        let id_len = r.u8("build-id length")?;
        let build_id = r.take(id_len.into(), "build-id")?.to_vec();
        let path_len = r.u32("path length")? as usize;
        let path = String::from_utf8_lossy(r.take(path_len, "path")?).into_owned();
        objects.push(StackObject { build_id, path });
    }
    let stack_count = r.count32(4, "stack count")?;
    let mut stacks = Vec::with_capacity(stack_count);
    for _ in 0..stack_count {
        let frame_count = r.count32(FRAME_BYTES, "frame count")?;
        let mut frames = Vec::with_capacity(frame_count);
        for _ in 0..frame_count {
            let at = r.at;
            let kind = r.u8("frame kind")?;
            let a = r.u32("frame object")?;
            let b = r.u64("frame address")?;
            frames.push(match kind {
                0 if (a as usize) < objects.len() => Frame::Object {
                    object: a,
                    offset: b,
                },
                0 => {
                    return Err(StackCodecError::Range {
                        at,
                        what: "object index",
                        value: a.into(),
                    });
                }
                1 => Frame::Address {
                    ip: b,
                    why: Unplaced::ProcessGone,
                },
                2 => Frame::Address {
                    ip: b,
                    why: Unplaced::NoFile,
                },
                other => {
                    return Err(StackCodecError::Range {
                        at,
                        what: "frame kind",
                        value: other.into(),
                    });
                }
            });
        }
        stacks.push(frames);
    }
    let sample_count = r.count64(SAMPLE_BYTES, "sample count")?;
    let mut samples = Vec::with_capacity(sample_count);
    for _ in 0..sample_count {
        let ktime_ns = r.u64("sample time")?;
        let tid = r.u32("sample tid")?;
        let tgid = r.u32("sample tgid")?;
        let cpu = r.u32("sample cpu")?;
        let at = r.at;
        let status = r.u16("sample status")?;
        let value = r.u32("sample value")?;
        let stack = match status {
            0 if (value as usize) < stacks.len() => Ok(value),
            1 => Err(StackError::Empty),
            2 => Err(StackError::Errno(value as i32)),
            _ => {
                return Err(StackCodecError::Range {
                    at,
                    what: "sample stack",
                    value: (u64::from(status) << 32) | u64::from(value),
                });
            }
        };
        samples.push(StackSample {
            ktime_ns,
            tid,
            tgid,
            cpu,
            stack,
        });
    }
    Ok(UserStacks {
        objects,
        stacks,
        samples,
        lost,
        event_types,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], StackCodecError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(StackCodecError::Short { at: self.at, what })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, StackCodecError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, StackCodecError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, StackCodecError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, StackCodecError> {
        let b = self.take(8, what)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(b);
        Ok(u64::from_le_bytes(word))
    }

    /// A u32 count of items of at least `min_bytes` each, which must fit in what is left.
    fn count32(&mut self, min_bytes: usize, what: &'static str) -> Result<usize, StackCodecError> {
        let count = self.u32(what)?;
        self.fits(count.into(), min_bytes, what)
    }

    /// The same with a u64 count.
    fn count64(&mut self, min_bytes: usize, what: &'static str) -> Result<usize, StackCodecError> {
        let count = self.u64(what)?;
        self.fits(count, min_bytes, what)
    }

    /// `count` items of at least `min_bytes` each must fit in what is left.
    fn fits(
        &self,
        count: u64,
        min_bytes: usize,
        what: &'static str,
    ) -> Result<usize, StackCodecError> {
        let left = (self.bytes.len() - self.at) as u64;
        if count.saturating_mul(min_bytes as u64) > left {
            return Err(StackCodecError::Range {
                at: self.at,
                what,
                value: count,
            });
        }
        Ok(count as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> UserStacks {
        UserStacks {
            objects: vec![
                StackObject {
                    build_id: vec![0xab; 20],
                    path: "/tmp/deep".into(),
                },
                StackObject {
                    build_id: Vec::new(),
                    path: "/usr/lib/x86_64-linux-gnu/libc.so.6".into(),
                },
            ],
            stacks: vec![
                vec![
                    Frame::Object {
                        object: 0,
                        offset: 0x1157,
                    },
                    Frame::Object {
                        object: 1,
                        offset: 0x2724a,
                    },
                    Frame::Address {
                        ip: 0x7f00_0000_1000,
                        why: Unplaced::NoFile,
                    },
                ],
                vec![Frame::Address {
                    ip: 0x5555_0000_0000,
                    why: Unplaced::ProcessGone,
                }],
            ],
            samples: vec![
                StackSample {
                    ktime_ns: 1_000_000_123,
                    tid: 4242,
                    tgid: 4240,
                    cpu: 1,
                    stack: Ok(1),
                },
                StackSample {
                    ktime_ns: 1_000_000_999,
                    tid: 17,
                    tgid: 17,
                    cpu: 0,
                    stack: Err(StackError::Empty),
                },
                StackSample {
                    ktime_ns: 1_000_001_000,
                    tid: 4242,
                    tgid: 4240,
                    cpu: 0,
                    stack: Err(StackError::Errno(14)),
                },
            ],
            lost: 3,
            event_types: vec![21, 22],
        }
    }

    #[test]
    fn round_trips() {
        let stacks = example();
        assert_eq!(decode(&encode(&stacks)).unwrap(), stacks);
        assert_eq!(
            decode(&encode(&UserStacks::default())).unwrap(),
            UserStacks::default()
        );
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_an_error_or_a_value_never_a_panic() {
        let bytes = encode(&example());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let _ = decode(&damaged);
            }
        }
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(&bytes),
            Err(StackCodecError::Range {
                at: 24,
                what: "object count",
                value: u64::from(u32::MAX)
            })
        );
        assert_eq!(decode(b"HYUSTK02........"), Err(StackCodecError::Magic));
    }
}
