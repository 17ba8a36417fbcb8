//! KVM_RUN ioctl round trips per thread: the fallback of `kvm-exit` where the kernel
//! has no kvm_exit / kvm_entry events. A vCPU thread spends each KVM_RUN inside the
//! guest until an exit KVM hands to userspace, so the round trip is the guest's run
//! time between userspace exits. Keyed by thread id.
//!
//! Raw syscall tracepoints; the ioctl's arguments are read from the saved registers
//! (x86-64 `struct pt_regs`: `si` holds the second argument, `orig_ax` the number).

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_kernel},
    macros::raw_tracepoint,
    programs::RawTracePointContext,
};

use crate::hashed_tables::{current_is_target, remember_comm, thread_begin, thread_end};

const NR_IOCTL: u64 = 16;
/// _IO(KVMIO = 0xAE, 0x80).
const KVM_RUN: u64 = 0xAE80;
/// Offsets in x86-64 `struct pt_regs`.
const PT_REGS_SI: usize = 13 * 8;
const PT_REGS_ORIG_AX: usize = 15 * 8;

#[inline(always)]
fn reg(regs: *const u8, offset: usize) -> u64 {
    // SAFETY: bpf_probe_read_kernel checks the address; a fault reads as 0.
    unsafe { bpf_probe_read_kernel(regs.wrapping_add(offset) as *const u64).unwrap_or(0) }
}

/// sys_enter(struct pt_regs *regs, long id)
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn kvm_run_enter(ctx: RawTracePointContext) -> i32 {
    let id: u64 = ctx.arg(1);
    if id != NR_IOCTL || !current_is_target() {
        return 0;
    }
    let regs: *const u8 = ctx.arg(0);
    if reg(regs, PT_REGS_SI) & 0xffff_ffff == KVM_RUN {
        remember_comm();
        thread_begin(&ctx, bpf_get_current_pid_tgid() & 0xffff_ffff);
    }
    0
}

/// sys_exit(struct pt_regs *regs, long ret)
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn kvm_run_exit(ctx: RawTracePointContext) -> i32 {
    let regs: *const u8 = ctx.arg(0);
    if reg(regs, PT_REGS_ORIG_AX) != NR_IOCTL || !current_is_target() {
        return 0;
    }
    if reg(regs, PT_REGS_SI) & 0xffff_ffff == KVM_RUN {
        thread_end(&ctx);
    }
    0
}
