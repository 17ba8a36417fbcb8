//! `hytrace hist`.

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{args::HistArgs, record::is_root};
use crate::{
    bpf::latency::{LatencyAggregator, Scope},
    hist::{Snapshot, Spec, render},
    record::child::GatedChild,
    session::{EndSignals, StopReason, wait_for_end},
};

/// A positive number of seconds from option `name`.
pub(super) fn seconds(name: &str, value: Option<f64>) -> Result<Option<Duration>> {
    match value {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            bail!("{name} must be a positive number of seconds, not {s}")
        }
        Some(s) => Ok(Some(Duration::from_secs_f64(s))),
        None => Ok(None),
    }
}

pub fn run(args: &HistArgs) -> Result<i32> {
    let specs = args
        .specs
        .iter()
        .map(|s| s.parse::<Spec>())
        .collect::<Result<Vec<_>, _>>()?;
    if !is_root() {
        bail!("hist needs root: it loads eBPF programs");
    }
    let interval = seconds("--interval", args.interval)?;
    let duration = seconds("--duration", args.duration)?;
    let runtime = super::runtime()?;
    runtime.block_on(measure(args, &specs, interval, duration))
}

async fn measure(
    args: &HistArgs,
    specs: &[Spec],
    interval: Option<Duration>,
    duration: Option<Duration>,
) -> Result<i32> {
    let mut signals =
        EndSignals::install().map_err(|(name, e)| anyhow::anyhow!("cannot catch {name}: {e}"))?;
    let mut command = if args.command.is_empty() {
        None
    } else {
        Some(GatedChild::spawn(&args.command)?)
    };
    let scope = Scope {
        // --comm names the threads itself; without it COMMAND's process is the default.
        tgid: args
            .pid
            .or(command
                .as_ref()
                .filter(|_| args.comm.is_none())
                .map(|c| c.pid))
            .unwrap_or(0),
        comm: args.comm.clone(),
    };
    let mut aggregators = Vec::new();
    for spec in specs {
        let aggregator = LatencyAggregator::start(spec, &scope)
            .with_context(|| format!("cannot start the {spec} histogram"))?;
        if let Some(note) = &aggregator.note {
            eprintln!("hytrace: {spec}: {note}");
        }
        aggregators.push(aggregator);
    }
    let started = Instant::now();
    if let Some(child) = command.as_mut() {
        child.release()?;
    }
    let live = !args.json && std::io::stdout().is_terminal();
    let mut tick_error = None;
    let reason = wait_for_end(command.as_mut(), duration, &mut signals, interval, || {
        if let Err(error) = print_snapshots(&aggregators, args, started, live) {
            tick_error.get_or_insert(error);
        }
    })
    .await?;
    if let Some(error) = tick_error {
        return Err(error);
    }
    print_snapshots(&aggregators, args, started, false)?;
    drop(aggregators);
    match reason {
        StopReason::Signal(name) => eprintln!("hytrace: stopped by {name}"),
        StopReason::CommandExited(Some(code)) if code != 0 => {
            eprintln!("hytrace: {} exited with status {code}", args.command[0]);
        }
        _ => {}
    }
    Ok(0)
}

fn print_snapshots(
    aggregators: &[LatencyAggregator],
    args: &HistArgs,
    started: Instant,
    live: bool,
) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if live {
        // Redraw in place.
        write!(out, "\x1b[H\x1b[2J")?;
    }
    for (i, aggregator) in aggregators.iter().enumerate() {
        let snapshot = Snapshot {
            spec: aggregator.spec.to_string(),
            time_ns: started.elapsed().as_nanos() as u64,
            keys: aggregator.histograms()?,
            lost: aggregator.lost()?,
        };
        if args.json {
            writeln!(out, "{}", render::json(&snapshot))?;
        } else {
            if i > 0 {
                writeln!(out)?;
            }
            write!(out, "{}", render::text(&snapshot, args.top))?;
        }
    }
    out.flush()?;
    Ok(())
}
