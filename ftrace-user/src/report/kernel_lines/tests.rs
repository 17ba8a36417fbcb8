//! `report --kernel-lines` end to end on a fixture kernel: `fake_vmlinux.c` built by gcc
//! into an ELF linked at the kernel's base with DWARF and a build-id, and a trace.dat
//! that recorded that "kernel" running 0x1e000000 higher (KASLR): its kallsyms are the
//! file's functions moved up by the shift, its KERNEL_BUILD_ID option the file's
//! build-id, and it holds one event followed by a kernel_stack record whose frames are
//! the file's after_* return addresses (moved up) and one module address.

use std::{
    io::{Cursor, Read},
    path::PathBuf,
    process::Command,
};

use object::{Object, ObjectSymbol};

use super::*;
use crate::{
    decode::page::tests::PageBuilder,
    output::event_report,
    report::{RecordFilter, Report, ReportStyle, folded::fold},
    stacks::build_ids::{build_id_of_file, hex},
    store::{TraceMeta, TraceOption, write_trace_file},
};

const SOURCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/report/kernel_lines/fake_vmlinux.c"
);
const SHIFT: u64 = 0x1e00_0000;
const MODULE_FRAME: u64 = 0xffff_ffff_c0a0_1234;
const PAGE_SIZE: usize = 4096;
const EVENT_ID: u16 = 700;
const KERNEL_STACK_ID: u16 = 4;

struct Fixture {
    dir: PathBuf,
    vmlinux: PathBuf,
    /// Linked addresses of the file's symbols, by name.
    symbols: HashMap<String, u64>,
    build_id: Vec<u8>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn build_fixture(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!(
        "hytrace-kernel-lines-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let vmlinux = dir.join("vmlinux");
    let out = Command::new("gcc")
        .args([
            "-g",
            "-O2",
            "-ffreestanding",
            "-fno-toplevel-reorder",
            "-fno-pie",
            "-no-pie",
            "-nostdlib",
            "-static",
            "-mcmodel=kernel",
            "-mno-red-zone",
            "-e",
            "entry_SYSCALL_64",
            "-Wl,-Ttext-segment=0xffffffff81000000",
            "-Wl,--build-id=sha1",
            "-o",
        ])
        .arg(&vmlinux)
        .arg(SOURCE)
        .output()
        .expect("gcc builds the fixture kernel");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&vmlinux).unwrap();
    let elf = object::File::parse(&bytes[..]).unwrap();
    let symbols = elf
        .symbols()
        .filter_map(|s| Some((s.name().ok()?.to_string(), s.address())))
        .collect();
    let build_id = build_id_of_file(&vmlinux).unwrap().expect("a build-id");
    Fixture {
        dir,
        vmlinux,
        symbols,
        build_id,
    }
}

impl Fixture {
    fn at(&self, name: &str) -> u64 {
        self.symbols[name] + SHIFT
    }

    /// kallsyms of the shifted kernel: _text and the functions (not the after_*
    /// labels, which a real kernel does not have), and one module function.
    fn kallsyms(&self) -> String {
        let mut text = String::new();
        for name in ["_text", "ksys_getppid", "do_syscall_64", "entry_SYSCALL_64"] {
            text.push_str(&format!("{:016x} T {name}\n", self.at(name)));
        }
        text.push_str(&format!(
            "{:016x} t kvm_vcpu_ioctl\t[kvm]\n",
            MODULE_FRAME - 0x234
        ));
        // A symbol after it: the last symbol of a table names only its own address
        // (libtraceevent's lookup).
        text.push_str(&format!(
            "{:016x} t kvm_arch_vcpu_ioctl\t[kvm]\n",
            MODULE_FRAME + 0x1000
        ));
        text
    }

    /// The recording, written into the fixture's directory.
    fn recording(&self, kallsyms: &str, build_id: &[u8]) -> PathBuf {
        let common = "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
";
        let kernel_stack = format!(
            "name: kernel_stack\nID: {KERNEL_STACK_ID}\nformat:\n{common}\n\
             \tfield:int size;\toffset:8;\tsize:4;\tsigned:1;\n\
             \tfield:unsigned long caller[8];\toffset:16;\tsize:64;\tsigned:0;\n\n\
             print fmt: \"\\t=> %ps\\n\\t=> %ps\\n\", (void *)REC->caller[0], \
             (void *)REC->caller[1]\n"
        );
        let getppid = format!(
            "name: getppid\nID: {EVENT_ID}\nformat:\n{common}\n\
             \tfield:long nr;\toffset:8;\tsize:8;\tsigned:1;\n\n\
             print fmt: \"nr %ld\", REC->nr\n"
        );
        let pid = 4242i32;
        let header = |id: u16| {
            let mut r = Vec::new();
            r.extend_from_slice(&id.to_le_bytes());
            r.extend_from_slice(&[0, 0]);
            r.extend_from_slice(&pid.to_le_bytes());
            r
        };
        let mut event = header(EVENT_ID);
        event.extend_from_slice(&110i64.to_le_bytes());
        let frames = [
            self.at("after_ksys_getppid"),
            self.at("after_do_syscall_64"),
            MODULE_FRAME,
        ];
        let mut stack = header(KERNEL_STACK_ID);
        stack.extend_from_slice(&(frames.len() as i32).to_le_bytes());
        stack.extend_from_slice(&[0; 4]);
        for frame in frames {
            stack.extend_from_slice(&frame.to_le_bytes());
        }
        let page = PageBuilder::new(1_000_000_000)
            .record(0, &event)
            .record(0, &stack)
            .finish(0, PAGE_SIZE);
        let meta = TraceMeta {
            big_endian: false,
            long_size: 8,
            page_size: PAGE_SIZE as u32,
            header_page: b"\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
"
            .to_vec(),
            header_event: b"# compressed entry header
\ttype_len    :    5 bits
\ttime_delta  :   27 bits
\tarray       :   32 bits

\tpadding     : type == 29
\ttime_extend : type == 30
\ttime_stamp : type == 31
\tdata max type_len  == 28
"
            .to_vec(),
            ftrace_formats: vec![kernel_stack.into_bytes()],
            event_formats: vec![("fixture".into(), vec![getppid.into_bytes()])],
            kallsyms: kallsyms.as_bytes().to_vec(),
            printk_formats: Vec::new(),
            cmdlines: format!("{pid} getppid-loop\n").into_bytes(),
            options: vec![
                TraceOption::TraceClock("[mono] local global".into()),
                TraceOption::CpuCount(1),
                TraceOption::Uname("Linux fixture 6.12.0-fixture #1 SMP".into()),
                TraceOption::Hytrace {
                    kind: hytrace_kind::KERNEL_BUILD_ID,
                    data: hex(build_id).into_bytes(),
                },
            ],
        };
        let len = page.len() as u64;
        let mut cpus: Vec<(u32, Box<dyn Read>, u64)> = vec![(0, Box::new(Cursor::new(page)), len)];
        let mut out = Cursor::new(Vec::new());
        write_trace_file(&mut out, &meta, &mut cpus).expect("write the fixture recording");
        let path = self.dir.join("k.dat");
        std::fs::write(&path, out.into_inner()).unwrap();
        path
    }

    /// A debug directory holding the file under its build-id, as Debian's dbg
    /// packages install it.
    fn debug_dir(&self) -> PathBuf {
        let name = hex(&self.build_id);
        let root = self.dir.join("debug");
        let nested = root.join(".build-id").join(&name[..2]);
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::copy(&self.vmlinux, nested.join(format!("{}.debug", &name[2..]))).unwrap();
        root
    }
}

/// The source line whose comment says `at: NAME`.
fn line_of(name: &str) -> u32 {
    let source = std::fs::read_to_string(SOURCE).unwrap();
    let marker = format!("/* at: {name} */");
    source
        .lines()
        .position(|l| l.contains(&marker))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("no {marker} in {SOURCE}"))
}

fn report(recording: &Recording, style: ReportStyle) -> String {
    let mut out = Vec::new();
    event_report::print(recording, &RecordFilter::default(), None, style, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Found by build-id in the debug directory: the return address after ksys_getppid's
/// call names the inlined x64_sys_call at the asm's line and do_syscall_64 at its call;
/// the next, entry_SYSCALL_64 at its call of do_syscall_64; the module frame stays as
/// trace-cmd prints it. Text, JSON and folded stacks say the same.
#[test]
fn kernel_stack_frames_get_file_line_and_inlined_functions() {
    let fixture = build_fixture("found");
    let path = fixture.recording(&fixture.kallsyms(), &fixture.build_id);
    let mut recording = Recording::open(&path).unwrap();
    let without = report(&recording, ReportStyle::Text);
    let debug_dir = fixture.debug_dir();
    let loaded = load(&mut recording, None, std::slice::from_ref(&debug_dir))
        .unwrap()
        .expect("kernel stacks");
    let name = hex(&fixture.build_id);
    assert_eq!(
        loaded,
        KernelLinesLoaded {
            vmlinux: debug_dir
                .join(".build-id")
                .join(&name[..2])
                .join(format!("{}.debug", &name[2..])),
            addresses: 3,
            named: 2,
        }
    );
    let text = report(&recording, ReportStyle::Text);
    let stack: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("<stack trace >"))
        .collect();
    let after_ksys = fixture.at("after_ksys_getppid");
    let after_do = fixture.at("after_do_syscall_64");
    assert_eq!(
        stack[1..],
        [
            format!(
                "=> x64_sys_call [inlined] ({SOURCE}:{})",
                line_of("x64_sys_call")
            ),
            format!(
                "=> do_syscall_64 ({after_ksys:x}) ({SOURCE}:{})",
                line_of("do_syscall_64")
            ),
            format!(
                "=> entry_SYSCALL_64 ({after_do:x}) ({SOURCE}:{})",
                line_of("entry_SYSCALL_64")
            ),
            format!("=> kvm_vcpu_ioctl ({MODULE_FRAME:x})"),
        ],
        "{text}"
    );
    // Without --kernel-lines the lines are trace-cmd's.
    let without_stack: Vec<&str> = without
        .lines()
        .skip_while(|l| !l.contains("<stack trace >"))
        .skip(1)
        .collect();
    assert_eq!(
        without_stack,
        [
            format!("=> do_syscall_64 ({after_ksys:x})"),
            format!("=> entry_SYSCALL_64 ({after_do:x})"),
            format!("=> kvm_vcpu_ioctl ({MODULE_FRAME:x})"),
        ]
    );

    let json = report(&recording, ReportStyle::Json);
    let stack_line = json.lines().nth(1).unwrap();
    let array = stack_line
        .split_once(",\"kernel_stack\":")
        .map(|(_, a)| a)
        .unwrap_or_else(|| panic!("{stack_line}"));
    assert_eq!(
        array,
        format!(
            "[{{\"function\":\"x64_sys_call\",\"file\":\"{SOURCE}\",\"line\":{},\
             \"inlined\":true}},{{\"address\":{after_ksys},\"function\":\"do_syscall_64\",\
             \"offset\":{},\"file\":\"{SOURCE}\",\"line\":{},\"inlined\":false}},\
             {{\"address\":{after_do},\"function\":\"entry_SYSCALL_64\",\"offset\":{},\
             \"file\":\"{SOURCE}\",\"line\":{},\"inlined\":false}},\
             {{\"address\":{MODULE_FRAME},\"function\":\"kvm_vcpu_ioctl\",\"offset\":564,\
             \"inlined\":false}}]}}",
            line_of("x64_sys_call"),
            after_ksys - fixture.at("do_syscall_64"),
            line_of("do_syscall_64"),
            after_do - fixture.at("entry_SYSCALL_64"),
            line_of("entry_SYSCALL_64"),
        )
    );

    let folded = fold(&mut Report::new(&recording, &RecordFilter::default()));
    assert_eq!(
        folded,
        [(
            "getppid-loop;kvm_vcpu_ioctl_[k];entry_SYSCALL_64_[k];do_syscall_64_[k];\
             x64_sys_call_[k]"
                .to_string(),
            1
        )]
    );
}

/// A vmlinux that is not the recording's kernel is refused, each way it can differ;
/// with nothing to find, the error names every place looked.
#[test]
fn another_kernel_or_none_is_refused_clearly() {
    let fixture = build_fixture("refused");
    // Another build-id recorded.
    let path = fixture.recording(&fixture.kallsyms(), &[0xab; 20]);
    let mut recording = Recording::open(&path).unwrap();
    let err = load(&mut recording, Some(&fixture.vmlinux), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not the recording's kernel: its build-id is {}, the recording's {}",
            fixture.vmlinux.display(),
            hex(&fixture.build_id),
            "ab".repeat(20)
        )
    );
    // Searched for: nothing has that build-id.
    let err = load(&mut recording, None, &[fixture.debug_dir()]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "no kernel debug info for this recording (kernel 6.12.0-fixture, build-id {}); \
             looked for {}/debug/.build-id/ab/{}.debug, /usr/lib/debug/.build-id/ab/",
            "ab".repeat(20),
            fixture.dir.display(),
            "ab".repeat(19)
        )),
        "{text}"
    );
    assert!(
        text.ends_with(
            "/lib/modules/6.12.0-fixture/build/vmlinux. Install the kernel's debug package \
             (Debian: linux-image-6.12.0-fixture-dbg) or give --vmlinux FILE"
        ),
        "{text}"
    );

    // The right build-id but functions elsewhere than the kallsyms say.
    let moved = fixture.kallsyms().replace(
        &format!("{:016x} T do_syscall_64", fixture.at("do_syscall_64")),
        &format!(
            "{:016x} T do_syscall_64",
            fixture.at("do_syscall_64") + 0x40
        ),
    );
    let path = fixture.recording(&moved, &fixture.build_id);
    let mut recording = Recording::open(&path).unwrap();
    let err = load(&mut recording, Some(&fixture.vmlinux), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not the recording's kernel: of the functions both name, 2 are at _text's \
             shift of {SHIFT:#x} and 1 elsewhere (do_syscall_64 first) (the recording's \
             kallsyms and the file's symbol table disagree)",
            fixture.vmlinux.display()
        )
    );

    // Stripped of DWARF.
    let stripped = fixture.dir.join("vmlinux.stripped");
    let out = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(&fixture.vmlinux)
        .arg(&stripped)
        .output()
        .expect("objcopy");
    assert!(out.status.success());
    let path = fixture.recording(&fixture.kallsyms(), &fixture.build_id);
    let mut recording = Recording::open(&path).unwrap();
    let err = load(&mut recording, Some(&stripped), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} has no DWARF debug info (.debug_info): a stripped vmlinux names no lines",
            stripped.display()
        )
    );
    assert!(recording.symbols.kernel_lines.is_none());
}
