//! Coverage-guided fuzzing of hytrace's parsers of untrusted input, with cargo-fuzz
//! (libFuzzer) on the nightly toolchain.
//!
//! The fuzz project is tests/fuzz: its own cargo workspace, built into tests/fuzz/target,
//! one target per parser (tests/fuzz/fuzz_targets). For each target a run
//! 1. replays every input saved under tests/fuzz/crashes/TARGET (crashes found before;
//!    once fixed, each is a regression test),
//! 2. seeds the target's corpus, tests/fuzz/target/corpus/TARGET (kept between runs),
//!    from the repository's fixtures, reads tests/fuzz/seeds/TARGET as a second,
//!    read-only corpus, and mutates with the words of tests/fuzz/dict/TARGET.dict,
//! 3. fuzzes for the given seconds: a panic, an input that takes over 10 s or one that
//!    needs over 2 GB fails the target, its input saved under tests/fuzz/artifacts/TARGET.
//!
//! The targets are built without a sanitizer: the code under test is safe Rust, where
//! AddressSanitizer finds nothing a panic does not, and costs executions.
//!
//! - [`smoke`]: every target for a minute, part of `cargo xtask test`.
//! - [`run`]: the long run, `cargo xtask fuzz`.

use std::{
    env, fs,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::setup::{ensure_ebpf_toolchain, ensure_packages, run_checked, succeeds, workspace_root};

/// Seconds each target fuzzes in [`smoke`] unless [`SECONDS_ENV`] says otherwise.
const SMOKE_SECONDS: u64 = 60;
/// Overrides [`SMOKE_SECONDS`]; 0 runs the saved crashes and the seeds once, without
/// fuzzing.
const SECONDS_ENV: &str = "HYTRACE_FUZZ_SECONDS";
/// cargo-fuzz release the xtask installs when cargo has none.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// Memory an input may take (libFuzzer's -rss_limit_mb and -malloc_limit_mb).
const RSS_LIMIT_MB: u32 = 2048;
/// Seconds one input may take (libFuzzer's -timeout).
const TIMEOUT_SECONDS: u32 = 10;
/// Echoed output lines are cut to this many characters (the full lines are in the log).
const ECHO_CHARS: usize = 300;

/// The fixtures the seeds come from, relative to the workspace root.
const STORE_FIXTURES: &str = "ftrace-user/src/store/fixtures";
const DECODE_FIXTURES: &str = "ftrace-user/src/decode/fixtures";
const KVM_FIXTURES: &str = "ftrace-user/src/kvm/fixtures";

/// Ring-buffer page size of the page fixtures.
const PAGE_SIZE: u16 = 4096;
/// The page target's layout selectors (see tests/fuzz/fuzz_targets/page.rs): a 64-bit
/// kernel, a 32-bit kernel, and a header_page naming an 8-byte commit word and data at
/// offset 16.
const LAYOUT_64: u8 = 0x00;
const LAYOUT_32: u8 = 0x01;
const LAYOUT_HEADER_PAGE_64: u8 = 0x80 | ((16 / 4) << 4) | 8;
/// Pid in the header of the event_format target's seed records.
const SEED_PID: i32 = 4321;
/// Bytes of page data after the header of an event_format seed record.
const SEED_RECORD_TAIL: usize = 120;

/// Named seed inputs.
type Seeds = Vec<(String, Vec<u8>)>;

/// One fuzz target: its name (a file in tests/fuzz/fuzz_targets) and the seeds it gets
/// from the fixtures.
struct Target {
    name: &'static str,
    seeds: fn() -> Result<Seeds>,
}

const TARGETS: &[Target] = &[
    Target {
        name: "trace_dat",
        seeds: trace_dat_seeds,
    },
    Target {
        name: "page",
        seeds: page_seeds,
    },
    Target {
        name: "event_format",
        seeds: event_format_seeds,
    },
    Target {
        name: "qemu_markers",
        seeds: qemu_marker_seeds,
    },
];

/// The short run of `cargo xtask test`: every target for [`SMOKE_SECONDS`] (or
/// `HYTRACE_FUZZ_SECONDS`) seconds.
pub fn smoke() -> Result<()> {
    let seconds = match env::var(SECONDS_ENV) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{SECONDS_ENV}={text:?} is not a number of seconds"))?,
        Err(_) => SMOKE_SECONDS,
    };
    fuzz(&TARGETS.iter().collect::<Vec<_>>(), seconds)
}

/// The long run of `cargo xtask fuzz`: `target` (every target when None) for
/// `seconds_per_target` seconds each.
pub fn run(seconds_per_target: u64, target: Option<String>) -> Result<()> {
    let targets: Vec<&Target> = match target {
        None => TARGETS.iter().collect(),
        Some(name) => {
            let Some(target) = TARGETS.iter().find(|t| t.name == name) else {
                let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
                bail!(
                    "there is no fuzz target {name}; the targets are {}",
                    names.join(", ")
                );
            };
            vec![target]
        }
    };
    fuzz(&targets, seconds_per_target)
}

/// What one target's run found.
struct Outcome {
    target: &'static str,
    seconds: f64,
    stats: Stats,
    /// Why the target failed, None when it passed.
    failure: Option<String>,
}

/// Installs what fuzzing needs, builds the targets, runs each of `targets` for `seconds`
/// and fails naming every target that failed.
fn fuzz(targets: &[&Target], seconds: u64) -> Result<()> {
    let started = Instant::now();
    // The nightly cargo-fuzz builds with, and the nightly's rust-src and bpf-linker,
    // which ftrace-user's build script needs for the eBPF programs.
    ensure_ebpf_toolchain()?;
    ensure_cargo_fuzz()?;
    // Some fixtures are zstd-compressed trace.dat files.
    ensure_packages(&[("command -v zstd".to_string(), "zstd")])?;
    eprintln!("fuzz: building the fuzz targets (tests/fuzz, nightly, instrumented)");
    run_checked(&mut cargo_fuzz("build"))?;
    let logs = fuzz_target_dir().join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let mut outcomes = Vec::new();
    for target in targets {
        outcomes.push(fuzz_one(target, seconds, &logs)?);
    }
    eprintln!(
        "fuzz: {:<14} {:>8} {:>12} {:>9}  result",
        "target", "seconds", "executions", "exec/s"
    );
    for outcome in &outcomes {
        let number = |value: Option<u64>| value.map_or_else(|| "?".to_string(), |v| v.to_string());
        eprintln!(
            "fuzz: {:<14} {:>8.0} {:>12} {:>9}  {}",
            outcome.target,
            outcome.seconds,
            number(outcome.stats.executions),
            number(outcome.stats.executions_per_second),
            if outcome.failure.is_some() {
                "FAILED"
            } else {
                "ok"
            }
        );
    }
    eprintln!(
        "fuzz: {} target(s) in {:.0} s",
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.failure.as_ref().map(|why| format!("{}: {why}", o.target)))
        .collect();
    if !failures.is_empty() {
        bail!(
            "fuzzing found {} failing target(s):\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

/// Replays `target`'s saved crashes, seeds its corpus and fuzzes it for `seconds`; the
/// output goes to `logs`/TARGET.log.
fn fuzz_one(target: &Target, seconds: u64, logs: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let log = logs.join(format!("{}.log", target.name));
    let mut log_file =
        fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let limits = [
        format!("-rss_limit_mb={RSS_LIMIT_MB}"),
        format!("-timeout={TIMEOUT_SECONDS}"),
    ];

    let crashes = saved_crashes(target.name)?;
    if !crashes.is_empty() {
        eprintln!(
            "fuzz: {}: replaying {} saved crash input(s) from tests/fuzz/crashes/{}",
            target.name,
            crashes.len(),
            target.name
        );
        let mut replay = cargo_fuzz("run");
        replay
            .arg(target.name)
            .args(&crashes)
            .arg("--")
            .args(&limits);
        let (success, stats) = run_logged(&mut replay, &mut log_file)?;
        if !success {
            return Ok(Outcome {
                target: target.name,
                seconds: started.elapsed().as_secs_f64(),
                failure: Some(format!(
                    "the saved crash input {} still fails: {}\n  log: {}",
                    stats
                        .running
                        .as_deref()
                        .map_or_else(|| "?".to_string(), |path| shown(Path::new(path))),
                    stats.describe_failure(),
                    shown(&log)
                )),
                stats,
            });
        }
    }

    let corpus = fuzz_target_dir().join("corpus").join(target.name);
    fs::create_dir_all(&corpus).with_context(|| format!("cannot create {}", corpus.display()))?;
    let seeds = (target.seeds)()?;
    for (name, bytes) in &seeds {
        let path = corpus.join(format!("seed-{name}"));
        fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let committed = fuzz_dir().join("seeds").join(target.name);
    eprintln!(
        "fuzz: {}: {} s from {} fixture seed(s){}",
        target.name,
        seconds,
        seeds.len(),
        if committed.is_dir() {
            " and tests/fuzz/seeds"
        } else {
            ""
        }
    );
    let mut command = cargo_fuzz("run");
    command.arg(target.name).arg(&corpus);
    if committed.is_dir() {
        command.arg(&committed);
    }
    command.arg("--").args(&limits).arg("-print_final_stats=1");
    let dictionary = fuzz_dir()
        .join("dict")
        .join(format!("{}.dict", target.name));
    if dictionary.is_file() {
        command.arg(format!("-dict={}", dictionary.display()));
    }
    // libFuzzer takes -max_total_time=0 as "no limit"; 0 here means the corpus once.
    if seconds == 0 {
        command.arg("-runs=0");
    } else {
        command.arg(format!("-max_total_time={seconds}"));
    }
    let (success, stats) = run_logged(&mut command, &mut log_file)?;
    let failure = (!success).then(|| {
        let input = match stats.artifact.as_deref() {
            Some(artifact) => {
                let artifact = shown(Path::new(artifact));
                format!(
                    "  input: {artifact}\n  reproduce: {}\n  minimize: {}\n  then keep the \
                     minimized input as tests/fuzz/crashes/{}/NAME\n",
                    cargo_fuzz_shown("run", target.name, &artifact),
                    cargo_fuzz_shown("tmin", target.name, &artifact),
                    target.name,
                )
            }
            None if stats.started => "  (libFuzzer saved no input)\n".to_string(),
            None => String::new(),
        };
        format!(
            "{}\n{input}  log: {}",
            stats.describe_failure(),
            shown(&log)
        )
    });
    Ok(Outcome {
        target: target.name,
        seconds: started.elapsed().as_secs_f64(),
        stats,
        failure,
    })
}

/// The command line a person runs from the workspace root for cargo-fuzz's
/// `subcommand` on `target` and `input`, with the options the xtask builds with.
fn cargo_fuzz_shown(subcommand: &str, target: &str, input: &str) -> String {
    format!(
        "cargo +nightly fuzz {subcommand} --fuzz-dir tests/fuzz -s none \
         --target-dir tests/fuzz/target {target} {input}"
    )
}

/// The fuzz project.
fn fuzz_dir() -> PathBuf {
    workspace_root().join("tests/fuzz")
}

/// The fuzz project's own target dir (also holding the corpora and the logs).
fn fuzz_target_dir() -> PathBuf {
    fuzz_dir().join("target")
}

/// `path` relative to the workspace root when it is inside it.
fn shown(path: &Path) -> String {
    let root = workspace_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// cargo-fuzz on the nightly toolchain, run from the workspace root on the fuzz project
/// without a sanitizer, with no input and without the outer cargo's toolchain and
/// target dir; a panic's backtrace goes to the log, cargo-fuzz's own errors come
/// without one.
fn cargo_fuzz(subcommand: &str) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "fuzz", subcommand, "--fuzz-dir"])
        .arg(fuzz_dir())
        .args(["--sanitizer", "none", "--target-dir"])
        .arg(fuzz_target_dir())
        .current_dir(workspace_root())
        .env_remove("CARGO")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null());
    cmd
}

/// cargo-fuzz, from crates.io when cargo does not have it.
fn ensure_cargo_fuzz() -> Result<()> {
    if succeeds(Command::new("rustup").args(["run", "nightly", "cargo", "fuzz", "--version"])) {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz {CARGO_FUZZ_VERSION}");
    run_checked(
        Command::new("cargo")
            .args([
                "install",
                "cargo-fuzz",
                "--version",
                CARGO_FUZZ_VERSION,
                "--locked",
            ])
            .stdin(Stdio::null()),
    )
}

/// The inputs saved under tests/fuzz/crashes/TARGET, in name order.
fn saved_crashes(target: &str) -> Result<Vec<PathBuf>> {
    let dir = fuzz_dir().join("crashes").join(target);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// What a libFuzzer run said about itself.
#[derive(Debug, Default)]
struct Stats {
    /// `stat::number_of_executed_units` of the final stats.
    executions: Option<u64>,
    /// `stat::average_exec_per_sec` of the final stats.
    executions_per_second: Option<u64>,
    /// The input libFuzzer saved for a failure.
    artifact: Option<String>,
    /// libFuzzer's error line (`ERROR: libFuzzer: deadly signal`, `timeout`, …).
    error: Option<String>,
    /// The panic's location line and message, when the target panicked.
    panic: Vec<String>,
    /// libFuzzer started (printed its seed): false when cargo-fuzz failed before, as
    /// when the target does not build.
    started: bool,
    /// The last input file libFuzzer said it runs (when given files, not a corpus).
    running: Option<String>,
}

impl Stats {
    /// Reads one line of libFuzzer's or cargo-fuzz's output.
    fn note(&mut self, line: &str, panic_follows: &mut bool) {
        if *panic_follows {
            self.panic.push(line.trim().to_string());
            *panic_follows = false;
        } else if let Some(at) = line.find("panicked at ")
            && self.panic.is_empty()
        {
            self.panic.push(line[at..].trim().to_string());
            *panic_follows = true;
        }
        let number = |prefix: &str| {
            line.strip_prefix(prefix)
                .and_then(|rest| rest.trim().parse().ok())
        };
        if let Some(n) = number("stat::number_of_executed_units:") {
            self.executions = Some(n);
        }
        if let Some(n) = number("stat::average_exec_per_sec:") {
            self.executions_per_second = Some(n);
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            self.artifact = Some(path.trim().to_string());
        }
        if line.starts_with("INFO: Seed: ") {
            self.started = true;
        }
        if let Some(path) = line.strip_prefix("Running: ") {
            self.running = Some(path.trim().to_string());
        }
        if let Some(at) = line.find("ERROR: libFuzzer:") {
            self.error
                .get_or_insert_with(|| line[at..].trim().to_string());
        }
    }

    /// The panic (location and message) or libFuzzer's error line.
    fn describe_failure(&self) -> String {
        match (&self.panic[..], &self.error) {
            ([], Some(error)) => error.clone(),
            ([], None) if !self.started => {
                "cargo-fuzz failed before the target started (a build error?)".to_string()
            }
            ([], None) => "the fuzz run failed (see the log)".to_string(),
            (panic, _) => panic.join(" "),
        }
    }
}

/// Runs `cmd`, its stderr copied whole into `log` and echoed but for libFuzzer's
/// corpus bookkeeping; true when it exits 0, and what its output said.
fn run_logged(cmd: &mut Command, log: &mut fs::File) -> Result<(bool, Stats)> {
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let mut reader = BufReader::new(stderr);
    let mut stats = Stats::default();
    let mut panic_follows = false;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        let read = reader
            .read_until(b'\n', &mut raw)
            .context("cannot read the fuzz run's output")?;
        if read == 0 {
            break;
        }
        log.write_all(&raw).context("cannot write the fuzz log")?;
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end();
        stats.note(line, &mut panic_follows);
        if !is_bookkeeping_line(line) {
            let echoed: String = line.chars().take(ECHO_CHARS).collect();
            eprintln!("{echoed}");
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("cannot wait for {cmd:?}"))?;
    Ok((status.success(), stats))
}

/// The eBPF build's output that cargo relays on each run; libFuzzer's lines about its corpus: `#N NEW …` and `#N REDUCE …` (one per input
/// added), `NEW_FUNC[…]` (newly covered functions) and the recommended dictionary; and
/// its warnings that there is no sanitizer (the targets are built without one).
fn is_bookkeeping_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    // Cargo relays the eBPF build's output as warnings of ftrace-user's build script.
    if trimmed.starts_with("warning: ftrace-user@")
        || trimmed.starts_with("NEW_FUNC[")
        || trimmed.starts_with("WARNING: Failed to find function \"__sanitizer_")
        || trimmed.starts_with("###### ")
        || (trimmed.starts_with('"') && trimmed.contains("# Uses: "))
    {
        return true;
    }
    let Some(rest) = trimmed.strip_prefix('#') else {
        return false;
    };
    let event = rest
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start();
    event.starts_with("NEW ") || event.starts_with("REDUCE ")
}

fn read(relative: &str) -> Result<Vec<u8>> {
    let path = workspace_root().join(relative);
    fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// A zstd-compressed fixture, decompressed by the `zstd` command.
fn read_zstd(relative: &str) -> Result<Vec<u8>> {
    let path = workspace_root().join(relative);
    let output = Command::new("zstd")
        .args(["-dc", "--"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .context("cannot run zstd")?;
    if !output.status.success() {
        bail!(
            "zstd cannot decompress {}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

/// The trace.dat fixtures: trace-cmd's v6 and v7 files (v7 uncompressed and with
/// zstd-compressed sections) and a hytrace kvm recording.
fn trace_dat_seeds() -> Result<Seeds> {
    Ok(vec![
        (
            "convert-v6".into(),
            read_zstd(&format!("{STORE_FIXTURES}/convert-v6.dat.zst"))?,
        ),
        (
            "convert-v7-none".into(),
            read_zstd(&format!("{STORE_FIXTURES}/convert-v7-none.dat.zst"))?,
        ),
        (
            "extract-v7-zstd".into(),
            read(&format!("{STORE_FIXTURES}/extract-v7-zstd.tracedat"))?,
        ),
        (
            "seed003-kvm-vmx".into(),
            read(&format!("{KVM_FIXTURES}/seed003_kvm_vmx.dat"))?,
        ),
    ])
}

/// The page target's input: layout selector, page size, pages.
fn page_input(selector: u8, pages: &[u8]) -> Vec<u8> {
    let mut input = vec![selector];
    input.extend_from_slice(&PAGE_SIZE.to_le_bytes());
    input.extend_from_slice(pages);
    input
}

/// Pages read from trace_pipe_raw: each file whole, each of its pages alone, and its
/// first page under the 32-bit layout and under a layout from header_page.
fn page_seeds() -> Result<Seeds> {
    let files = [
        (
            "raw-syscalls-cpu0",
            format!("{DECODE_FIXTURES}/raw_syscalls_sched_switch_cpu0.pages"),
        ),
        ("capture-cpu0", format!("{STORE_FIXTURES}/capture/cpu0.raw")),
        ("capture-cpu1", format!("{STORE_FIXTURES}/capture/cpu1.raw")),
    ];
    let mut seeds = Vec::new();
    for (name, path) in files {
        let pages = read(&path)?;
        seeds.push((format!("{name}-all"), page_input(LAYOUT_64, &pages)));
        for (index, page) in pages.chunks(usize::from(PAGE_SIZE)).enumerate() {
            seeds.push((format!("{name}-page{index}"), page_input(LAYOUT_64, page)));
        }
        let first = &pages[..pages.len().min(usize::from(PAGE_SIZE))];
        seeds.push((format!("{name}-32bit"), page_input(LAYOUT_32, first)));
        seeds.push((
            format!("{name}-header-page"),
            page_input(LAYOUT_HEADER_PAGE_64, first),
        ));
    }
    Ok(seeds)
}

/// Every event format file of the fixtures (and header_page and header_event), each
/// with a record: the common fields (the format's ID, a pid) and bytes of a real page.
fn event_format_seeds() -> Result<Seeds> {
    let meta = format!("{STORE_FIXTURES}/capture/meta");
    let mut formats: Vec<(String, String)> = Vec::new();
    formats.extend(format_files(&format!("{meta}/ftrace"), "ftrace")?);
    let events = workspace_root().join(&meta).join("events");
    let mut systems: Vec<String> = fs::read_dir(&events)
        .with_context(|| format!("cannot list {}", events.display()))?
        .filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned()))
        .collect();
    systems.sort();
    for system in systems {
        formats.extend(format_files(&format!("{meta}/events/{system}"), &system)?);
    }
    formats.extend(format_files(KVM_FIXTURES, "kvm")?);
    formats.push(("header".into(), format!("{meta}/header_page")));
    formats.push(("header".into(), format!("{meta}/header_event")));

    let pages = read(&format!(
        "{DECODE_FIXTURES}/raw_syscalls_sched_switch_cpu0.pages"
    ))?;
    // The first record's payload starts after the page header (16) and its own (4).
    let tail = pages.get(20..20 + SEED_RECORD_TAIL).unwrap_or(&[]);
    let mut seeds = Vec::new();
    for (system, path) in formats {
        let text = read(&path)?;
        let id = String::from_utf8_lossy(&text)
            .lines()
            .find_map(|line| line.trim().strip_prefix("ID:")?.trim().parse::<u16>().ok())
            .unwrap_or(0);
        let mut input = format!("{system}\n").into_bytes();
        input.extend_from_slice(&text);
        input.push(0);
        input.extend_from_slice(&id.to_le_bytes());
        input.extend_from_slice(&[0, 0]);
        input.extend_from_slice(&SEED_PID.to_le_bytes());
        input.extend_from_slice(tail);
        let stem = Path::new(&path)
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        seeds.push((format!("{system}-{stem}"), input));
    }
    Ok(seeds)
}

/// (system, path relative to the workspace root) of every `*.format` file in `dir`, in
/// name order.
fn format_files(dir: &str, system: &str) -> Result<Vec<(String, String)>> {
    let path = workspace_root().join(dir);
    let mut names: Vec<String> = fs::read_dir(&path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".format"))
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| (system.to_string(), format!("{dir}/{name}")))
        .collect())
}

/// The QEMU ftrace-backend trace of seed 003: whole, and each marker payload alone.
fn qemu_marker_seeds() -> Result<Seeds> {
    let text = read(&format!("{KVM_FIXTURES}/seed003_qemu_ftrace_backend.txt"))?;
    let mut seeds = vec![("seed003-trace".to_string(), text.clone())];
    for (index, line) in String::from_utf8_lossy(&text).lines().enumerate() {
        if let Some((_, payload)) = line.split_once("tracing_mark_write: ") {
            seeds.push((
                format!("seed003-marker{index}"),
                format!("{payload}\n").into_bytes(),
            ));
        }
    }
    Ok(seeds)
}
