//! A source line to the file offset of its first instruction, through the DWARF line
//! table (gimli), for `--uprobe 'p:NAME PATH:FILE:LINE'`. Pure: works on the ELF
//! file's bytes.

use gimli::{EndianSlice, RunTimeEndian};
use object::{Object, ObjectSection, ObjectSegment};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DwarfLineError {
    #[error("not an ELF file hytrace can read")]
    NotElf,
    #[error("no DWARF line table (build with -g)")]
    NoDwarf,
    #[error("the DWARF is damaged: {0}")]
    Damaged(String),
    #[error("no code at {file}:{line} in the line table (lines with code near it: {near})")]
    NoCode {
        file: String,
        line: u64,
        near: String,
    },
}

fn damaged(e: gimli::Error) -> DwarfLineError {
    DwarfLineError::Damaged(e.to_string())
}

/// The file offset of the lowest-addressed statement of `file:line`; `file` matches a
/// line-table file whose path ends with it (`deep.c`, `c/deep.c`).
pub fn line_file_offset(elf: &[u8], file: &str, line: u64) -> Result<u64, DwarfLineError> {
    let object = object::File::parse(elf).map_err(|_| DwarfLineError::NotElf)?;
    if object.section_by_name(".debug_line").is_none() {
        return Err(DwarfLineError::NoDwarf);
    }
    let endian = if object.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let section = |id: gimli::SectionId| -> Result<EndianSlice<'_, RunTimeEndian>, gimli::Error> {
        let data = object
            .section_by_name(id.name())
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(EndianSlice::new(data, endian))
    };
    let dwarf = gimli::Dwarf::load(section).map_err(damaged)?;
    let mut best: Option<u64> = None;
    let mut near: Vec<u64> = Vec::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(damaged)? {
        let unit = dwarf.unit(header).map_err(damaged)?;
        let Some(program) = unit.line_program.clone() else {
            continue;
        };
        let mut rows = program.rows();
        while let Some((header, row)) = rows.next_row().map_err(damaged)? {
            if row.end_sequence() || !row.is_stmt() {
                continue;
            }
            let Some(entry) = row.file(header) else {
                continue;
            };
            let mut path = String::new();
            if let Some(dir) = entry.directory(header) {
                let dir = dwarf.attr_string(&unit, dir).map_err(damaged)?;
                path.push_str(&dir.to_string_lossy());
                path.push('/');
            }
            let name = dwarf
                .attr_string(&unit, entry.path_name())
                .map_err(damaged)?;
            path.push_str(&name.to_string_lossy());
            if !(path == file || path.ends_with(&format!("/{file}"))) {
                continue;
            }
            let row_line = row.line().map_or(0, std::num::NonZero::get);
            if row_line == line {
                best = Some(best.map_or(row.address(), |b| b.min(row.address())));
            } else if row_line.abs_diff(line) <= 3 && !near.contains(&row_line) {
                near.push(row_line);
            }
        }
    }
    let address = best.ok_or_else(|| {
        near.sort_unstable();
        DwarfLineError::NoCode {
            file: file.to_string(),
            line,
            near: if near.is_empty() {
                "none".into()
            } else {
                near.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }
    })?;
    object
        .segments()
        .find_map(|segment| {
            let (offset, size) = segment.file_range();
            (segment.address() <= address && address < segment.address() + size)
                .then(|| address - segment.address() + offset)
        })
        .ok_or(DwarfLineError::NoCode {
            file: file.to_string(),
            line,
            near: "none in a loaded segment".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_the_first_instruction_objdump_lists_for_it() {
        let dir = std::env::temp_dir().join(format!("hytrace-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = dir.join("l.c");
        let exe = dir.join("l");
        std::fs::write(
            &c,
            "int g;\n__attribute__((noinline)) void f(int x)\n{\n\tg += x;\n\tg *= 3;\n}\nint main(void) { f(2); return g; }\n",
        )
        .unwrap();
        let built = std::process::Command::new("gcc")
            .args(["-O0", "-g", "-o"])
            .arg(&exe)
            .arg(&c)
            .status()
            .is_ok_and(|s| s.success());
        if !built {
            eprintln!("skipped: gcc is not installed");
            return;
        }
        let elf = std::fs::read(&exe).unwrap();
        // objdump -dl names the first instruction of l.c:5 (`g *= 3`).
        let listing = std::process::Command::new("objdump")
            .arg("-dl")
            .arg(&exe)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&listing.stdout);
        let after = text.split("l.c:5").nth(1).unwrap();
        let first = after.lines().nth(1).unwrap();
        let address = u64::from_str_radix(first.trim().split(':').next().unwrap(), 16).unwrap();
        // gcc's PIE layout maps code at its file offset.
        assert_eq!(line_file_offset(&elf, "l.c", 5), Ok(address));
        assert!(matches!(
            line_file_offset(&elf, "l.c", 1),
            Err(DwarfLineError::NoCode { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
