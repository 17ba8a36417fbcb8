//! `hytrace list` and `hytrace reset`.

use std::io::Write;

use anyhow::Result;

use super::args::{ListArgs, ListWhat};
use crate::tracefs::{Tracefs, reset_leftovers, resolve_events};

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

pub fn reset() -> Result<i32> {
    let tracefs = Tracefs::open()?;
    let report = reset_leftovers(&tracefs)?;
    if report.is_empty() {
        eprintln!("hytrace: nothing left behind by dead sessions");
    } else {
        for line in report.lines() {
            eprintln!("hytrace: removed {line}");
        }
    }
    Ok(0)
}
