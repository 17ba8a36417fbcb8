//! `cargo xtask vm-test`: the root tests that need what this machine's kernel lacks
//! (function_graph, kprobe events, BPF fentry) run in a guest: Debian's kernel under
//! qemu-system-x86_64 with software emulation (one vCPU, single-threaded TCG: the
//! multi-threaded one locks up under function_graph), sharing the host's root
//! read-only with a writable overlay, so the host-built test binaries run unchanged.
//!
//! The guest CPU is `-cpu max`: with it TCG offers SVM, so the guest's own KVM works
//! (this machine's kernel never fires kvm_exit / kvm_entry; the guest's does). /init
//! loads irqbypass, ccp, kvm and kvm-amd (with their modinfo dependencies) only when
//! /proc/cpuinfo shows `svm`, which gives the guest a /dev/kvm; a tiny VMM run in the
//! guest (nested, itself emulated) fires kvm_exit / kvm_entry. Without `svm`
//! the console says `hytrace-vm: no svm in the guest CPU, KVM modules not loaded`; a
//! module that fails to load is reported there too and does not stop the boot.
//!
//! - [`kernel`]: fetching and unpacking the guest kernel.
//! - [`initramfs`]: busybox, modules and /init.

mod initramfs;
mod kernel;

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{
    setup::{cargo, ensure_packages, ensure_test_packages, is_root, workspace_root},
    summary::TestCounts,
    tasks,
};

/// The whole guest run may take this long before it is killed.
const GUEST_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// The test target that runs in the guest.
const VM_TEST_TARGET: &str = "vm_kernel";

fn ensure_vm_packages() -> Result<()> {
    ensure_packages(&[
        ("command -v qemu-system-x86_64".into(), "qemu-system-x86"),
        (
            "dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'"
                .into(),
            "busybox-static",
        ),
        (
            "command -v modinfo || test -x /usr/sbin/modinfo".into(),
            "kmod",
        ),
        ("command -v xz".into(), "xz-utils"),
    ])
}

/// The test executable of `VM_TEST_TARGET`, built (release) by cargo.
fn build_vm_tests() -> Result<PathBuf> {
    tasks::build()?;
    let out = cargo()
        .args([
            "test",
            "--release",
            "--package",
            "hytrace-tests",
            "--test",
            VM_TEST_TARGET,
            "--no-run",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo test --no-run")?;
    if !out.status.success() {
        bail!("building the VM tests failed");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.contains(&format!("\"name\":\"{VM_TEST_TARGET}\"")))
        .find_map(|l| {
            let at = l.find("\"executable\":\"")? + "\"executable\":\"".len();
            let end = l[at..].find('"')?;
            Some(PathBuf::from(&l[at..at + end]))
        })
        .context("cargo named no executable for the VM tests")
}

/// Runs `script` in the guest; returns the script's exit status as the guest reported
/// it on the console.
fn run_guest(
    kernel: &kernel::GuestKernel,
    initrd: &Path,
    script: &Path,
    out: &Path,
    console: &Path,
) -> Result<i32> {
    let append = format!(
        "console=ttyS0 panic=-1 oops=panic softlockup_panic=1 quiet hytrace.script={} hytrace.out={}",
        script.display(),
        out.display()
    );
    let log = fs::File::create(console)?;
    let mut child = Command::new("qemu-system-x86_64")
        // `-cpu max`: TCG then offers SVM, for the guest's KVM (see the module docs).
        .args(["-accel", "tcg,thread=single", "-cpu", "max"])
        .args(["-m", "2048", "-smp", "1"])
        .args(["-nographic", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", &append])
        .args([
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ])
        .arg("-virtfs")
        .arg(format!(
            "local,path={},mount_tag=out,security_model=none",
            out.display()
        ))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start qemu-system-x86_64")?;
    let started = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if started.elapsed() > GUEST_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the guest ran over {} s and was killed; console log kept at {}",
                GUEST_TIMEOUT.as_secs(),
                console.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // qemu exits 0 even after a guest panic: the status comes from the console marker.
    let mut text = String::new();
    fs::File::open(console)?.read_to_string(&mut text)?;
    let status = text
        .lines()
        .filter_map(|l| l.split(initramfs::EXIT_MARKER).nth(1))
        .filter_map(|s| s.trim().parse::<i32>().ok())
        .next_back();
    match status {
        Some(status) => Ok(status),
        None => {
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "the guest ended without reporting a status (panic or failed boot); console log \
                 kept at {}:\n{}",
                console.display(),
                tail.join("\n")
            )
        }
    }
}

/// A guest ready to boot: the kernel, its initramfs and the work directory.
pub struct Guest {
    kernel: kernel::GuestKernel,
    initrd: PathBuf,
    dir: PathBuf,
}

impl Guest {
    /// Installs qemu and friends, fetches the kernel and writes the initramfs (each once).
    pub fn prepare() -> Result<Guest> {
        if !is_root() {
            bail!("the guest shares the host's root filesystem: run as root");
        }
        ensure_vm_packages()?;
        // The guest runs the host's trace-cmd and bpftrace as peers.
        ensure_test_packages()?;
        let dir = workspace_root().join("target/vm");
        fs::create_dir_all(&dir)?;
        let kernel = kernel::ensure_kernel(&dir)?;
        let initrd = dir.join(format!(
            "initramfs-{}-{}.cpio",
            kernel.release,
            initramfs::layout_tag()
        ));
        if !initrd.exists() {
            initramfs::build(&kernel.modules, Path::new("/bin/busybox"), &initrd)?;
        }
        Ok(Guest {
            kernel,
            initrd,
            dir,
        })
    }

    pub fn release(&self) -> &str {
        &self.kernel.release
    }

    /// Runs the shell `commands` in the guest, from the workspace root, with their
    /// output (stdout and stderr) in `target/vm/out/<name>.log`; returns the commands'
    /// exit status and that output.
    pub fn run(&self, name: &str, commands: &str) -> Result<(i32, String)> {
        let out = self.dir.join("out");
        let _ = fs::remove_dir_all(&out);
        fs::create_dir_all(&out)?;
        let log = out.join(format!("{name}.log"));
        let script = out.join(format!("{name}.sh"));
        fs::write(
            &script,
            format!(
                "cd {}\nexport HYTRACE_IN_VM=1\n( {commands}\n) > {} 2>&1\n",
                workspace_root().display(),
                log.display()
            ),
        )?;
        let status = run_guest(
            &self.kernel,
            &self.initrd,
            &script,
            &out,
            &self.dir.join("console.log"),
        )?;
        Ok((status, fs::read_to_string(&log).unwrap_or_default()))
    }
}

/// Runs the VM tests in the guest; returns the guest kernel's release and the tests'
/// totals.
pub fn vm_test() -> Result<(String, TestCounts)> {
    start_vm_test()?.finish()
}

/// The VM tests running in the guest, on a thread of their own: the guest takes one
/// core (single-threaded TCG), so `cargo xtask test` fuzzes on the other meanwhile.
pub struct RunningVmTests {
    /// The guest's status and output, and how long it ran.
    guest: std::thread::JoinHandle<(Result<(i32, String)>, Duration)>,
    release: String,
    vmlinux: PathBuf,
    debug_dir: PathBuf,
    out: PathBuf,
}

/// Builds the VM tests, prepares the guest and its kernel's debug info, then boots the
/// guest with the tests and returns while they run.
pub fn start_vm_test() -> Result<RunningVmTests> {
    let tests = build_vm_tests()?;
    let guest = Guest::prepare()?;
    // The guest kernel's debug info, for report --kernel-lines against a real vmlinux.
    let vmlinux = kernel::ensure_debug_vmlinux(&guest.dir, guest.release())?;
    let debug_dir = vmlinux
        .ancestors()
        .nth(2)
        .context("the debug vmlinux's directory")?
        .to_path_buf();
    let out = guest.dir.join("out");
    let release = guest.release().to_string();
    eprintln!(
        "xtask: running {VM_TEST_TARGET} in a guest (kernel {release}, software emulation); \
         its output follows when it ends"
    );
    let commands = format!(
        "HYTRACE_GUEST_OUT={} {} --test-threads=1",
        out.display(),
        tests.display()
    );
    let started = Instant::now();
    let guest = std::thread::spawn(move || {
        let ran = guest.run("tests", &commands);
        (ran, started.elapsed())
    });
    Ok(RunningVmTests {
        guest,
        release,
        vmlinux,
        debug_dir,
        out,
    })
}

impl RunningVmTests {
    /// Waits for the guest, prints its tests' output, then names the guest's kernel
    /// stack recording here against the guest kernel's vmlinux.
    pub fn finish(self) -> Result<(String, TestCounts)> {
        let (ran, took) = self
            .guest
            .join()
            .map_err(|_| anyhow::anyhow!("the thread running the guest panicked"))?;
        let (status, text) = ran?;
        print!("{text}");
        eprintln!(
            "xtask: guest run of {VM_TEST_TARGET} ended with status {status} after {:.0} s \
             (kernel {})",
            took.as_secs_f64(),
            self.release
        );
        if status != 0 {
            bail!("the VM tests failed (status {status}); console log at target/vm/console.log");
        }
        let mut counts = TestCounts::of_text(&text);
        // The guest's recording of its kernel stacks, named here against its vmlinux
        // (under emulation, reading the 350 MB file took the guest two minutes), and its
        // function_graph and kvm recordings and its kept outlier snapshot, exported to
        // Perfetto and read back here, and trace-cmd's corpus recordings printed here
        // as trace-cmd prints them.
        let recording = self.out.join("kernel-lines.dat");
        if !recording.is_file() {
            bail!("the guest left no {}", recording.display());
        }
        eprintln!(
            "xtask: naming the guest kernel's stacks with {}",
            self.vmlinux.display()
        );
        let named = crate::summary::run_counted(
            crate::setup::cargo()
                .args([
                    "test",
                    "--release",
                    "-p",
                    "hytrace-tests",
                    "--test",
                    "kernel_lines",
                    "--test",
                    "export_perfetto",
                    "--test",
                    "peer_trace_cmd",
                    "--",
                    "--test-threads=1",
                    "--exact",
                    "a_guest_recording_is_named_as_addr2line_names_it",
                    "a_guest_function_graph_recording_exports_balanced_calls",
                    "a_guest_kvm_recording_exports_its_exits_as_slices",
                    "a_kept_outlier_snapshot_exports_its_sample_as_a_slice",
                    "guest_function_graph_recordings_print_as_trace_cmd_prints_them",
                    "the_trace_cmd_corpus_prints_as_trace_cmd_prints_it",
                ])
                .env("HYTRACE_GUEST_RECORDING", &recording)
                .env("HYTRACE_GUEST_RECORDING_DIR", &self.out)
                .env("HYTRACE_KERNEL_DEBUG_DIR", &self.debug_dir),
        )?;
        counts.passed += named.passed;
        counts.failed += named.failed;
        counts.ignored += named.ignored;
        Ok((self.release, counts))
    }
}

/// `cargo xtask vm-run -- CMD…`: builds, then runs one command line in the guest (from
/// the workspace root, as root) and prints its output.
pub fn vm_run(args: &[String]) -> Result<()> {
    if args.is_empty() {
        bail!("vm-run needs a command: cargo xtask vm-run -- COMMAND [ARGS…]");
    }
    tasks::build()?;
    let guest = Guest::prepare()?;
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let (status, text) = guest.run("run", &quoted.join(" "))?;
    print!("{text}");
    if status != 0 {
        bail!("the command ended with status {status} in the guest");
    }
    Ok(())
}
