//! `hytrace list`.

use std::io::Write;

use anyhow::Result;

use super::args::{ListArgs, ListWhat};
use crate::tracefs::{Tracefs, resolve_events};

pub fn run(args: &ListArgs) -> Result<i32> {
    let tracefs = Tracefs::open()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.what {
        ListWhat::Events => {
            for event in resolve_events(&tracefs, "all")? {
                writeln!(out, "{event}")?;
            }
        }
        ListWhat::Tracers => {
            for tracer in tracefs.available_tracers()? {
                writeln!(out, "{tracer}")?;
            }
        }
    }
    Ok(0)
}
