//! `hytrace graph`: record the function_graph of chosen functions, print their call
//! trees (over a threshold) and where the time went; or wait for histogram outliers.

use std::io::Write;

use anyhow::{Result, bail};

use super::{args::GraphArgs, record::is_root};
use crate::{
    deep_dive::{
        DeepDiveOptions,
        outlier::{OutlierOptions, Trigger, watch},
        record_graph,
    },
    output::call_trees,
};

/// Default ring-buffer size per CPU of `graph`, in KB (function_graph fills buffers
/// fast).
const GRAPH_BUFFER_KB: u64 = 16384;

pub fn run(args: &GraphArgs) -> Result<i32> {
    if !is_root() {
        bail!("graph needs root: it creates a tracefs instance");
    }
    let threshold_ns = match args.threshold {
        Some(us) if !(us.is_finite() && us >= 0.0) => {
            bail!("--threshold must be a number of microseconds, not {us}")
        }
        Some(us) => Some((us * 1000.0) as u64),
        None => None,
    };
    let output = args.output.as_deref().map(|path| args.output_file.at(path));
    let runtime = super::runtime()?;
    if let Some(trigger) = &args.on_outlier {
        let options = OutlierOptions {
            trigger: trigger.parse::<Trigger>()?,
            functions: args.functions.clone(),
            pids: args.processes.pids.clone(),
            buffer_kb: args.buffer.kb_or(GRAPH_BUFFER_KB),
            duration: args.session.duration,
            command: args.session.command.clone(),
            count: args.count,
            output,
        };
        let found = runtime.block_on(watch(&options, |found| {
            let mut out = std::io::stdout().lock();
            out.write_all(call_trees::outlier(found, args.top).as_bytes())?;
            out.flush()
        }))?;
        if found == 0 {
            eprintln!(
                "hytrace: no {} sample over the threshold had a call of {} inside it",
                options.trigger.spec,
                args.functions.join(", ")
            );
            return Ok(1);
        }
        return Ok(0);
    }
    let options = DeepDiveOptions {
        functions: args.functions.clone(),
        pids: args.processes.pids.clone(),
        buffer_kb: args.buffer.kb_or(GRAPH_BUFFER_KB),
        duration: args.session.duration,
        command: args.session.command.clone(),
        output,
    };
    let dive = runtime.block_on(record_graph(&options))?;
    eprintln!(
        "hytrace: recorded {} function_graph events, {} lost",
        dive.summary.total_records(),
        dive.summary.total_lost()
    );
    let trees = dive.trees(threshold_ns)?;
    let cpus = dive.recording.file.cpu_count.max(1);
    let mut out = std::io::stdout().lock();
    out.write_all(
        call_trees::deep_dive(&trees, cpus, &args.functions, threshold_ns, args.top).as_bytes(),
    )?;
    out.flush()?;
    Ok(0)
}
