//! `hytrace reset`.

use anyhow::Result;

use crate::tracefs::{Tracefs, reset_leftovers};

pub fn run() -> Result<i32> {
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
