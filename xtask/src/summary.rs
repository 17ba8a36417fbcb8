//! The end-of-test summary: how many tests passed on this kernel and in the guest, and
//! which were skipped here and why (from the lines the tests append to
//! `HYTRACE_SKIP_LOG`), so each test's place of running is said in one spot.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::setup::workspace_root;

/// Totals of libtest's `test result:` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl TestCounts {
    /// Adds a `test result: ok. 3 passed; 0 failed; 1 ignored; …` line (others are
    /// ignored).
    pub fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }

    pub fn of_text(text: &str) -> TestCounts {
        let mut counts = TestCounts::default();
        for line in text.lines() {
            counts.add_line(line);
        }
        counts
    }
}

/// Where the tests note their skips.
pub fn skip_log() -> PathBuf {
    workspace_root().join("target/test-skips.log")
}

/// Runs `cmd` (a cargo test), echoing its stdout, and returns the totals of its
/// `test result:` lines; fails if the command does.
pub fn run_counted(cmd: &mut Command) -> Result<TestCounts> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut counts = TestCounts::default();
    let mut echo = std::io::stdout();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        counts.add_line(&line);
        writeln!(echo, "{line}")?;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(counts)
}

/// `TEST<TAB>REASON` lines of the skip log.
fn skips(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(t, r)| (t.to_string(), r.to_string()))
        .collect()
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Prints where the tests ran.
pub fn print(host: TestCounts, guest: Option<(String, TestCounts)>) {
    let skipped = skips(&skip_log());
    println!("\nxtask: test summary");
    println!(
        "  this kernel ({}): {} passed ({} of them skipped here, below), {} failed, {} ignored",
        kernel_release(),
        host.passed,
        skipped.len(),
        host.failed,
        host.ignored
    );
    for (test, reason) in &skipped {
        println!("    skipped here: {test}: {reason}");
    }
    match guest {
        Some((release, counts)) => println!(
            "  guest kernel {release}: {} passed, {} failed, {} ignored",
            counts.passed, counts.failed, counts.ignored
        ),
        None => println!("  guest kernel: not run"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_add_up() {
        let counts = TestCounts::of_text(
            "running 3 tests\n\
             test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.1s\n\
             test a ... ok\n\
             test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 5 filtered out; finished in 9s\n",
        );
        assert_eq!(
            counts,
            TestCounts {
                passed: 5,
                failed: 1,
                ignored: 1
            }
        );
    }
}
