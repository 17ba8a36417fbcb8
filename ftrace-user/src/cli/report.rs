//! `hytrace report`.

use std::io::Write;

use anyhow::Result;

use super::args::{ReportArgs, ReportFormat};
use crate::{
    graph,
    hist::{Snapshot, Spec, pairing::count_differences, render},
    report::{RecordFilter, ReportStyle, histograms, report},
    trace::Recording,
};

/// `report --graph`: the function_graph events as ftrace's call graph.
fn call_graph(recording: &Recording) -> Result<i32> {
    let (kernel, events) = graph::load::load(recording)?;
    let cpus = recording.file.cpu_count.max(1);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(graph::HEADER.as_bytes())?;
    out.write_all(graph::render(&events, cpus, &kernel).as_bytes())?;
    out.flush()?;
    Ok(0)
}

/// Keys shown per histogram.
const TOP_KEYS: usize = 20;
/// Keys with a bar chart per histogram.
const TOP_CHARTS: usize = 3;

/// `report --hist`: each stored BPF histogram, the same recomputed from the events, and
/// whether their counts agree.
fn histograms(recording: &Recording, format: ReportFormat) -> Result<i32> {
    let stored = histograms::stored(recording)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (i, stored) in stored.iter().enumerate() {
        let bpf = &stored.snapshot;
        let stream = match bpf.spec.parse::<Spec>() {
            Ok(spec) => histograms::from_stream(recording, &spec, stored.tgid),
            Err(e) => Err(e.to_string()),
        };
        if format == ReportFormat::Json {
            writeln!(out, "{}", render::json(bpf))?;
            if let Ok(stream) = &stream {
                let snapshot = Snapshot {
                    spec: format!("{} (stream)", bpf.spec),
                    time_ns: bpf.time_ns,
                    keys: stream.keys.clone(),
                    lost: vec![("end_without_start".into(), stream.ends_without_start)],
                };
                writeln!(out, "{}", render::json(&snapshot))?;
            }
            continue;
        }
        if i > 0 {
            writeln!(out)?;
        }
        let scope = match stored.tgid {
            0 => "every process".to_string(),
            tgid => format!("process {tgid}"),
        };
        writeln!(out, "{}: aggregated in eBPF, {scope}", bpf.spec)?;
        write!(
            out,
            "{}",
            render::text_with_charts(bpf, TOP_KEYS, TOP_CHARTS)
        )?;
        let stream = match stream {
            Ok(stream) => stream,
            Err(why) => {
                writeln!(
                    out,
                    "\n{}: not compared with the recorded events: {why}",
                    bpf.spec
                )?;
                continue;
            }
        };
        let label = format!("{} (stream)", bpf.spec);
        writeln!(out, "\n{label}: recomputed from {}", stream.source)?;
        let snapshot = Snapshot {
            spec: label,
            time_ns: bpf.time_ns,
            keys: stream.keys.clone(),
            lost: Vec::new(),
        };
        write!(out, "{}", render::table(&snapshot, TOP_KEYS))?;
        let samples: u64 = bpf.keys.iter().map(|k| k.count).sum();
        let differences = count_differences(&bpf.keys, &stream.keys);
        if differences.is_empty() {
            writeln!(
                out,
                "{}: eBPF and recorded events agree: {samples} samples in {} keys",
                bpf.spec,
                bpf.keys.len()
            )?;
        } else {
            let listed: Vec<String> = differences
                .iter()
                .take(10)
                .map(|(key, b, s)| format!("{key} eBPF {b} events {s}"))
                .collect();
            writeln!(
                out,
                "{}: eBPF and recorded events differ in {} of {} keys: {}{}",
                bpf.spec,
                differences.len(),
                bpf.keys.len().max(stream.keys.len()),
                listed.join(", "),
                if differences.len() > 10 { ", …" } else { "" }
            )?;
            let mut why = Vec::new();
            if stream.lost_events > 0 {
                why.push(format!("the recording lost {} events", stream.lost_events));
            }
            if stored.tgid == 0 {
                why.push(
                    "the aggregator ran from just before tracing started until just after \
                     it stopped, so pairs at the edges count only in eBPF"
                        .to_string(),
                );
            }
            if !why.is_empty() {
                writeln!(out, "{}: ({})", bpf.spec, why.join("; "))?;
            }
        }
    }
    out.flush()?;
    Ok(0)
}

pub fn run(args: &ReportArgs) -> Result<i32> {
    let recording = Recording::open(&args.input)?;
    if args.hist {
        return histograms(&recording, args.format);
    }
    if args.graph {
        return call_graph(&recording);
    }
    let filter = RecordFilter::build(
        &recording,
        args.cpu.as_deref(),
        &args.pids,
        args.comm.as_deref(),
        args.event.as_deref(),
    )?;
    let style = match (args.count, args.format) {
        (true, _) => ReportStyle::Count,
        (false, ReportFormat::Text) => ReportStyle::Text,
        (false, ReportFormat::Json) => ReportStyle::Json,
    };
    for (system, reason) in &recording.unparsed_formats {
        eprintln!("hytrace: warning: an event format of {system} could not be parsed: {reason}");
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let stats = report(&recording, &filter, style, &mut out)?;
    out.flush().ok();
    for (buffer, cpu, stream) in &stats.streams {
        let name = if buffer.is_empty() {
            String::new()
        } else {
            format!("{buffer} ")
        };
        if stream.missed_events > 0 || stream.pages_with_unknown_loss > 0 {
            eprintln!(
                "hytrace: {name}cpu {cpu}: {} events lost while recording{}",
                stream.missed_events,
                if stream.pages_with_unknown_loss > 0 {
                    " (plus an unknown number)"
                } else {
                    ""
                }
            );
        }
        if stream.corrupt_pages > 0 {
            let why = stream
                .first_error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            eprintln!(
                "hytrace: {name}cpu {cpu}: {} corrupt pages skipped ({why})",
                stream.corrupt_pages
            );
        }
    }
    Ok(0)
}
