//! Kernel type information (BTF, /sys/kernel/btf/vmlinux): byte offsets of struct
//! members, so BPF programs on raw tracepoints can read fields of the structures they
//! are handed (task_struct's pid and comm), and the parameter counts of tracepoint
//! prototypes. A pure parser over the BTF bytes.

use thiserror::Error;

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_ENUM64: u32 = 19;
const KIND_PTR: u32 = 2;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum BtfError {
    #[error("not BTF data (bad magic or header)")]
    Header,
    #[error("BTF type {id} runs past the type section")]
    Truncated { id: u32 },
    #[error("BTF type {id} has unknown kind {kind}")]
    UnknownKind { id: u32, kind: u32 },
    #[error("no struct {strukt} in the kernel's BTF")]
    NoStruct { strukt: String },
    #[error("struct {strukt} has no member {member} in the kernel's BTF")]
    NoMember { strukt: String, member: String },
    #[error("member {strukt}.{member} is a bitfield")]
    Bitfield { strukt: String, member: String },
    #[error("no typedef {typedef} in the kernel's BTF")]
    NoTypedef { typedef: String },
}

/// One type record: where it starts and its leading words.
#[derive(Debug, Clone, Copy)]
struct TypeRecord {
    at: usize,
    name_off: u32,
    kind: u32,
    kind_flag: bool,
    vlen: usize,
    size_or_type: u32,
}

/// Parsed BTF: the type records (id = index + 1) over the borrowed bytes.
pub struct Btf<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    records: Vec<TypeRecord>,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Btf<'a> {
    /// Parses little-endian BTF (the kernel's, on the machines hytrace runs on).
    pub fn parse(bytes: &'a [u8]) -> Result<Btf<'a>, BtfError> {
        let magic = bytes.get(0..2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        if magic != Some(MAGIC) {
            return Err(BtfError::Header);
        }
        let header = |at| u32_at(bytes, at).ok_or(BtfError::Header);
        let hdr_len = header(4)? as usize;
        let (type_off, type_len) = (header(8)? as usize, header(12)? as usize);
        let (str_off, str_len) = (header(16)? as usize, header(20)? as usize);
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off).ok_or(BtfError::Header)?;
            bytes
                .get(start..start.checked_add(len).ok_or(BtfError::Header)?)
                .ok_or(BtfError::Header)
        };
        let types = section(type_off, type_len)?;
        let strings = section(str_off, str_len)?;
        let mut records = Vec::new();
        let mut at = 0;
        while at < types.len() {
            let id = records.len() as u32 + 1;
            let truncated = BtfError::Truncated { id };
            let name_off = u32_at(types, at).ok_or(truncated.clone())?;
            let info = u32_at(types, at + 4).ok_or(truncated.clone())?;
            let size_or_type = u32_at(types, at + 8).ok_or(truncated.clone())?;
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
                // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG.
                2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
                _ => return Err(BtfError::UnknownKind { id, kind }),
            };
            records.push(TypeRecord {
                at,
                name_off,
                kind,
                kind_flag: info >> 31 == 1,
                vlen,
                size_or_type,
            });
            at += 12 + extra;
            if at > types.len() {
                return Err(truncated);
            }
        }
        Ok(Btf {
            types,
            strings,
            records,
        })
    }

    fn name(&self, offset: u32) -> &[u8] {
        let rest = self.strings.get(offset as usize..).unwrap_or_default();
        &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
    }

    fn named(&self, kind: u32, name: &str) -> Option<&TypeRecord> {
        self.records
            .iter()
            .find(|r| r.kind == kind && self.name(r.name_off) == name.as_bytes())
    }

    /// The byte offset of `member` in `struct strukt` (a direct member).
    pub fn member_offset(&self, strukt: &str, member: &str) -> Result<u32, BtfError> {
        let record = self
            .named(KIND_STRUCT, strukt)
            .ok_or_else(|| BtfError::NoStruct {
                strukt: strukt.to_string(),
            })?;
        for i in 0..record.vlen {
            let at = record.at + 12 + 12 * i;
            let name_off = u32_at(self.types, at).unwrap_or(0);
            if self.name(name_off) != member.as_bytes() {
                continue;
            }
            let raw = u32_at(self.types, at + 8).unwrap_or(0);
            // With kind_flag the top 8 bits hold a bitfield's size.
            let (bits, bitfield_size) = if record.kind_flag {
                (raw & 0x00ff_ffff, raw >> 24)
            } else {
                (raw, 0)
            };
            if bitfield_size != 0 || bits % 8 != 0 {
                return Err(BtfError::Bitfield {
                    strukt: strukt.to_string(),
                    member: member.to_string(),
                });
            }
            return Ok(bits / 8);
        }
        Err(BtfError::NoMember {
            strukt: strukt.to_string(),
            member: member.to_string(),
        })
    }

    /// The number of parameters of the function prototype a typedef names through a
    /// pointer (`typedef void (*btf_trace_sched_switch)(void *, bool, …)`).
    pub fn typedef_proto_params(&self, typedef: &str) -> Result<usize, BtfError> {
        let missing = || BtfError::NoTypedef {
            typedef: typedef.to_string(),
        };
        let record = self.named(KIND_TYPEDEF, typedef).ok_or_else(missing)?;
        let pointer = self
            .records
            .get((record.size_or_type as usize).wrapping_sub(1))
            .filter(|r| r.kind == KIND_PTR)
            .ok_or_else(missing)?;
        let proto = self
            .records
            .get((pointer.size_or_type as usize).wrapping_sub(1))
            .filter(|r| r.kind == KIND_FUNC_PROTO)
            .ok_or_else(missing)?;
        Ok(proto.vlen)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One type for [`build`]: (name, kind, kind_flag, vlen, size_or_type, extra words).
    pub type TypeSpec<'a> = (&'a str, u32, bool, u32, u32, Vec<u32>);

    /// Builds little-endian BTF from type records and extra member names.
    pub fn build(types: &[TypeSpec<'_>], extra_names: &[&str]) -> Vec<u8> {
        let mut strings = vec![0u8];
        let mut name_offsets = std::collections::HashMap::new();
        for name in types.iter().map(|t| t.0).chain(extra_names.iter().copied()) {
            if !name.is_empty() && !name_offsets.contains_key(name) {
                name_offsets.insert(name.to_string(), strings.len() as u32);
                strings.extend_from_slice(name.as_bytes());
                strings.push(0);
            }
        }
        let off = |name: &str| name_offsets.get(name).copied().unwrap_or(0);
        let mut type_bytes = Vec::new();
        for (name, kind, flag, vlen, size, extra) in types {
            let info = (u32::from(*flag) << 31) | (kind << 24) | vlen;
            for word in [off(name), info, *size].iter().chain(extra) {
                type_bytes.extend_from_slice(&word.to_le_bytes());
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]); // version, flags
        for word in [
            24u32,
            0,
            type_bytes.len() as u32,
            type_bytes.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&type_bytes);
        out.extend_from_slice(&strings);
        out
    }

    /// The name offset `build` gives `name` (names are laid out in first-use order).
    fn name_off(types: &[TypeSpec<'_>], extra: &[&str], name: &str) -> u32 {
        let mut offset = 1u32;
        let mut seen = Vec::new();
        for n in types.iter().map(|t| t.0).chain(extra.iter().copied()) {
            if n.is_empty() || seen.contains(&n) {
                continue;
            }
            if n == name {
                return offset;
            }
            seen.push(n);
            offset += n.len() as u32 + 1;
        }
        panic!("{name} not laid out")
    }

    #[test]
    fn member_offsets_and_proto_params() {
        let names = ["pid", "comm", "flags"];
        let mut types: Vec<TypeSpec<'_>> = vec![
            ("int", KIND_INT, false, 0, 4, vec![32]),             // 1
            ("char", KIND_INT, false, 0, 1, vec![8]),             // 2
            ("", KIND_ARRAY, false, 0, 0, vec![2, 1, 16]),        // 3: char[16]
            ("task_struct", KIND_STRUCT, false, 2, 4096, vec![]), // 4
            ("", KIND_FUNC_PROTO, false, 5, 0, vec![0; 10]),      // 5
            ("", KIND_PTR, false, 0, 5, vec![]),                  // 6
            ("btf_trace_sched_switch", KIND_TYPEDEF, false, 0, 6, vec![]), // 7
            ("page", KIND_STRUCT, true, 1, 64, vec![]),           // 8: bitfield
        ];
        let layout = types.clone();
        let off = |n: &str| name_off(&layout, &names, n);
        types[3].5 = vec![off("pid"), 1, 2456 * 8, off("comm"), 3, 3000 * 8];
        types[7].5 = vec![off("flags"), 1, (3 << 24) | 5];
        let bytes = build(&types, &names);
        let btf = Btf::parse(&bytes).unwrap();
        assert_eq!(btf.member_offset("task_struct", "pid"), Ok(2456));
        assert_eq!(btf.member_offset("task_struct", "comm"), Ok(3000));
        assert_eq!(
            btf.member_offset("task_struct", "tgid"),
            Err(BtfError::NoMember {
                strukt: "task_struct".into(),
                member: "tgid".into()
            })
        );
        assert_eq!(
            btf.member_offset("mm_struct", "pgd"),
            Err(BtfError::NoStruct {
                strukt: "mm_struct".into()
            })
        );
        assert!(matches!(
            btf.member_offset("page", "flags"),
            Err(BtfError::Bitfield { .. })
        ));
        assert_eq!(btf.typedef_proto_params("btf_trace_sched_switch"), Ok(5));
        assert_eq!(
            btf.typedef_proto_params("btf_trace_nope"),
            Err(BtfError::NoTypedef {
                typedef: "btf_trace_nope".into()
            })
        );
    }

    #[test]
    fn damaged_btf_is_an_error() {
        assert!(matches!(
            Btf::parse(b"not btf at all, not at all"),
            Err(BtfError::Header)
        ));
        let bytes = build(&[("int", KIND_INT, false, 0, 4, vec![32])], &[]);
        // Claim a longer type section than there is.
        let mut long = bytes.clone();
        long[12..16].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(Btf::parse(&long), Err(BtfError::Header)));
        // A struct whose members run past the section.
        let cut = build(&[("s", KIND_STRUCT, false, 3, 8, vec![0, 1, 0])], &[]);
        assert!(matches!(
            Btf::parse(&cut),
            Err(BtfError::Truncated { id: 1 })
        ));
        let unknown = build(&[("x", 31, false, 0, 0, vec![])], &[]);
        assert!(matches!(
            Btf::parse(&unknown),
            Err(BtfError::UnknownKind { id: 1, kind: 31 })
        ));
    }
}

#[cfg(test)]
mod kernel_tests {
    use super::*;

    /// The running kernel's BTF parses whole, and has what the runq aggregator reads.
    #[test]
    fn this_kernels_btf_has_task_struct_pid_and_comm() {
        let Ok(bytes) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            eprintln!("skipped: /sys/kernel/btf/vmlinux unreadable");
            return;
        };
        let btf = Btf::parse(&bytes).unwrap();
        let pid = btf.member_offset("task_struct", "pid").unwrap();
        let comm = btf.member_offset("task_struct", "comm").unwrap();
        assert!(pid > 0 && comm > pid, "pid at {pid}, comm at {comm}");
        assert_eq!(btf.typedef_proto_params("btf_trace_sched_wakeup"), Ok(2));
    }
}
