//! hytrace's task runner: `cargo xtask build|run|test|vm-test|vm-run|bench|fuzz|soak`.
//!
//! Every task first makes sure the machine has what the build needs (the nightly's
//! rust-src and a bpf-linker built against that nightly's LLVM), so a fresh clone on a
//! fresh machine needs no manual step.

mod bench;
mod bench_common;
mod bench_kvm;
mod bench_outlier;
mod bench_record;
mod bench_serve;
mod bench_start;
mod bench_symbolize;
mod fuzz;
mod setup;
mod soak;
mod summary;
mod tasks;
mod vm;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Build, run, test and benchmark hytrace")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the eBPF programs and the hytrace binary (release).
    Build,
    /// Build, then run hytrace as root with the given arguments.
    Run {
        /// Arguments passed to hytrace.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run every check and test: format, clippy, unit tests, the root integration tests,
    /// then the VM tests.
    Test,
    /// Run the tests that need function_graph, kprobe events or BPF fentry in a guest
    /// kernel under qemu (software emulation).
    VmTest,
    /// Build, then run one command in the guest kernel (from the workspace root, as
    /// root) and print its output, e.g. `cargo xtask vm-run -- target/release/hytrace doctor`.
    VmRun {
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// Run a benchmark against its peer tool and print the ratios.
    Bench {
        /// Which benchmark.
        #[arg(value_enum)]
        which: bench::Which,
        /// Size of the workload: events in the recording (report, default 1000000) or
        /// getppid calls (hist, default 1000000; record and serve, default 5000000; outlier, in
        /// the guest, default 20000) or VM exits (kvm, in the guest, default 20000).
        #[arg(long)]
        events: Option<u64>,
    },
    /// Fuzz hytrace's parsers of untrusted input (trace.dat files, ring-buffer pages,
    /// event formats and print fmts, QEMU markers and log lines) with cargo-fuzz
    /// (libFuzzer): replays the saved crashes of tests/fuzz/crashes, then fuzzes each
    /// target. `cargo xtask test` runs the same for 60 s per target.
    Fuzz {
        /// Seconds per target (0 replays the saved crashes and the corpus once).
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        /// One target (trace_dat, page, event_format, qemu_markers); all when left out.
        target: Option<String>,
    },
    /// Run `hytrace hist syscalls runq irq` and `hytrace record -e sched` under a steady
    /// load and print their memory and open descriptors every minute; fails if either
    /// grows by more than 5% after the first minute.
    Soak {
        /// How long (at least 2).
        #[arg(long, default_value_t = 30)]
        minutes: u64,
    },
    /// Run inside the guest by `bench outlier`.
    #[command(hide = true)]
    GuestBenchOutlier {
        #[arg(long)]
        events: u64,
    },
    /// Run inside the guest by `bench kvm`.
    #[command(hide = true)]
    GuestBenchKvm {
        #[arg(long)]
        events: u64,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.task {
        Task::Build => tasks::build(),
        Task::Run { args } => tasks::run(&args),
        Task::Test => tasks::test(),
        Task::VmTest => vm::vm_test().map(|_| ()),
        Task::VmRun { args } => vm::vm_run(&args),
        Task::Bench { which, events } => bench::run(which, events),
        Task::Fuzz { seconds, target } => fuzz::run(seconds, target),
        Task::Soak { minutes } => soak::run(minutes),
        Task::GuestBenchOutlier { events } => bench_outlier::in_guest(events),
        Task::GuestBenchKvm { events } => bench_kvm::in_guest(events),
    }
}
