//! `hytrace report`.

use std::io::Write;

use anyhow::{Result, bail};

use super::args::{ReportArgs, ReportFormat};
use crate::{
    graph, notes,
    output::{
        call_graph, cpu_spans, event_report, event_text::TextColumns, flame_graph, folded,
        histogram_comparison, profile, report_losses,
    },
    private_files::{OutputFile, write_whole},
    report::{
        self, RecordFilter, Report, ReportStyle, event_filter::FilterSpec, histograms,
        user_stacks::ReportStacks,
    },
    trace::Recording,
};

/// `report --graph`: the function_graph events as ftrace's call graph.
fn call_graph(recording: &Recording) -> Result<i32> {
    let (kernel, events) = graph::load::load(recording)?;
    let cpus = recording.file.cpu_count.max(1);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(call_graph::HEADER.as_bytes())?;
    out.write_all(call_graph::render(&events, cpus, &kernel).as_bytes())?;
    out.flush()?;
    Ok(0)
}

/// `report --hist`: each stored BPF histogram, the same recomputed from the events, and
/// whether their counts agree.
fn histograms(recording: &Recording, format: ReportFormat) -> Result<i32> {
    let comparisons = histograms::compare(recording)?;
    let text = match format {
        ReportFormat::Json => histogram_comparison::json(&comparisons),
        ReportFormat::Text => histogram_comparison::text(&comparisons),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(0)
}

/// `report --kernel-lines`: the kernel stacks' frames named from vmlinux debug info.
fn kernel_lines(recording: &mut Recording, args: &ReportArgs) -> Result<()> {
    let Some(loaded) =
        report::kernel_lines::load(recording, args.vmlinux.as_deref(), &args.stacks.debug_dirs)?
    else {
        bail!(
            "{} has no kernel stacks to name lines of (record with -T or --profile)",
            args.input.display()
        );
    };
    eprintln!(
        "hytrace: kernel lines from {}: {} of {} distinct stack addresses named (module and \
         trampoline code is not in vmlinux)",
        loaded.vmlinux.display(),
        loaded.named,
        loaded.addresses
    );
    Ok(())
}

pub fn run(args: &ReportArgs, event_filters: &[FilterSpec]) -> Result<i32> {
    let mut recording = Recording::open(&args.input)?;
    if args.hist {
        return histograms(&recording, args.format);
    }
    if args.graph {
        return call_graph(&recording);
    }
    if args.first_event || args.last_event {
        let spans = report::cpu_spans::top_buffer_spans(&recording);
        let text = cpu_spans::text(
            &args.input.display().to_string(),
            &spans,
            args.first_event,
            args.last_event,
            args.full_timestamps,
        );
        std::io::stdout().lock().write_all(text.as_bytes())?;
        return Ok(0);
    }
    let filter = RecordFilter::build(
        &recording,
        args.cpu.as_deref(),
        &args.pids,
        args.comm.as_deref(),
        args.event.as_deref(),
    )?
    .with_event_filters(&recording, event_filters)?;
    let style = match (args.count, args.format) {
        (true, _) => ReportStyle::Count,
        (false, ReportFormat::Text) => ReportStyle::Text,
        (false, ReportFormat::Json) => ReportStyle::Json,
    };
    for (system, reason) in &recording.unparsed_formats {
        notes::warning(format_args!(
            "an event format of {system} could not be parsed: {reason}"
        ));
    }
    if args.kernel_lines || args.vmlinux.is_some() {
        kernel_lines(&mut recording, args)?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let stacks = if style == ReportStyle::Count {
        None
    } else {
        ReportStacks::load(&recording, &args.stacks.object_search())?
    };
    if args.profile {
        let mut report = Report::new(&recording, &filter).with_stacks(stacks.as_ref());
        let profiles = report::profile::profile(&mut report);
        if profiles.is_empty() {
            bail!(
                "{} has no sched_switch events to profile (record with --profile)",
                args.input.display()
            );
        }
        out.write_all(profile::text(&profiles, 5).as_bytes())?;
        out.flush()?;
        return Ok(0);
    }
    if args.folded || args.flame_graph.is_some() {
        let mut report = Report::new(&recording, &filter).with_stacks(stacks.as_ref());
        let stacks = report::folded::fold(&mut report);
        if let Some(path) = &args.flame_graph {
            if stacks.is_empty() {
                bail!(
                    "{} has no stacks to draw (record with --user-stack or -T)",
                    args.input.display()
                );
            }
            let title = format!("hytrace report {}", args.input.display());
            let svg = flame_graph::svg(&stacks, &title, "events")?;
            write_whole(&OutputFile::private(path), &svg)?;
            eprintln!(
                "hytrace: wrote {} ({} stacks, {} events)",
                path.display(),
                stacks.len(),
                stacks.iter().map(|(_, n)| n).sum::<u64>()
            );
        } else {
            out.write_all(folded::text(&stacks).as_bytes())?;
            out.flush()?;
        }
        return Ok(0);
    }
    let time = TextColumns {
        nanos: args.full_timestamps,
        diff: args.ts_diff,
        diff_nanos: args.full_timestamps || !recording.file.meta.has_trace_clock_option(),
        latency: args.latency,
    };
    let stats =
        event_report::print_with_time(&recording, &filter, stacks.as_ref(), style, time, &mut out)?;
    out.flush().ok();
    for line in report_losses::lines(&stats, recording.page_size()) {
        eprintln!("hytrace: {line}");
    }
    Ok(if args.strict && stats.damaged() { 1 } else { 0 })
}
