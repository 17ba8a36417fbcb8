//! `cargo xtask bench symbolize`: naming the user frames of a recording with many
//! distinct stacks, hytrace against binutils' `addr2line -f -i` given the same
//! addresses, in one run; and the added cost per event of `record --user-stack`.
//!
//! The workload is generated: FUNCS C functions (-O0, frame pointers, DWARF), each
//! calling a pseudo-randomly chosen other one DEPTH times deep before making getppid
//! itself, so the stacks are nearly all distinct and spread over FUNCS × 2 addresses.

use std::{
    collections::BTreeSet,
    io::Write,
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{
    setup::{ensure_packages, ensure_tracefs, run_checked, workspace_root},
    tasks::{build, hytrace_binary},
};

const FUNCS: usize = 2000;
const DEPTH: usize = 20;

pub fn run(stacks: u64) -> Result<()> {
    ensure_tracefs()?;
    ensure_packages(&[
        ("command -v addr2line".to_string(), "binutils"),
        ("command -v gcc".to_string(), "gcc"),
    ])?;
    build()?;
    let dir = workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let source = dir.join("wide.c");
    let wide = dir.join("wide");
    std::fs::write(&source, wide_source())?;
    run_checked(
        Command::new("gcc")
            .args(["-O0", "-g", "-fno-omit-frame-pointer", "-o"])
            .arg(&wide)
            .arg(&source),
    )?;
    user_stack_cost(&dir)?;

    let dat = dir.join("symbolize.dat");
    eprintln!("bench: recording {stacks} stacks of {} frames", DEPTH + 2);
    run_checked(
        Command::new(hytrace_binary())
            .args([
                "record",
                "-e",
                "raw_syscalls:sys_enter",
                "-f",
                "id == 110",
                "--user-stack",
                "--no-build-id-cache",
                "-F",
                "-o",
            ])
            .arg(&dat)
            .arg("--")
            .arg(&wide)
            .arg(stacks.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    // The addresses hytrace looks up: every frame's file offset in wide (one byte back:
    // return addresses, and the innermost frames follow a syscall instruction).
    let json = Command::new(hytrace_binary())
        .args(["report", "--format", "json", "-i"])
        .arg(&dat)
        .output()?;
    if !json.status.success() {
        bail!("hytrace report --format json failed");
    }
    let wide_path = std::fs::canonicalize(&wide)?;
    let addresses = frame_offsets(&String::from_utf8_lossy(&json.stdout), &wide_path);
    let distinct: BTreeSet<u64> = addresses.iter().copied().collect();
    println!(
        "recording: {} stacks joined, {} frames, {} distinct addresses in wide",
        String::from_utf8_lossy(&json.stdout).lines().count(),
        addresses.len(),
        distinct.len()
    );
    check_text_is_identity_mapped(&wide)?;

    let ours = (0..3)
        .map(|_| {
            time(
                Command::new(hytrace_binary())
                    .args(["report", "--folded", "-i"])
                    .arg(&dat),
                None,
            )
        })
        .collect::<Result<Vec<f64>>>()?
        .into_iter()
        .fold(f64::MAX, f64::min);
    // The symbolizer alone, in-process.
    let out = crate::bench_common::ftrace_user_bench("symbolize")
        .arg(&dat)
        .output()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    println!("{line}");
    let symbolizer_s: f64 = line
        .split(" named in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .with_context(|| format!("no figure in the symbolize bench's output: {line}"))?;
    let input_all: String = addresses.iter().map(|a| format!("{a:#x}\n")).collect();
    let input_distinct: String = distinct.iter().map(|a| format!("{a:#x}\n")).collect();
    let addr2line = || {
        let mut cmd = Command::new("addr2line");
        cmd.args(["-f", "-i", "-e"]).arg(&wide);
        cmd
    };
    let theirs_distinct = time(&mut addr2line(), Some(&input_distinct))?;
    let theirs_all = time(&mut addr2line(), Some(&input_all))?;
    println!("hytrace report --folded (decode, join, symbolize, fold every stack): {ours:.3} s");
    println!(
        "addr2line -f -i, the {} distinct addresses: {theirs_distinct:.3} s ({:.1}x hytrace's symbolizer, {:.2}x its whole report)",
        distinct.len(),
        theirs_distinct / symbolizer_s,
        theirs_distinct / ours
    );
    println!(
        "addr2line -f -i, every frame's address ({}): {theirs_all:.3} s ({:.1}x hytrace's symbolizer, {:.2}x its whole report; goal: 10x)",
        addresses.len(),
        theirs_all / symbolizer_s,
        theirs_all / ours
    );
    Ok(())
}

/// `deep` (31 frames) timed by itself: alone, under `record` without and with
/// `--user-stack`.
fn user_stack_cost(dir: &Path) -> Result<()> {
    let deep = dir.join("deep");
    run_checked(
        Command::new("gcc")
            .args(["-O0", "-g", "-fno-omit-frame-pointer", "-o"])
            .arg(&deep)
            .arg(workspace_root().join("tests/c/deep.c")),
    )?;
    let calls = "200000";
    let alone = deep_ns(Command::new(&deep).arg(calls))?;
    let record = |extra: &[&str]| -> Result<f64> {
        let mut cmd = Command::new(hytrace_binary());
        cmd.args([
            "record",
            "-e",
            "raw_syscalls:sys_enter",
            "-f",
            "id == 110",
            "-F",
            "-b",
            "16384",
        ])
        .args(extra)
        .arg("-o")
        .arg(dir.join("cost.dat"))
        .arg("--")
        .arg(&deep)
        .arg(calls);
        deep_ns(&mut cmd)
    };
    let plain = record(&[])?;
    let stacks = record(&["--user-stack", "--no-build-id-cache"])?;
    println!(
        "deep (31 user frames), ns per getppid: alone {alone:.0}; recorded {plain:.0} (+{:.0}); recorded with --user-stack {stacks:.0} (+{:.0}: {:.0} ns per event for the user stack)",
        plain - alone,
        stacks - alone,
        stacks - plain
    );
    Ok(())
}

/// The "deep: N calls, T ns per call" figure of a run with DEEP_REPORT set.
fn deep_ns(cmd: &mut Command) -> Result<f64> {
    let out = cmd.env("DEEP_REPORT", "1").stdout(Stdio::null()).output()?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("deep: ")?
                .split(", ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .with_context(|| format!("no deep figure in: {text}"))
}

/// Wall time of `cmd` with `input` on stdin and stdout to /dev/null.
fn time(cmd: &mut Command, input: Option<&str>) -> Result<f64> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if let Some(input) = input {
        let mut stdin = child.stdin.take().context("stdin")?;
        stdin.write_all(input.as_bytes())?;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The file offsets (minus one) of every non-inlined frame in `object` of the report's
/// JSON lines.
fn frame_offsets(json: &str, object: &Path) -> Vec<u64> {
    let object = format!("\"object\":\"{}\"", object.display());
    let mut out = Vec::new();
    for line in json.lines() {
        let Some(stack) = line.split("\"user_stack\":[").nth(1) else {
            continue;
        };
        for frame in stack.split("},{") {
            if !frame.contains(&object) || frame.contains("\"inlined\":true") {
                continue;
            }
            let offset = frame
                .split("\"file_offset\":")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(offset) = offset {
                out.push(offset.saturating_sub(1));
            }
        }
    }
    out
}

/// addr2line takes virtual addresses; the file offsets are the same only where the
/// executable segment is mapped at its file offset (gcc's default layout).
fn check_text_is_identity_mapped(exe: &Path) -> Result<()> {
    let out = Command::new("readelf").args(["-lW"]).arg(exe).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"LOAD") && line.contains(" R E ") {
            let hex = |i: usize| {
                words
                    .get(i)
                    .and_then(|w| u64::from_str_radix(w.trim_start_matches("0x"), 16).ok())
            };
            if hex(1).is_none() || hex(1) != hex(2) {
                bail!("wide's code segment is not mapped at its file offset: {line}");
            }
            return Ok(());
        }
    }
    bail!("no executable LOAD segment in wide")
}

/// FUNCS functions calling each other pseudo-randomly DEPTH deep, then getppid.
fn wide_source() -> String {
    let mut c = String::from(
        "#include <stdlib.h>\n\
         typedef long (*fn)(int, unsigned);\n",
    );
    c.push_str(&format!("#define FUNCS {FUNCS}\nextern fn table[FUNCS];\n"));
    c.push_str(
        "static inline __attribute__((always_inline)) long raw_getppid(void)\n{\n\
         \tlong ret;\n\
         \t__asm__ volatile(\"syscall\" : \"=a\"(ret) : \"a\"(110L) : \"rcx\", \"r11\", \"memory\");\n\
         \treturn ret;\n}\n",
    );
    for i in 0..FUNCS {
        c.push_str(&format!(
            "__attribute__((noinline)) long f{i}(int depth, unsigned seed)\n{{\n\
             \tif (depth == 0)\n\t\treturn raw_getppid();\n\
             \tseed = seed * 1103515245u + 12345u;\n\
             \treturn table[(seed >> 8) % FUNCS](depth - 1, seed) + 1;\n}}\n"
        ));
    }
    c.push_str("fn table[FUNCS] = {");
    for i in 0..FUNCS {
        c.push_str(&format!("f{i},"));
    }
    c.push_str("};\n");
    c.push_str(&format!(
        "int main(int argc, char **argv)\n{{\n\
         \tlong n = argc > 1 ? atol(argv[1]) : 1, sum = 0;\n\
         \tfor (long i = 0; i < n; i++)\n\
         \t\tsum += table[i % FUNCS]({DEPTH}, (unsigned)i);\n\
         \treturn sum == 0;\n}}\n"
    ));
    c
}
