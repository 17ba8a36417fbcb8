//! Damaged recordings given to `hytrace report` as a user would: 1000 random mutations
//! (bit flips, a cut, a run of zero bytes, a run of 0xff bytes) of each of three
//! recordings — one hytrace records here, trace-cmd's v6 file and its v7 file with
//! zstd-compressed sections (fixtures). Every run must end within 10 s, without a
//! panic or a signal, and either succeed (what it could not read said on stderr) or
//! fail with a one-line reason.

use std::{
    io::Read,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use hytrace_tests::{TempDir, hytrace_bin, record_ok, require_root, run};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");
/// Mutations of each recording.
const MUTATIONS: usize = 1000;
/// Longest a report of a damaged file may take.
const LIMIT: Duration = Duration::from_secs(10);
/// Bytes at the start of a file where its metadata lives (headers, formats, kallsyms
/// and options come before the CPU data): half the mutations land there.
const METADATA_BYTES: usize = 64 * 1024;

/// Deterministic xorshift64* generator, so a failure names a reproducible mutation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One damage done to a file, described for the failure message.
fn mutate(original: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut bytes = original.to_vec();
    let span = if rng.next() & 1 == 0 {
        bytes.len().min(METADATA_BYTES)
    } else {
        bytes.len()
    };
    let at = rng.below(span);
    match rng.below(4) {
        0 => {
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                let bit = rng.below(8);
                let at = rng.below(span);
                bytes[at] ^= 1 << bit;
            }
            (bytes, format!("{flips} bit flips from offset {at}"))
        }
        1 => {
            bytes.truncate(at);
            (bytes, format!("cut at {at}"))
        }
        kind => {
            let value = if kind == 2 { 0 } else { 0xff };
            let len = (1 + rng.below(4096)).min(bytes.len() - at);
            bytes[at..at + len].fill(value);
            (bytes, format!("{len} bytes of {value:#04x} at {at}"))
        }
    }
}

/// What went wrong with one report of a damaged file, if anything.
fn report_problem(file: &Path, options: &[&str]) -> Option<String> {
    let mut child = Command::new(hytrace_bin())
        .arg("report")
        .arg("-i")
        .arg(file)
        .args(options)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hytrace report");
    let mut stderr_pipe = child.stderr.take().expect("stderr pipe");
    // stderr is read on a thread, so a report that writes much cannot block on it.
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for hytrace report") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Some(format!("still running after {} s", LIMIT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let stderr = String::from_utf8_lossy(&reader.join().expect("stderr reader")).into_owned();
    if stderr.contains("panicked") || status.code() == Some(101) {
        return Some(format!("panicked: {stderr}"));
    }
    let Some(code) = status.code() else {
        return Some(format!("ended by {status}: {stderr}"));
    };
    if code != 0 {
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() != 1 || !lines[0].starts_with("hytrace: ") {
            return Some(format!("exit {code} without a one-line reason: {stderr:?}"));
        }
    }
    None
}

/// Runs `report` on [`MUTATIONS`] mutations of `original` (text, JSON and --count in
/// turn) and returns every problem.
fn mutations_problems(name: &str, original: &[u8], seed: u64, dir: &TempDir) -> Vec<String> {
    let mut rng = Rng(seed);
    let path = dir.path(&format!("{name}.dat"));
    let styles: [&[&str]; 3] = [&[], &["--format", "json"], &["--count"]];
    let mut problems = Vec::new();
    for round in 0..MUTATIONS {
        let (bytes, what) = mutate(original, &mut rng);
        std::fs::write(&path, &bytes).expect("write the damaged file");
        let options = styles[round % styles.len()];
        if let Some(problem) = report_problem(&path, options) {
            problems.push(format!(
                "{name}, round {round} ({what}, {options:?}): {problem}"
            ));
        }
    }
    eprintln!("{name}: {MUTATIONS} mutations, {} problems", problems.len());
    problems
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ftrace-user/src/store/fixtures")
        .join(name);
    if name.ends_with(".zst") {
        let out = run("zstd", &["-dc", "--", path.to_str().unwrap()]);
        assert!(out.status.success(), "zstd -dc {}", path.display());
        out.stdout
    } else {
        std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }
}

#[test]
fn damaged_recordings_end_in_a_report_or_a_one_line_error() {
    require_root!();
    let dir = TempDir::new("mutations");
    let ours = dir.path_str("ours-original.dat");
    record_ok(&[
        "record",
        "-e",
        "raw_syscalls",
        "-F",
        "-o",
        &ours,
        "--",
        SPIN,
        "2000",
    ]);
    let files = [
        ("hytrace", std::fs::read(&ours).expect("read the recording")),
        ("trace-cmd-v6", fixture("convert-v6.dat.zst")),
        ("trace-cmd-v7-zstd", fixture("extract-v7-zstd.tracedat")),
    ];
    let mut problems = Vec::new();
    for (index, (name, bytes)) in files.iter().enumerate() {
        problems.extend(mutations_problems(
            name,
            bytes,
            0x9e37_79b9_7f4a_7c15 ^ index as u64,
            &dir,
        ));
    }
    assert!(
        problems.is_empty(),
        "{} of {} damaged reports went wrong:\n{}",
        problems.len(),
        MUTATIONS * files.len(),
        problems.join("\n")
    );
}
