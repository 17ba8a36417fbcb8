//! `hytrace hist`.

use std::io::{IsTerminal, Write};

use anyhow::{Result, bail};

use super::{args::HistArgs, record::is_root};
use crate::{
    aggregate::{AggregateOptions, aggregate},
    hist::{Snapshot, Spec},
    output::{flame_graph, folded, histogram, histogram_stacks, session_end},
    private_files::{OutputFile, write_whole},
};

pub fn run(args: &HistArgs) -> Result<i32> {
    let specs = args
        .specs
        .iter()
        .map(|s| s.parse::<Spec>())
        .collect::<Result<Vec<_>, _>>()?;
    if !is_root() {
        bail!("hist needs root: it loads eBPF programs");
    }
    if args.verbose {
        crate::bpf::diagnostics::enable();
    }
    let options = AggregateOptions {
        specs,
        pid: args.pid,
        comm: args.comm.clone(),
        interval: args.interval,
        duration: args.session.duration,
        command: args.session.command.clone(),
        stacks: args.stacks,
    };
    let live = !args.json && std::io::stdout().is_terminal();
    let runtime = super::runtime()?;
    let aggregated = runtime.block_on(aggregate(&options, |snapshots| {
        print_snapshots(snapshots, args, live)
    }))?;
    print_snapshots(&aggregated.snapshots, args, false)?;
    for report in &aggregated.stacks {
        let mut out = std::io::stdout().lock();
        write!(out, "\n{}", histogram_stacks::text(report, args.top))?;
        out.flush()?;
        let folded = report.folded_ns();
        if let Some(path) = &args.folded {
            write_whole(&OutputFile::private(path), folded::text(&folded).as_bytes())?;
        }
        if let Some(path) = &args.flame_graph {
            let svg = flame_graph::svg(&folded, &format!("hytrace hist {}", report.spec), "ns")?;
            write_whole(&OutputFile::private(path), &svg)?;
        }
    }
    let reason = aggregated.reason;
    if let Some(line) = session_end::note(&reason, &args.session.command) {
        eprintln!("hytrace: {line}");
    }
    Ok(0)
}

/// One interval's snapshots, as JSON lines or tables (redrawn in place when `live`).
fn print_snapshots(snapshots: &[Snapshot], args: &HistArgs, live: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if live {
        write!(out, "\x1b[H\x1b[2J")?;
    }
    for (i, snapshot) in snapshots.iter().enumerate() {
        if args.json {
            writeln!(out, "{}", histogram::json(snapshot))?;
        } else {
            if i > 0 {
                writeln!(out)?;
            }
            write!(out, "{}", histogram::text(snapshot, args.top))?;
        }
    }
    out.flush()
}
