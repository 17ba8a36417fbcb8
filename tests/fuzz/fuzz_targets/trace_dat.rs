//! A whole trace.dat file read, then read the way `hytrace report` and `hytrace kvm`
//! read it: the event formats and header_page parsed into a recording, every CPU's pages
//! decoded and merged, every record rendered as text and JSON lines and counted, the
//! stored user stacks decoded, and the VM exits paired.
//!
//! Input: the file's bytes.

#![no_main]

use ftrace_user::{
    kvm::analysis,
    output::{event_report, report_losses},
    report::{RecordFilter, ReportStyle},
    stacks::codec,
    store::{hytrace_kind, read_trace_file},
    trace::Recording,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = read_trace_file(data) else {
        return;
    };
    // The metadata lookups the commands make before they read any record.
    let meta = &file.meta;
    let _ = meta.trace_clock();
    let _ = meta.cpu_count_option();
    let _ = meta.uname();
    let _ = meta.version_option();
    let _ = meta.cmdline_map();
    let _ = meta.tgid_map();
    for buffer in &file.buffers {
        for cpu in &buffer.cpus {
            let _ = buffer.page_count(cpu.cpu);
        }
    }
    if let Some(stacks) = meta.hytrace_option(hytrace_kind::BPF_STACKS) {
        let _ = codec::decode(stacks);
    }
    let Ok(recording) = Recording::from_file(file, "fuzz input") else {
        return;
    };
    let filter = RecordFilter::default();
    for style in [ReportStyle::Text, ReportStyle::Json, ReportStyle::Count] {
        let Ok(stats) = event_report::print(&recording, &filter, None, style, &mut std::io::sink())
        else {
            continue;
        };
        let _ = report_losses::lines(&stats, recording.page_size());
    }
    let _ = analysis::analyze(&recording, None);
    let _ = analysis::clock_alignment(&recording);
    let _ = analysis::thread_groups(&recording);
});
