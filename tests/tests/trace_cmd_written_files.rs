//! trace.dat files the test writes itself for machines this is not: a 32-bit x86
//! kernel's (4-byte longs and pointers, a 4-byte commit word in the page header,
//! 32-bit kernel addresses; real 6.x format files laid out as such a kernel lays them
//! out) and a 64-bit big-endian kernel's (s390x's byte order: every number of the file
//! and of its pages big-endian, record headers' bitfields from the top bit), with
//! records encoded into ring-buffer pages as those kernels write them. hytrace report
//! prints each exactly as trace-cmd report prints it.

use std::io::Cursor;

use ftrace_user::store::{TraceMeta, TraceOption, write_trace_file};
use hytrace_tests::{TempDir, require_tool, run_ok};

const META: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ftrace-user/src/store/fixtures/capture/meta"
);

fn real_format(path: &str) -> String {
    std::fs::read_to_string(format!("{META}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A field of a format as laid out: name, offset, size.
#[derive(Debug, Clone)]
struct Placed {
    name: String,
    offset: usize,
    size: usize,
}

/// What kernel a file is written as.
#[derive(Clone, Copy)]
struct Kernel {
    /// Bytes of a `long` and a pointer.
    long: usize,
    big_endian: bool,
    /// Where the kernel's text starts (the addresses of [`kallsyms`]).
    text_base: u64,
}

const X86_32: Kernel = Kernel {
    long: 4,
    big_endian: false,
    text_base: 0xc100_0000,
};

const BIG_ENDIAN_64: Kernel = Kernel {
    long: 8,
    big_endian: true,
    text_base: 0x0000_0000_0010_0000,
};

impl Kernel {
    /// `value`'s low `size` bytes in the kernel's byte order.
    fn bytes(self, value: u64, size: usize) -> Vec<u8> {
        match self.big_endian {
            true => value.to_be_bytes()[8 - size..].to_vec(),
            false => value.to_le_bytes()[..size].to_vec(),
        }
    }

    fn addr(self, offset: u64) -> u64 {
        self.text_base + offset
    }

    /// The kernel's /proc/kallsyms: functions at offsets from its text base.
    fn kallsyms(self) -> String {
        [
            (0x0, "_text"),
            (0x0, "startup"),
            (0xa_0000, "__schedule"),
            (0xa_0400, "schedule"),
            (0x23_0000, "vfs_read"),
            (0x23_0800, "ksys_read"),
            (0x23_1000, "__sys_read"),
            (0x40_0000, "do_syscall"),
            (0x40_0200, "entry_syscall"),
            (0x50_0000, "handle_irq_event"),
        ]
        .iter()
        .map(|(offset, name)| {
            format!(
                "{:0width$x} T {name}\n",
                self.addr(*offset),
                width = self.long * 2
            )
        })
        .collect()
    }

    /// `events/header_page` of the kernel: the commit word is a `long`.
    fn header_page(self) -> String {
        let data = 8 + self.long;
        format!(
            "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\
             \tfield: local_t commit;\toffset:8;\tsize:{};\tsigned:1;\n\
             \tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n\
             \tfield: char data;\toffset:{data};\tsize:{};\tsigned:0;\n",
            self.long,
            PAGE_SIZE - data
        )
    }
}

/// A 64-bit kernel's format file as `kernel` lays it out: for a 32-bit one, `long` and
/// pointer fields (and arrays of them) 4 bytes an element, each field aligned to its
/// element size up to 4, offsets recomputed after the common fields. Returns the text
/// and where its fields are.
fn laid_out(text: &str, kernel: Kernel) -> (String, Vec<Placed>) {
    let mut out = String::new();
    let mut placed = Vec::new();
    let mut cursor: usize = 8;
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("field:") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let parts: Vec<&str> = rest.split(';').map(str::trim).collect();
        let decl = parts[0];
        let number = |key: &str| -> usize {
            parts
                .iter()
                .find_map(|p| p.strip_prefix(key))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let (offset, size) = (number("offset:"), number("size:"));
        let name = decl
            .split(|c: char| c.is_whitespace() || c == '*' || c == '[')
            .rfind(|w| !w.is_empty() && !w.ends_with(']'))
            .unwrap_or("")
            .to_string();
        let name = if decl.starts_with("__data_loc") {
            decl.rsplit(' ').next().unwrap().to_string()
        } else {
            name
        };
        if name.starts_with("common_") {
            placed.push(Placed { name, offset, size });
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let count = decl
            .rfind('[')
            .and_then(|i| decl[i + 1..decl.len() - 1].parse::<usize>().ok())
            .filter(|_| !decl.starts_with("__data_loc"))
            .unwrap_or(1);
        let element = if decl.starts_with("__data_loc") {
            4
        } else {
            size / count
        };
        let narrows = (decl.contains("long") && !decl.contains("long long")) || decl.contains('*');
        let element = if narrows && element == 8 {
            kernel.long
        } else {
            element
        };
        let new_size = element * count;
        let align = element.clamp(1, kernel.long);
        cursor = cursor.div_ceil(align) * align;
        let signed = parts.iter().find(|p| p.starts_with("signed:")).unwrap();
        out.push_str(&format!(
            "\tfield:{decl};\toffset:{cursor};\tsize:{new_size};\t{signed};\n"
        ));
        placed.push(Placed {
            name,
            offset: cursor,
            size: new_size,
        });
        cursor += new_size;
    }
    (out, placed)
}

/// A value to store in a record field.
enum Value<'a> {
    Int(u64),
    /// A char array's text.
    Text(&'a str),
    /// A `__data_loc char[]` string, stored after the fixed fields.
    Dynamic(&'a str),
    /// An array of `long`s.
    Words(&'a [u64]),
}

/// One event of the file: its id, layout and text.
struct Event {
    id: u16,
    fields: Vec<Placed>,
    kernel: Kernel,
}

impl Event {
    fn record(&self, pid: i32, values: &[(&str, Value<'_>)]) -> Vec<u8> {
        let fixed = self.fields.iter().map(|f| f.offset + f.size).max().unwrap();
        let kernel = self.kernel;
        let mut data = vec![0u8; fixed];
        data[..2].copy_from_slice(&kernel.bytes(u64::from(self.id), 2));
        data[4..8].copy_from_slice(&kernel.bytes(pid as u32 as u64, 4));
        for (name, value) in values {
            let field = self
                .fields
                .iter()
                .find(|f| f.name == *name)
                .unwrap_or_else(|| panic!("no field {name}"));
            let at = field.offset;
            match value {
                Value::Int(v) => {
                    data[at..at + field.size].copy_from_slice(&kernel.bytes(*v, field.size));
                }
                Value::Text(text) => data[at..at + text.len()].copy_from_slice(text.as_bytes()),
                Value::Dynamic(text) => {
                    let start = data.len();
                    data.extend_from_slice(text.as_bytes());
                    data.push(0);
                    let loc = ((text.len() as u64 + 1) << 16) | start as u64;
                    data[at..at + 4].copy_from_slice(&kernel.bytes(loc, 4));
                }
                Value::Words(words) => {
                    let long = kernel.long;
                    for (i, w) in words.iter().enumerate() {
                        data[at + long * i..at + long * (i + 1)]
                            .copy_from_slice(&kernel.bytes(*w, long));
                    }
                }
            }
        }
        while !data.len().is_multiple_of(4) {
            data.push(0);
        }
        data
    }
}

const PAGE_SIZE: usize = 4096;

/// One ring-buffer page as `kernel` writes it: the u64 timestamp, the `long` commit
/// word, then each record behind its header word: type_len (length / 4) and the delta
/// from the previous record, in the low 5 and high 27 bits on a little-endian kernel
/// and in the high 5 and low 27 on a big-endian one.
fn page(kernel: Kernel, first_ts: u64, records: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut data = Vec::new();
    for (delta, record) in records {
        assert!(*delta < 1 << 27 && record.len() <= 112 && record.len() % 4 == 0);
        let type_len = record.len() as u64 / 4;
        let header = match kernel.big_endian {
            true => (type_len << 27) | u64::from(*delta),
            false => type_len | (u64::from(*delta) << 5),
        };
        data.extend_from_slice(&kernel.bytes(header, 4));
        data.extend_from_slice(record);
    }
    let mut page = Vec::with_capacity(PAGE_SIZE);
    page.extend_from_slice(&kernel.bytes(first_ts, 8));
    page.extend_from_slice(&kernel.bytes(data.len() as u64, kernel.long));
    page.extend_from_slice(&data);
    page.resize(PAGE_SIZE, 0);
    page
}

/// Writes the file of `kernel`: sched_switch and sched_wakeup (trace-cmd's sched
/// plugin), irq_handler_entry (a `__data_loc` string), sys_enter (`long` id and
/// `args[6]`), the function tracer's calls and a kernel stack, on two CPUs.
fn write_file(path: &str, kernel: Kernel) {
    let mut events = Vec::new();
    let mut formats: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    let mut ftrace = Vec::new();
    for (system, name) in [
        ("ftrace", "function"),
        ("ftrace", "kernel_stack"),
        ("sched", "sched_switch"),
        ("sched", "sched_wakeup"),
        ("irq", "irq_handler_entry"),
        ("raw_syscalls", "sys_enter"),
    ] {
        let path = match system {
            "ftrace" => format!("ftrace/{name}.format"),
            _ => format!("events/{system}/{name}.format"),
        };
        let (text, fields) = laid_out(&real_format(&path), kernel);
        let id: u16 = text
            .lines()
            .find_map(|l| l.strip_prefix("ID: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        events.push((name, Event { id, fields, kernel }));
        match system {
            "ftrace" => ftrace.push(text.into_bytes()),
            _ => match formats.iter_mut().find(|(s, _)| s == system) {
                Some((_, list)) => list.push(text.into_bytes()),
                None => formats.push((system.to_string(), vec![text.into_bytes()])),
            },
        }
    }
    let event = |name: &str| &events.iter().find(|(n, _)| *n == name).unwrap().1;
    let (switch, wakeup, irq, enter, function, stack) = (
        event("sched_switch"),
        event("sched_wakeup"),
        event("irq_handler_entry"),
        event("sys_enter"),
        event("function"),
        event("kernel_stack"),
    );
    let cpu0 = vec![
        (
            0,
            enter.record(
                412,
                &[
                    ("id", Value::Int(3)),
                    ("args", Value::Words(&[3, 0xbf80_1000, 4096, 0, 0, 0])),
                ],
            ),
        ),
        (
            1_200,
            function.record(
                412,
                &[
                    ("ip", Value::Int(kernel.addr(0x23_1004))),
                    ("parent_ip", Value::Int(kernel.addr(0x40_0230))),
                ],
            ),
        ),
        (
            300,
            function.record(
                412,
                &[
                    ("ip", Value::Int(kernel.addr(0x23_0810))),
                    ("parent_ip", Value::Int(kernel.addr(0x23_1010))),
                ],
            ),
        ),
        (
            250,
            function.record(
                412,
                &[
                    ("ip", Value::Int(kernel.addr(0x23_0004))),
                    ("parent_ip", Value::Int(kernel.addr(0x23_0840))),
                ],
            ),
        ),
        (
            40,
            stack.record(
                412,
                &[
                    ("size", Value::Int(3)),
                    (
                        "caller",
                        Value::Words(&[
                            kernel.addr(0x23_0004),
                            kernel.addr(0x23_0840),
                            kernel.addr(0x40_0230),
                            0,
                            0,
                            0,
                            0,
                            0,
                        ]),
                    ),
                ],
            ),
        ),
        (
            9_000,
            irq.record(
                412,
                &[
                    ("irq", Value::Int(16)),
                    ("name", Value::Dynamic("ehci_hcd:usb1")),
                ],
            ),
        ),
        (
            2_000,
            wakeup.record(
                412,
                &[
                    ("comm", Value::Text("kworker/0:1")),
                    ("pid", Value::Int(27)),
                    ("prio", Value::Int(120)),
                    ("target_cpu", Value::Int(0)),
                ],
            ),
        ),
        (
            500,
            switch.record(
                412,
                &[
                    ("prev_comm", Value::Text("cat")),
                    ("prev_pid", Value::Int(412)),
                    ("prev_prio", Value::Int(120)),
                    ("prev_state", Value::Int(1)),
                    ("next_comm", Value::Text("kworker/0:1")),
                    ("next_pid", Value::Int(27)),
                    ("next_prio", Value::Int(120)),
                ],
            ),
        ),
        (
            7_000,
            switch.record(
                27,
                &[
                    ("prev_comm", Value::Text("kworker/0:1")),
                    ("prev_pid", Value::Int(27)),
                    ("prev_prio", Value::Int(120)),
                    ("prev_state", Value::Int(0x80)),
                    ("next_comm", Value::Text("swapper/0")),
                    ("next_pid", Value::Int(0)),
                    ("next_prio", Value::Int(120)),
                ],
            ),
        ),
    ];
    let cpu1 = vec![
        (
            0,
            enter.record(
                380,
                &[
                    ("id", Value::Int(0xffff_ffff)),
                    ("args", Value::Words(&[1, 2, 3, 4, 5, 0xffff_ffff])),
                ],
            ),
        ),
        (
            3_100,
            irq.record(
                0,
                &[("irq", Value::Int(1)), ("name", Value::Dynamic("i8042"))],
            ),
        ),
        (
            800,
            switch.record(
                380,
                &[
                    ("prev_comm", Value::Text("sh")),
                    ("prev_pid", Value::Int(380)),
                    ("prev_prio", Value::Int(120)),
                    ("prev_state", Value::Int(0)),
                    ("next_comm", Value::Text("swapper/1")),
                    ("next_pid", Value::Int(0)),
                    ("next_prio", Value::Int(120)),
                ],
            ),
        ),
    ];
    let pages = [
        (0u32, page(kernel, 5_000_123_456, &cpu0)),
        (1u32, page(kernel, 5_000_124_000, &cpu1)),
    ];
    let meta = TraceMeta {
        big_endian: kernel.big_endian,
        long_size: kernel.long as u8,
        page_size: PAGE_SIZE as u32,
        header_page: kernel.header_page().into_bytes(),
        header_event: real_format("header_event").into_bytes(),
        ftrace_formats: ftrace,
        event_formats: formats,
        kallsyms: kernel.kallsyms().into_bytes(),
        printk_formats: Vec::new(),
        cmdlines: b"412 cat\n380 sh\n27 kworker/0:1\n".to_vec(),
        options: vec![TraceOption::CpuCount(2)],
    };
    let mut cpus: Vec<(u32, Cursor<Vec<u8>>, u64)> = pages
        .iter()
        .map(|(cpu, page)| (*cpu, Cursor::new(page.clone()), page.len() as u64))
        .collect();
    let mut out = Cursor::new(Vec::new());
    write_trace_file(&mut out, &meta, &mut cpus).expect("write the file");
    std::fs::write(path, out.into_inner()).unwrap();
}

/// Prints the file of `kernel` with hytrace and with trace-cmd, plain and with -t,
/// --ts-diff, -l, a -F filter and --first-event --last-event, and expects the same
/// bytes; returns the plain text.
fn assert_prints_as_trace_cmd(kernel: Kernel, name: &str) -> String {
    let (_dir, dat) = TempDir::with_file(name, &format!("{name}.dat"));
    write_file(&dat, kernel);
    let mut plain = String::new();
    for options in [
        &[][..],
        &["-t"],
        &["--ts-diff"],
        &["-l"],
        &["-F", "sched_switch: prev_state == 0 || next_pid == 27"],
        &["--first-event", "--last-event"],
    ] {
        let ours = hytrace_tests::hytrace_report_text(&dat, options);
        let theirs = run_ok(
            "trace-cmd",
            &[&["report"], options, &[dat.as_str()]].concat(),
        );
        assert_eq!(ours, theirs, "{name} {options:?}");
        if options.is_empty() {
            plain = ours;
        }
    }
    // The cpus= line and the 12 records (kernel stack frames aside).
    assert_eq!(
        plain.lines().filter(|l| !l.starts_with("=>")).count(),
        13,
        "{plain}"
    );
    for needle in [
        "name=ehci_hcd:usb1",
        "NR 3 (3, bf801000, 1000, 0, 0, 0)",
        "cat:412 [120] S ==> kworker/0:1:27 [120]",
    ] {
        assert!(plain.contains(needle), "no {needle:?} in {plain}");
    }
    plain
}

/// A 32-bit x86 kernel's file: 4-byte `long` arguments, function names from 32-bit
/// kallsyms, the kernel stack's 4-byte frames (`=> vfs_read (c1230004)`).
#[test]
fn a_32_bit_kernels_file_prints_as_trace_cmd_prints_it() {
    require_tool!("trace-cmd");
    let plain = assert_prints_as_trace_cmd(X86_32, "thirty-two");
    for needle in ["=> vfs_read (c1230004)", "=> ksys_read (c1230840)"] {
        assert!(plain.contains(needle), "no {needle:?} in {plain}");
    }
}

/// A 64-bit big-endian kernel's file: every number swapped back (timestamps, pids,
/// `long`s, the `__data_loc` word, 8-byte stack frames `=> vfs_read (330004)`).
#[test]
fn a_big_endian_kernels_file_prints_as_trace_cmd_prints_it() {
    require_tool!("trace-cmd");
    let plain = assert_prints_as_trace_cmd(BIG_ENDIAN_64, "big-endian");
    for needle in ["=> vfs_read (330004)", "=> ksys_read (330840)"] {
        assert!(plain.contains(needle), "no {needle:?} in {plain}");
    }
}
