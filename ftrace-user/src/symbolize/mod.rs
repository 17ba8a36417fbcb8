//! Addresses to names: kernel symbol tables stored in a recording (/proc/kallsyms and
//! printk_formats text, parsed into lookup tables for rendering `%ps` and trace_printk
//! formats), ELF function symbols to file offsets for uprobes, and struct member
//! offsets from kernel BTF, and user stacks (blazesym).
//!
//! - [`kallsyms`]: kernel symbols by address, and modules.
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
pub mod printk;
pub mod user;

pub use kallsyms::KernelSymbols;
pub use printk::PrintkFormats;

use crate::format::SymbolLookup;

/// Both tables, as the renderer's symbol lookup. kallsyms (megabytes of text) is
/// parsed the first time an event asks for a symbol, so reports that need none skip it.
#[derive(Debug, Default)]
pub struct RecordingSymbols {
    kallsyms_text: Vec<u8>,
    kernel: std::sync::OnceLock<KernelSymbols>,
    pub printk: PrintkFormats,
}

impl RecordingSymbols {
    pub fn new(kallsyms_text: Vec<u8>, printk: PrintkFormats) -> RecordingSymbols {
        RecordingSymbols {
            kallsyms_text,
            kernel: std::sync::OnceLock::new(),
            printk,
        }
    }

    pub fn kernel(&self) -> &KernelSymbols {
        self.kernel
            .get_or_init(|| KernelSymbols::parse(&self.kallsyms_text))
    }
}

impl SymbolLookup for RecordingSymbols {
    fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)> {
        self.kernel().lookup(addr)
    }

    fn printk_string(&self, addr: u64) -> Option<&str> {
        self.printk.lookup(addr)
    }
}
