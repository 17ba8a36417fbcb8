//! `hytrace recover`.

use anyhow::Result;

use super::args::RecoverArgs;
use crate::{
    output::recovery_summary,
    private_files::OutputFile,
    record::recovery::{RecoveryError, find_leftovers, recover},
};

pub fn run(args: &RecoverArgs) -> Result<i32> {
    let leftovers = find_leftovers(&args.file);
    let Some(newest) = leftovers.first() else {
        return Err(RecoveryError::NothingToRecover {
            output: args.file.clone(),
            name: args
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
        .into());
    };
    let output = OutputFile::private(args.output.as_deref().unwrap_or(&args.file));
    let recovered = recover(newest, &output)?;
    eprint!("{}", recovery_summary::text(&recovered));
    for other in &leftovers[1..] {
        eprintln!(
            "hytrace: an older dead recording of {} stays in {} (pid {}): recover it after \
             moving this one aside",
            args.file.display(),
            other.dir.display(),
            other.pid
        );
    }
    Ok(0)
}
