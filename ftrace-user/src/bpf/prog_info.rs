//! Per-program statistics the kernel keeps (`bpf_prog_info`): how often a program was
//! skipped because it was already running on the CPU (recursion misses).

use std::os::fd::{AsFd, AsRawFd};

/// The leading fields of the kernel's `struct bpf_prog_info` (include/uapi/linux/bpf.h)
/// up to `recursion_misses` (Linux 5.12); the kernel fills what it knows of the length
/// it is given.
#[repr(C)]
#[derive(Default)]
struct ProgInfoHead {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; 16],
    ifindex: u32,
    gpl_compatible: u32,
    netns_dev: u64,
    netns_ino: u64,
    nr_jited_ksyms: u32,
    nr_jited_func_lens: u32,
    jited_ksyms: u64,
    jited_func_lens: u64,
    btf_id: u32,
    func_info_rec_size: u32,
    func_info: u64,
    nr_func_info: u32,
    nr_line_info: u32,
    line_info: u64,
    jited_line_info: u64,
    nr_jited_line_info: u32,
    line_info_rec_size: u32,
    jited_line_info_rec_size: u32,
    nr_prog_tags: u32,
    prog_tags: u64,
    run_time_ns: u64,
    run_cnt: u64,
    recursion_misses: u64,
}

/// `union bpf_attr` for BPF_OBJ_GET_INFO_BY_FD.
#[repr(C)]
struct InfoByFdAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;

/// How many times the kernel skipped the program because it was already running on
/// that CPU (None where the kernel cannot say).
pub fn recursion_misses(program: &impl AsFd) -> Option<u64> {
    let mut info = ProgInfoHead::default();
    let attr = InfoByFdAttr {
        bpf_fd: program.as_fd().as_raw_fd() as u32,
        info_len: std::mem::size_of::<ProgInfoHead>() as u32,
        info: &mut info as *mut ProgInfoHead as u64,
    };
    // SAFETY: BPF_OBJ_GET_INFO_BY_FD reads `attr` (size passed) and writes at most
    // `info_len` bytes into `info`, which lives until the call returns.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET_INFO_BY_FD,
            &attr as *const InfoByFdAttr,
            std::mem::size_of::<InfoByFdAttr>(),
        )
    };
    (rc == 0).then_some(info.recursion_misses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursion_misses_sits_where_the_kernel_puts_it() {
        assert_eq!(std::mem::offset_of!(ProgInfoHead, recursion_misses), 208);
        assert_eq!(std::mem::offset_of!(ProgInfoHead, run_time_ns), 192);
    }
}
