//! `cargo xtask bench start`: how long `record -e all` (every event of the kernel)
//! takes to set up and to finish, beside the same with `--no-bpf` (the tracefs writes
//! alone, no hit counters: the floor the counters add to), both running `touch STAMP`
//! as the command. For each, best of three: the time until the command ran (the
//! stamp's modification time against the moment record was started, on the realtime
//! clock) and the whole wall time. Goal: ready within 2 s, done within 3 s.
//! (`trace-cmd record` cannot run on this machine's kernel: it insists on enabling
//! the function tracer, which is missing here.)

use std::{
    path::Path,
    process::Command,
    time::{Duration, SystemTime},
};

use anyhow::{Context, Result};

use crate::{
    bench::time_to_null,
    setup::{ensure_tracefs, workspace_root},
    tasks::{build, hytrace_binary},
};

const RUNS: usize = 3;

/// One run's figures: until the command ran, and in all.
#[derive(Clone, Copy)]
struct Timing {
    to_command: Duration,
    wall: Duration,
}

/// Runs `cmd` (whose command touches `stamp`) to its end.
fn time_run(cmd: &mut Command, stamp: &Path) -> Result<Timing> {
    let _ = std::fs::remove_file(stamp);
    let started_at = SystemTime::now();
    let wall = Duration::from_secs_f64(time_to_null(cmd)?);
    let touched = std::fs::metadata(stamp)
        .and_then(|m| m.modified())
        .with_context(|| format!("{cmd:?} did not run its command"))?;
    Ok(Timing {
        to_command: touched.duration_since(started_at).unwrap_or_default(),
        wall,
    })
}

/// The best of [`RUNS`] runs of what `make` builds (each figure on its own).
fn best(mut make: impl FnMut() -> Command, stamp: &Path) -> Result<Timing> {
    let mut best: Option<Timing> = None;
    for _ in 0..RUNS {
        let run = time_run(&mut make(), stamp)?;
        best = Some(match best {
            None => run,
            Some(b) => Timing {
                to_command: b.to_command.min(run.to_command),
                wall: b.wall.min(run.wall),
            },
        });
    }
    best.context("no run")
}

fn line(who: &str, t: Timing) -> String {
    format!(
        "  {who:<34} command ran after {:>6.2} s, done after {:>6.2} s",
        t.to_command.as_secs_f64(),
        t.wall.as_secs_f64()
    )
}

pub fn run() -> Result<()> {
    ensure_tracefs()?;
    build()?;
    let dir = workspace_root().join("target/bench-start");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let stamp = dir.join("stamp");
    let stamp_arg = stamp.to_str().context("a UTF-8 path")?.to_string();
    let events = std::fs::read_to_string("/sys/kernel/tracing/available_events")
        .map(|t| t.lines().count())
        .unwrap_or(0);

    let hytrace = |extra: &'static [&'static str]| {
        let (out, stamp) = (dir.join("h.dat"), stamp_arg.clone());
        move || {
            let mut cmd = Command::new(hytrace_binary());
            cmd.args(["record", "-e", "all", "-o"])
                .arg(&out)
                .args(extra)
                .args(["--", "touch", &stamp]);
            cmd
        }
    };
    let ours = best(hytrace(&[]), &stamp)?;
    let ours_no_bpf = best(hytrace(&["--no-bpf"]), &stamp)?;
    println!("record -e all ({events} events), best of {RUNS}:");
    println!("{}", line("hytrace record", ours));
    println!("{}", line("hytrace record --no-bpf", ours_no_bpf));
    println!(
        "the hit counters add {:.2} s to the wall time ({:.2}x --no-bpf's; goal: the \
         command within 2 s, done within 3 s)",
        ours.wall.as_secs_f64() - ours_no_bpf.wall.as_secs_f64(),
        ours.wall.as_secs_f64() / ours_no_bpf.wall.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
