//! Test workload: runs a tiny real-mode KVM guest that writes N bytes to I/O port
//! 0x3f8 and halts. Each `out` returns from KVM_RUN to this process (KVM_EXIT_IO), so
//! the vCPU thread makes exactly N + 1 KVM_RUN calls (the last one ends on HLT).
//! Prints the exit counts; exits 2 when /dev/kvm cannot run a guest.

use std::{fs::OpenOptions, os::fd::AsRawFd};

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
const GUEST_ADDR: u64 = 0x1000;

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

fn main() {
    let count: u16 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("kvmguest: COUNT must be 1..=65535"))
        .unwrap_or(1000);
    let kvm = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .unwrap_or_else(|e| fail("/dev/kvm", e));
    let vm = ioctl(kvm.as_raw_fd(), KVM_CREATE_VM, 0).unwrap_or_else(|e| fail("KVM_CREATE_VM", e));

    // mov dx, 0x3f8; mov cx, COUNT; l: out dx, al; loop l; hlt
    let [lo, hi] = count.to_le_bytes();
    let code = [0xba, 0xf8, 0x03, 0xb9, lo, hi, 0xee, 0xe2, 0xfd, 0xf4];
    // SAFETY: a fresh anonymous page (guest memory must be page aligned), written
    // before the guest runs and never unmapped.
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
    let (mut io_exits, mut runs) = (0u32, 0u32);
    loop {
        ioctl(vcpu, KVM_RUN, 0).unwrap_or_else(|e| fail("KVM_RUN", e));
        runs += 1;
        // SAFETY: exit_reason is the u32 at offset 8 of struct kvm_run.
        let reason = unsafe { std::ptr::read_volatile((run as *const u8).add(8) as *const u32) };
        match reason {
            KVM_EXIT_IO => io_exits += 1,
            KVM_EXIT_HLT => break,
            other => {
                eprintln!("kvmguest: unexpected exit reason {other}");
                std::process::exit(3);
            }
        }
    }
    println!("kvmguest: {runs} KVM_RUN calls, {io_exits} I/O exits");
}
