//! User stack frames to names with blazesym: ELF symbols, DWARF file:line, inlined
//! functions as frames of their own, Rust and C++ names demangled.
//!
//! Each object is read from the first file that has its build-id (see
//! [`crate::stacks::build_ids::locate`]): the debug directories given, the build-id
//! cache, the path it was recorded at, `/usr/lib/debug/.build-id`. Every frame of a
//! stack but the innermost is a return address, the instruction after a call: it is
//! looked up one byte earlier, so the line shown is the call's (as perf and gdb do),
//! while the offset shown is the return address's.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use blazesym::symbolize::{
    Input, Symbolized, Symbolizer,
    source::{Elf, Source},
};

use super::SourcePaths;
use crate::stacks::{
    Frame, UserStacks,
    build_ids::{BuildIdCache, locate},
};

/// One frame as printed. Its texts are shared (`Arc<str>`): a frame appears in every
/// stack that passes through it, and a stack's frames are cloned per stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFrame {
    /// A function (or a function inlined into the next frame).
    Named {
        function: Arc<str>,
        /// The frame's address minus the function's start (0 for inlined frames).
        offset: u64,
        /// The frame's file offset in its object (an inlined frame's is its
        /// function's frame's).
        file_offset: u64,
        /// file:line of the instruction (or of the inlined call it is at).
        location: Option<(Arc<str>, u32)>,
        inlined: bool,
        object: Arc<str>,
    },
    /// An address in an object that names nothing there (or could not be read).
    Unnamed {
        object: Arc<str>,
        file_offset: u64,
        why: Arc<str>,
    },
    /// An address placed in no object.
    Unknown { address: u64, why: Arc<str> },
}

impl UserFrame {
    /// The frame's name in a folded stack: the function, else `[object+0xoffset]` or
    /// the bare address.
    pub fn folded_name(&self) -> String {
        match self {
            UserFrame::Named { function, .. } => function.to_string(),
            UserFrame::Unnamed {
                object,
                file_offset,
                ..
            } => format!("[{object}+0x{file_offset:x}]"),
            UserFrame::Unknown { address, .. } => format!("0x{address:x}"),
        }
    }
}

/// Where objects are looked for.
#[derive(Debug, Clone, Default)]
pub struct ObjectSearch {
    pub debug_dirs: Vec<PathBuf>,
    pub caches: Vec<BuildIdCache>,
}

/// Every stack of `stacks` symbolized, innermost frame first (inlined functions
/// expanded in place).
pub fn symbolize_stacks(stacks: &UserStacks, search: &ObjectSearch) -> SymbolizedStacks {
    let mut symbolizer = Symbolizer::builder()
        .enable_code_info(true)
        .enable_inlined_fns(true)
        .enable_demangling(false);
    let mut debug_dirs = search.debug_dirs.clone();
    debug_dirs.push(PathBuf::from("/usr/lib/debug"));
    symbolizer = symbolizer.set_debug_dirs(Some(debug_dirs));
    let symbolizer = symbolizer.build();

    // Where each object is read from.
    let mut located: HashMap<u32, Option<PathBuf>> = HashMap::new();
    for stack in &stacks.stacks {
        for frame in stack {
            if let Frame::Object { object, .. } = *frame {
                located.entry(object).or_insert_with(|| {
                    stacks.objects.get(object as usize).and_then(|entry| {
                        locate(
                            &entry.build_id,
                            &entry.path,
                            &search.debug_dirs,
                            &search.caches,
                        )
                    })
                });
            }
        }
    }
    let mut lookups = Lookups {
        located: &located,
        after_syscall: FastMap::default(),
    };
    // The offsets looked up per object, each once.
    let mut seen: FastMap<(u32, u64), ()> = FastMap::default();
    let mut wanted: FastMap<u32, Vec<u64>> = FastMap::default();
    for stack in &stacks.stacks {
        for (depth, frame) in stack.iter().enumerate() {
            if let Frame::Object { object, offset } = *frame {
                let looked_up = lookups.offset(object, offset, depth);
                if seen.insert((object, looked_up), ()).is_none() {
                    wanted.entry(object).or_default().push(looked_up);
                }
            }
        }
    }
    let mut named: FastMap<(u32, u64), Vec<UserFrame>> = FastMap::default();
    for (object, mut offsets) in wanted {
        offsets.sort_unstable();
        let Some(entry) = stacks.objects.get(object as usize) else {
            continue;
        };
        let shown = if entry.path.is_empty() {
            format!("build-id {}", entry.build_id_hex())
        } else {
            entry.path.clone()
        };
        let results = match located.get(&object).and_then(Option::as_ref) {
            Some(path) => symbolize_object(&symbolizer, path, &offsets, &shown),
            None => {
                let why = if entry.build_id.is_empty() {
                    format!("{shown} is gone")
                } else {
                    format!(
                        "no file with build-id {} (not in the build-id cache or debug directories)",
                        entry.build_id_hex()
                    )
                };
                let (object, why): (Arc<str>, Arc<str>) = (shown.as_str().into(), why.into());
                offsets
                    .iter()
                    .map(|&offset| {
                        vec![UserFrame::Unnamed {
                            object: object.clone(),
                            file_offset: offset,
                            why: why.clone(),
                        }]
                    })
                    .collect()
            }
        };
        for (offset, frames) in offsets.into_iter().zip(results) {
            named.insert((object, offset), frames);
        }
    }
    // Each distinct frame once; stacks as indexes into them.
    let mut table = SymbolizedStacks::default();
    let mut placed: FastMap<FrameKey, (u32, u32)> = FastMap::default();
    for stack in &stacks.stacks {
        let mut indexes = Vec::with_capacity(stack.len() + 2);
        for (depth, frame) in stack.iter().enumerate() {
            let key = match *frame {
                Frame::Object { object, offset } => {
                    FrameKey::Object(object, offset, lookups.offset(object, offset, depth))
                }
                Frame::Address { ip, why } => FrameKey::Address(ip, why.describe()),
            };
            let (start, len) = match placed.get(&key) {
                Some(&range) => range,
                None => {
                    let start = table.frames.len() as u32;
                    let frames = frames_of(&key, &named);
                    let len = frames.len() as u32;
                    table.frames.extend(frames);
                    placed.insert(key, (start, len));
                    (start, len)
                }
            };
            indexes.extend(start..start + len);
        }
        table.stacks.push(indexes);
    }
    table
}

/// The frames (inlined ones first) that `key` stands for.
fn frames_of(key: &FrameKey, named: &FastMap<(u32, u64), Vec<UserFrame>>) -> Vec<UserFrame> {
    match *key {
        FrameKey::Object(object, offset, looked_up) => match named.get(&(object, looked_up)) {
            Some(frames) => frames
                .iter()
                .map(|f| with_return_offset(f.clone(), offset - looked_up))
                .collect(),
            None => vec![UserFrame::Unnamed {
                object: "".into(),
                file_offset: offset,
                why: "not symbolized".into(),
            }],
        },
        FrameKey::Address(ip, why) => vec![UserFrame::Unknown {
            address: ip,
            why: why.into(),
        }],
    }
}

/// A hash map keyed by small integers and tuples of them, hashed by one multiply and
/// rotate per word (FxHash's scheme) instead of SipHash: symbolizing hashes every
/// frame of every stack, and the keys come from the recording, not from an attacker
/// who could pick colliding ones to any effect beyond a slower report.
type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<WordHasher>>;

/// The hasher of [`FastMap`].
#[derive(Default)]
struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

/// What identifies a frame: (object, file offset, offset looked up), or a bare address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FrameKey {
    Object(u32, u64, u64),
    Address(u64, &'static str),
}

/// Stacks symbolized: each distinct frame once, each stack a list of them, innermost
/// first (inlined functions expanded in place).
#[derive(Debug, Clone, Default)]
pub struct SymbolizedStacks {
    frames: Vec<UserFrame>,
    stacks: Vec<Vec<u32>>,
}

impl SymbolizedStacks {
    /// The frames of stack `index`.
    pub fn stack(&self, index: u32) -> Option<Vec<&UserFrame>> {
        let stack = self.stacks.get(index as usize)?;
        Some(
            stack
                .iter()
                .filter_map(|&i| self.frames.get(i as usize))
                .collect(),
        )
    }

    /// How many stacks, and how many frames in all of them.
    pub fn len(&self) -> (usize, usize) {
        (self.stacks.len(), self.stacks.iter().map(Vec::len).sum())
    }
}

/// A Rust (`_R…`, `_ZN…E` with its hash left off) or C++ (`_Z…`) name demangled;
/// anything else (C names) as it is.
pub fn demangle(name: &str) -> String {
    if (name.starts_with("_R") || name.starts_with("_ZN"))
        && let Ok(demangled) = rustc_demangle::try_demangle(name)
    {
        return format!("{demangled:#}");
    }
    if name.starts_with("_Z")
        && let Ok(symbol) = cpp_demangle::Symbol::new(name)
        && let Ok(demangled) = symbol.demangle()
    {
        return demangled;
    }
    name.to_string()
}

/// Which offset of each frame is looked up.
struct Lookups<'a> {
    located: &'a HashMap<u32, Option<PathBuf>>,
    /// Whether the innermost frame at (object, offset) follows a `syscall` instruction.
    after_syscall: FastMap<(u32, u64), bool>,
}

impl Lookups<'_> {
    /// The offset to look up for a frame at `depth`: a return address (every frame but
    /// the innermost) one byte back, inside its call instruction; the innermost frame
    /// one byte back too when it follows a `syscall` instruction (the thread is in a
    /// system call: the address is where it returns to), else as it is (an interrupted
    /// instruction).
    fn offset(&mut self, object: u32, offset: u64, depth: usize) -> u64 {
        if offset == 0 {
            return 0;
        }
        if depth > 0 {
            return offset - 1;
        }
        let located = self.located;
        let after = *self
            .after_syscall
            .entry((object, offset))
            .or_insert_with(|| {
                located
                    .get(&object)
                    .and_then(Option::as_ref)
                    .is_some_and(|path| follows_syscall(path, offset))
            });
        if after { offset - 1 } else { offset }
    }
}

/// Whether the two bytes before `offset` in the file at `path` are x86-64's `syscall`
/// instruction (0f 05).
fn follows_syscall(path: &Path, offset: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let Some(at) = offset.checked_sub(2) else {
        return false;
    };
    let mut bytes = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|file| file.read_exact_at(&mut bytes, at))
        .is_ok()
        && bytes == [0x0f, 0x05]
}

/// Adds back the byte taken off a return address, so the offset printed is the frame's.
fn with_return_offset(frame: UserFrame, back: u64) -> UserFrame {
    match frame {
        UserFrame::Named {
            function,
            offset,
            file_offset,
            location,
            inlined,
            object,
        } => UserFrame::Named {
            function,
            offset: if inlined { offset } else { offset + back },
            file_offset: file_offset + back,
            location,
            inlined,
            object,
        },
        UserFrame::Unnamed {
            object,
            file_offset,
            why,
        } => UserFrame::Unnamed {
            object,
            file_offset: file_offset + back,
            why,
        },
        other => other,
    }
}

/// The frames (inlined ones first) at each of `offsets` in the ELF file at `path`.
fn symbolize_object(
    symbolizer: &Symbolizer,
    path: &Path,
    offsets: &[u64],
    shown: &str,
) -> Vec<Vec<UserFrame>> {
    let source = Source::Elf(Elf::new(path));
    let object: Arc<str> = shown.into();
    let unnamed = |offset: u64, why: String| {
        vec![UserFrame::Unnamed {
            object: object.clone(),
            file_offset: offset,
            why: why.into(),
        }]
    };
    let mut paths = SourcePaths::default();
    let results = match symbolizer.symbolize(&source, Input::FileOffset(offsets)) {
        Ok(results) => results,
        Err(e) => {
            let why = format!("cannot read {}: {e}", path.display());
            return offsets.iter().map(|&o| unnamed(o, why.clone())).collect();
        }
    };
    offsets
        .iter()
        .zip(results)
        .map(|(&offset, result)| match result {
            Symbolized::Sym(sym) => {
                let mut frames: Vec<UserFrame> = sym
                    .inlined
                    .iter()
                    .rev()
                    .map(|inlined| UserFrame::Named {
                        function: demangle(&inlined.name).into(),
                        offset: 0,
                        file_offset: offset,
                        location: paths.location(inlined.code_info.as_ref()),
                        inlined: true,
                        object: object.clone(),
                    })
                    .collect();
                frames.push(UserFrame::Named {
                    function: demangle(&sym.name).into(),
                    offset: sym.offset as u64,
                    file_offset: offset,
                    location: paths.location(sym.code_info.as_deref()),
                    inlined: false,
                    object: object.clone(),
                });
                frames
            }
            Symbolized::Unknown(reason) => unnamed(offset, reason.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_rust_and_cpp_names_and_leaves_c_names_alone() {
        for c_name in ["c", "b", "a", "main", "recurse", "_start"] {
            assert_eq!(demangle(c_name), c_name);
        }
        assert_eq!(
            demangle("_ZN13hytrace_tests4spin4main17h0123456789abcdefE"),
            "hytrace_tests::spin::main"
        );
        assert_eq!(demangle("_RNvCs1234_7mycrate3foo"), "mycrate::foo");
        assert_eq!(demangle("_ZN3foo3barEv"), "foo::bar()");
    }
}
