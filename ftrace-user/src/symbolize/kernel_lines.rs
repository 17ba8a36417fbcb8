//! Kernel addresses to file:line, inlined functions as frames of their own, from the
//! kernel's debug info (a vmlinux with DWARF, as Debian's `linux-image-*-dbg` installs it
//! under /usr/lib/debug), with blazesym.
//!
//! A recording names its kernel by the GNU build-id of /sys/kernel/notes (stored by
//! record as the hytrace option [`KERNEL_BUILD_ID`](crate::store::hytrace_kind)) and by
//! the release in its uname; [`find_vmlinux`] looks for the file that carries that
//! build-id. The kernel ran relocated (KASLR): the shift is the recorded kallsyms'
//! `_text` minus the file's, and the file is taken only when the functions both name
//! sit at that same shift ([`kaslr_shift`]), so a vmlinux of another build is refused
//! rather than trusted. Module addresses are not in vmlinux and stay unnamed here.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use blazesym::symbolize::{
    Input, Symbolized, Symbolizer,
    source::{Elf, Source},
};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use thiserror::Error;

use super::{KernelSymbols, SourcePaths, user::demangle};
use crate::{format::SourceLine, stacks::build_ids};

#[derive(Debug, Error)]
pub enum KernelLinesError {
    #[error(
        "no kernel debug info for this recording (kernel {release}, build-id {build_id}); \
         looked for {looked}. Install the kernel's debug package (Debian: \
         linux-image-{release}-dbg) or give --vmlinux FILE"
    )]
    NotFound {
        release: String,
        build_id: String,
        looked: String,
    },
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path} has no DWARF debug info (.debug_info): a stripped vmlinux names no lines")]
    NoDwarf { path: PathBuf },
    #[error(
        "{path} is not the recording's kernel: its build-id is {found}, the recording's \
         {recorded}"
    )]
    OtherBuild {
        path: PathBuf,
        found: String,
        recorded: String,
    },
    #[error(
        "{path} is not the recording's kernel: {reason} (the recording's kallsyms and the \
         file's symbol table disagree)"
    )]
    SymbolsDisagree { path: PathBuf, reason: String },
    #[error("blazesym cannot symbolize {path}: {reason}")]
    Symbolize { path: PathBuf, reason: String },
}

/// The GNU build-id in an ELF note section's bytes (/sys/kernel/notes): notes of 4-byte
/// name and descriptor sizes and a 4-byte type, name and descriptor each padded to 4
/// bytes; the build-id is type 3 (`NT_GNU_BUILD_ID`) of owner "GNU".
pub fn build_id_from_notes(notes: &[u8]) -> Option<Vec<u8>> {
    let word = |at: usize| -> Option<usize> {
        let bytes = notes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?) as usize)
    };
    let padded = |n: usize| n.checked_add(3).map(|n| n & !3);
    let mut at: usize = 0;
    while at.checked_add(12)? <= notes.len() {
        let (name_size, desc_size, kind) = (word(at)?, word(at + 4)?, word(at + 8)?);
        let name_at = at + 12;
        let desc_at = name_at.checked_add(padded(name_size)?)?;
        let end = desc_at.checked_add(padded(desc_size)?)?;
        let name = notes.get(name_at..name_at.checked_add(name_size)?)?;
        if kind == 3 && name == b"GNU\0" {
            return Some(notes.get(desc_at..desc_at + desc_size)?.to_vec());
        }
        at = end;
    }
    None
}

/// A build-id written as hex (the KERNEL_BUILD_ID option's text); None if not hex.
pub fn build_id_from_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.is_empty() || !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The running kernel's build-id, from /sys/kernel/notes.
pub fn running_kernel_build_id() -> Option<Vec<u8>> {
    build_id_from_notes(&std::fs::read("/sys/kernel/notes").ok()?)
}

/// The release (`uname -r`) in a trace.dat uname option (`Linux HOST RELEASE VERSION…`).
pub fn release_of_uname(uname: &str) -> Option<&str> {
    uname.split_ascii_whitespace().nth(2)
}

/// The files that may be the kernel's debug info, in the order they are tried: for a
/// known build-id, `DIR/.build-id/xx/rest.debug` under each debug directory and
/// /usr/lib/debug; for a known release, the places distributions install vmlinux.
pub fn vmlinux_candidates(
    build_id: Option<&[u8]>,
    release: Option<&str>,
    debug_dirs: &[PathBuf],
) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = debug_dirs.to_vec();
    roots.push(PathBuf::from("/usr/lib/debug"));
    let mut candidates = Vec::new();
    if let Some(id) = build_id.filter(|id| id.len() > 1) {
        let name = build_ids::hex(id);
        for root in &roots {
            candidates.push(
                root.join(".build-id")
                    .join(&name[..2])
                    .join(format!("{}.debug", &name[2..])),
            );
        }
    }
    if let Some(release) = release.filter(|r| !r.is_empty() && !r.contains('/')) {
        for root in &roots {
            candidates.push(root.join("boot").join(format!("vmlinux-{release}")));
            candidates.push(root.join(format!("lib/modules/{release}/vmlinux")));
        }
        candidates.push(PathBuf::from(format!("/boot/vmlinux-{release}")));
        candidates.push(PathBuf::from(format!(
            "/lib/modules/{release}/build/vmlinux"
        )));
    }
    candidates
}

/// The first candidate that exists and has the recorded build-id (any, when none was
/// recorded).
pub fn find_vmlinux(
    build_id: Option<&[u8]>,
    release: Option<&str>,
    debug_dirs: &[PathBuf],
) -> Result<PathBuf, KernelLinesError> {
    let candidates = vmlinux_candidates(build_id, release, debug_dirs);
    for path in &candidates {
        if !path.is_file() {
            continue;
        }
        match (build_id, build_ids::build_id_of_file(path)) {
            (Some(want), Ok(Some(found))) if found == want => return Ok(path.clone()),
            (None, Ok(_)) => return Ok(path.clone()),
            _ => {}
        }
    }
    Err(KernelLinesError::NotFound {
        release: release.unwrap_or("unknown").to_string(),
        build_id: build_id
            .map(build_ids::hex)
            .unwrap_or_else(|| "not recorded".into()),
        looked: candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Function symbols of an ELF symbol table: name → address, for the names that occur
/// once (static functions of the same name in several files are left out).
fn unique_functions<'d, R: object::ReadRef<'d>>(
    file: &object::File<'d, R>,
) -> HashMap<&'d str, u64> {
    let mut seen: HashMap<&str, Option<u64>> = HashMap::new();
    for symbol in file.symbols() {
        if symbol.kind() != SymbolKind::Text || symbol.is_undefined() {
            continue;
        }
        let Ok(name) = symbol.name() else { continue };
        seen.entry(name)
            .and_modify(|addr| *addr = None)
            .or_insert(Some(symbol.address()));
    }
    seen.into_iter()
        .filter_map(|(name, addr)| Some((name, addr?)))
        .collect()
}

/// How far the recorded kernel ran from the file's link addresses: kallsyms' `_text`
/// (else `_stext`) minus the file's. Every function both name once must sit at that
/// same shift, all but at most 1 in 20 (functions the kernel freed or renamed).
pub fn kaslr_shift<'d, R: object::ReadRef<'d>>(
    kallsyms: &KernelSymbols,
    elf: &object::File<'d, R>,
) -> Result<u64, String> {
    let ours = unique_functions(elf);
    let theirs = kallsyms.unique_names();
    // The linker script's _text and _stext are untyped symbols, not functions.
    let linked_at = |name: &str| {
        elf.symbols()
            .find(|s| s.name() == Ok(name) && !s.is_undefined())
            .map(|s| s.address())
    };
    let (anchor, shift) = ["_text", "_stext"]
        .iter()
        .find_map(|name| {
            let recorded = *theirs.get(name)?;
            let linked = linked_at(name)?;
            Some((*name, recorded.wrapping_sub(linked)))
        })
        .ok_or("neither names _text or _stext")?;
    let (mut agree, mut disagree) = (0u64, 0u64);
    let mut first_disagreeing: Option<&str> = None;
    for (name, linked) in &ours {
        if let Some(&recorded) = theirs.get(name) {
            if recorded.wrapping_sub(*linked) == shift {
                agree += 1;
            } else {
                disagree += 1;
                first_disagreeing = Some(first_disagreeing.map_or(*name, |n| n.min(*name)));
            }
        }
    }
    if agree == 0 || disagree * 20 > agree + disagree {
        return Err(format!(
            "of the functions both name, {agree} are at {anchor}'s shift of {shift:#x} and \
             {disagree} elsewhere{}",
            first_disagreeing
                .map(|n| format!(" ({n} first)"))
                .unwrap_or_default()
        ));
    }
    Ok(shift)
}

/// A vmlinux opened for lookups, with the recorded kernel's shift.
pub struct KernelDebugInfo {
    pub path: PathBuf,
    shift: u64,
    /// The file's code sections, [start, end) at link addresses: an address outside
    /// (a module's, a BPF trampoline's) is not looked up, since a symbol table answers
    /// "the last symbol below" for any address.
    code: Vec<(u64, u64)>,
    symbolizer: Symbolizer,
}

impl KernelDebugInfo {
    /// Opens `path` for the kernel whose kallsyms and build-id the recording holds.
    pub fn open(
        path: &Path,
        kallsyms: &KernelSymbols,
        recorded_build_id: Option<&[u8]>,
    ) -> Result<KernelDebugInfo, KernelLinesError> {
        let read_error = |reason: String| KernelLinesError::Read {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(want) = recorded_build_id {
            let found = build_ids::build_id_of_file(path)
                .map_err(|e| read_error(e.to_string()))?
                .unwrap_or_default();
            if found != want {
                return Err(KernelLinesError::OtherBuild {
                    path: path.to_path_buf(),
                    found: if found.is_empty() {
                        "absent".into()
                    } else {
                        build_ids::hex(&found)
                    },
                    recorded: build_ids::hex(want),
                });
            }
        }
        let file = std::fs::File::open(path).map_err(|e| read_error(e.to_string()))?;
        // Read through a cache: only the headers, the section table and the symbol
        // table are read here, not the hundreds of megabytes of DWARF.
        let cache = object::read::ReadCache::new(file);
        let elf = object::File::parse(&cache).map_err(|e| read_error(e.to_string()))?;
        if elf
            .section_by_name(".debug_info")
            .is_none_or(|s| s.size() == 0)
        {
            return Err(KernelLinesError::NoDwarf {
                path: path.to_path_buf(),
            });
        }
        let shift =
            kaslr_shift(kallsyms, &elf).map_err(|reason| KernelLinesError::SymbolsDisagree {
                path: path.to_path_buf(),
                reason,
            })?;
        let code = elf
            .sections()
            .filter(|s| s.kind() == object::SectionKind::Text && s.size() > 0)
            .map(|s| (s.address(), s.address().saturating_add(s.size())))
            .collect();
        let symbolizer = Symbolizer::builder()
            .enable_code_info(true)
            .enable_inlined_fns(true)
            .enable_demangling(false)
            .build();
        Ok(KernelDebugInfo {
            path: path.to_path_buf(),
            shift,
            code,
            symbolizer,
        })
    }

    /// The frames at each recorded return address of `addrs` (looked up one byte back,
    /// inside the call), inlined functions first, the function itself last; empty for
    /// an address the file does not name (module code, trampolines).
    pub fn return_addresses(
        &self,
        addrs: &[u64],
    ) -> Result<Vec<Vec<SourceLine>>, KernelLinesError> {
        let in_code = |linked: u64| {
            self.code
                .iter()
                .any(|&(start, end)| linked >= start && linked < end)
        };
        let linked: Vec<u64> = addrs
            .iter()
            .map(|a| a.wrapping_sub(self.shift).wrapping_sub(1))
            .filter(|&a| in_code(a))
            .collect();
        let source = Source::Elf(Elf::new(&self.path));
        let mut results = if linked.is_empty() {
            Vec::new()
        } else {
            self.symbolizer
                .symbolize(&source, Input::VirtOffset(&linked))
                .map_err(|e| KernelLinesError::Symbolize {
                    path: self.path.clone(),
                    reason: e.to_string(),
                })?
        }
        .into_iter();
        // Back in the order of `addrs`, outside the code as unknown.
        let results: Vec<Symbolized<'_>> = addrs
            .iter()
            .map(|a| {
                if in_code(a.wrapping_sub(self.shift).wrapping_sub(1)) {
                    results.next().unwrap_or(Symbolized::Unknown(
                        blazesym::symbolize::Reason::UnknownAddr,
                    ))
                } else {
                    Symbolized::Unknown(blazesym::symbolize::Reason::UnknownAddr)
                }
            })
            .collect();
        let mut paths = SourcePaths::default();
        Ok(results
            .into_iter()
            .map(|result| match result {
                Symbolized::Sym(sym) => {
                    let mut frames: Vec<SourceLine> = sym
                        .inlined
                        .iter()
                        .rev()
                        .map(|inlined| SourceLine {
                            function: demangle(&inlined.name).into(),
                            location: paths.location(inlined.code_info.as_ref()),
                            inlined: true,
                        })
                        .collect();
                    frames.push(SourceLine {
                        function: demangle(&sym.name).into(),
                        location: paths.location(sym.code_info.as_deref()),
                        inlined: false,
                    });
                    frames
                }
                Symbolized::Unknown(_) => Vec::new(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A note section as the kernel exports it: an "Xen" note first, then the build-id.
    #[test]
    fn finds_the_gnu_build_id_among_the_notes() {
        let mut notes = Vec::new();
        let mut note = |name: &[u8], kind: u32, desc: &[u8]| {
            notes.extend_from_slice(&(name.len() as u32).to_le_bytes());
            notes.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            notes.extend_from_slice(&kind.to_le_bytes());
            notes.extend_from_slice(name);
            notes.resize(notes.len().next_multiple_of(4), 0);
            notes.extend_from_slice(desc);
            notes.resize(notes.len().next_multiple_of(4), 0);
        };
        note(b"Xen\0", 3, &[1, 2, 3, 4, 5]);
        note(b"GNU\0", 3, &[0xa3, 0xe4, 0xcd, 0x60]);
        assert_eq!(
            build_id_from_notes(&notes),
            Some(vec![0xa3, 0xe4, 0xcd, 0x60])
        );
        // Cut anywhere, the notes name no build-id rather than a wrong one.
        for cut in 0..notes.len() - 4 {
            let got = build_id_from_notes(&notes[..cut]);
            assert!(got.is_none(), "cut at {cut}: {got:?}");
        }
        // Sizes that point past the end.
        let mut huge = notes.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(build_id_from_notes(&huge), None);
    }

    #[test]
    fn candidates_go_from_build_id_to_release_paths() {
        let id = [0xab, 0xcd, 0xef];
        let got = vmlinux_candidates(Some(&id), Some("6.12.9-amd64"), &[PathBuf::from("/d")]);
        let got: Vec<String> = got.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            got,
            [
                "/d/.build-id/ab/cdef.debug",
                "/usr/lib/debug/.build-id/ab/cdef.debug",
                "/d/boot/vmlinux-6.12.9-amd64",
                "/d/lib/modules/6.12.9-amd64/vmlinux",
                "/usr/lib/debug/boot/vmlinux-6.12.9-amd64",
                "/usr/lib/debug/lib/modules/6.12.9-amd64/vmlinux",
                "/boot/vmlinux-6.12.9-amd64",
                "/lib/modules/6.12.9-amd64/build/vmlinux",
            ]
        );
        // A release that is a path is not followed.
        assert!(vmlinux_candidates(None, Some("../../etc"), &[]).is_empty());
        assert_eq!(
            build_id_from_hex("a3e4cd60\n"),
            Some(vec![0xa3, 0xe4, 0xcd, 0x60])
        );
        assert_eq!(build_id_from_hex("a3e"), None);
        assert_eq!(build_id_from_hex("zz"), None);
        assert_eq!(
            release_of_uname("Linux host 6.12.9-amd64 #1 SMP"),
            Some("6.12.9-amd64")
        );
    }
}
