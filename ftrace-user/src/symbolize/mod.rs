//! Addresses to names: kernel symbol tables stored in a recording (/proc/kallsyms and
//! printk_formats text, parsed into lookup tables for rendering `%ps` and trace_printk
//! formats), ELF function symbols to file offsets for uprobes, and struct member
//! offsets from kernel BTF, and user stacks (blazesym).
//!
//! - [`kallsyms`]: kernel symbols by address, and modules.
//! - [`kernel_lines`]: kernel addresses to file:line and inlined functions (vmlinux
//!   debug info).
//! - [`user`]: user stack frames to functions, file:line and inlined functions.
//! - [`printk`]: trace_printk format strings by address.
//! - [`elf`]: ELF function symbols to file offsets.
//! - [`btf`]: kernel BTF, for struct member offsets.
//! - [`dwarf_lines`]: a source line to its first instruction, from the DWARF line table.
//! - [`dwarf_params`]: function parameters by name, from DWARF, as uprobe fetch-args.

pub mod btf;
pub mod dwarf_lines;
pub mod dwarf_params;
pub mod elf;
pub mod kallsyms;
pub mod kernel_lines;
pub mod printk;
pub mod user;

pub use kallsyms::KernelSymbols;
pub use printk::PrintkFormats;

use std::collections::HashMap;

use crate::format::{SourceLine, SymbolLookup};

/// Both tables, as the renderer's symbol lookup. kallsyms (megabytes of text) is
/// parsed the first time an event asks for a symbol, so reports that need none skip it.
#[derive(Debug, Default)]
pub struct RecordingSymbols {
    kallsyms_text: Vec<u8>,
    kernel: std::sync::OnceLock<KernelSymbols>,
    pub printk: PrintkFormats,
    /// Source frames of kernel return addresses (report --kernel-lines).
    pub kernel_lines: Option<HashMap<u64, Vec<SourceLine>>>,
}

impl RecordingSymbols {
    pub fn new(kallsyms_text: Vec<u8>, printk: PrintkFormats) -> RecordingSymbols {
        RecordingSymbols {
            kallsyms_text,
            kernel: std::sync::OnceLock::new(),
            printk,
            kernel_lines: None,
        }
    }

    pub fn kernel(&self) -> &KernelSymbols {
        self.kernel
            .get_or_init(|| KernelSymbols::parse(&self.kallsyms_text))
    }
}

/// Source file paths of blazesym's answers, each kept once and shared by every frame
/// in that file.
#[derive(Debug, Default)]
pub struct SourcePaths(HashMap<String, std::sync::Arc<str>>);

impl SourcePaths {
    /// file:line of a symbolized address, when DWARF gave a line.
    pub fn location(
        &mut self,
        info: Option<&blazesym::symbolize::CodeInfo<'_>>,
    ) -> Option<(std::sync::Arc<str>, u32)> {
        let info = info?;
        let line = info.line?;
        let path = info.to_path().to_string_lossy().into_owned();
        let shared = self.0.entry(path).or_insert_with_key(|p| p.as_str().into());
        Some((shared.clone(), line))
    }
}

impl SymbolLookup for RecordingSymbols {
    fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)> {
        self.kernel().lookup(addr)
    }

    fn printk_string(&self, addr: u64) -> Option<&str> {
        self.printk.lookup(addr)
    }

    fn kernel_source_lines(&self, addr: u64) -> Option<&[SourceLine]> {
        self.kernel_lines
            .as_ref()?
            .get(&addr)
            .map(Vec::as_slice)
            .filter(|frames| !frames.is_empty())
    }
}
