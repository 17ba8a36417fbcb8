//! `hytrace hist`.

use std::io::{IsTerminal, Write};

use anyhow::{Result, bail};

use super::{args::HistArgs, record::is_root};
use crate::{
    aggregate::{AggregateOptions, Serving, aggregate},
    hist::{Snapshot, Spec},
    metrics_server,
    output::{
        flame_graph, folded, histogram, histogram_stacks,
        openmetrics::{self, BucketLayout},
        session_end,
    },
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
    let aggregated = runtime.block_on(async {
        let serving = match args.serve {
            Some(addr) => Some(serving(addr, args.bucket_step).await?),
            None => None,
        };
        aggregate(&options, serving, |snapshots| {
            print_snapshots(snapshots, args, live)
        })
        .await
        .map_err(anyhow::Error::from)
    })?;
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

/// The listener of --serve, bound before anything is loaded, and its renderer.
async fn serving(addr: std::net::SocketAddr, step: u32) -> Result<Serving> {
    let listener = metrics_server::bind(addr).await?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "hytrace: warning: http://{addr}/metrics has no authentication: anyone who \
             reaches {} can read the histograms",
            addr.ip()
        );
    }
    let layout = BucketLayout {
        step,
        ..BucketLayout::default()
    };
    eprintln!(
        "hytrace: serving the histograms at http://{}/metrics",
        listener.local_addr().unwrap_or(addr)
    );
    Ok(Serving {
        listener,
        render: Box::new(move |snapshots| openmetrics::text(snapshots, &layout)),
    })
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
