//! Decode-only throughput: every record of a recording's pages decoded and merged across
//! CPUs in timestamp order on one core, without formatting. Usage:
//! `cargo bench -p ftrace-user --bench decode -- FILE` (cargo xtask bench report runs it).

use std::time::Instant;

use ftrace_user::{
    decode::{CpuStream, Merger},
    trace::Recording,
};

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .expect("usage: decode FILE");
    let recording = Recording::open(std::path::Path::new(&path)).expect("open recording");
    let layout = recording.page_layout();
    let page_size = recording.page_size();
    let mut best = f64::MAX;
    let mut records = 0u64;
    for _ in 0..5 {
        let started = Instant::now();
        let mut streams = Vec::new();
        for buffer in &recording.file.buffers {
            for cpu in &buffer.cpus {
                streams.push((cpu.cpu, CpuStream::new(&cpu.pages, page_size, layout)));
            }
        }
        let mut count = 0u64;
        let mut type_sum = 0u64;
        for merged in Merger::new(streams) {
            count += 1;
            type_sum += u64::from(merged.record.data.first().copied().unwrap_or(0));
        }
        std::hint::black_box(type_sum);
        best = best.min(started.elapsed().as_secs_f64());
        records = count;
    }
    println!(
        "decode-only: {records} events in {:.4} s = {:.1} M events/s (best of 5, one core)",
        best,
        records as f64 / best / 1e6
    );
}
