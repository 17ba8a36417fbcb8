//! Kernel symbol tables stored in a recording: /proc/kallsyms and printk_formats text,
//! parsed into lookup tables for rendering `%ps` and trace_printk formats.

pub mod kallsyms;
pub mod printk;

pub use kallsyms::KernelSymbols;
pub use printk::PrintkFormats;

use crate::format::SymbolLookup;

/// Both tables, as the renderer's symbol lookup.
#[derive(Debug, Default)]
pub struct RecordingSymbols {
    pub kernel: KernelSymbols,
    pub printk: PrintkFormats,
}

impl SymbolLookup for RecordingSymbols {
    fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)> {
        self.kernel.lookup(addr)
    }

    fn printk_string(&self, addr: u64) -> Option<&str> {
        self.printk.lookup(addr)
    }
}
