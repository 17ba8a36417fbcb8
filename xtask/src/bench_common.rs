//! Helpers the benchmarks share: running one inside the guest kernel, timing a
//! workload by its own report, stopping a measuring hytrace, building ftrace-user's
//! benches. A leaf: it imports no benchmark.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::{
    setup::{cargo, run_checked},
    tasks::build,
};

/// Host side of the benchmarks measured in the guest kernel: builds, boots the guest
/// and runs the xtask's hidden `subcommand --events N` there, printing what it prints.
pub fn in_guest(name: &str, subcommand: &str, events: u64, what: &str) -> Result<()> {
    build()?;
    let guest = crate::vm::Guest::prepare()?;
    let xtask = std::env::current_exe().context("cannot find the xtask binary")?;
    eprintln!(
        "bench: measuring in the guest (kernel {}, {what})",
        guest.release()
    );
    let (status, text) = guest.run(
        name,
        &format!("{} {subcommand} --events {events}", xtask.display()),
    )?;
    print!("{text}");
    if status != 0 {
        bail!("the guest benchmark ended with status {status}");
    }
    Ok(())
}

/// The best (lowest) of three figures a workload prints about itself on stderr when
/// `report_env` is set: `parse` finds it in the stderr text.
pub fn best_of_three(
    mut command: impl FnMut() -> Command,
    report_env: &str,
    parse: impl Fn(&str) -> Option<f64>,
) -> Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let mut cmd = command();
        let out = cmd
            .env(report_env, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {cmd:?}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let figure = parse(&stderr)
            .with_context(|| format!("{cmd:?} printed no timing ({report_env}):\n{stderr}"))?;
        best = best.min(figure);
    }
    Ok(best)
}

/// SIGINT to `child`, then waits for it.
pub fn interrupt(child: &mut std::process::Child) -> Result<()> {
    run_checked(Command::new("kill").args(["-INT", &child.id().to_string()]))?;
    child.wait()?;
    Ok(())
}

/// `cargo bench` of one of ftrace-user's benches (`benches/NAME.rs`), its arguments
/// to follow.
pub fn ftrace_user_bench(name: &str) -> Command {
    let mut cmd = cargo();
    cmd.args([
        "bench",
        "--quiet",
        "--package",
        "ftrace-user",
        "--bench",
        name,
        "--",
    ]);
    cmd
}
