//! `hytrace reset`.

use anyhow::Result;

use crate::{
    record::session_notes::{NOTES_DIR, dead_sessions},
    tracefs::{Tracefs, reset_leftovers},
};

pub fn run() -> Result<i32> {
    let tracefs = Tracefs::open()?;
    let report = reset_leftovers(&tracefs)?;
    for line in report.lines() {
        eprintln!("hytrace: removed {line}");
    }
    // Recordings are never removed here: reset says where they are and how to get them.
    let mut recordings = 0;
    for dead in dead_sessions() {
        match &dead.leftover {
            Some(leftover) => {
                recordings += 1;
                eprintln!(
                    "hytrace: the recording of dead session {} is left in {}: `hytrace recover {}` turns it into that file",
                    dead.pid,
                    leftover.dir.display(),
                    dead.output.display()
                );
            }
            None => {
                let _ = dead.forget();
            }
        }
    }
    // The notes' directory goes once empty.
    let _ = std::fs::remove_dir(NOTES_DIR);
    if report.is_empty() && recordings == 0 {
        eprintln!("hytrace: nothing left behind by dead sessions");
    }
    Ok(0)
}
