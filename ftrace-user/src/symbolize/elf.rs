//! User-space symbols: a function's name in an ELF file to the file offset uprobes
//! attach at (pure over the file's bytes).

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ElfError {
    #[error("not an ELF file: {reason}")]
    NotElf { reason: String },
    #[error("no function named {symbol} in its symbol tables")]
    NoSymbol { symbol: String },
    #[error("symbol {symbol} at {address:#x} lies in no loadable segment")]
    NotLoaded { symbol: String, address: u64 },
}

/// The file offset of function `symbol` (from .symtab, else .dynsym).
pub fn symbol_file_offset(elf: &[u8], symbol: &str) -> Result<u64, ElfError> {
    let file = object::File::parse(elf).map_err(|e| ElfError::NotElf {
        reason: e.to_string(),
    })?;
    let address = file
        .symbols()
        .chain(file.dynamic_symbols())
        .find(|s| s.name() == Ok(symbol) && s.kind() == SymbolKind::Text && !s.is_undefined())
        .map(|s| s.address())
        .ok_or_else(|| ElfError::NoSymbol {
            symbol: symbol.to_string(),
        })?;
    file.segments()
        .find_map(|segment| {
            let start = segment.address();
            let (file_start, file_size) = segment.file_range();
            (address >= start && address < start + file_size).then(|| address - start + file_start)
        })
        .ok_or(ElfError::NotLoaded {
            symbol: symbol.to_string(),
            address,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test binary's own `main`-adjacent function, found the same way uprobes will.
    #[test]
    fn finds_functions_of_a_real_binary() {
        let me = std::fs::read("/proc/self/exe").unwrap();
        let offset = symbol_file_offset(&me, "rust_eh_personality")
            .or_else(|_| symbol_file_offset(&me, "main"))
            .unwrap();
        assert!(offset > 0 && (offset as usize) < me.len());
        assert_eq!(
            symbol_file_offset(&me, "no_such_function_anywhere"),
            Err(ElfError::NoSymbol {
                symbol: "no_such_function_anywhere".into()
            })
        );
        assert!(matches!(
            symbol_file_offset(b"not elf", "x"),
            Err(ElfError::NotElf { .. })
        ));
    }
}
