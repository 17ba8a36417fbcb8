//! Events trace-cmd prints through its own plugins rather than their print fmt: the
//! scheduler's switch and wakeup events, in the compact form
//! `prev:pid [prio] S ==> next:pid [prio]` and `comm:pid [prio] CPU:003`; the function
//! tracer's calls as the callee's name indented by where its caller sits in the calls
//! seen so far on that CPU ([`FunctionIndents`]); and kernel stacks as `<stack trace >`
//! followed by one `=> func (addr)` line per frame; and function_graph's entries and
//! exits as trace-cmd's function_graph handler prints them (`|  func() {`, `+ 63.375
//! us  |  }`, a leaf's entry and exit folded into `1.628 us   |    func();`).
//! Matching them keeps `hytrace report` line-for-line comparable with `trace-cmd
//! report`.

use std::io::Write as _;

use super::{
    Field, FieldKind, SourceLine, SymbolLookup,
    printfmt::eval::{field_bytes, read_int},
};

/// Task state letters by bit, as trace-cmd's sched_switch plugin prints them.
const STATE_LETTERS: &[u8] = b"SDTtZXxW";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plugin {
    /// Field indexes of prev_comm, prev_pid, prev_prio, prev_state, next_comm, next_pid,
    /// next_prio.
    SchedSwitch([usize; 7]),
    /// comm, pid, prio, and target_cpu / success if the event has them.
    SchedWakeup {
        comm: usize,
        pid: usize,
        prio: Option<usize>,
        success: Option<usize>,
        target_cpu: Option<usize>,
    },
    /// The function tracer's call: ip and parent_ip.
    Function { ip: usize, parent_ip: usize },
    /// A kernel stack: the caller array, as long as the record holds frames.
    KernelStack { caller: usize },
    /// function_graph's entry: func and depth.
    GraphEntry { func: usize, depth: usize },
    /// function_graph's return: func, depth, calltime and rettime.
    GraphExit {
        func: usize,
        depth: usize,
        calltime: usize,
        rettime: usize,
    },
}

/// Spaces per depth level of function_graph lines (trace-cmd's TRACE_GRAPH_INDENT).
const GRAPH_INDENT: usize = 2;

fn index(fields: &[Field], name: &str) -> Option<usize> {
    fields.iter().position(|f| f.name == name)
}

impl Plugin {
    pub fn for_event(system: &str, name: &str, fields: &[Field]) -> Option<Plugin> {
        if system == "ftrace" {
            return match name {
                "function" => Some(Plugin::Function {
                    ip: index(fields, "ip")?,
                    parent_ip: index(fields, "parent_ip")?,
                }),
                "kernel_stack" => Some(Plugin::KernelStack {
                    caller: index(fields, "caller")?,
                }),
                "funcgraph_entry" => Some(Plugin::GraphEntry {
                    func: index(fields, "func")?,
                    depth: index(fields, "depth")?,
                }),
                "funcgraph_exit" => Some(Plugin::GraphExit {
                    func: index(fields, "func")?,
                    depth: index(fields, "depth")?,
                    calltime: index(fields, "calltime")?,
                    rettime: index(fields, "rettime")?,
                }),
                _ => None,
            };
        }
        if system != "sched" {
            return None;
        }
        match name {
            "sched_switch" => {
                let names = [
                    "prev_comm",
                    "prev_pid",
                    "prev_prio",
                    "prev_state",
                    "next_comm",
                    "next_pid",
                    "next_prio",
                ];
                let mut indexes = [0; 7];
                for (slot, name) in indexes.iter_mut().zip(names) {
                    *slot = index(fields, name)?;
                }
                Some(Plugin::SchedSwitch(indexes))
            }
            "sched_wakeup" | "sched_wakeup_new" => Some(Plugin::SchedWakeup {
                comm: index(fields, "comm")?,
                pid: index(fields, "pid")?,
                prio: index(fields, "prio"),
                success: index(fields, "success"),
                target_cpu: index(fields, "target_cpu"),
            }),
            _ => None,
        }
    }

    /// Appends the plugin's text; None if the record is too short. `indent` is the
    /// function call's level from [`FunctionIndents`] (other events ignore it).
    pub fn render(
        &self,
        fields: &[Field],
        data: &[u8],
        syms: &dyn SymbolLookup,
        indent: usize,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        let int = |i: usize| field_int(&fields[i], data);
        match self {
            Plugin::SchedSwitch(
                [
                    prev_comm,
                    prev_pid,
                    prev_prio,
                    prev_state,
                    next_comm,
                    next_pid,
                    next_prio,
                ],
            ) => {
                out.extend_from_slice(comm(&fields[*prev_comm], data)?);
                let _ = write!(out, ":{} [{}] ", int(*prev_pid)?, int(*prev_prio)? as i32);
                write_state(out, int(*prev_state)?);
                out.extend_from_slice(b" ==> ");
                out.extend_from_slice(comm(&fields[*next_comm], data)?);
                let _ = write!(out, ":{} [{}]", int(*next_pid)?, int(*next_prio)? as i32);
            }
            Plugin::SchedWakeup {
                comm: c,
                pid,
                prio,
                success,
                target_cpu,
            } => {
                out.extend_from_slice(comm(&fields[*c], data)?);
                let _ = write!(out, ":{}", int(*pid)?);
                if let Some(prio) = prio {
                    let _ = write!(out, " [{}]", int(*prio)?);
                }
                if let Some(success) = success {
                    let _ = write!(out, " success={}", int(*success)?);
                }
                if let Some(cpu) = target_cpu {
                    let _ = write!(out, " CPU:{:03}", int(*cpu)? as u64);
                }
            }
            Plugin::Function { ip, .. } => {
                let ip = int(*ip)? as u64;
                out.resize(out.len() + indent * 3, b' ');
                match syms.kernel_symbol(ip) {
                    Some((name, _)) => out.extend_from_slice(name.as_bytes()),
                    None => {
                        let _ = write!(out, "0x{ip:x}");
                    }
                }
            }
            Plugin::GraphEntry { func, depth } => {
                // Not a leaf: no time, `func() {`.
                write_graph_overhead(out, None);
                out.extend_from_slice(b"           |  ");
                let depth = int(*depth)? as u64 as usize;
                out.resize(
                    out.len() + depth.saturating_mul(GRAPH_INDENT).min(4096),
                    b' ',
                );
                let func = int(*func)? as u64;
                match syms.kernel_symbol(func) {
                    Some((name, _)) => {
                        let _ = write!(out, "{name}() {{");
                    }
                    None => {
                        let _ = write!(out, "{func:x}() {{");
                    }
                }
            }
            Plugin::GraphExit {
                depth,
                calltime,
                rettime,
                ..
            } => {
                let duration = (int(*rettime)? as u64).wrapping_sub(int(*calltime)? as u64);
                write_graph_overhead(out, Some(duration));
                write_graph_duration(out, duration);
                let depth = int(*depth)? as u64 as usize;
                out.resize(
                    out.len() + depth.saturating_mul(GRAPH_INDENT).min(4096),
                    b' ',
                );
                out.push(b'}');
            }
            Plugin::KernelStack { caller } => {
                out.extend_from_slice(b"<stack trace >\n");
                for addr in stack_frames(&fields[*caller], data) {
                    // With the kernel's debug info (report --kernel-lines): the
                    // functions inlined at the call first, then trace-cmd's line with
                    // the call's file:line after it.
                    let lines = syms.kernel_source_lines(addr).unwrap_or(&[]);
                    for inlined in lines.iter().filter(|l| l.inlined) {
                        let _ = write!(out, "=> {} [inlined]", inlined.function);
                        write_location(out, inlined);
                        out.push(b'\n');
                    }
                    match syms.kernel_symbol(addr) {
                        Some((name, _)) => {
                            let _ = write!(out, "=> {name} ({addr:x})");
                        }
                        None => {
                            let _ = write!(out, "=> {addr:x}");
                        }
                    }
                    if let Some(own) = lines.iter().find(|l| !l.inlined) {
                        write_location(out, own);
                    }
                    out.push(b'\n');
                }
            }
        }
        Some(())
    }

    /// A function_graph entry whose return is the next record, on one line: the
    /// return's duration, then `func();` (`exit` is the return's format and data).
    pub fn render_graph_leaf(
        &self,
        fields: &[Field],
        data: &[u8],
        exit: (&Plugin, &[Field], &[u8]),
        syms: &dyn SymbolLookup,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        let Plugin::GraphEntry { func, depth } = self else {
            return None;
        };
        let (
            Plugin::GraphExit {
                calltime, rettime, ..
            },
            exit_fields,
            exit_data,
        ) = exit
        else {
            return None;
        };
        let time = |i: usize| field_int(&exit_fields[i], exit_data).map(|v| v as u64);
        let duration = time(*rettime)?.wrapping_sub(time(*calltime)?);
        let depth = field_int(&fields[*depth], data)? as u64 as usize;
        let func = field_int(&fields[*func], data)? as u64;
        write_graph_overhead(out, Some(duration));
        write_graph_duration(out, duration);
        out.resize(
            out.len() + depth.saturating_mul(GRAPH_INDENT).min(4096),
            b' ',
        );
        match syms.kernel_symbol(func) {
            Some((name, _)) => {
                let _ = write!(out, "{name}();");
            }
            None => {
                let _ = write!(out, "{func:x}();");
            }
        }
        Some(())
    }

    /// A function_graph entry's (pid-independent) key: its func address.
    pub fn graph_entry_func(&self, fields: &[Field], data: &[u8]) -> Option<u64> {
        match self {
            Plugin::GraphEntry { func, .. } => field_int(&fields[*func], data).map(|v| v as u64),
            _ => None,
        }
    }

    /// A function_graph return's func address.
    pub fn graph_exit_func(&self, fields: &[Field], data: &[u8]) -> Option<u64> {
        match self {
            Plugin::GraphExit { func, .. } => field_int(&fields[*func], data).map(|v| v as u64),
            _ => None,
        }
    }

    /// The frames of a kernel_stack record, innermost first.
    pub fn kernel_stack(&self, fields: &[Field], data: &[u8]) -> Option<Vec<u64>> {
        let Plugin::KernelStack { caller } = self else {
            return None;
        };
        Some(stack_frames(&fields[*caller], data).collect())
    }

    /// ip and parent_ip of a function tracer record.
    pub fn function_call(&self, fields: &[Field], data: &[u8]) -> Option<(u64, u64)> {
        let Plugin::Function { ip, parent_ip } = self else {
            return None;
        };
        let int = |i: usize| field_int(&fields[i], data).map(|v| v as u64);
        Some((int(*ip)?, int(*parent_ip)?))
    }

    /// (pid, comm) pairs the event names, which trace-cmd remembers for later lines.
    pub fn comms<'a>(&self, fields: &[Field], data: &'a [u8]) -> [Option<(i32, &'a [u8])>; 2] {
        let pair = |c: usize, p: usize| {
            let pid = field_int(&fields[p], data)? as i32;
            Some((pid, comm(&fields[c], data)?))
        };
        match self {
            Plugin::SchedSwitch(i) => [pair(i[0], i[1]), pair(i[4], i[5])],
            Plugin::SchedWakeup { comm, pid, .. } => [pair(*comm, *pid), None],
            Plugin::Function { .. }
            | Plugin::KernelStack { .. }
            | Plugin::GraphEntry { .. }
            | Plugin::GraphExit { .. } => [None, None],
        }
    }
}

/// trace-cmd's overhead mark before a function_graph duration: `$ ` over 1 s, `# `
/// over 1 ms, `! ` over 100 us, `+ ` over 10 us, else (and without a duration) two
/// spaces.
fn write_graph_overhead(out: &mut Vec<u8>, duration: Option<u64>) {
    let mark: &[u8] = match duration {
        Some(d) if d > 1_000_000_000 => b"$ ",
        Some(d) if d > 1_000_000 => b"# ",
        Some(d) if d > 100_000 => b"! ",
        Some(d) if d > 10_000 => b"+ ",
        _ => b"  ",
    };
    out.extend_from_slice(mark);
}

/// trace-cmd's function_graph duration column: microseconds, `.NNN` while they take
/// fewer than 7 digits, ` us `, padded to 7 digits' width, then `|  `.
fn write_graph_duration(out: &mut Vec<u8>, duration: u64) {
    let start = out.len();
    let _ = write!(out, "{}", duration / 1000);
    if out.len() - start < 7 {
        let _ = write!(out, ".{:03}", duration % 1000);
    }
    let width = out.len() - start;
    out.extend_from_slice(b" us ");
    out.resize(out.len() + 7usize.saturating_sub(width), b' ');
    out.extend_from_slice(b"|  ");
}

/// ` (file:line)` of a frame named from debug info, nothing when it has no line.
fn write_location(out: &mut Vec<u8>, line: &SourceLine) {
    if let Some((file, number)) = &line.location {
        let _ = write!(out, " ({file}:{number})");
    }
}

/// A scalar field's value; None if the record is too short.
fn field_int(field: &Field, data: &[u8]) -> Option<i128> {
    read_int(data.get(field.offset..)?, field.size, field.signed)
}

/// The frames of a kernel stack record: the 8-byte words from the caller array's offset
/// to the end of the record (the format declares a fixed array, the kernel writes as
/// many frames as it found), up to the first word that is -1 in its low 32 bits.
fn stack_frames<'a>(caller: &Field, data: &'a [u8]) -> impl Iterator<Item = u64> + 'a {
    // One kernel `long` a frame: 8 bytes, or 4 in a 32-bit kernel's file.
    let word = match super::printfmt::eval::element_size(caller) {
        4 => 4,
        _ => 8,
    };
    data.get(caller.offset..)
        .unwrap_or(&[])
        .chunks_exact(word)
        .map(|bytes| read_int(bytes, bytes.len(), false).unwrap_or(0) as u64)
        .take_while(|&addr| addr as u32 != u32::MAX)
}

/// Per-CPU memory of the function tracer's callers, as trace-cmd keeps it to indent
/// `function` events: a list of names where a call whose caller is at position i is
/// written at i + 1 and printed i levels deep; a caller not in the list restarts it at
/// position 0 (what lies beyond the written position stays, as in trace-cmd).
#[derive(Debug, Default)]
pub struct FunctionIndents<'a> {
    per_cpu: Vec<Vec<Option<&'a str>>>,
}

impl<'a> FunctionIndents<'a> {
    /// The level of a call of `child` from `parent` on `cpu`; remembers the call.
    pub fn level(&mut self, cpu: usize, parent: Option<&'a str>, child: Option<&'a str>) -> usize {
        let Some(parent) = parent else {
            return 0;
        };
        if self.per_cpu.len() <= cpu {
            self.per_cpu.resize_with(cpu + 1, Vec::new);
        }
        let names = &mut self.per_cpu[cpu];
        let found = names
            .iter()
            .map_while(|name| *name)
            .position(|name| name == parent);
        let set = |names: &mut Vec<Option<&'a str>>, at: usize, name: Option<&'a str>| {
            let Some(name) = name else {
                return;
            };
            if names.len() <= at {
                names.resize(at + 1, None);
            }
            names[at] = Some(name);
        };
        match found {
            Some(at) => {
                set(names, at + 1, child);
                at
            }
            None => {
                set(names, 0, Some(parent));
                set(names, 1, child);
                0
            }
        }
    }
}

fn comm<'a>(field: &Field, data: &'a [u8]) -> Option<&'a [u8]> {
    let bytes = if field.kind == FieldKind::Scalar {
        None
    } else {
        field_bytes(field, data)
    }?;
    Some(match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    })
}

fn write_state(out: &mut Vec<u8>, state: i128) {
    let mut found = false;
    for (bit, letter) in STATE_LETTERS.iter().enumerate() {
        if state & (1 << bit) == 0 {
            continue;
        }
        if found {
            out.push(b'|');
        }
        found = true;
        out.push(*letter);
    }
    if !found {
        out.push(b'R');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Kallsyms;

    impl SymbolLookup for Kallsyms {
        fn kernel_symbol(&self, addr: u64) -> Option<(&str, u64)> {
            [
                (0xffff_ffff_8100_1000, "vfs_read"),
                (0xffff_ffff_8100_2000, "ksys_read"),
            ]
            .into_iter()
            .find(|(start, _)| (*start..start + 0x1000).contains(&addr))
            .map(|(start, name)| (name, addr - start))
        }

        fn printk_string(&self, _: u64) -> Option<&str> {
            None
        }
    }

    fn field(name: &str, offset: usize, size: usize, kind: FieldKind) -> Field {
        Field {
            name: name.into(),
            type_name: "unsigned long".into(),
            offset,
            size,
            signed: false,
            kind,
            is_common: false,
        }
    }

    /// A kernel_stack record of 6.12: size at 8, then the frames the kernel found (the
    /// ftrace trampoline marker 0x7fffffff first), fewer than the declared caller[8].
    #[test]
    fn kernel_stacks_print_each_frame_like_trace_cmd() {
        let fields = vec![
            field("size", 8, 4, FieldKind::Scalar),
            field("caller", 16, 64, FieldKind::Array { len: 8 }),
        ];
        let plugin = Plugin::for_event("ftrace", "kernel_stack", &fields).unwrap();
        let mut data = vec![0u8; 16];
        data[8] = 3;
        for frame in [0x7fff_ffffu64, 0xffff_ffff_8100_10f9, 0xffff_ffff_8100_22cb] {
            data.extend_from_slice(&frame.to_le_bytes());
        }
        let mut out = Vec::new();
        assert!(
            plugin
                .render(&fields, &data, &Kallsyms, 0, &mut out)
                .is_some()
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<stack trace >\n=> 7fffffff\n=> vfs_read (ffffffff810010f9)\n\
             => ksys_read (ffffffff810022cb)\n"
        );
        // A -1 word ends the stack.
        data.extend_from_slice(&u64::MAX.to_le_bytes());
        data.extend_from_slice(&0xffff_ffff_8100_1000u64.to_le_bytes());
        let mut out = Vec::new();
        plugin
            .render(&fields, &data, &Kallsyms, 0, &mut out)
            .expect("the record is whole");
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 4);
    }

    #[test]
    fn function_calls_print_the_callee_indented() {
        let fields = vec![
            field("ip", 8, 8, FieldKind::Scalar),
            field("parent_ip", 16, 8, FieldKind::Scalar),
        ];
        let plugin = Plugin::for_event("ftrace", "function", &fields).unwrap();
        let mut data = vec![0u8; 24];
        data[8..16].copy_from_slice(&0xffff_ffff_8100_1004u64.to_le_bytes());
        data[16..24].copy_from_slice(&0xffff_ffff_8100_2010u64.to_le_bytes());
        assert_eq!(
            plugin.function_call(&fields, &data),
            Some((0xffff_ffff_8100_1004, 0xffff_ffff_8100_2010))
        );
        let mut out = Vec::new();
        plugin
            .render(&fields, &data, &Kallsyms, 2, &mut out)
            .expect("the record is whole");
        assert_eq!(String::from_utf8(out).unwrap(), "      vfs_read");
        data[8..16].copy_from_slice(&0xffff_ffff_8200_0000u64.to_le_bytes());
        let mut out = Vec::new();
        plugin
            .render(&fields, &data, &Kallsyms, 0, &mut out)
            .expect("the record is whole");
        assert_eq!(String::from_utf8(out).unwrap(), "0xffffffff82000000");
    }

    /// a calls b, b calls c, a calls d, then x (unknown so far) calls y: levels 0 1 0 0,
    /// and the list keeps what lies beyond a rewritten position, as trace-cmd's does.
    #[test]
    fn function_levels_follow_the_callers_seen() {
        let mut indents = FunctionIndents::default();
        assert_eq!(indents.level(0, Some("a"), Some("b")), 0);
        assert_eq!(indents.level(0, Some("b"), Some("c")), 1);
        assert_eq!(indents.level(0, Some("c"), Some("e")), 2);
        assert_eq!(indents.level(0, Some("a"), Some("d")), 0);
        // "c" is still at position 2 behind the rewritten position 1.
        assert_eq!(indents.level(0, Some("c"), Some("f")), 2);
        assert_eq!(indents.level(0, Some("x"), Some("y")), 0);
        assert_eq!(indents.level(0, Some("y"), Some("z")), 1);
        // Another CPU has its own list; an unknown caller prints at level 0.
        assert_eq!(indents.level(1, Some("y"), Some("z")), 0);
        assert_eq!(indents.level(1, None, Some("z")), 0);
    }

    #[test]
    fn states_print_like_trace_cmd() {
        for (state, text) in [
            (0, "R"),
            (1, "S"),
            (2, "D"),
            (32, "X"),
            (128, "W"),
            (3, "S|D"),
        ] {
            let mut out = Vec::new();
            write_state(&mut out, state);
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }

    /// trace-cmd's function_graph columns: the overhead mark by threshold, three
    /// decimals of a microsecond until seven integer digits, the width held to 7.
    #[test]
    fn graph_durations_are_marked_and_padded_as_trace_cmd_pads_them() {
        let column = |ns: u64| {
            let mut out = Vec::new();
            write_graph_overhead(&mut out, Some(ns));
            write_graph_duration(&mut out, ns);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(column(5_177), "  5.177 us   |  ");
        assert_eq!(column(10_000), "  10.000 us  |  ");
        assert_eq!(column(63_375), "+ 63.375 us  |  ");
        assert_eq!(column(100_001), "! 100.001 us |  ");
        assert_eq!(column(3_242_027), "# 3242.027 us |  ");
        assert_eq!(column(1_000_000_001), "$ 1000000 us |  ");
        let mut nested = Vec::new();
        write_graph_overhead(&mut nested, None);
        assert_eq!(nested, b"  ");
    }
}
