//! `/proc/kallsyms` text ("ffffffff81000000 T _stext [module]") into an address-sorted
//! table answering "which function holds this address", the way trace-cmd's
//! libtraceevent answers it, so that every kernel name hytrace prints (report, graph,
//! stacks) is the one `trace-cmd report` prints where several symbols share an address
//! (`__softirqentry_text_start` and `__do_softirq`, `SyS_clone` and `sys_clone`):
//!
//! - libtraceevent registers each line by prepending it to a list, then sorts the list
//!   by address with glibc's qsort, a stable merge sort: symbols of one address end up
//!   in the reverse of their kallsyms order;
//! - it looks an address up with glibc's bsearch, an element matching when its address
//!   is the one sought, or when the address lies after it and before the next element
//!   (the last element matches only its own address). An address inside a function
//!   thus gets the last element of its address, the first in kallsyms order; an exact
//!   address gets whichever element of that address the bisection meets first.
//!
//! [`KernelSymbols::lookup`] does the same steps over the same order.

/// Symbols sorted by address.
#[derive(Debug, Default, Clone)]
pub struct KernelSymbols {
    addrs: Vec<u64>,
    names: Vec<Box<str>>,
    /// The module of each symbol (`[kvm]` in kallsyms), if any.
    modules: Vec<Option<Box<str>>>,
}

impl KernelSymbols {
    /// Parses kallsyms text; malformed lines are skipped. Zero addresses (kptr_restrict)
    /// are dropped since they cannot be told apart, and so are absolute symbols (x86-64
    /// lists per-CPU variables' offsets as such, small numbers that are no code
    /// address) and ARM's `$a`-style mapping symbols, as trace-cmd drops them.
    pub fn parse(text: &[u8]) -> KernelSymbols {
        let mut entries: Vec<(u64, Box<str>, Option<Box<str>>)> = Vec::new();
        for line in text.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let mut parts = line.split_ascii_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if matches!(kind, "A" | "a") || name.starts_with('$') {
                continue;
            }
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if addr == 0 {
                continue;
            }
            let module = parts
                .next()
                .and_then(|m| m.strip_prefix('[')?.strip_suffix(']'))
                .map(Box::from);
            entries.push((addr, name.into(), module));
        }
        // libtraceevent's list: newest first; then its stable sort by address.
        entries.reverse();
        entries.sort_by_key(|(addr, _, _)| *addr);
        let mut symbols = KernelSymbols::default();
        for (addr, name, module) in entries {
            symbols.addrs.push(addr);
            symbols.names.push(name);
            symbols.modules.push(module);
        }
        symbols
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The symbol holding `addr` and the offset into it, chosen as libtraceevent
    /// chooses (see the module's notes): None before the first symbol and past the
    /// start of the last.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let index = self.find(addr)?;
        Some((&self.names[index], addr - self.addrs[index]))
    }

    /// The module of the symbol [`lookup`](Self::lookup) finds (None: built into the
    /// kernel, or no symbol).
    pub fn module_of(&self, addr: u64) -> Option<&str> {
        self.modules[self.find(addr)?].as_deref()
    }

    /// glibc's bsearch with libtraceevent's comparison (`func_bcmp`): the element
    /// matches at its own address, or between it and the next element's.
    fn find(&self, addr: u64) -> Option<usize> {
        let (mut low, mut high) = (0, self.addrs.len());
        while low < high {
            let index = (low + high) / 2;
            let start = self.addrs[index];
            // libtraceevent's sentinel after the last element has address 0.
            let next = self.addrs.get(index + 1).copied().unwrap_or(0);
            if addr == start || (addr > start && addr < next) {
                return Some(index);
            }
            if addr < start {
                high = index;
            } else {
                low = index + 1;
            }
        }
        None
    }

    /// Name → address of the symbols built into the kernel (not modules) whose name
    /// occurs once.
    pub fn unique_names(&self) -> std::collections::HashMap<&str, u64> {
        let mut seen: std::collections::HashMap<&str, Option<u64>> =
            std::collections::HashMap::new();
        for ((name, &addr), module) in self.names.iter().zip(&self.addrs).zip(&self.modules) {
            if module.is_some() {
                continue;
            }
            seen.entry(name)
                .and_modify(|a| *a = None)
                .or_insert(Some(addr));
        }
        seen.into_iter()
            .filter_map(|(name, addr)| Some((name, addr?)))
            .collect()
    }

    /// The address of symbol `name` (the first one, if several share the name).
    pub fn address_of(&self, name: &str) -> Option<u64> {
        let index = self.names.iter().position(|n| &**n == name)?;
        Some(self.addrs[index])
    }
}

/// Whether `name` is a frame of the tracing machinery between a hook and the traced
/// code (the BPF program and its trampoline, the tracepoint's iterator, the event's
/// ftrace handler), which stacks taken at a hook begin with.
pub fn is_tracing_frame(name: &str) -> bool {
    [
        "bpf_prog_",
        "bpf_trace_run",
        "__bpf_trace_",
        "__traceiter_",
        "trace_call_bpf",
        "perf_trace_",
        "bpf_get_stack",
        "trace_event_raw_event_",
        "__trace_stack",
        "ftrace_trace_stack",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_enclosing_symbol() {
        let syms = KernelSymbols::parse(
            b"ffffffff81000100 T second\nffffffff81000000 T _stext\n0000000000000000 A zero\nbad line\nffffffffc0001000 t kvm_exit_handler\t[kvm]\n0000000000032000 A __per_cpu_end\nffffffff81000200 t $x\n",
        );
        assert_eq!(syms.len(), 3);
        assert_eq!(syms.lookup(0xffffffff81000000), Some(("_stext", 0)));
        assert_eq!(syms.lookup(0xffffffff81000105), Some(("second", 5)));
        // The last symbol matches only its own address, as in libtraceevent.
        assert_eq!(
            syms.lookup(0xffffffffc0001000),
            Some(("kvm_exit_handler", 0))
        );
        assert_eq!(syms.lookup(0xffffffffc0001010), None);
        assert_eq!(syms.lookup(0x1000), None);
        assert_eq!(syms.module_of(0xffffffffc0001000), Some("kvm"));
        assert_eq!(syms.module_of(0xffffffff81000105), None);
        assert_eq!(syms.address_of("second"), Some(0xffffffff81000100));
        assert_eq!(syms.address_of("nope"), None);
    }

    /// Three aliases at one address in kallsyms order (a section marker first, then a
    /// `SyS_`/`sys_` pair, then an ordinary name), a function either side: an address
    /// inside the function gets the first alias in kallsyms order (the last after
    /// libtraceevent's reversal and stable sort); the exact address gets the element
    /// glibc's bisection meets first among the six, here the fourth sorted element.
    #[test]
    fn aliases_at_one_address_resolve_as_libtraceevent_resolves_them() {
        let text = b"\
ffffffff81000000 T before
ffffffff81000100 T __sched_text_start
ffffffff81000100 T SyS_clone
ffffffff81000100 T sys_clone
ffffffff81000100 t do_clone
ffffffff81000200 T after
";
        let syms = KernelSymbols::parse(text);
        // Sorted: before, do_clone, sys_clone, SyS_clone, __sched_text_start, after.
        // Inside: the last of the address's run, the first in kallsyms order.
        assert_eq!(
            syms.lookup(0xffffffff81000105),
            Some(("__sched_text_start", 5))
        );
        // Exact: bisection over 6 elements looks at index 3 first: SyS_clone.
        assert_eq!(syms.lookup(0xffffffff81000100), Some(("SyS_clone", 0)));
        assert_eq!(syms.lookup(0xffffffff81000000), Some(("before", 0)));
        assert_eq!(syms.lookup(0xffffffff810000ff), Some(("before", 0xff)));
        // Past the start of the last symbol nothing matches.
        assert_eq!(syms.lookup(0xffffffff81000201), None);
    }
}
