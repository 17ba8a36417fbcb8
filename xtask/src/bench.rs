//! Benchmarks against peer tools, measured in the same run.
use anyhow::Result;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Which {
    /// `hytrace report` vs `trace-cmd report` on the same recording, and decode-only speed.
    Report,
}

pub fn run(_which: Which, _events: u64) -> Result<()> {
    anyhow::bail!("not yet")
}
