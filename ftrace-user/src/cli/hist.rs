//! `hytrace hist`.

use std::io::{IsTerminal, Write};

use anyhow::{Result, bail};

use super::{args::HistArgs, record::is_root};
use crate::{
    aggregate::{AggregateOptions, aggregate},
    hist::{Snapshot, Spec},
    output::{histogram, session_end},
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
    let options = AggregateOptions {
        specs,
        pid: args.pid,
        comm: args.comm.clone(),
        interval: args.interval,
        duration: args.session.duration,
        command: args.session.command.clone(),
    };
    let live = !args.json && std::io::stdout().is_terminal();
    let runtime = super::runtime()?;
    let (last, reason) = runtime.block_on(aggregate(&options, |snapshots| {
        print_snapshots(snapshots, args, live)
    }))?;
    print_snapshots(&last, args, false)?;
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
