//! `cargo xtask bench record`: the raw_syscalls firehose of one core (spin calling
//! getppid as fast as it can, pinned to CPU 0), recorded by `hytrace record` with its
//! default options, beside a plain reader (`cat per_cpu/cpuN/trace_pipe_raw` into a
//! file, one per CPU) of an instance with the same events and buffer size. For each:
//! events kept, events lost, and the reader's CPU time per MB kept.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::{
    setup::{ensure_test_packages, ensure_tracefs, workspace_root},
    tasks::{build, hytrace_binary},
};

const TRACEFS: &str = "/sys/kernel/tracing";
/// hytrace record's default per-CPU buffer, given to the plain reader's instance too.
const BUFFER_KB: u64 = 4096;
const RUNS: usize = 3;

/// One reader's figures for one run.
struct Run {
    kept: u64,
    lost: u64,
    megabytes: f64,
    cpu_seconds: f64,
}

impl Run {
    fn line(&self, who: &str, run: usize) -> String {
        format!(
            "  {who} run {run}: {} events kept, {} lost ({:.3}%), {:.1} MB, CPU {:.2} s ({:.2} ms per MB)",
            self.kept,
            self.lost,
            100.0 * self.lost as f64 / (self.kept + self.lost).max(1) as f64,
            self.megabytes,
            self.cpu_seconds,
            1e3 * self.cpu_seconds / self.megabytes.max(1e-9),
        )
    }
}

pub fn run(calls: u64) -> Result<()> {
    ensure_tracefs()?;
    ensure_test_packages()?;
    build()?;
    let spin = workspace_root().join("target/release/spin");
    let dir = workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    println!(
        "firehose: spin {calls} (getppid) pinned to CPU 0, raw_syscalls, {BUFFER_KB} KB per CPU"
    );
    let mut ours = Vec::new();
    let mut plain = Vec::new();
    for run in 1..=RUNS {
        let hytrace = with_hytrace(&spin, calls, &dir.join("firehose.dat"))?;
        println!("{}", hytrace.line("hytrace record", run));
        ours.push(hytrace);
        let cat = with_plain_reader(&spin, calls, &dir)?;
        println!("{}", cat.line("cat trace_pipe_raw", run));
        plain.push(cat);
    }
    let worst = ours
        .iter()
        .map(|r| r.lost as f64 / (r.kept + r.lost).max(1) as f64)
        .fold(0.0, f64::max);
    let per_mb = |runs: &[Run]| {
        runs.iter()
            .map(|r| 1e3 * r.cpu_seconds / r.megabytes.max(1e-9))
            .fold(f64::MAX, f64::min)
    };
    println!(
        "hytrace lost at most {:.3}% of the events in {RUNS} runs (goal: at most 0.1%)",
        100.0 * worst
    );
    println!(
        "CPU per MB kept, best run: hytrace {:.2} ms, cat {:.2} ms",
        per_mb(&ours),
        per_mb(&plain)
    );
    Ok(())
}

/// `hytrace record -e raw_syscalls -o FILE -- taskset -c 0 spin CALLS`.
fn with_hytrace(spin: &Path, calls: u64, file: &Path) -> Result<Run> {
    let _ = std::fs::remove_file(file);
    let child = Command::new(hytrace_binary())
        .args(["record", "-e", "raw_syscalls", "-o"])
        .arg(file)
        .args(["--", "taskset", "-c", "0"])
        .arg(spin)
        .arg(calls.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start hytrace record")?;
    let pid = child.id();
    let cpu_seconds = cpu_seconds_at_exit(pid)?;
    let out = child.wait_with_output()?;
    let summary = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("hytrace record failed:\n{summary}");
    }
    // The recorder's own time: the command (spin, taskset) is a child, counted apart.
    let kept = figure_after(&summary, "hytrace: recorded ")?;
    let lost = figure_after(&summary, "lost events: ")?;
    let megabytes = std::fs::metadata(file)?.len() as f64 / 1e6;
    std::fs::remove_file(file)?;
    Ok(Run {
        kept,
        lost,
        megabytes,
        cpu_seconds,
    })
}

/// A tracefs instance with raw_syscalls, one `cat trace_pipe_raw > file` per CPU.
fn with_plain_reader(spin: &Path, calls: u64, dir: &Path) -> Result<Run> {
    let instance = PathBuf::from(format!("{TRACEFS}/instances/hytrace-bench-cat"));
    let _ = std::fs::remove_dir(&instance);
    std::fs::create_dir(&instance).context("cannot create the bench instance")?;
    let result = plain_reader_in(&instance, spin, calls, dir);
    let _ = std::fs::write(instance.join("tracing_on"), "0");
    let _ = std::fs::write(instance.join("events/enable"), "0");
    std::fs::remove_dir(&instance)
        .with_context(|| format!("cannot remove {}", instance.display()))?;
    result
}

fn plain_reader_in(instance: &Path, spin: &Path, calls: u64, dir: &Path) -> Result<Run> {
    std::fs::write(instance.join("tracing_on"), "0")?;
    std::fs::write(instance.join("buffer_size_kb"), BUFFER_KB.to_string())?;
    std::fs::write(instance.join("events/raw_syscalls/enable"), "1")?;
    let cpus: Vec<u32> = std::fs::read_dir(instance.join("per_cpu"))?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_prefix("cpu")?
                .parse()
                .ok()
        })
        .collect();
    let mut cats: Vec<(Child, PathBuf)> = Vec::new();
    for cpu in &cpus {
        let out = dir.join(format!("cat-cpu{cpu}.raw"));
        let file = std::fs::File::create(&out)?;
        let cat = Command::new("cat")
            .arg(instance.join(format!("per_cpu/cpu{cpu}/trace_pipe_raw")))
            .stdout(file)
            .spawn()
            .context("cannot start cat")?;
        cats.push((cat, out));
    }
    std::fs::write(instance.join("tracing_on"), "1")?;
    let status = Command::new("taskset")
        .args(["-c", "0"])
        .arg(spin)
        .arg(calls.to_string())
        .stdout(Stdio::null())
        .status()?;
    std::fs::write(instance.join("tracing_on"), "0")?;
    // Let the readers take what is left before they are stopped.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let mut kept = 0;
    let mut lost = 0;
    for cpu in &cpus {
        let stats = std::fs::read_to_string(instance.join(format!("per_cpu/cpu{cpu}/stats")))?;
        kept += stat(&stats, "read events: ")?;
        lost += stat(&stats, "overrun: ")?;
    }
    let mut cpu_seconds = 0.0;
    let mut bytes = 0;
    for (mut cat, out) in cats {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
        unsafe { libc::kill(cat.id() as libc::pid_t, libc::SIGTERM) };
        cpu_seconds += cpu_seconds_at_exit(cat.id())?;
        cat.wait()?;
        bytes += std::fs::metadata(&out)?.len();
        std::fs::remove_file(&out)?;
    }
    if !status.success() {
        bail!("spin failed with {status}");
    }
    Ok(Run {
        kept,
        lost,
        megabytes: bytes as f64 / 1e6,
        cpu_seconds,
    })
}

/// Waits for child `pid` to exit without reaping it, and reads the user and system
/// time of its own threads (not of its children) from the zombie's /proc stat.
fn cpu_seconds_at_exit(pid: u32) -> Result<f64> {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waitid writes into `info`, which lives across the call; WNOWAIT
        // leaves the child to be reaped by its Child handle.
        let result = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if result == 0 {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error).context("waitid");
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .context("malformed /proc stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields.get(i).context("short /proc stat")?.parse::<u64>()? as f64)
    };
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((ticks(11)? + ticks(12)?) / hz)
}

/// The number that follows `label` in `text`.
fn figure_after(text: &str, label: &str) -> Result<u64> {
    let at = text
        .find(label)
        .with_context(|| format!("no {label:?} in:\n{text}"))?;
    let digits: String = text[at + label.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Ok(digits.parse()?)
}

/// A per-CPU stats line's value.
fn stat(stats: &str, label: &str) -> Result<u64> {
    stats
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .with_context(|| format!("no {label:?} in per-CPU stats"))?
        .trim()
        .parse()
        .context("per-CPU stats value")
}
