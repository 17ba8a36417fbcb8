//! `,"kernel_stack":[…]` for a kernel_stack event's JSON object when the report named
//! its frames from the kernel's debug info (`report --kernel-lines`): per frame the
//! functions inlined at the call (`"inlined":true`, no address), then the frame itself
//! with its address and kallsyms name.

use std::io::Write as _;

use crate::format::{SourceLine, SymbolLookup, json_string::write_string};

fn write_location(out: &mut Vec<u8>, line: &SourceLine) {
    if let Some((file, number)) = &line.location {
        out.extend_from_slice(b",\"file\":");
        write_string(out, file);
        let _ = write!(out, ",\"line\":{number}");
    }
}

/// Appends the array for the frames `addrs` (innermost first).
pub fn write(out: &mut Vec<u8>, addrs: &[u64], syms: &dyn SymbolLookup) {
    out.extend_from_slice(b",\"kernel_stack\":[");
    let mut first = true;
    let mut comma = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    for &addr in addrs {
        let lines = syms.kernel_source_lines(addr).unwrap_or(&[]);
        for inlined in lines.iter().filter(|l| l.inlined) {
            comma(out);
            out.extend_from_slice(b"{\"function\":");
            write_string(out, &inlined.function);
            write_location(out, inlined);
            out.extend_from_slice(b",\"inlined\":true}");
        }
        comma(out);
        let _ = write!(out, "{{\"address\":{addr}");
        if let Some((name, offset)) = syms.kernel_symbol(addr) {
            out.extend_from_slice(b",\"function\":");
            write_string(out, name);
            let _ = write!(out, ",\"offset\":{offset}");
        }
        if let Some(own) = lines.iter().find(|l| !l.inlined) {
            write_location(out, own);
        }
        out.extend_from_slice(b",\"inlined\":false}");
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Lines(Vec<SourceLine>);

    impl SymbolLookup for Lines {
        fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)> {
            (addr >= 0x1000).then(|| ("do_syscall_64", addr - 0x1000))
        }

        fn printk_string(&self, _: u64) -> Option<&str> {
            None
        }

        fn kernel_source_lines(&self, addr: u64) -> Option<&[SourceLine]> {
            (addr == 0x1025).then_some(self.0.as_slice())
        }
    }

    #[test]
    fn inlined_frames_come_before_their_frame_and_unnamed_ones_keep_the_address() {
        let syms = Lines(vec![
            SourceLine {
                function: "x64_sys_call".into(),
                location: Some(("arch/x86/entry/syscall_64.c".into(), 41)),
                inlined: true,
            },
            SourceLine {
                function: "do_syscall_64".into(),
                location: Some(("arch/x86/entry/common.c".into(), 52)),
                inlined: false,
            },
        ]);
        let mut out = Vec::new();
        write(&mut out, &[0x7fff_ffff, 0x1025], &syms);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            ",\"kernel_stack\":[{\"address\":2147483647,\"function\":\"do_syscall_64\",\
             \"offset\":2147479551,\"inlined\":false},{\"function\":\"x64_sys_call\",\
             \"file\":\"arch/x86/entry/syscall_64.c\",\"line\":41,\"inlined\":true},\
             {\"address\":4133,\"function\":\"do_syscall_64\",\"offset\":37,\
             \"file\":\"arch/x86/entry/common.c\",\"line\":52,\"inlined\":false}]"
        );
    }
}
