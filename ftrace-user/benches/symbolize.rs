//! User-stack symbolization alone: every stack a recording stores (record --user-stack)
//! named by hytrace's symbolizer (blazesym: symbols, file:line, inlined functions),
//! each distinct address looked up once. Usage:
//! `cargo bench -p ftrace-user --bench symbolize -- FILE` (cargo xtask bench symbolize
//! runs it).

use std::time::Instant;

use ftrace_user::{
    stacks::codec,
    store::{TraceOption, hytrace_kind},
    symbolize::user::{ObjectSearch, symbolize_stacks},
    trace::Recording,
};

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .expect("usage: symbolize FILE");
    let recording = Recording::open(std::path::Path::new(&path)).expect("open recording");
    let data = recording
        .file
        .meta
        .options
        .iter()
        .find_map(|option| match option {
            TraceOption::Hytrace { kind, data } if *kind == hytrace_kind::BPF_STACKS => Some(data),
            _ => None,
        })
        .expect("the recording has no user stacks");
    let stacks = codec::decode(data).expect("user stacks");
    let frames: usize = stacks.stacks.iter().map(Vec::len).sum();
    let mut best = f64::MAX;
    let mut named = 0usize;
    for _ in 0..3 {
        let started = Instant::now();
        let symbolized = symbolize_stacks(&stacks, &ObjectSearch::default());
        best = best.min(started.elapsed().as_secs_f64());
        named = symbolized.len().1;
    }
    println!(
        "symbolize: {} distinct stacks, {frames} frames ({named} with inlined ones) named in {best:.4} s (best of 3)",
        stacks.stacks.len()
    );
}
