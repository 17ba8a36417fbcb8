//! Making sure the machine has the toolchain, the peer tools and a mounted tracefs.

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

/// bpf-linker release known to build against the nightly's LLVM 22.
const BPF_LINKER_VERSION: &str = "0.13.0";
/// Debian packages the tests compare against or drive.
const TEST_PACKAGES: &[(&str, &str)] = &[
    ("trace-cmd", "trace-cmd"),
    ("bpftrace", "bpftrace"),
    // Opens the flame graphs the tests write (headless, --dump-dom).
    ("chromium", "chromium"),
    // Decompresses trace-cmd's v6 fixture for the damaged-recordings test.
    ("zstd", "zstd"),
    // The line tables and inline chains report --kernel-lines is checked against.
    ("gdb", "gdb"),
    ("addr2line", "binutils"),
    // Scrapes hist --serve in its test (started by the test on 127.0.0.1 only).
    ("prometheus", "prometheus"),
];

/// The workspace root (the parent of xtask/).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command, failing with its command line when it does not exit 0.
pub fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub fn output_of(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The nightly toolchain with rust-src, and bpf-linker linked against its LLVM.
pub fn ensure_ebpf_toolchain() -> Result<()> {
    if !succeeds(Command::new("rustc").args(["+nightly", "--version"])) {
        eprintln!("xtask: installing the nightly toolchain");
        run_checked(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    let sysroot = PathBuf::from(output_of(
        Command::new("rustc").args(["+nightly", "--print", "sysroot"]),
    )?);
    if !sysroot.join("lib/rustlib/src/rust/library/core").is_dir() {
        eprintln!("xtask: adding rust-src to the nightly toolchain");
        run_checked(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            "nightly",
        ]))?;
    }
    // bpf-linker loads the nightly's libLLVM at run time, which `rustup run nightly`
    // puts on the library path; aya-build runs it the same way.
    if succeeds(Command::new("rustup").args(["run", "nightly", "bpf-linker", "--version"])) {
        return Ok(());
    }
    install_bpf_linker(&sysroot)
}

/// Builds bpf-linker from crates.io against the nightly rustc's own libLLVM.
fn install_bpf_linker(sysroot: &Path) -> Result<()> {
    let lib_dir = sysroot.join("lib");
    let libllvm = std::fs::read_dir(&lib_dir)
        .with_context(|| format!("cannot list {}", lib_dir.display()))?
        .filter_map(std::result::Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("libLLVM.so.") || name.starts_with("libLLVM-"))
        .with_context(|| format!("no libLLVM in {}", lib_dir.display()))?;
    let major: String = libllvm
        .trim_start_matches("libLLVM.so.")
        .trim_start_matches("libLLVM-")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if major.is_empty() {
        bail!("cannot tell the LLVM version of {libllvm}");
    }
    let prefix = workspace_root().join("target/xtask/llvm-prefix");
    let prefix_lib = prefix.join("lib");
    std::fs::create_dir_all(&prefix_lib)
        .with_context(|| format!("cannot create {}", prefix_lib.display()))?;
    let link = prefix_lib.join("libLLVM.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(lib_dir.join(&libllvm), &link)
        .with_context(|| format!("cannot link {}", link.display()))?;
    eprintln!("xtask: building bpf-linker {BPF_LINKER_VERSION} against LLVM {major} ({libllvm})");
    run_checked(
        Command::new("cargo")
            .args([
                "install",
                "bpf-linker",
                "--version",
                BPF_LINKER_VERSION,
                "--locked",
                "--no-default-features",
                "--features",
                &format!("llvm-{major}"),
            ])
            .env("LLVM_PREFIX", &prefix),
    )?;
    if !succeeds(Command::new("rustup").args(["run", "nightly", "bpf-linker", "--version"])) {
        bail!("bpf-linker was installed but does not run under `rustup run nightly`");
    }
    Ok(())
}

/// trace-cmd, bpftrace, chromium and zstd from Debian's archive, for the peer tests,
/// the flame graph test and the damaged-recordings test.
pub fn ensure_test_packages() -> Result<()> {
    let mut checks: Vec<(String, &str)> = TEST_PACKAGES
        .iter()
        .map(|(binary, package)| (format!("command -v {binary}"), *package))
        .collect();
    // The Python environment of Perfetto's own protos (see ensure_test_python).
    checks.push(("python3 -c 'import venv, ensurepip'".into(), "python3-venv"));
    ensure_packages(&checks)?;
    ensure_test_python()
}

/// Perfetto's Python package from PyPI, whose protos parse the traces `export
/// --perfetto` writes (tests/scripts/perfetto_events.py).
const PERFETTO_PYTHON: &str = "perfetto==0.59.1";

/// The test Python: a virtual environment in target/python with [`PERFETTO_PYTHON`]
/// (made once; the tests find it there).
fn test_python() -> PathBuf {
    workspace_root().join("target/python/bin/python")
}

fn ensure_test_python() -> Result<()> {
    let python = test_python();
    let has_perfetto = |python: &Path| {
        succeeds(Command::new(python).args([
            "-c",
            "import perfetto.protos.perfetto.trace.perfetto_trace_pb2",
        ]))
    };
    if python.exists() && has_perfetto(&python) {
        return Ok(());
    }
    let venv = workspace_root().join("target/python");
    eprintln!(
        "xtask: installing {PERFETTO_PYTHON} into {}",
        venv.display()
    );
    let _ = std::fs::remove_dir_all(&venv);
    run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run_checked(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        PERFETTO_PYTHON,
    ]))?;
    if !has_perfetto(&python) {
        bail!(
            "{} cannot import Perfetto's protos after installing {PERFETTO_PYTHON}",
            python.display()
        );
    }
    Ok(())
}

/// Installs each Debian package whose shell check fails.
pub fn ensure_packages(checks: &[(String, &str)]) -> Result<()> {
    let missing: Vec<&str> = checks
        .iter()
        .filter(|(check, _)| !succeeds(Command::new("sh").args(["-c", check])))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "the tests need {} installed (run as root so xtask can install them)",
            missing.join(" ")
        );
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    run_checked(
        Command::new("apt-get")
            .args(["update", "-qq"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    run_checked(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null()),
    )
}

/// Mounts tracefs at /sys/kernel/tracing when nothing is mounted there.
pub fn ensure_tracefs() -> Result<()> {
    let tracing = Path::new("/sys/kernel/tracing");
    if tracing.join("available_events").exists() {
        return Ok(());
    }
    if !is_root() {
        bail!("tracefs is not mounted at /sys/kernel/tracing and mounting it needs root");
    }
    eprintln!("xtask: mounting tracefs at /sys/kernel/tracing");
    run_checked(Command::new("mount").args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"]))
}

/// `cargo` with the workspace as working directory.
pub fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}
