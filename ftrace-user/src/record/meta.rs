//! Everything a trace.dat holds besides the pages, read from tracefs at the end of a
//! recording: header layouts, the formats of the recorded events and of ftrace's own
//! events (print, for trace_marker writes), kernel symbols, printk formats, the
//! pid-to-comm table, the clock and its offset to wall-clock time, and per-CPU
//! statistics.

use std::collections::BTreeMap;

use crate::{
    session::command::GatedChild,
    stacks::build_ids::hex,
    store::{TraceMeta, TraceOption, clock_alignment::ClockAlignment, hytrace_kind},
    symbolize::kernel_lines::running_kernel_build_id,
    tracefs::{CpuStats, EventId, Tracefs, TracefsError},
};

pub fn gather(
    tracefs: &Tracefs,
    events: &[(EventId, Option<String>)],
    clock: &str,
    cpus: &[u32],
    stats: &[CpuStats],
    command: Option<&GatedChild>,
    page_size: u32,
) -> Result<TraceMeta, TracefsError> {
    let mut by_system: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for (id, _) in events {
        by_system
            .entry(id.system.clone())
            .or_default()
            .push(tracefs.event_format(id)?.into_bytes());
    }
    let ftrace_formats = tracefs
        .ftrace_event_names()?
        .iter()
        .filter_map(|name| tracefs.ftrace_format(name).ok())
        .map(String::into_bytes)
        .collect();
    let mut cmdlines = tracefs.saved_cmdlines()?.into_bytes();
    if let Some(child) = command {
        // The command may have been pushed out of the kernel's small cmdline cache.
        let comm: String = std::path::Path::new(&child.command)
            .file_name()
            .map(|n| n.to_string_lossy().chars().take(15).collect())
            .unwrap_or_default();
        let line = format!("{} {}\n", child.pid, comm);
        if !String::from_utf8_lossy(&cmdlines)
            .lines()
            .any(|l| l.split_once(' ').map(|(p, _)| p) == Some(&child.pid.to_string()))
        {
            cmdlines.extend_from_slice(line.as_bytes());
        }
    }
    let mut options = vec![
        TraceOption::TraceClock(clock.to_string()),
        TraceOption::CpuCount(cpus.len() as u32),
        TraceOption::Uname(uname()),
        TraceOption::Version(format!("hytrace {}", env!("CARGO_PKG_VERSION"))),
    ];
    for (cpu, stat) in cpus.iter().zip(stats) {
        options.push(TraceOption::CpuStat {
            cpu: Some(*cpu),
            text: format!("CPU: {cpu}\n{}", stat.raw),
        });
    }
    options.push(TraceOption::Hytrace {
        kind: hytrace_kind::CLOCK_ALIGNMENT,
        data: ClockAlignment::measure().to_text().into_bytes(),
    });
    if let Some(id) = running_kernel_build_id() {
        options.push(TraceOption::Hytrace {
            kind: hytrace_kind::KERNEL_BUILD_ID,
            data: hex(&id).into_bytes(),
        });
    }
    if let Ok(tgids) = tracefs.saved_tgids()
        && !tgids.trim().is_empty()
    {
        options.push(TraceOption::SavedTgids(tgids));
    }
    Ok(TraceMeta {
        big_endian: cfg!(target_endian = "big"),
        long_size: std::mem::size_of::<libc::c_long>() as u8,
        page_size,
        header_page: tracefs.header_page()?.into_bytes(),
        header_event: tracefs.header_event()?.into_bytes(),
        ftrace_formats,
        event_formats: by_system.into_iter().collect(),
        kallsyms: tracefs.kallsyms()?.into_bytes(),
        printk_formats: tracefs.printk_formats()?.into_bytes(),
        cmdlines,
        options,
    })
}

fn uname() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{} {} {} {}",
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/hostname"),
        read("/proc/sys/kernel/osrelease"),
        read("/proc/sys/kernel/version")
    )
}
