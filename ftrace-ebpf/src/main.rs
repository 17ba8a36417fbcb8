//! hytrace eBPF programs.
//!
//! `count_event_hits`: the recording's kernel hit counter, one program attached to
//! every recorded event (see event_hits.rs).
//!
//! `syscall_latency_enter`, `syscall_latency_exit`: per-syscall latency histograms
//! (see syscall_latency.rs).
//!
//! `cpu_pair_begin`, `cpu_pair_end`: latency of irq and softirq handlers per number
//! (see cpu_pair_latency.rs).
//!
//! `func_latency_entry`, `func_latency_exit`: latency of a user function per call
//! (see thread_pair_latency.rs).
//!
//! `runq_wakeup`, `runq_switch`: run-queue latency per CPU (see runq_latency.rs).
//!
//! `event_pair_begin`, `event_pair_end`: latency between any two trace events on one
//! thread, keyed by a field (see event_pair_latency.rs).
//!
//! `syscall_comm_exit`: the same per command name (`syscalls:by-comm`).
//!
//! `kvm_run_enter`, `kvm_run_exit`: KVM_RUN ioctl round trips per thread (see
//! kvm_run_latency.rs).
//!
//! `kfunc_fentry`, `kfunc_fexit`, `kfunc_kprobe`, `kfunc_kretprobe`: latency of a kernel
//! function per call (see kernel_func_latency.rs).
//!
//! `block_issue`, `block_complete`: block request latency per device (see
//! block_latency.rs).
//!
//! `user_stack`: the user stack at each hit of the recorded tracepoints, sent through a
//! ring buffer (see user_stacks.rs).
//!
//! `hist --stacks`: the aggregators also key samples by the stacks at their begin hook
//! (see stack_samples.rs).
//!
//! The per-thread and per-request aggregators share the hashed tables of
//! hashed_tables.rs.
//!
//! `probe_tp_btf`, `probe_fentry`: empty programs `hytrace doctor` loads to learn
//! whether the kernel accepts BTF tracepoints and fentry (the target is chosen at load).
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// Atomic adds on shared map values (core's atomics lack fetch_add on the bpf target).
#![cfg_attr(target_arch = "bpf", feature(core_intrinsics))]
#![cfg_attr(
    target_arch = "bpf",
    expect(
        internal_features,
        reason = "core_intrinsics is needed for the bpf target"
    )
)]

#[cfg(target_arch = "bpf")]
mod block_latency;
#[cfg(target_arch = "bpf")]
mod call_stacks;
#[cfg(target_arch = "bpf")]
mod cpu_pair_latency;
#[cfg(target_arch = "bpf")]
mod diagnostics;
#[cfg(target_arch = "bpf")]
mod event_hits;
#[cfg(target_arch = "bpf")]
mod event_pair_latency;
#[cfg(target_arch = "bpf")]
mod hashed_tables;
#[cfg(target_arch = "bpf")]
mod kernel_func_latency;
#[cfg(target_arch = "bpf")]
mod kvm_run_latency;
#[cfg(target_arch = "bpf")]
mod outliers;
#[cfg(target_arch = "bpf")]
mod runq_latency;
#[cfg(target_arch = "bpf")]
mod scope;
#[cfg(target_arch = "bpf")]
mod stack_samples;
#[cfg(target_arch = "bpf")]
mod syscall_latency;
#[cfg(target_arch = "bpf")]
mod thread_pair_latency;
#[cfg(target_arch = "bpf")]
mod user_stacks;

#[cfg(target_arch = "bpf")]
mod programs {
    use aya_ebpf::{
        macros::{btf_tracepoint, fentry},
        programs::{BtfTracePointContext, FEntryContext},
    };

    #[btf_tracepoint]
    pub fn probe_tp_btf(_ctx: BtfTracePointContext) -> i32 {
        0
    }

    #[fentry]
    pub fn probe_fentry(_ctx: FEntryContext) -> u32 {
        0
    }

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo) -> ! {
        loop {}
    }
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}
