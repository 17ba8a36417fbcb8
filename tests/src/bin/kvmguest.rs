//! Test workload: runs a tiny real-mode KVM guest that writes to I/O port 0x3f8 and
//! halts. Each `out` returns from KVM_RUN to this process (KVM_EXIT_IO), so the vCPU
//! thread makes exactly one KVM_RUN call per write, plus one (the last, ending on HLT).
//!
//! - `kvmguest [COUNT]` (default 1000, at most 65535): COUNT writes; prints the exit
//!   counts.
//! - `kvmguest --markers N`: N writes whose bytes are the loop index (0, 1, …, wrapping
//!   at 256). After each I/O exit this process checks the written byte (exit 3 when it
//!   is not the index's low byte) and writes one marker to `<tracefs>/trace_marker` as
//!   QEMU's ftrace backend does (one `write()` per event):
//!   `cpu_out addr 0x3f8(b) value I\n`, I being the I/O exit's index 0, 1, … counted
//!   here (not wrapped). `<tracefs>` is found as QEMU finds it: the first tracefs
//!   mount in /proc/mounts, else `<debugfs>/tracing`. Prints the run, exit and marker
//!   counts; exits 4 when a marker write failed.
//!
//! With `KVMGUEST_REPORT` set it also prints, on stderr, the time its KVM_RUN loop took:
//! `kvmguest: R KVM_RUN calls in T ns, X ns per call` (for `cargo xtask bench kvm`).
//!
//! Exits 2 when /dev/kvm cannot run a guest (or, with `--markers`, when trace_marker
//! cannot be opened), 3 on an unexpected exit.

use std::{
    fs::{File, OpenOptions},
    io::Write,
    os::fd::AsRawFd,
    path::PathBuf,
};

const KVM_CREATE_VM: u64 = 0xAE01;
const KVM_GET_VCPU_MMAP_SIZE: u64 = 0xAE04;
const KVM_CREATE_VCPU: u64 = 0xAE41;
const KVM_SET_USER_MEMORY_REGION: u64 = 0x4020_AE46;
const KVM_RUN: u64 = 0xAE80;
const KVM_GET_REGS: u64 = 0x8090_AE81;
const KVM_SET_REGS: u64 = 0x4090_AE82;
const KVM_GET_SREGS: u64 = 0x8138_AE83;
const KVM_SET_SREGS: u64 = 0x4138_AE84;
const KVM_EXIT_IO: u32 = 2;
const KVM_EXIT_HLT: u32 = 5;
const KVM_EXIT_IO_OUT: u8 = 1;
const GUEST_ADDR: u64 = 0x1000;
const PORT: u16 = 0x3f8;

/// What the guest does.
enum Mode {
    /// `out dx, al` COUNT times (al is whatever it is), the original workload.
    Count(u16),
    /// N writes of the loop index's low byte, each followed by a QEMU-style marker.
    Markers(u32),
}

fn ioctl(fd: i32, request: u64, arg: u64) -> std::io::Result<i32> {
    // SAFETY: every request here passes either an integer or a pointer to a buffer of
    // the size the request encodes, alive for the call.
    let rc = unsafe { libc::ioctl(fd, request as libc::c_ulong, arg) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn fail(what: &str, error: std::io::Error) -> ! {
    eprintln!("kvmguest: {what}: {error}");
    std::process::exit(2);
}

fn unexpected(what: std::fmt::Arguments) -> ! {
    eprintln!("kvmguest: {what}");
    std::process::exit(3);
}

fn usage() -> ! {
    eprintln!("usage: kvmguest [COUNT] | kvmguest --markers N (COUNT 1..=65535, N 0..=4294967295)");
    std::process::exit(1);
}

fn parse_mode() -> Mode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Mode::Count(1000),
        [flag, n] if flag == "--markers" => Mode::Markers(n.parse().unwrap_or_else(|_| usage())),
        [flag, ..] if flag.starts_with("--") => usage(),
        [count, ..] => Mode::Count(count.parse().expect("kvmguest: COUNT must be 1..=65535")),
    }
}

/// Undoes /proc/mounts' octal escapes (`\040` for a space, …).
fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
            out.push(value as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The tracefs directory as QEMU's ftrace backend finds it: the mount point of the
/// first tracefs in /proc/mounts, else `tracing` under the first debugfs.
fn tracefs_dir() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    let mount_of = |fstype: &str| {
        mounts.lines().find_map(|line| {
            let mut fields = line.split(' ');
            let (_, dir, kind) = (fields.next()?, fields.next()?, fields.next()?);
            (kind == fstype).then(|| PathBuf::from(unescape_mount_path(dir)))
        })
    };
    mount_of("tracefs").or_else(|| mount_of("debugfs").map(|d| d.join("tracing")))
}

fn open_trace_marker() -> File {
    let Some(dir) = tracefs_dir() else {
        eprintln!("kvmguest: no tracefs or debugfs in /proc/mounts: cannot write markers");
        std::process::exit(2);
    };
    let path = dir.join("trace_marker");
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| fail(&format!("cannot open {} for markers", path.display()), e))
}

/// The guest's real-mode code for `mode`.
fn guest_code(mode: &Mode) -> Vec<u8> {
    let [port_lo, port_hi] = PORT.to_le_bytes();
    match mode {
        Mode::Count(count) => {
            // mov dx, 0x3f8; mov cx, COUNT; l: out dx, al; loop l; hlt
            let [lo, hi] = count.to_le_bytes();
            vec![0xba, port_lo, port_hi, 0xb9, lo, hi, 0xee, 0xe2, 0xfd, 0xf4]
        }
        Mode::Markers(n) => {
            let mut code = vec![
                0xba, port_lo, port_hi, // mov dx, 0x3f8
                0xb3, 0x00, // mov bl, 0
                0x66, 0xb9, // mov ecx, N
            ];
            code.extend_from_slice(&n.to_le_bytes());
            code.extend_from_slice(&[
                0x67, 0xe3, 0x08, // jecxz end
                0x88, 0xd8, // l: mov al, bl
                0xee, // out dx, al
                0xfe, 0xc3, // inc bl
                0x67, 0xe2, 0xf8, // loop l (ecx)
                0xf4, // end: hlt
            ]);
            code
        }
    }
}

/// The I/O exit described at offset 32 of struct kvm_run: direction, size, port,
/// count and the byte written.
struct IoExit {
    direction: u8,
    size: u8,
    port: u16,
    count: u32,
    byte: u8,
}

/// Reads the io member of the kvm_run mapping `run` of `run_size` bytes.
fn read_io(run: *const u8, run_size: usize) -> IoExit {
    // SAFETY: the io member (direction u8 at 32, size u8 at 33, port u16 at 34, count
    // u32 at 36, data_offset u64 at 40) lies inside the mapped kvm_run, whose fields
    // are naturally aligned; the kernel does not touch it while KVM_RUN is not running.
    let (direction, size, port, count, data_offset) = unsafe {
        (
            std::ptr::read_volatile(run.add(32)),
            std::ptr::read_volatile(run.add(33)),
            std::ptr::read_volatile(run.add(34) as *const u16),
            std::ptr::read_volatile(run.add(36) as *const u32),
            std::ptr::read_volatile(run.add(40) as *const u64),
        )
    };
    let Some(at) = usize::try_from(data_offset)
        .ok()
        .filter(|&at| at < run_size)
    else {
        unexpected(format_args!(
            "I/O data offset {data_offset} outside the {run_size}-byte kvm_run"
        ));
    };
    // SAFETY: `at` was just checked to lie inside the mapping.
    let byte = unsafe { std::ptr::read_volatile(run.add(at)) };
    IoExit {
        direction,
        size,
        port,
        count,
        byte,
    }
}

fn main() {
    let mode = parse_mode();
    let mut marker = matches!(mode, Mode::Markers(_)).then(open_trace_marker);
    let kvm = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .unwrap_or_else(|e| fail("/dev/kvm", e));
    let vm = ioctl(kvm.as_raw_fd(), KVM_CREATE_VM, 0).unwrap_or_else(|e| fail("KVM_CREATE_VM", e));

    let code = guest_code(&mode);
    // SAFETY: a fresh anonymous page (guest memory must be page aligned), written
    // before the guest runs and never unmapped; the code is shorter than the page.
    let memory = unsafe {
        let page = libc::mmap(
            std::ptr::null_mut(),
            0x1000,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if page == libc::MAP_FAILED {
            fail("mmap guest memory", std::io::Error::last_os_error());
        }
        std::ptr::copy_nonoverlapping(code.as_ptr(), page as *mut u8, code.len());
        page
    };
    // struct kvm_userspace_memory_region: slot, flags, guest_phys_addr, memory_size,
    // userspace_addr.
    let mut region = [0u8; 32];
    region[8..16].copy_from_slice(&GUEST_ADDR.to_ne_bytes());
    region[16..24].copy_from_slice(&0x1000u64.to_ne_bytes());
    region[24..32].copy_from_slice(&(memory as u64).to_ne_bytes());
    ioctl(vm, KVM_SET_USER_MEMORY_REGION, region.as_ptr() as u64)
        .unwrap_or_else(|e| fail("KVM_SET_USER_MEMORY_REGION", e));
    let vcpu = ioctl(vm, KVM_CREATE_VCPU, 0).unwrap_or_else(|e| fail("KVM_CREATE_VCPU", e));

    // Real mode, code segment at 0 (struct kvm_sregs starts with cs: base, limit,
    // selector).
    let mut sregs = [0u8; 0x138];
    ioctl(vcpu, KVM_GET_SREGS, sregs.as_mut_ptr() as u64)
        .unwrap_or_else(|e| fail("KVM_GET_SREGS", e));
    sregs[0..8].copy_from_slice(&0u64.to_ne_bytes());
    sregs[12..14].copy_from_slice(&0u16.to_ne_bytes());
    ioctl(vcpu, KVM_SET_SREGS, sregs.as_ptr() as u64).unwrap_or_else(|e| fail("KVM_SET_SREGS", e));
    // struct kvm_regs: 16 general registers, then rip and rflags.
    let mut regs = [0u8; 0x90];
    ioctl(vcpu, KVM_GET_REGS, regs.as_mut_ptr() as u64).unwrap_or_else(|e| fail("KVM_GET_REGS", e));
    regs[0x80..0x88].copy_from_slice(&GUEST_ADDR.to_ne_bytes());
    regs[0x88..0x90].copy_from_slice(&2u64.to_ne_bytes());
    ioctl(vcpu, KVM_SET_REGS, regs.as_ptr() as u64).unwrap_or_else(|e| fail("KVM_SET_REGS", e));

    let size = ioctl(kvm.as_raw_fd(), KVM_GET_VCPU_MMAP_SIZE, 0)
        .unwrap_or_else(|e| fail("KVM_GET_VCPU_MMAP_SIZE", e)) as usize;
    // SAFETY: maps the vCPU's kvm_run structure, shared with the kernel, read only
    // here; it stays mapped until the process exits.
    let run = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            vcpu,
            0,
        )
    };
    if run == libc::MAP_FAILED {
        fail("mmap kvm_run", std::io::Error::last_os_error());
    }
    let run = run as *const u8;
    let (mut io_exits, mut runs, mut markers, mut marker_failures) = (0u32, 0u32, 0u32, 0u32);
    let mut line = String::with_capacity(64);
    let started = std::time::Instant::now();
    loop {
        ioctl(vcpu, KVM_RUN, 0).unwrap_or_else(|e| fail("KVM_RUN", e));
        runs += 1;
        // SAFETY: exit_reason is the u32 at offset 8 of struct kvm_run.
        let reason = unsafe { std::ptr::read_volatile(run.add(8) as *const u32) };
        match reason {
            KVM_EXIT_IO => {
                let index = io_exits;
                io_exits += 1;
                let Some(marker) = marker.as_mut() else {
                    continue;
                };
                let io = read_io(run, size);
                if (io.direction, io.size, io.port, io.count) != (KVM_EXIT_IO_OUT, 1, PORT, 1) {
                    unexpected(format_args!(
                        "I/O exit {index} is not one byte out to port {PORT:#x}: direction \
                         {}, size {}, port {:#x}, count {}",
                        io.direction, io.size, io.port, io.count
                    ));
                }
                if io.byte != (index & 0xff) as u8 {
                    unexpected(format_args!(
                        "I/O exit {index} wrote {} instead of {}",
                        io.byte,
                        index & 0xff
                    ));
                }
                // QEMU's trace-events: cpu_out(...) "addr 0x%x(%c) value %u"; 'b' is
                // the size character of one byte. One write() per event, as QEMU's
                // ftrace backend does.
                line.clear();
                line.push_str(&format!("cpu_out addr {:#x}(b) value {index}\n", io.port));
                match marker.write(line.as_bytes()) {
                    Ok(n) if n == line.len() => markers += 1,
                    outcome => {
                        if marker_failures == 0 {
                            eprintln!(
                                "kvmguest: a trace_marker write failed ({outcome:?}); \
                                 later failures are only counted"
                            );
                        }
                        marker_failures += 1;
                    }
                }
            }
            KVM_EXIT_HLT => break,
            other => unexpected(format_args!("unexpected exit reason {other}")),
        }
    }
    let elapsed = started.elapsed().as_nanos();
    if std::env::var_os("KVMGUEST_REPORT").is_some() {
        eprintln!(
            "kvmguest: {runs} KVM_RUN calls in {elapsed} ns, {:.1} ns per call",
            elapsed as f64 / f64::from(runs.max(1))
        );
    }
    match mode {
        Mode::Count(_) => println!("kvmguest: {runs} KVM_RUN calls, {io_exits} I/O exits"),
        Mode::Markers(_) => {
            println!("kvmguest: {runs} KVM_RUN calls, {io_exits} I/O exits, {markers} markers");
            if marker_failures > 0 {
                eprintln!("kvmguest: {marker_failures} marker writes failed");
                std::process::exit(4);
            }
        }
    }
}
