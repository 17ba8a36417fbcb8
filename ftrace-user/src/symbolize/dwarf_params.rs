//! A function's parameters by name, from DWARF (gimli), as uprobe fetch-arguments:
//! where each lives when the probe fires (a register, or a stack slot) and its type
//! (`u8`…`u64`, `s8`…`s64`, `string` for `char *`), as `perf probe -x` resolves them.
//!
//! The probe goes at the function's entry when every parameter asked for is in a
//! register there (optimized code, whose location lists say so). Code that keeps its
//! parameters in stack slots (`-O0`: `DW_OP_fbreg`) stores them after its prologue, so
//! the probe then goes after the prologue (the function's second line-table row), where
//! the slots hold them, addressed from the frame pointer the prologue set up (`push
//! %rbp; mov %rsp,%rbp`, checked in the code). Anything else is refused, saying why.
//! Pure: works on the ELF file's bytes.

use gimli::{AttributeValue, EndianSlice, Operation, RunTimeEndian};
use object::{Object, ObjectSection, ObjectSegment};
use thiserror::Error;

type R<'a> = EndianSlice<'a, RunTimeEndian>;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DwarfParamError {
    #[error("not an ELF file hytrace can read")]
    NotElf,
    #[error("no DWARF debug info (build with -g, or Rust with debug = 2)")]
    NoDwarf,
    #[error("the DWARF is damaged: {0}")]
    Damaged(String),
    #[error("no function {function} with code in the DWARF")]
    NoFunction { function: String },
    #[error("{function} has no parameter {name} (its parameters: {known})")]
    NoParameter {
        function: String,
        name: String,
        known: String,
    },
    #[error("{function}'s parameter {name} {why}")]
    NotFetchable {
        function: String,
        name: String,
        why: String,
    },
}

/// Where the probe goes and what it fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamProbe {
    /// File offset of the probed instruction.
    pub file_offset: u64,
    /// Whether that is after the prologue (else the entry).
    pub after_prologue: bool,
    /// `NAME=LOCATION:TYPE` per parameter asked for, in order.
    pub fetchargs: Vec<String>,
}

/// Where one parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Register(u16),
    /// Offset from the frame base.
    FrameBase(i64),
}

/// The probe for `names`, parameters of `function`, in the ELF image `elf`.
pub fn parameter_probe(
    elf: &[u8],
    function: &str,
    names: &[String],
) -> Result<ParamProbe, DwarfParamError> {
    let file = object::File::parse(elf).map_err(|_| DwarfParamError::NotElf)?;
    let endian = if file.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let section = |id: gimli::SectionId| -> Result<R<'_>, gimli::Error> {
        let data = file
            .section_by_name(id.name())
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(EndianSlice::new(data, endian))
    };
    let dwarf = gimli::Dwarf::load(section).map_err(damaged)?;
    if file.section_by_name(".debug_info").is_none() {
        return Err(DwarfParamError::NoDwarf);
    }
    let found = find_function(&dwarf, function)?;
    let mut places = Vec::new();
    for name in names {
        let param = found
            .params
            .iter()
            .find(|p| &p.name == name)
            .ok_or_else(|| DwarfParamError::NoParameter {
                function: function.to_string(),
                name: name.clone(),
                known: found
                    .params
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let not_fetchable = |why: &str| DwarfParamError::NotFetchable {
            function: function.to_string(),
            name: name.clone(),
            why: why.to_string(),
        };
        let place = param
            .place
            .ok_or_else(|| not_fetchable("lives nowhere fetchable at entry (optimized out)"))?;
        let kind = param
            .kind
            .clone()
            .ok_or_else(|| not_fetchable("has a type uprobes cannot fetch"))?;
        places.push((name.clone(), place, kind));
    }
    let on_stack = places
        .iter()
        .any(|(_, place, _)| matches!(place, Place::FrameBase(_)));
    let mut address = found.low_pc;
    if on_stack {
        if !found.frame_base_is_cfa_or_rbp {
            return Err(DwarfParamError::NotFetchable {
                function: function.to_string(),
                name: places[0].0.clone(),
                why: "is in a stack slot of a frame base hytrace cannot address".into(),
            });
        }
        let code = code_at(&file, found.low_pc, 4);
        if code != Some(&[0x55, 0x48, 0x89, 0xe5][..]) {
            return Err(DwarfParamError::NotFetchable {
                function: function.to_string(),
                name: places[0].0.clone(),
                why: "is in a stack slot, and the function does not set up a frame pointer \
                      (push %rbp; mov %rsp,%rbp)"
                    .into(),
            });
        }
        address = found
            .after_prologue
            .ok_or_else(|| DwarfParamError::NotFetchable {
                function: function.to_string(),
                name: places[0].0.clone(),
                why: "is in a stack slot, and the line table marks no end of the prologue".into(),
            })?;
    }
    let fetchargs = places
        .iter()
        .map(|(name, place, kind)| {
            let location = match *place {
                Place::Register(reg) => format!("%{}", register_name(reg).unwrap_or("?")),
                // The frame base is the CFA (%rbp + 16 once the frame is set up) or %rbp.
                Place::FrameBase(offset) => {
                    let from_rbp = if found.frame_base_is_rbp {
                        offset
                    } else {
                        offset + 16
                    };
                    format!("{from_rbp:+}(%bp)")
                }
            };
            match kind {
                FetchKind::Scalar(t) => format!("{name}={location}:{t}"),
                FetchKind::String => format!("{name}=+0({location}):string"),
            }
        })
        .collect::<Vec<_>>();
    if let Some((name, _, _)) = places
        .iter()
        .find(|(_, place, _)| matches!(place, Place::Register(r) if register_name(*r).is_none()))
    {
        return Err(DwarfParamError::NotFetchable {
            function: function.to_string(),
            name: name.clone(),
            why: "is in a register uprobes cannot name".into(),
        });
    }
    let file_offset =
        file_offset_of(&file, address).ok_or_else(|| DwarfParamError::NoFunction {
            function: function.to_string(),
        })?;
    Ok(ParamProbe {
        file_offset,
        after_prologue: on_stack,
        fetchargs,
    })
}

fn damaged(e: gimli::Error) -> DwarfParamError {
    DwarfParamError::Damaged(e.to_string())
}

/// How a parameter's value is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FetchKind {
    /// `u8`…`u64`, `s8`…`s64`.
    Scalar(&'static str),
    /// A `char *`: the string it points to.
    String,
}

struct Param {
    name: String,
    place: Option<Place>,
    kind: Option<FetchKind>,
}

struct FoundFunction {
    low_pc: u64,
    after_prologue: Option<u64>,
    frame_base_is_cfa_or_rbp: bool,
    frame_base_is_rbp: bool,
    params: Vec<Param>,
}

fn find_function(
    dwarf: &gimli::Dwarf<R<'_>>,
    function: &str,
) -> Result<FoundFunction, DwarfParamError> {
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(damaged)? {
        let unit = dwarf.unit(header).map_err(damaged)?;
        let mut entries = unit.entries();
        while let Some(entry) = entries.next_dfs().map_err(damaged)? {
            if entry.tag() != gimli::DW_TAG_subprogram {
                continue;
            }
            let Some(name) = entry.attr_value(gimli::DW_AT_name) else {
                continue;
            };
            let name = dwarf.attr_string(&unit, name).map_err(damaged)?;
            if name.to_string_lossy() != function {
                continue;
            }
            let low_pc = match entry.attr_value(gimli::DW_AT_low_pc) {
                Some(value) => dwarf.attr_address(&unit, value).map_err(damaged)?,
                None => None,
            };
            let Some(low_pc) = low_pc else {
                continue;
            };
            let frame_base = entry.attr_value(gimli::DW_AT_frame_base);
            let (is_cfa, is_rbp) = frame_base_kind(frame_base, unit.encoding());
            let offset = entry.offset();
            let params = parameters(dwarf, &unit, offset, low_pc)?;
            return Ok(FoundFunction {
                low_pc,
                after_prologue: after_prologue(dwarf, &unit, low_pc)?,
                frame_base_is_cfa_or_rbp: is_cfa || is_rbp,
                frame_base_is_rbp: is_rbp,
                params,
            });
        }
    }
    Err(DwarfParamError::NoFunction {
        function: function.to_string(),
    })
}

/// Whether the frame base is DW_OP_call_frame_cfa, or DW_OP_reg6 / DW_OP_breg6 0 (%rbp).
fn frame_base_kind(
    value: Option<AttributeValue<R<'_>>>,
    encoding: gimli::Encoding,
) -> (bool, bool) {
    let Some(AttributeValue::Exprloc(expr)) = value else {
        return (false, false);
    };
    let mut ops = expr.operations(encoding);
    match ops.next() {
        Ok(Some(Operation::CallFrameCFA)) => (true, false),
        Ok(Some(Operation::Register { register })) if register.0 == 6 => (false, true),
        Ok(Some(Operation::RegisterOffset {
            register,
            offset: 0,
            ..
        })) if register.0 == 6 => (false, true),
        _ => (false, false),
    }
}

/// The formal parameters of the subprogram at `offset`, each with where it is at
/// `low_pc` and how to fetch its type.
fn parameters(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    offset: gimli::UnitOffset,
    low_pc: u64,
) -> Result<Vec<Param>, DwarfParamError> {
    let mut tree = unit.entries_tree(Some(offset)).map_err(damaged)?;
    let root = tree.root().map_err(damaged)?;
    let mut children = root.children();
    let mut params = Vec::new();
    while let Some(child) = children.next().map_err(damaged)? {
        let entry = child.entry();
        if entry.tag() != gimli::DW_TAG_formal_parameter {
            continue;
        }
        let Some(name) = entry.attr_value(gimli::DW_AT_name) else {
            continue;
        };
        let name = dwarf
            .attr_string(unit, name)
            .map_err(damaged)?
            .to_string_lossy()
            .into_owned();
        let place = match entry.attr_value(gimli::DW_AT_location) {
            Some(AttributeValue::Exprloc(expr)) => place_of(expr, unit.encoding()),
            Some(value) => {
                let mut found = None;
                if let Some(mut locations) = dwarf.attr_locations(unit, value).map_err(damaged)? {
                    while let Some(location) = locations.next().map_err(damaged)? {
                        if location.range.begin <= low_pc && low_pc < location.range.end {
                            found = place_of(location.data, unit.encoding());
                            break;
                        }
                    }
                }
                found
            }
            None => None,
        };
        let kind = match entry.attr_value(gimli::DW_AT_type) {
            Some(AttributeValue::UnitRef(type_offset)) => fetch_kind(unit, type_offset)?,
            _ => None,
        };
        params.push(Param { name, place, kind });
    }
    Ok(params)
}

/// A location expression that is a lone register or frame-base offset.
fn place_of(expr: gimli::Expression<R<'_>>, encoding: gimli::Encoding) -> Option<Place> {
    let mut ops = expr.operations(encoding);
    let place = match ops.next().ok()?? {
        Operation::Register { register } => Place::Register(register.0),
        Operation::FrameOffset { offset } => Place::FrameBase(offset),
        _ => return None,
    };
    // Anything after (a piece, an operation on the value) is not handled.
    match ops.next() {
        Ok(None) => Some(place),
        _ => None,
    }
}

/// How a value of the type at `offset` is fetched (typedefs and const followed).
fn fetch_kind(
    unit: &gimli::Unit<R<'_>>,
    mut offset: gimli::UnitOffset,
) -> Result<Option<FetchKind>, DwarfParamError> {
    for _ in 0..16 {
        let entry = unit.entry(offset).map_err(damaged)?;
        match entry.tag() {
            gimli::DW_TAG_typedef | gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type => {
                match entry.attr_value(gimli::DW_AT_type) {
                    Some(AttributeValue::UnitRef(next)) => offset = next,
                    _ => return Ok(None),
                }
            }
            gimli::DW_TAG_base_type => {
                let size = entry
                    .attr_value(gimli::DW_AT_byte_size)
                    .and_then(|v| v.udata_value());
                let signed = matches!(
                    entry.attr_value(gimli::DW_AT_encoding),
                    Some(AttributeValue::Encoding(
                        gimli::DW_ATE_signed | gimli::DW_ATE_signed_char
                    ))
                );
                return Ok(match (size, signed) {
                    (Some(1), true) => Some(FetchKind::Scalar("s8")),
                    (Some(2), true) => Some(FetchKind::Scalar("s16")),
                    (Some(4), true) => Some(FetchKind::Scalar("s32")),
                    (Some(8), true) => Some(FetchKind::Scalar("s64")),
                    (Some(1), false) => Some(FetchKind::Scalar("u8")),
                    (Some(2), false) => Some(FetchKind::Scalar("u16")),
                    (Some(4), false) => Some(FetchKind::Scalar("u32")),
                    (Some(8), false) => Some(FetchKind::Scalar("u64")),
                    _ => None,
                });
            }
            gimli::DW_TAG_pointer_type => {
                // char * (const char *): the string; other pointers as addresses.
                let pointee = match entry.attr_value(gimli::DW_AT_type) {
                    Some(AttributeValue::UnitRef(next)) => fetch_kind(unit, next)?,
                    _ => None,
                };
                return Ok(Some(match pointee {
                    Some(FetchKind::Scalar("s8" | "u8")) => FetchKind::String,
                    _ => FetchKind::Scalar("x64"),
                }));
            }
            gimli::DW_TAG_enumeration_type => {
                let size = entry
                    .attr_value(gimli::DW_AT_byte_size)
                    .and_then(|v| v.udata_value());
                return Ok(match size {
                    Some(4) => Some(FetchKind::Scalar("s32")),
                    Some(8) => Some(FetchKind::Scalar("s64")),
                    _ => None,
                });
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// The address of the function's second line-table row (the first statement after
/// the prologue, where `-O0` code has stored its parameters), if the unit has one.
fn after_prologue(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    low_pc: u64,
) -> Result<Option<u64>, DwarfParamError> {
    let Some(program) = unit.line_program.clone() else {
        return Ok(None);
    };
    let _ = dwarf;
    let mut rows = program.rows();
    let mut entry_line = None;
    let mut best: Option<u64> = None;
    while let Some((_, row)) = rows.next_row().map_err(damaged)? {
        if row.end_sequence() {
            entry_line = None;
            continue;
        }
        let address = row.address();
        if address == low_pc && entry_line.is_none() {
            entry_line = Some(row.line());
            continue;
        }
        if let Some(line) = entry_line
            && address > low_pc
            && row.line() != line
            && row.is_stmt()
        {
            best = Some(best.map_or(address, |b: u64| b.min(address)));
            entry_line = None;
        }
    }
    Ok(best)
}

/// The bytes of code at virtual address `address`.
fn code_at<'a>(file: &object::File<'a>, address: u64, len: u64) -> Option<&'a [u8]> {
    for segment in file.segments() {
        if segment.address() <= address && address + len <= segment.address() + segment.size() {
            let data = segment.data().ok()?;
            let start = (address - segment.address()) as usize;
            return data.get(start..start + len as usize);
        }
    }
    None
}

/// The file offset of virtual address `address` (through the loadable segments).
fn file_offset_of(file: &object::File<'_>, address: u64) -> Option<u64> {
    file.segments().find_map(|segment| {
        let (offset, size) = segment.file_range();
        (segment.address() <= address && address < segment.address() + size)
            .then(|| address - segment.address() + offset)
    })
}

/// The pt_regs name of DWARF x86-64 register `reg`, as uprobe fetch-args write it.
fn register_name(reg: u16) -> Option<&'static str> {
    Some(match reg {
        0 => "ax",
        1 => "dx",
        2 => "cx",
        3 => "bx",
        4 => "si",
        5 => "di",
        6 => "bp",
        7 => "sp",
        8 => "r8",
        9 => "r9",
        10 => "r10",
        11 => "r11",
        12 => "r12",
        13 => "r13",
        14 => "r14",
        15 => "r15",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds `source` (C) with gcc and `flags` into a temporary file; None without gcc.
    fn compile(source: &str, flags: &[&str]) -> Option<Vec<u8>> {
        let dir = std::env::temp_dir().join(format!(
            "hytrace-dwarf-{}-{}",
            std::process::id(),
            flags.join("").replace(['-', ' '], "")
        ));
        std::fs::create_dir_all(&dir).ok()?;
        let c = dir.join("p.c");
        let exe = dir.join("p");
        std::fs::write(&c, source).ok()?;
        let built = std::process::Command::new("gcc")
            .args(flags)
            .arg("-o")
            .arg(&exe)
            .arg(&c)
            .status()
            .ok()?
            .success();
        let bytes = built.then(|| std::fs::read(&exe).ok()).flatten();
        let _ = std::fs::remove_dir_all(&dir);
        bytes
    }

    const SOURCE: &str = r#"
#include <stdio.h>
__attribute__((noinline)) long probe_me(int depth, unsigned long count, const char *label)
{
    return depth + (long)count + (label ? label[0] : 0);
}
int main(int argc, char **argv) { return (int)probe_me(argc, 7, argv[0]); }
"#;

    #[test]
    fn o0_parameters_are_stack_slots_after_the_prologue() {
        let Some(elf) = compile(SOURCE, &["-O0", "-g", "-fno-omit-frame-pointer"]) else {
            eprintln!("skipped: gcc is not installed");
            return;
        };
        let names = ["depth", "count", "label"].map(String::from);
        let probe = parameter_probe(&elf, "probe_me", &names).unwrap();
        assert!(probe.after_prologue);
        // gcc 12 -O0 stores edi, rsi, rdx at -0x4, -0x10, -0x18 from %rbp (objdump -d).
        assert_eq!(
            probe.fetchargs,
            vec![
                "depth=-4(%bp):s32",
                "count=-16(%bp):u64",
                "label=+0(-24(%bp)):string"
            ]
        );
    }

    #[test]
    fn optimized_parameters_are_registers_at_entry() {
        let Some(elf) = compile(SOURCE, &["-O2", "-g"]) else {
            eprintln!("skipped: gcc is not installed");
            return;
        };
        let names = ["depth", "count"].map(String::from);
        let probe = parameter_probe(&elf, "probe_me", &names).unwrap();
        assert!(!probe.after_prologue);
        assert_eq!(probe.fetchargs, vec!["depth=%di:s32", "count=%si:u64"]);
    }

    #[test]
    fn unknown_names_and_missing_dwarf_are_clear_errors() {
        let Some(elf) = compile(SOURCE, &["-O0", "-g"]) else {
            eprintln!("skipped: gcc is not installed");
            return;
        };
        assert_eq!(
            parameter_probe(&elf, "probe_me", &["ms".to_string()]),
            Err(DwarfParamError::NoParameter {
                function: "probe_me".into(),
                name: "ms".into(),
                known: "depth, count, label".into()
            })
        );
        assert_eq!(
            parameter_probe(&elf, "nosuch", &["x".to_string()]),
            Err(DwarfParamError::NoFunction {
                function: "nosuch".into()
            })
        );
        let stripped = compile(SOURCE, &["-O0"]).unwrap();
        assert_eq!(
            parameter_probe(&stripped, "probe_me", &["depth".to_string()]),
            Err(DwarfParamError::NoDwarf)
        );
        assert_eq!(
            parameter_probe(b"junk", "f", &[]),
            Err(DwarfParamError::NotElf)
        );
    }
}
