//! `hytrace export`.

use std::io::{BufWriter, Write as _};

use anyhow::{Context, Result};

use super::args::ExportArgs;
use crate::{export::perfetto, private_files::PrivateDir, trace::Recording};

pub fn run(args: &ExportArgs) -> Result<i32> {
    let output = args.output_file.at(&args.perfetto);
    output.check()?;
    let recording = Recording::open(&args.input)?;
    // Written in a private directory beside OUT, then renamed over it.
    let work = PrivateDir::beside(&output)?;
    const NAME: &str = "perfetto";
    let file = work.create(NAME)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let stats = perfetto::write(&recording, &args.symbols.object_search(), &mut out)?;
    let file = out
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)
        .and_then(|mut f| f.flush().and_then(|()| f.sync_all()).map(|()| f))
        .with_context(|| format!("cannot write {}", args.perfetto.display()))?;
    drop(file);
    work.publish(NAME, &output)?;
    eprintln!(
        "hytrace: wrote {} events in {} per-CPU bundles, {} processes and {} threads to {}",
        stats.events,
        stats.bundles,
        stats.processes,
        stats.threads,
        args.perfetto.display()
    );
    let tracks = &stats.tracks;
    if tracks.histogram_keys + tracks.kvm_exits + tracks.outlier_samples > 0 {
        eprintln!(
            "hytrace: and tracks of {} stored histogram keys, {} kvm exits{} and {} outlier \
             samples",
            tracks.histogram_keys,
            tracks.kvm_exits,
            if tracks.kvm_exits_incomplete > 0 {
                format!(
                    " ({} exits whose times a loss made unknown left out)",
                    tracks.kvm_exits_incomplete
                )
            } else {
                String::new()
            },
            tracks.outlier_samples
        );
    }
    if stats.user_stack_samples > 0 {
        eprintln!(
            "hytrace: and {} user stacks as callstack samples",
            stats.user_stack_samples
        );
    }
    if let Some(why) = &stats.user_stacks_unreadable {
        eprintln!("hytrace: the file's user stacks were left out: {why}");
    }
    if stats.unknown_events > 0 {
        eprintln!(
            "hytrace: {} records of event types the file has no format for were left out",
            stats.unknown_events
        );
    }
    Ok(0)
}
