//! Latency of a kernel function per call (`func:KFUNC`), each return paired with its
//! own entry through the thread's stack of call starts (nested and recursive calls
//! each measured): fentry and fexit where the kernel allows them, else kprobe and
//! kretprobe. One key.

use aya_ebpf::{
    macros::{fentry, fexit, kprobe, kretprobe},
    programs::{FEntryContext, FExitContext, ProbeContext, RetProbeContext},
};

use crate::hashed_tables::{call_begin, call_end, current_is_target};

#[fentry]
pub fn kfunc_fentry(ctx: FEntryContext) -> u32 {
    if current_is_target() {
        call_begin(&ctx);
    }
    0
}

#[fexit]
pub fn kfunc_fexit(ctx: FExitContext) -> u32 {
    if current_is_target() {
        call_end(&ctx);
    }
    0
}

#[kprobe]
pub fn kfunc_kprobe(ctx: ProbeContext) -> u32 {
    if current_is_target() {
        call_begin(&ctx);
    }
    0
}

#[kretprobe]
pub fn kfunc_kretprobe(ctx: RetProbeContext) -> u32 {
    if current_is_target() {
        call_end(&ctx);
    }
    0
}
