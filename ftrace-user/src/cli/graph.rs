//! `hytrace graph`: record the function_graph of chosen functions, print their call
//! trees (over a threshold) and where the time went.

use std::{io::Write, time::Duration};

use anyhow::{Context, Result, bail};

use super::{args::GraphArgs, record::is_root, report::graph_symbols_and_events};
use crate::{
    graph::{
        self, GraphSymbols,
        render::render,
        trees::{function_times, split_trees},
    },
    record::{RecordOptions, TracerOptions, record},
    report::Recording,
};

pub fn run(args: &GraphArgs) -> Result<i32> {
    if !is_root() {
        bail!("graph needs root: it creates a tracefs instance");
    }
    let duration = match args.duration {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            bail!("--duration must be a positive number of seconds, not {s}")
        }
        Some(s) => Some(Duration::from_secs_f64(s)),
        None => None,
    };
    let threshold_ns = match args.threshold {
        Some(us) if !(us.is_finite() && us >= 0.0) => {
            bail!("--threshold must be a number of microseconds, not {us}")
        }
        Some(us) => Some((us * 1000.0) as u64),
        None => None,
    };
    let keep = args.output.is_some();
    let output = args.output.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("hytrace-graph-{}.dat", std::process::id()))
    });
    let options = RecordOptions {
        output: output.clone(),
        events: Vec::new(),
        pids: args.pids.clone(),
        only_command: false,
        children: false,
        cpumask: None,
        buffer_kb: args.buffer_kb,
        clock: "mono".into(),
        duration,
        bpf: false,
        probes: Vec::new(),
        tracer: Some(TracerOptions {
            name: "function_graph".into(),
            graph_functions: args.functions.clone(),
            limit_functions: Vec::new(),
            notrace_functions: Vec::new(),
            max_graph_depth: None,
            options: Vec::new(),
        }),
        hists: Vec::new(),
        command: args.command.clone(),
        progress: false,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (summary, _) = runtime.block_on(record(&options))?;
    eprintln!(
        "hytrace: recorded {} function_graph events, {} lost",
        summary.total_records(),
        summary.total_lost()
    );
    let printed = print(args, &output, threshold_ns);
    if !keep {
        let _ = std::fs::remove_file(&output);
    }
    printed
}

fn print(args: &GraphArgs, file: &std::path::Path, threshold_ns: Option<u64>) -> Result<i32> {
    let recording = Recording::open(file)?;
    let (symbols, events) = graph_symbols_and_events(&recording)?;
    let trees = split_trees(&events);
    let total = trees.len();
    let shown: Vec<_> = trees
        .into_iter()
        .filter(|t| threshold_ns.is_none_or(|limit| t.duration_ns.is_some_and(|d| d > limit)))
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(graph::HEADER.as_bytes())?;
    let events: Vec<_> = shown
        .iter()
        .flat_map(|t| t.events.iter().cloned())
        .collect();
    out.write_all(render(&events, recording.file.cpu_count.max(1), &symbols).as_bytes())?;
    let functions = args.functions.join(", ");
    match threshold_ns {
        Some(limit) => writeln!(
            out,
            "\n# {} of {total} calls of {functions} took over {:.3} us",
            shown.len(),
            limit as f64 / 1000.0
        )?,
        None => writeln!(out, "\n# {total} calls of {functions}")?,
    }
    let times = function_times(&shown);
    if !times.is_empty() {
        writeln!(out, "# where the time went (self time, top {}):", args.top)?;
        writeln!(
            out,
            "# {:>12} {:>12} {:>8}  function",
            "self us", "total us", "calls"
        )?;
        for time in times.iter().take(args.top) {
            writeln!(
                out,
                "# {:>12.3} {:>12.3} {:>8}  {}",
                time.self_ns as f64 / 1000.0,
                time.total_ns as f64 / 1000.0,
                time.calls,
                symbols.function(time.func)
            )?;
        }
    }
    out.flush()?;
    Ok(0)
}
