//! hytrace eBPF programs.
//!
//! `count_hits`: a raw tracepoint program that counts how often the tracepoint it is
//! attached to fires, per CPU. The controller loads one copy per recorded event so each
//! copy owns its one-slot counter map.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod programs {
    use aya_ebpf::{
        macros::{map, raw_tracepoint},
        maps::PerCpuArray,
        programs::RawTracePointContext,
    };

    #[map(name = "HITS")]
    static HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

    #[raw_tracepoint]
    pub fn count_hits(_ctx: RawTracePointContext) -> i32 {
        if let Some(slot) = HITS.get_ptr_mut(0) {
            // SAFETY: the pointer comes from the per-CPU array lookup of this CPU's slot;
            // programs do not migrate CPUs while running, so no other writer races it.
            unsafe { *slot += 1 };
        }
        0
    }

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo) -> ! {
        loop {}
    }
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}
