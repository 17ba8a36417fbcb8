//! `/proc/kallsyms` text ("ffffffff81000000 T _stext [module]") into an address-sorted
//! table answering "which function holds this address".

/// Symbols sorted by address.
#[derive(Debug, Default, Clone)]
pub struct KernelSymbols {
    addrs: Vec<u64>,
    names: Vec<Box<str>>,
}

impl KernelSymbols {
    /// Parses kallsyms text; malformed lines are skipped. Zero addresses (kptr_restrict)
    /// are dropped since they cannot be told apart.
    pub fn parse(text: &[u8]) -> KernelSymbols {
        let mut entries: Vec<(u64, Box<str>)> = Vec::new();
        for line in text.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let mut parts = line.split_ascii_whitespace();
            let (Some(addr), Some(_kind), Some(name)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if addr == 0 {
                continue;
            }
            entries.push((addr, name.into()));
        }
        entries.sort_by_key(|(addr, _)| *addr);
        let (addrs, names) = entries.into_iter().unzip();
        KernelSymbols { addrs, names }
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The symbol at or below `addr` and the offset into it.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let index = match self.addrs.binary_search(&addr) {
            Ok(i) => i,
            Err(0) => return None,
            Err(i) => i - 1,
        };
        Some((&self.names[index], addr - self.addrs[index]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_enclosing_symbol() {
        let syms = KernelSymbols::parse(
            b"ffffffff81000100 T second\nffffffff81000000 T _stext\n0000000000000000 A zero\nbad line\nffffffffc0001000 t kvm_exit_handler\t[kvm]\n",
        );
        assert_eq!(syms.len(), 3);
        assert_eq!(syms.lookup(0xffffffff81000000), Some(("_stext", 0)));
        assert_eq!(syms.lookup(0xffffffff81000105), Some(("second", 5)));
        assert_eq!(
            syms.lookup(0xffffffffc0001010),
            Some(("kvm_exit_handler", 0x10))
        );
        assert_eq!(syms.lookup(0x1000), None);
    }
}
