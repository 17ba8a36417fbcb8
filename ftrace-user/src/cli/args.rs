//! The command line: subcommands and their options, in trace-cmd's habits.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{
    stacks::build_ids::{BuildIdCache, default_cache_dir},
    symbolize::user::ObjectSearch,
};

/// A hybrid Linux tracer: ftrace's full detail and eBPF's in-kernel aggregation on the
/// same hooks, in one run, on one clock.
///
/// hytrace works in a private tracefs instance (instances/hytrace-<pid>) and never
/// changes the global tracing state; everything it creates is removed when it exits,
/// whichever way it exits. Most commands need root.
#[derive(Debug, Parser)]
#[command(
    name = "hytrace",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Record(Box<RecordArgs>),
    Report(ReportArgs),
    Hist(HistArgs),
    Graph(GraphArgs),
    List(ListArgs),
    Kvm(Box<KvmArgs>),
    Recover(RecoverArgs),
    Export(ExportArgs),
    /// Report which tracing features this kernel offers, each probed for real: tracers,
    /// dynamic probes, BPF program types, BTF, trace clocks, copy_trace_marker.
    Doctor,
    /// Remove the instances and dynamic probes left behind by hytrace sessions that died
    /// (killed with SIGKILL, say). Nothing of live sessions or other tools is touched.
    Reset,
}

/// Record trace events into a trace.dat file (trace-cmd's format).
///
/// Events are copied as raw ring-buffer pages, one reader per CPU, and decoded only
/// when the file is read. An eBPF program on every recorded tracepoint counts its hits
/// in the kernel, in the recording's scope (its threads, its CPUs, while tracing_on is
/// 1), and the summary audits the recording against them: `= recorded` per event when
/// nothing was lost, `recorded + lost = kernel hits` per CPU when something was (page-
/// header flags, per-CPU overruns and drops), and any difference with its size and what
/// explains it. The audit is stored in the file (report --count prints it).
///
/// Recording stops when COMMAND exits, after --duration, or on Ctrl-C, SIGTERM or
/// SIGHUP. Without COMMAND or --duration it runs until interrupted. One of those
/// signals while record is still setting up stops it there: what was set up is
/// removed, COMMAND is not started, no file is written, and the exit status is 1.
///
/// Examples:
///   hytrace record -e raw_syscalls -e sched:sched_switch -- ./spin 200000
///   hytrace record -e sched -f 'prev_pid != 0' --duration 5 -o sched.dat
///   hytrace record -e 'irq:*' -e softirq_entry -M 1 -b 8192 -- make -j2
///   hytrace record -e syscalls:sys_enter_openat -F -- cat /etc/hostname
///   hytrace record -e raw_syscalls:sys_enter -f 'id == 110' -T -F -- ./spin 1000
///   hytrace record -e raw_syscalls -F --summary-json audit.json -- ./spin 300000
///   hytrace record --hist syscalls -e raw_syscalls -o h.dat -- ./spin 100000
///   hytrace record -p function_graph -g vfs_read -o g.dat -- cat /proc/version
///   hytrace record --uprobe 'p:nap ./sleeper:nap' --uprobe 'r:napret ./sleeper:nap' -- ./sleeper 50
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RecordArgs {
    /// Output file. Written mode 0600 (see --mode) in a private directory beside it and
    /// renamed over FILE when complete, so an interrupted record never leaves a
    /// half-written FILE and nothing is written through a link planted at its path.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        default_value = "trace.dat"
    )]
    pub output: PathBuf,

    #[command(flatten)]
    pub output_file: OutputFileArgs,

    /// Also write the summary's kernel-hit audit to FILE as JSON, for scripts: per
    /// event, recorded beside the kernel's hits over the same window and scope; per
    /// CPU, recorded and lost beside the hits; the window. Written like -o (mode
    /// --mode, renamed into place, links refused unless --force).
    #[arg(long = "summary-json", value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Event to record: SYS:EVENT, SYS (all its events), EVENT (in any system), a glob
    /// (`sched:sched_wak*`, `*:sys_enter`) or `all`. Repeatable.
    #[arg(
        short = 'e',
        long = "event",
        value_name = "EVENT",
        required_unless_present_any = ["tracer", "kprobes", "uprobes", "profile"]
    )]
    pub events: Vec<String>,

    /// Tracer of the instance: function_graph (every call with its duration, nested) or
    /// function (every call). Needs the tracer in tracefs instances (`hytrace doctor`).
    #[arg(short = 'p', long = "tracer", value_name = "TRACER")]
    pub tracer: Option<String>,

    /// With -p function_graph: graph only what FUNC calls (set_graph_function; globs
    /// allowed). Repeatable.
    #[arg(
        short = 'g',
        long = "graph-function",
        value_name = "FUNC",
        requires = "tracer"
    )]
    pub graph_functions: Vec<String>,

    /// Trace only FUNC (set_ftrace_filter; globs allowed). Repeatable.
    #[arg(short = 'l', long = "limit", value_name = "FUNC", requires = "tracer")]
    pub limit_functions: Vec<String>,

    /// Never trace FUNC (set_ftrace_notrace; globs allowed). Repeatable.
    #[arg(
        short = 'n',
        long = "notrace",
        value_name = "FUNC",
        requires = "tracer"
    )]
    pub notrace_functions: Vec<String>,

    /// With -p function_graph: do not descend below this call depth.
    #[arg(long, value_name = "N", requires = "tracer")]
    pub max_graph_depth: Option<u32>,

    /// Set a tracer option of the instance, or clear it with a `no` prefix:
    /// funcgraph-irqs, funcgraph-tail, funcgraph-duration, nofuncgraph-irqs…
    /// Repeatable.
    #[arg(
        short = 'O',
        long = "option",
        value_name = "OPTION",
        requires = "tracer"
    )]
    pub tracer_options: Vec<String>,

    /// With -p function: record the kernel stack of every traced call
    /// (func_stack_trace).
    #[arg(long, requires = "tracer")]
    pub func_stack: bool,

    /// Record a kernel probe: 'p:NAME SYMBOL[+OFF] [FETCHARGS]' or 'r:NAME SYMBOL
    /// [$retval]' in kprobe_events syntax. Created for the session (group
    /// hytrace_<pid>) and removed at its end. Repeatable.
    #[arg(long = "kprobe", value_name = "SPEC")]
    pub kprobes: Vec<String>,

    /// Record a user probe: 'p:NAME PATH:SYMBOL [FETCHARGS]', 'p:NAME PATH:0xOFFSET …'
    /// or 'r:NAME PATH:SYMBOL [$retval]'; SYMBOL is resolved to its file offset from
    /// the ELF symbol tables. 'p:NAME PATH:FUNC VAR…' fetches parameters of FUNC by
    /// name, as perf probe -x does: DWARF says where each lives (a register at entry,
    /// or a stack slot once the prologue stored it, the probe then placed after the
    /// prologue) and its type (u8…u64, s8…s64, string for char *); refused with the
    /// reason when the binary has no DWARF or the parameter is nowhere fetchable.
    /// Created for the session and removed at its end. Repeatable.
    #[arg(long = "uprobe", value_name = "SPEC")]
    pub uprobes: Vec<String>,

    /// Filter for the events of the -e just before it, in the kernel's filter syntax
    /// (`prev_pid != 0 && next_comm ~ "kworker*"`). A filter the kernel rejects is shown
    /// with the kernel's error_log text.
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,

    #[command(flatten)]
    pub processes: ProcessArgs,

    /// Record only events of COMMAND itself (its pid through set_event_pid).
    #[arg(short = 'F', long = "follow-command", requires = "command")]
    pub only_command: bool,

    /// With -F or -P, also record the children they fork (the event-fork option).
    #[arg(short = 'c', long = "children")]
    pub children: bool,

    /// Record the kernel stack after every event (ftrace's stacktrace option, as
    /// trace-cmd record -T): a kernel_stack record follows each event on its CPU, and
    /// report prints it as `<stack trace >` with one `=> function (address)` line per
    /// frame.
    #[arg(short = 'T', long = "kernel-stacks")]
    pub kernel_stacks: bool,

    /// Record the user stack of the thread at every recorded tracepoint hit, whole (up
    /// to 127 frames), by an eBPF program on the same tracepoints: the kernel walks the
    /// frame pointers and gives each frame as build-id + file offset where it can, so
    /// frames still resolve after the process exits. Stored in the file (trace-cmd
    /// skips it); report prints each stack under its event with function+offset,
    /// file:line and inlined functions. Programs built without frame pointers give
    /// short stacks. Each object a stack points into is kept in the build-id cache.
    #[arg(long = "user-stack", conflicts_with = "no_bpf")]
    pub user_stack: bool,

    /// Record what `report --profile` needs, as trace-cmd record --profile: the
    /// sched_switch, sched_wakeup and sched_wakeup_new events, the kernel stack after
    /// each (-T), and the user stack of the task at each switch (--user-stack, on
    /// sched_switch only). Other -e events may be added.
    #[arg(long, conflicts_with = "no_bpf")]
    pub profile: bool,

    /// With --user-stack: the build-id cache directory [default:
    /// $XDG_CACHE_HOME/hytrace/build-id, else ~/.cache/hytrace/build-id]. Each object a
    /// stack points into is kept there (a hard link where the filesystem allows, a copy
    /// otherwise) under its build-id, where report looks for it.
    #[arg(long = "build-id-cache", value_name = "DIR")]
    pub build_id_cache: Option<PathBuf>,

    /// With --user-stack: keep no objects in a build-id cache.
    #[arg(long = "no-build-id-cache", conflicts_with = "build_id_cache")]
    pub no_build_id_cache: bool,

    /// Record only on the CPUs of this hex mask (tracing_cpumask), e.g. 3 for CPUs 0-1.
    #[arg(short = 'M', long = "cpumask", value_name = "CPUMASK")]
    pub cpumask: Option<String>,

    #[command(flatten)]
    pub buffer: BufferArgs,

    /// Trace clock. The default, mono, is the clock bpf_ktime_get_ns() uses, so BPF
    /// and ftrace data merge without conversion.
    #[arg(long, value_name = "CLOCK", default_value = "mono")]
    pub clock: String,

    /// Do not load the eBPF hit counters.
    #[arg(long)]
    pub no_bpf: bool,

    /// Also aggregate this latency histogram in eBPF on the same hooks (any SPEC of
    /// `hytrace hist`), limited to COMMAND's process when there is one, else to a single
    /// -P process, else all. Stored in the file; `hytrace report --hist` prints it and
    /// compares it with the same histogram computed from the recorded events.
    /// Repeatable.
    #[arg(long = "hist", value_name = "SPEC")]
    pub hists: Vec<String>,

    #[command(flatten)]
    pub session: SessionArgs,
}

/// Pair every VM exit with the kernel's handling and the QEMU work that served it, per
/// vCPU thread, and sum them per exit reason (in perf kvm stat's spirit, with QEMU's side).
///
/// Records kvm:kvm_exit, kvm_entry, kvm_userspace_exit and the kernel's handling events
/// (kvm_pio, kvm_mmio, kvm_fast_mmio, kvm_msr, kvm_hypercall, where the kernel has
/// them), the KVM_RUN ioctl's calls and returns (syscalls:sys_enter_ioctl with
/// `cmd == 0xae80`, sys_exit_ioctl), and trace_marker lines, into a trace.dat file
/// (-o, default kvm.dat), then prints the analysis. With -i it analyses an existing
/// recording instead (hytrace's or trace-cmd's).
///
/// An exit is kvm_exit(reason) -> the kernel's handling -> kvm_entry, or, through
/// userspace, -> kvm_userspace_exit -> KVM_RUN returns -> QEMU's events -> the next
/// KVM_RUN call -> kvm_entry. Kernel time is the exit less QEMU's part; QEMU time runs
/// from KVM_RUN's return to the next call. Reasons are named as the kernel prints them
/// (SVM `io`, `npf`; VMX `IO_INSTRUCTION`, `EPT_VIOLATION`). Where the kernel's KVM
/// backend does not fire kvm_exit, each KVM_RUN round trip is the unit, by its
/// kvm_userspace_exit reason, and the output says so. Pieces that fit no exit are
/// counted by kind; exits open where events were lost are counted as incomplete.
///
/// QEMU's side comes from its ftrace trace backend (trace events written to
/// <tracefs>/trace_marker: `cpu_in addr 0x71 value 0`): a COMMAND is started in a
/// private mount namespace where the instance's trace_marker and tracing_on replace
/// the top-level ones, so its trace lines land in this recording and the global
/// tracing state stays untouched. For an already running QEMU (-P) the lines reach the
/// recording only where the kernel copies top-level marker writes into instances
/// (copy_trace_marker, Linux 6.17+). Or give QEMU's log backend file with --qemu-log
/// (`-trace enable=kvm_run_exit,file=F -msg timestamp=on`): its wall-clock lines are
/// placed on the recording's clock by the offset measured at record time and matched
/// to vCPU threads by thread id.
///
/// Examples:
///   hytrace kvm -- qemu-system-x86_64 -accel kvm -m 64 -nographic -nodefaults
///   hytrace kvm -P $(pidof qemu-system-x86_64) --duration 10 -o vm.dat
///   hytrace kvm -i vm.dat --timeline --vcpu 0
///   hytrace kvm -o q.dat --qemu-log q.log -- qemu-system-x86_64 -accel kvm \
///       -trace enable=kvm_run_exit,file=q.log -msg timestamp=on …
///   hytrace kvm -i vm.dat --json | jq '.exits[] | {reason, count}'
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct KvmArgs {
    /// Analyse this recording instead of recording (hytrace's or trace-cmd's trace.dat).
    #[arg(short = 'i', long = "input", value_name = "FILE", conflicts_with_all = ["pids", "output", "command", "duration"])]
    pub input: Option<PathBuf>,

    /// Output file of the recording (mode 0600, written beside and renamed into place).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub output_file: OutputFileArgs,

    /// Record this process's vCPU threads (all its threads, and threads it starts
    /// later). Repeatable. Without -P or COMMAND every process is recorded.
    #[arg(short = 'P', long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,

    /// QEMU's log trace-backend file (`TID@SECS.USECS:EVENT ARGS` lines, or with an
    /// ISO-8601 prefix): its lines are attached to the exits they were written in.
    #[arg(long = "qemu-log", value_name = "FILE")]
    pub qemu_log: Option<PathBuf>,

    /// Print one line per exit (time, thread, vCPU, reason, rip, kernel and QEMU time,
    /// QEMU's events) after the table.
    #[arg(long)]
    pub timeline: bool,

    /// Print the table as one JSON object instead.
    #[arg(long, conflicts_with = "timeline")]
    pub json: bool,

    /// Only the exits of this vCPU (its id as kvm_entry / kvm_exit print it).
    #[arg(long, value_name = "N")]
    pub vcpu: Option<u32>,

    #[command(flatten)]
    pub buffer: BufferArgs,

    /// Stop after SECS seconds (counted from the start of tracing).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<std::time::Duration>,

    /// The VMM to run while recording (after `--`), held at a start gate until tracing
    /// is on. The session ends when it exits.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Turn what a killed recording left (SIGKILL, OOM) back into a trace.dat.
///
/// A recording writes its metadata (formats, kernel symbols, clock, command lines)
/// into its private directory `.FILE.hytrace-PID-RANDOM` beside FILE before tracing
/// starts, and every ring-buffer page into per-CPU spool files there as it reads them.
/// When the recorder dies before writing FILE, that directory stays; `recover` finds
/// the newest one whose PID is no longer running, writes FILE from its metadata and
/// every whole page (a last, partly written page per CPU is left out and counted), and
/// removes the directory. FILE is never replaced: give -o when it exists. Run
/// `hytrace reset` too, to remove the dead session's tracefs instance.
///
/// Examples:
///   hytrace recover k.dat
///   hytrace recover k.dat -o k-recovered.dat
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RecoverArgs {
    /// The output the killed recording was writing (its -o).
    #[arg(value_name = "FILE", default_value = "trace.dat")]
    pub file: PathBuf,

    /// Write the recovered recording here instead of FILE (mode 0600, like every
    /// recording; never over an existing file).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
}

/// How `report` prints events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// trace-cmd report's line layout.
    Text,
    /// One JSON object per line per event.
    Json,
}

/// Print the events of a trace.dat file (hytrace's or trace-cmd's), merged across CPUs
/// in timestamp order, in trace-cmd report's line layout:
///
///   COMM-PID [CPU] SECONDS.MICROS: EVENT: PAYLOAD
///
/// Examples:
///   hytrace report -i trace.dat --comm spin --event sys_enter
///   hytrace report --cpu 0-1 --pid 1234 --format json | jq .
///   hytrace report --count
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ReportArgs {
    /// Input file.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "trace.dat"
    )]
    pub input: PathBuf,

    /// Only events recorded on these CPUs: a list like `0,2-3`.
    #[arg(long, value_name = "LIST")]
    pub cpu: Option<String>,

    /// Only events of this pid. Repeatable.
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<i32>,

    /// Only events of tasks with this command name.
    #[arg(long, value_name = "COMM")]
    pub comm: Option<String>,

    /// Only events whose name (or SYSTEM:NAME) matches this regular expression.
    #[arg(long = "event", value_name = "REGEX")]
    pub event: Option<String>,

    /// Only the events a filter names, and of them those it passes, in trace-cmd
    /// report's syntax: `EVENTS[:FILTER]`. EVENTS is a comma-separated list of
    /// SYSTEM/EVENT or of one name matched against systems and event names, each a
    /// POSIX regular expression matched whole, case ignored (`sched`,
    /// `sched/sched_sw.*`, `irq_handler_entry,softirq_entry`). FILTER compares the
    /// event's fields (as its format names them) with numbers (`== != < > <= >=`, or
    /// `field & 4`) and strings (`==`, `!=`, `=~` / `!~` for a regular expression, `~`
    /// for a shell glob), joined by `&&` and `||`, which bind equally and group from
    /// the left as in trace-cmd (parenthesize `a || (b && c)`), and negated by `!`. A
    /// field the event lacks is false; COMM is the task's name and CPU the record's
    /// CPU; a pointer field compared with a string is compared by the kernel function
    /// at its address. Repeatable: an event passing any -F is shown, and a kernel or
    /// user stack after a shown event too. Example:
    ///   -F 'sched/sched_switch: prev_state == 0 && next_comm ~ "kworker/*"'
    #[arg(short = 'F', value_name = "EVENTS[:FILTER]")]
    pub event_filters: Vec<String>,

    /// Each -F given after -v hides the events it matches instead (trace-cmd's -v):
    /// `-v -F 'sched_switch: prev_pid == 0'`.
    #[arg(short = 'v')]
    pub hide_after: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Print the number of events of each name (after filters) instead of the events.
    #[arg(long)]
    pub count: bool,

    /// Print the latency histograms aggregated in eBPF during the recording (record
    /// --hist), each followed by the same histogram recomputed from the recorded begin
    /// and end events (syscalls: raw_syscalls, irq/softirq: irq events, block: block
    /// events, pair: its two events) and whether their counts agree per key.
    #[arg(long)]
    pub hist: bool,

    /// Print a function_graph recording as ftrace prints its call graph: CPU column,
    /// durations with the + ! # * @ $ marks, nesting, leaf calls on one line, `} /* func
    /// */` for calls whose entry was not recorded, irq arrows, task-switch separators,
    /// `[module]` annotations; other recorded events appear as `/* comments */`.
    #[arg(long, conflicts_with = "hist")]
    pub graph: bool,

    /// Print the recorded stacks folded, one line per distinct stack with its count
    /// (`comm;main;a;…;recurse;entry_SYSCALL_64_after_hwframe_[k];… 1000`), root
    /// first, as flame graph tools read them: the user stack of each event (record
    /// --user-stack), then the kernel stack that follows it (record -T), kernel frames
    /// suffixed `_[k]`. The filters apply.
    #[arg(long, conflicts_with_all = ["hist", "graph", "count"])]
    pub folded: bool,

    /// Print a profile of every task from sched_switch and sched_wakeup events (record
    /// --profile): run time, run-queue wait (woken or preempted → switched in; count,
    /// p50, p99) and blocked time (switched out asleep → woken), then where it blocked:
    /// its blocked time summed per kernel + user stack at the switch (off-CPU time by
    /// stack), largest first, at most 5 stacks per task. The filters apply.
    #[arg(long, conflicts_with_all = ["hist", "graph", "count", "folded"])]
    pub profile: bool,

    /// Write the stacks --folded prints as an interactive SVG flame graph to OUT.svg
    /// (inferno; open it in a browser to search and zoom). Written like a recording:
    /// mode 0600, renamed into place, never through a link.
    #[arg(long = "flamegraph", value_name = "OUT.svg", conflicts_with_all = ["hist", "graph", "count", "folded"])]
    pub flame_graph: Option<PathBuf>,

    #[command(flatten)]
    pub stacks: SymbolArgs,

    /// Name the file:line of every kernel stack frame (record -T, --profile) from the
    /// kernel's debug info, with the functions inlined at each call as frames of their
    /// own (`=> syscall_enter_from_user_mode [inlined] (include/linux/entry-common.h:198)`)
    /// above trace-cmd's `=> do_syscall_64 (ffffffff8b8ccfba)`, which gains
    /// `(arch/x86/entry/common.c:74)`; in JSON a "kernel_stack" array, in --folded the
    /// inlined frames. The vmlinux with DWARF is the one whose build-id the recording
    /// stored, looked for in each --debug-dir and /usr/lib/debug as
    /// .build-id/<xx>/<rest>.debug, then as boot/vmlinux-RELEASE and
    /// lib/modules/RELEASE/vmlinux there, /boot/vmlinux-RELEASE and
    /// /lib/modules/RELEASE/build/vmlinux (Debian's linux-image-RELEASE-dbg installs
    /// it). The file must also place the functions where the recording's kallsyms has
    /// them (the kernel's KASLR shift). Module frames keep their kallsyms names.
    #[arg(long = "kernel-lines", conflicts_with_all = ["hist", "graph", "count", "profile"])]
    pub kernel_lines: bool,

    /// The kernel's vmlinux with debug info for --kernel-lines (implies it), instead of
    /// looking for it; refused when its build-id or symbols are not the recording's.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["hist", "graph", "count", "profile"])]
    pub vmlinux: Option<PathBuf>,

    /// Timestamps to the nanosecond (nine decimals) instead of the microsecond, as
    /// trace-cmd report -t.
    #[arg(short = 't')]
    pub full_timestamps: bool,

    /// The latency layout, as trace-cmd report -l: `COMM-PID CPU` (the command name
    /// cut to 8) followed by irqs-off (d, X or .), need-resched (N or .), hardirq or
    /// softirq (H, h, s or .) and the preempt depth's two hex digits (. for 0).
    #[arg(short = 'l')]
    pub latency: bool,

    /// Instead of the events: each CPU of the file's top-level buffer that has data,
    /// with the timestamp of its first event, as trace-cmd report --first-event.
    #[arg(long = "first-event")]
    pub first_event: bool,

    /// Instead of the events: each CPU of the file's top-level buffer that has data,
    /// with the timestamp of its last event (with --first-event, both), as trace-cmd
    /// report --last-event.
    #[arg(long = "last-event")]
    pub last_event: bool,

    /// After each timestamp, the time since the previous line's, `(+N)` in the
    /// timestamp's unit (microseconds, or nanoseconds with -t), as trace-cmd report
    /// --ts-diff.
    #[arg(long = "ts-diff")]
    pub ts_diff: bool,

    /// Exit with status 1 when the file is damaged: cut short (the events of its
    /// missing pages are not shown) or with corrupt pages skipped. Without it the
    /// intact events are printed, the damage is said on stderr, and the status is 0.
    #[arg(long)]
    pub strict: bool,
}

/// Where user-stack objects are looked for when a report symbolizes them.
#[derive(Debug, Clone, Args)]
pub struct SymbolArgs {
    /// Also look for objects (by build-id) in DIR: as DIR/<build-id> and
    /// DIR/.build-id/<xx>/<rest>.debug; also searched for separate debug info.
    /// Repeatable. Searched first, then the build-id cache, the path the object was
    /// recorded at, and /usr/lib/debug/.build-id.
    #[arg(long = "debug-dir", value_name = "DIR")]
    pub debug_dirs: Vec<PathBuf>,

    /// The build-id cache record kept the objects in [default:
    /// $XDG_CACHE_HOME/hytrace/build-id, else ~/.cache/hytrace/build-id].
    #[arg(long = "build-id-cache", value_name = "DIR")]
    pub build_id_cache: Option<PathBuf>,
}

impl SymbolArgs {
    pub fn object_search(&self) -> ObjectSearch {
        ObjectSearch {
            debug_dirs: self.debug_dirs.clone(),
            caches: self
                .build_id_cache
                .clone()
                .or_else(default_cache_dir)
                .map(|dir| BuildIdCache { dir })
                .into_iter()
                .collect(),
        }
    }
}

/// What `list` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListWhat {
    /// Every trace event, as SYSTEM:EVENT.
    Events,
    /// The tracers the kernel offers (whether they work here: see `hytrace doctor`).
    Tracers,
}

/// List the kernel's trace events or tracers.
///
/// Examples:
///   hytrace list events | grep ^sched:
///   hytrace list tracers
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ListArgs {
    #[arg(value_enum)]
    pub what: ListWhat,
}

/// Latency histograms computed in the kernel by eBPF, cheap enough to leave running.
///
/// Each SPEC names what to measure; samples are aggregated per key into log2 buckets
/// split into 16 linear sub-buckets, so p50/p90/p99 come within 1/16 of the exact
/// value. Prints count, avg, p50, p90, p99 and max per key and a log2 bar chart; with
/// --json one snapshot object per line. Ends when COMMAND exits, after --duration, or on
/// Ctrl-C / SIGTERM / SIGHUP, printing the final histograms and detaching everything.
///
/// SPEC:
///   syscalls    sys_enter -> sys_exit of each thread, keyed by syscall name
///               (COMMAND's or -P's process only, when given)
///   syscalls:by-comm
///               the same, keyed by command name and syscall
///   runq        wakeup (or preemption) -> switch-in of each task, keyed by CPU
///   runq:by-comm
///               the same, keyed by the task's command name
///   irq         irq_handler_entry -> irq_handler_exit, keyed by irq (all CPUs)
///   softirq     softirq_entry -> softirq_exit, keyed by vector (all CPUs)
///   kvm-exit    kvm_exit -> kvm_entry keyed by exit reason, where the KVM backend
///               emits them (kvm_intel, kvm_amd); elsewhere KVM_RUN ioctl round
///               trips keyed by vCPU thread, with a note saying so
///   block       block_rq_issue -> block_rq_complete of each request, keyed by
///               device
///   uprobe:PATH:SYMBOL
///               entry -> return of a user function (uprobe + uretprobe), per call
///   func:KFUNC  entry -> return of a kernel function (fentry + fexit, else kprobe +
///               kretprobe); fails naming what the kernel refused if neither loads
///   pair:SYS:BEGIN,SYS:END[,key=FIELD]
///               any two trace events on the same thread, keyed by an integer
///               field of BEGIN
///
/// Lost samples (start or histogram table full, ends without a start, programs the
/// kernel skipped because they were already running on the CPU, outliers the ring
/// buffer of `graph --on-outlier` had no room for) are counted per spec.
///
/// Examples:
///   hytrace hist syscalls -- ./spin 1000000
///   hytrace hist syscalls --interval 1 --duration 10
///   hytrace hist syscalls -P 1234 --json
///   hytrace hist syscalls --comm qemu-system-x86 --interval 1
///   hytrace hist irq softirq --duration 5
///   hytrace hist uprobe:./sleeper:nap -- ./sleeper 200
///   hytrace hist pair:syscalls:sys_enter_openat,syscalls:sys_exit_openat -- ls
///   hytrace hist kvm-exit block --interval 1
///   hytrace hist syscalls:by-comm --duration 10
///   hytrace hist syscalls runq --serve 127.0.0.1:9464
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct HistArgs {
    /// What to measure (see SPEC above).
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<String>,

    /// Print a snapshot every SECS seconds (in place on a terminal).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub interval: Option<std::time::Duration>,

    /// Only this process (by default: COMMAND's if given and --comm is not, else every
    /// process). Applies to the per-thread specs (syscalls, kvm-exit, uprobe, func,
    /// pair).
    #[arg(short = 'P', long = "pid", value_name = "PID")]
    pub pid: Option<u32>,

    /// Only threads with this command name (the kernel's comm: at most 15 characters,
    /// longer names are cut). Applies to the per-thread specs.
    #[arg(long, value_name = "COMM")]
    pub comm: Option<String>,

    /// One JSON object per snapshot per line.
    #[arg(long)]
    pub json: bool,

    /// Serve the histograms to Prometheus at http://ADDR/metrics (OpenMetrics text)
    /// until the session ends (without COMMAND or --duration: until SIGTERM or
    /// Ctrl-C). Each spec is a histogram family, `hytrace_syscall_latency_seconds{spec=
    /// "syscalls",key="getppid"}` and the like, with _count, _sum and buckets at powers
    /// of two nanoseconds (see --bucket-step), and every loss kind a counter,
    /// `hytrace_lost_samples_total{spec,kind}`. The maps are read at each scrape, never
    /// in a loop; the kernel-side aggregation never waits for a scrape. The endpoint has
    /// no authentication: a non-loopback ADDR gets a warning.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<std::net::SocketAddr>,

    /// With --serve: powers of two between bucket boundaries (1: 256 ns, 512 ns, 1 µs…;
    /// the default 2: 256 ns, 1 µs, 4 µs…), 20 boundaries from 256 ns.
    #[arg(long, value_name = "N", default_value_t = 2, requires = "serve",
          value_parser = clap::value_parser!(u32).range(1..=8))]
    pub bucket_step: u32,

    /// Also print, on stderr, the rare failures the eBPF programs report as they
    /// happen (a start or histogram table full, a key beyond its table, a stack not
    /// captured), each kind at its 1st, 2nd, 4th, 8th… occurrence per CPU, as
    /// `hytrace: eBPF (SPEC): WHAT (N on this CPU)`. The lost counts in the output are
    /// there with or without it.
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Keys shown in the table and bar charts (JSON has all).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,

    /// Also key every sample by the kernel and user stacks at the begin hook (where
    /// the thread was when the latency began), aggregated in the kernel (count and
    /// total latency per key and stacks); printed after the histograms as each key's
    /// stacks by total latency (at most --top per key). User stacks are taken whole
    /// with build-id frames, as record --user-stack. Every spec but runq and block
    /// (whose latency begins in another task).
    #[arg(long)]
    pub stacks: bool,

    /// With --stacks: write the stacks folded (`key;root;…;leaf NS`, weighted by
    /// nanoseconds) to FILE, for flame graph tools.
    #[arg(long, value_name = "FILE", requires = "stacks")]
    pub folded: Option<PathBuf>,

    /// With --stacks: write an interactive SVG flame graph of the stacks, weighted by
    /// nanoseconds, to OUT.svg.
    #[arg(long = "flamegraph", value_name = "OUT.svg", requires = "stacks")]
    pub flame_graph: Option<PathBuf>,

    #[command(flatten)]
    pub session: SessionArgs,
}

/// A deep dive into kernel functions: records the function_graph of each call of FUNC
/// (and everything it calls) and prints the call trees as ftrace prints them, then
/// where the time went (self time per function over the trees shown).
///
/// With --threshold only calls of FUNC slower than USECS are printed (like
/// tracing_thresh). Ends when COMMAND exits, after --duration, or on Ctrl-C.
/// Needs the function_graph tracer in tracefs instances (`hytrace doctor`); where an
/// instance cannot pick FUNC itself (no set_graph_function, as on 6.12), everything
/// COMMAND or -P calls is recorded and FUNC's trees are picked when reading.
///
/// Examples:
///   hytrace graph -g vfs_read -- cat /proc/version
///   hytrace graph -g do_nanosleep --threshold 5000 -- ./sleeper 20 20
///   hytrace graph -g 'ksys_*' -P 1234 --duration 2 -o deep.dat
///   hytrace graph -g do_nanosleep --on-outlier syscalls:5000 -- ./sleeper 10 100
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct GraphArgs {
    /// Function whose calls to graph (globs allowed). Repeatable.
    #[arg(
        short = 'g',
        long = "graph-function",
        value_name = "FUNC",
        required = true
    )]
    pub functions: Vec<String>,

    /// Only print calls of FUNC that took longer than USECS microseconds.
    #[arg(long, value_name = "USECS")]
    pub threshold: Option<f64>,

    /// Wait for outliers instead of recording everything: an eBPF aggregator runs on
    /// SPEC (any `hytrace hist` spec) while a flight-recorder instance keeps FUNC's
    /// recent function_graph in overwrite mode; each sample over USECS microseconds
    /// takes a snapshot of it, and the sample, FUNC's call tree of that thread within
    /// the sample and the histogram so far are printed (samples without a FUNC call
    /// inside are said on stderr and skipped). With COMMAND every outlier until it
    /// exits is printed, without it the first (see --count). Where instances have no
    /// set_graph_function (6.12), the recorder runs only while FUNC does: kprobes on
    /// FUNC's entry and return switch its tracing on and off (needs kprobe events).
    #[arg(long, value_name = "SPEC:USECS", conflicts_with = "threshold")]
    pub on_outlier: Option<String>,

    /// With --on-outlier: stop after N outliers have been printed.
    #[arg(long, value_name = "N", requires = "on_outlier", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    #[command(flatten)]
    pub processes: ProcessArgs,

    /// Functions listed in the time summary.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Keep the recording in FILE (by default it lives in a private directory of
    /// $TMPDIR and is removed after printing). With --on-outlier: the flight
    /// recorder's snapshot of the first printed outlier, of later ones in FILE.2,
    /// FILE.3, … Written as `record -o` writes: mode 0600, renamed into place.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub output_file: OutputFileArgs,

    #[command(flatten)]
    pub buffer: BufferArgs,

    #[command(flatten)]
    pub session: SessionArgs,
}

/// How an output file is written (record -o, graph -o).
#[derive(Debug, Args)]
pub struct OutputFileArgs {
    /// Mode of the file written, in octal (default 0600: a recording holds kernel
    /// addresses from /proc/kallsyms, command lines and what the traced programs wrote,
    /// so like perf.data it is for its owner alone). Widen it explicitly, e.g. 0640.
    #[arg(long = "mode", value_name = "OCTAL", value_parser = parse_mode, default_value = "0600")]
    pub mode: u32,

    /// Replace a symbolic link at FILE (the link itself: nothing is ever written through
    /// it). Without it such a FILE is refused. A regular FILE is always replaced, by
    /// renaming the finished recording over it; a device, FIFO or socket never is.
    #[arg(long)]
    pub force: bool,
}

impl OutputFileArgs {
    /// The output file at `path` with these settings.
    pub fn at(&self, path: &std::path::Path) -> crate::private_files::OutputFile {
        crate::private_files::OutputFile {
            path: path.to_path_buf(),
            mode: self.mode,
            replace_link: self.force,
        }
    }
}

/// An octal file mode of permission bits only (no set-id or sticky bits).
fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    let mode = u32::from_str_radix(digits, 8)
        .map_err(|_| format!("`{text}` is not an octal mode such as 0600 or 0640"))?;
    if mode > 0o777 {
        return Err(format!(
            "`{text}` has bits beyond rwxrwxrwx (0777); set-id and sticky bits are refused"
        ));
    }
    if mode & 0o600 != 0o600 {
        return Err(format!(
            "`{text}` leaves the owner unable to read and write the file; use at least 0600"
        ));
    }
    Ok(mode)
}

/// How a measuring session (record, hist, graph) runs and ends.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// Stop after SECS seconds (counted from the start of tracing).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<std::time::Duration>,

    /// Command to run while tracing (after `--`), held at a start gate until tracing is
    /// on so its first system call is seen. The session ends when it exits.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// A positive, finite number of seconds.
fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| format!("must be a positive number of seconds, not `{text}`"))
}

/// The processes a recording follows (record, graph).
#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Only this process id, besides COMMAND: its events (set_event_pid) or the calls
    /// it makes (set_ftrace_pid, for function tracers). Repeatable.
    #[arg(short = 'P', long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
}

/// The ring buffer of a recording's instance (record, graph).
#[derive(Debug, Args)]
pub struct BufferArgs {
    /// Ring-buffer size per CPU, in KB (default: 4096 for record; 16384 for graph,
    /// whose function_graph fills buffers fast).
    #[arg(short = 'b', long = "buffer-size", value_name = "KB", value_parser = clap::value_parser!(u64).range(1..))]
    pub buffer_kb: Option<u64>,
}

impl BufferArgs {
    /// The size asked for, else `default` KB.
    pub fn kb_or(&self, default: u64) -> u64 {
        self.buffer_kb.unwrap_or(default)
    }
}

/// Write a recording in another tool's format.
///
/// --perfetto writes Perfetto's native protobuf trace, which ui.perfetto.dev and the
/// trace processor open (they cannot open trace.dat): the process tree from the
/// recording's saved command names and tgids, then every event per CPU, as Perfetto's
/// typed message where it has one (sched_switch, wakeups, fork/exit, irq, softirq,
/// sys_enter/sys_exit, trace_marker prints, funcgraph_entry/exit, kvm_userspace_exit),
/// from which Perfetto builds its CPU tracks, thread states and slices, and as its
/// generic event with every field otherwise. On tracks of their own: each key of the
/// histograms record --hist stored (a slice over the recording, count and percentiles
/// as annotations), and kvm exits paired per vCPU thread as `hytrace kvm` pairs them (a
/// slice per exit named by its reason, QEMU's part nested), and in a snapshot graph
/// --on-outlier -o kept, the samples over the threshold it was taken for (a slice per
/// sample named by its key, on a track per spec and thread). The user stacks record
/// --user-stack stored become Perfetto's callstack samples, one per event at its time
/// on its thread, symbolized as report symbolizes them (see --debug-dir): the UI shows
/// them per process and draws a flame graph of any selection. Works on trace-cmd's
/// files too. Written mode 0600 (see --mode) in a private directory beside OUT and
/// renamed into place.
///
/// Examples:
///   hytrace export -i trace.dat --perfetto trace.pftrace
///   hytrace export -i g.dat --perfetto g.pftrace --mode 0644
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ExportArgs {
    /// Input file (hytrace's or trace-cmd's trace.dat).
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        default_value = "trace.dat"
    )]
    pub input: PathBuf,

    /// Write Perfetto's protobuf trace to OUT.
    #[arg(long, value_name = "OUT", required = true)]
    pub perfetto: PathBuf,

    #[command(flatten)]
    pub symbols: SymbolArgs,

    #[command(flatten)]
    pub output_file: OutputFileArgs,
}
