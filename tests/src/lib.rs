//! Helpers shared by the integration tests: where the binaries are, running hytrace and
//! its peers, skipping when the machine lacks root or a tool, and tracefs snapshots.

use std::{
    ffi::OsStr,
    fmt::Display,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
};

pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Code the test workloads run, where a test needs to know its name.
pub mod workloads {
    /// getppid(2) made here, with the `syscall` instruction in this function, so a user
    /// stack taken at the system call starts in it (named
    /// `hytrace_tests::workloads::raw_getppid` once demangled).
    #[inline(never)]
    pub fn raw_getppid() -> i64 {
        let ret: i64;
        // SAFETY: getppid takes no arguments, cannot fail and touches no memory; the
        // syscall instruction clobbers rcx and r11, declared here.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") 110i64 => ret,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack, preserves_flags)
            );
        }
        ret
    }
}

/// Top-level tracefs files a session must leave as it found them.
pub const GLOBAL_FILES: &[&str] = &[
    "current_tracer",
    "tracing_on",
    "trace_clock",
    "set_event",
    "buffer_size_kb",
    "set_event_pid",
    "tracing_cpumask",
];

/// The target directory this test binary was built into (target/<profile>).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("test executable lives in target/<profile>/deps")
}

/// The hytrace binary of the same profile; `cargo xtask test` builds it first.
pub fn hytrace_bin() -> PathBuf {
    let path = profile_dir().join("hytrace");
    assert!(
        path.exists(),
        "{} does not exist: build it first (`cargo xtask test` does)",
        path.display()
    );
    path
}

/// Why a root test cannot run here, if it cannot.
pub fn root_skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root".into());
    }
    if !Path::new(TRACEFS).join("instances").is_dir() {
        return Some(format!("tracefs is not mounted at {TRACEFS}"));
    }
    None
}

/// Says why the running test is skipped: on stderr, and as a line
/// `TEST<TAB>REASON` in the file `HYTRACE_SKIP_LOG` names, if set (`cargo xtask test`
/// lists those lines in its summary, since test output is captured).
pub fn skip(reason: &str) {
    eprintln!("skipped: {reason}");
    if let Some(log) = std::env::var_os("HYTRACE_SKIP_LOG") {
        let test = std::thread::current()
            .name()
            .unwrap_or("unnamed test")
            .to_string();
        let line = format!("{test}\t{reason}\n");
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        if let Err(e) = appended {
            eprintln!("cannot note the skip in HYTRACE_SKIP_LOG: {e}");
        }
    }
}

/// Returns early from a test, saying why, when it cannot run on this machine.
#[macro_export]
macro_rules! require_root {
    () => {
        if let Some(reason) = $crate::root_skip_reason() {
            $crate::skip(&reason);
            return;
        }
    };
}

/// Returns early when `tool` is not installed.
#[macro_export]
macro_rules! require_tool {
    ($tool:expr) => {
        if !$crate::have_tool($tool) {
            $crate::skip(&format!("{} is not installed", $tool));
            return;
        }
    };
}

pub fn have_tool(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs hytrace with `args`, returning its output (any exit status).
pub fn hytrace(args: &[&str]) -> Output {
    Command::new(hytrace_bin())
        .args(args)
        .output()
        .expect("cannot run hytrace")
}

/// Asserts that the command `what` exited with status 0, showing its stderr if not.
#[track_caller]
pub fn assert_succeeded(out: &Output, what: impl Display) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs hytrace and asserts it succeeded, returning stdout.
#[track_caller]
pub fn hytrace_ok(args: &[&str]) -> String {
    let out = hytrace(args);
    assert_succeeded(&out, format_args!("hytrace {args:?}"));
    String::from_utf8(out.stdout).expect("report output is UTF-8")
}

/// Runs `hytrace record …`, asserts it succeeded, and returns its summary (stderr).
#[track_caller]
pub fn record_ok(args: &[&str]) -> String {
    let out = hytrace(args);
    assert_succeeded(&out, format_args!("hytrace {args:?}"));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `ARGS -- COMMAND...` as one argument list; just `ARGS` when `command` is empty.
pub fn with_command<'a>(args: &[&'a str], command: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    if !command.is_empty() {
        all.push("--");
        all.extend_from_slice(command);
    }
    all
}

/// Runs `hytrace record OPTIONS... [-- COMMAND...]` (no `--` without a command), asserts
/// it succeeded, and returns its summary (stderr).
#[track_caller]
pub fn hytrace_record(options: &[&str], command: &[&str]) -> String {
    record_ok(&with_command(&[&["record"], options].concat(), command))
}

/// `hytrace record -e raw_syscalls:sys_enter -f 'id == 110' -T -F -o FILE -- COMMAND`:
/// the getppid calls of COMMAND, each followed by its kernel stack; returns the summary.
#[track_caller]
pub fn record_getppid_kernel_stacks(file: &str, command: &[&str]) -> String {
    hytrace_record(
        &[
            "-e",
            "raw_syscalls:sys_enter",
            "-f",
            "id == 110",
            "-T",
            "-F",
            "-o",
            file,
        ],
        command,
    )
}

/// Runs `hytrace report -i FILE OPTIONS...`, asserts it succeeded, and returns stdout.
#[track_caller]
pub fn hytrace_report(file: &str, options: &[&str]) -> String {
    let text = hytrace_report_text(file, options);
    // The plain report's first line is trace-cmd's `cpus=N`.
    match text.strip_prefix("cpus=") {
        Some(rest) => rest.split_once('\n').map_or("", |(_, r)| r).to_string(),
        None => text,
    }
}

/// `hytrace report -i FILE OPTIONS...`'s whole stdout, trace-cmd's `cpus=N` first line
/// included.
#[track_caller]
pub fn hytrace_report_text(file: &str, options: &[&str]) -> String {
    hytrace_ok(&[&["report", "-i", file], options].concat())
}

/// Records as [`hytrace_record`] does, then returns the plain `hytrace report` of the
/// file the options name with `-o`.
#[track_caller]
pub fn record_then_report(options: &[&str], command: &[&str]) -> String {
    let file = options
        .windows(2)
        .find(|pair| pair[0] == "-o")
        .map(|pair| pair[1])
        .expect("the record options name the file with -o");
    hytrace_record(options, command);
    hytrace_report(file, &[])
}

/// Runs hytrace with `args` and asserts it failed with stderr containing `needle`;
/// returns that stderr.
#[track_caller]
pub fn assert_fails_with(args: &[&str], needle: &str) -> String {
    let out = hytrace(args);
    assert!(!out.status.success(), "hytrace {args:?} succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains(needle), "stderr: {stderr}");
    stderr
}

/// Runs hytrace with `args` and asserts it failed with a one-line reason containing
/// `needle` on stderr; returns that stderr.
#[track_caller]
pub fn assert_one_line_error(args: &[&str], needle: &str) -> String {
    let stderr = assert_fails_with(args, needle);
    assert_eq!(stderr.trim_end().lines().count(), 1, "stderr: {stderr}");
    stderr
}

/// Starts hytrace with `args` (stdout discarded, stderr piped) without waiting for it.
pub fn spawn_hytrace(args: &[&str]) -> Child {
    Command::new(hytrace_bin())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hytrace")
}

/// Waits for a hytrace [`spawn_hytrace`] started, asserts it succeeded, and returns its
/// stderr.
#[track_caller]
pub fn wait_ok(child: Child) -> String {
    let out = child.wait_with_output().expect("wait for hytrace");
    assert_succeeded(&out, "hytrace");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `program` with `args` to its end, returning its output (any exit status).
pub fn run(program: impl AsRef<OsStr>, args: &[&str]) -> Output {
    let program = program.as_ref();
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

/// Runs `program` with `args`, asserts it succeeded, and returns its stdout.
#[track_caller]
pub fn run_ok(program: impl AsRef<OsStr>, args: &[&str]) -> String {
    let program = program.as_ref();
    let out = run(program, args);
    assert_succeeded(&out, format_args!("{} {args:?}", program.display()));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scratch directory removed at drop: created exclusively with an unpredictable name
/// and mode 0700, so nothing another user planted in /tmp is written through.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::os::unix::fs::DirBuilderExt;
        for _ in 0..16 {
            let dir = std::env::temp_dir().join(format!(
                "hytrace-test-{tag}-{}-{:016x}",
                std::process::id(),
                random_u64()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return TempDir(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create {}: {e}", dir.display()),
            }
        }
        panic!("no unused temporary directory name for {tag}");
    }

    /// A new scratch directory tagged `tag` and the path of `file` in it (not created).
    /// The directory lasts as long as the returned `TempDir`: bind it (`_dir` will do)
    /// for as long as the file is used.
    pub fn with_file(tag: &str, file: &str) -> (TempDir, String) {
        let dir = TempDir::new(tag);
        let path = dir.path_str(file);
        (dir, path)
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.0
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn path_str(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Eight random bytes from the kernel.
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .expect("read /dev/urandom");
    u64::from_ne_bytes(bytes)
}

/// Contents of the global tracefs files a session must not change.
pub fn global_snapshot() -> Vec<(String, String)> {
    GLOBAL_FILES
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(Path::new(TRACEFS).join(f)).unwrap_or_default();
            (f.to_string(), text)
        })
        .collect()
}

/// Instance directories whose name mentions hytrace.
pub fn hytrace_instances() -> Vec<String> {
    std::fs::read_dir(Path::new(TRACEFS).join("instances"))
        .map(|dir| {
            dir.filter_map(std::result::Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("hytrace"))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that no tracefs instance whose name mentions hytrace is left.
#[track_caller]
pub fn assert_no_hytrace_instance() {
    assert_eq!(hytrace_instances(), Vec::<String>::new());
}

/// Asserts that a session left tracefs as it found it: no hytrace instance is left and
/// the global files read as in `before` (a [`global_snapshot`]).
#[track_caller]
pub fn assert_tracefs_as_before(before: &[(String, String)]) {
    assert_no_hytrace_instance();
    assert_eq!(global_snapshot(), before);
}

/// Asserts that `uprobe_events` holds no probe of a hytrace session.
#[track_caller]
pub fn assert_no_hytrace_uprobe() {
    let probes =
        std::fs::read_to_string(Path::new(TRACEFS).join("uprobe_events")).unwrap_or_default();
    assert!(!probes.contains("hytrace_"), "{probes}");
}

/// A tracefs instance made by hand, named `PREFIX-PID` (not like a hytrace session),
/// removed on drop.
pub struct HandInstance {
    name: String,
    dir: PathBuf,
}

impl HandInstance {
    /// Creates the instance `PREFIX-<this process's pid>` and writes each `(file, value)`
    /// of `settings` into it, in order.
    pub fn create(prefix: &str, settings: &[(&str, &str)]) -> HandInstance {
        let name = format!("{prefix}-{}", std::process::id());
        let dir = Path::new(TRACEFS).join("instances").join(&name);
        std::fs::create_dir(&dir).expect("create instance");
        let instance = HandInstance { name, dir };
        for (file, value) in settings {
            instance.write(file, value);
        }
        instance
    }

    /// The instance's name (its directory under `instances`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The path of `file` in the instance.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes `value` to the instance's `file`, panicking if that fails.
    pub fn write(&self, file: &str, value: &str) {
        std::fs::write(self.path(file), value)
            .unwrap_or_else(|e| panic!("write {value} to {file}: {e}"));
    }
}

impl Drop for HandInstance {
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = std::fs::write(self.path("tracing_on"), "0");
            let _ = std::fs::write(self.path("events/enable"), "0");
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Entries of `dir` (not recursing) whose names start with `prefix`.
pub fn entries_named(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(std::result::Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Whether every entry of `dir` whose name starts with `prefix` is a symbolic link
/// (true when there is none).
pub fn all_symlinks(dir: &Path, prefix: &str) -> bool {
    entries_named(dir, prefix).iter().all(|name| {
        std::fs::symlink_metadata(dir.join(name))
            .unwrap()
            .file_type()
            .is_symlink()
    })
}

/// The number after the first `"NAME":` of a JSON text (panics when there is none).
#[track_caller]
pub fn json_u64(json: &str, name: &str) -> u64 {
    let field = format!("\"{name}\":");
    let at = json
        .find(&field)
        .unwrap_or_else(|| panic!("no {field} in {json}"));
    leading_u64(&json[at + field.len()..])
}

/// The JSON object of `hytrace kvm --json` whose `"reason"` is `reason`, up to the end
/// of its `qemu_events` list (panics when there is none).
#[track_caller]
pub fn kvm_reason_object<'a>(json: &'a str, reason: &str) -> &'a str {
    let at = json
        .find(&format!("{{\"reason\":\"{reason}\""))
        .unwrap_or_else(|| panic!("no reason {reason} in {json}"));
    let end = json[at..].find("]}").unwrap() + at + 2;
    &json[at..end]
}

/// The JSON line of `hytrace kvm --json`'s output (the traced command prints too).
#[track_caller]
pub fn kvm_json_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON in {stdout}"))
}

/// Asserts that `json`'s row of `reason` has `count` exits served by exactly `count`
/// `cpu_out` events and no other QEMU event.
#[track_caller]
pub fn assert_kvm_reason_with_markers(json: &str, reason: &str, count: u64) {
    let row = kvm_reason_object(json, reason);
    assert_eq!(json_u64(row, "count"), count, "{json}");
    assert!(
        row.ends_with(&format!(
            "\"qemu_events\":[{{\"event\":\"cpu_out\",\"count\":{count}}}]}}"
        )),
        "{row}"
    );
}

/// The `value` of the one `cpu_out` event on each `kvm --timeline` line holding
/// `needle`, in order (asserts each such line has exactly one).
#[track_caller]
pub fn kvm_timeline_marker_values(timeline: &str, needle: &str) -> Vec<u64> {
    timeline
        .lines()
        .filter(|l| l.contains(needle))
        .map(|l| {
            let (_, events) = l.split_once(" | ").expect(l);
            assert_eq!(events.matches("cpu_out").count(), 1, "{l}");
            events.rsplit(' ').next().unwrap().parse().expect(l)
        })
        .collect()
}

/// The numbers after every `"NAME":` of a JSON text, in order.
#[track_caller]
pub fn json_u64s(json: &str, name: &str) -> Vec<u64> {
    let field = format!("\"{name}\":");
    json.match_indices(&field)
        .map(|(at, _)| leading_u64(&json[at + field.len()..]))
        .collect()
}

/// The digits `text` starts with, as a number.
#[track_caller]
fn leading_u64(text: &str) -> u64 {
    text.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Runs `hytrace graph -g do_nanosleep TRIGGER... -- SLEEPER 10 100` (the test program
/// sleeper: ten naps of 1 ms, then one of 100 ms), asserts it succeeded, and returns
/// the printed graph.
#[track_caller]
pub fn graph_sleeper_naps(sleeper: &str, trigger: &[&str]) -> String {
    let args = [&["graph", "-g", "do_nanosleep"], trigger].concat();
    hytrace_ok(&with_command(&args, &[sleeper, "10", "100"]))
}

/// A function_graph duration column, "+ 14.536 us" → 14536 ns.
pub fn graph_duration_ns(column: &str) -> Option<u64> {
    graph_duration(column).map(|(ns, _)| ns)
}

/// A function_graph duration column as (nanoseconds shown, resolution in nanoseconds):
/// the kernel prints three decimals of a microsecond, fewer from five integer digits
/// on ("+ 10490.30 us" → (10490300, 10)) and none from seven ("3000000 us").
pub fn graph_duration(column: &str) -> Option<(u64, u64)> {
    let text = column
        .trim()
        .trim_start_matches(['+', '!', '#', '*', '@', '$'])
        .trim();
    let number = text.strip_suffix("us")?.trim();
    let (us, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.len() > 3 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let shown = format!("{frac:0<3}").parse::<u64>().ok()?;
    let resolution = 10u64.pow(3 - frac.len() as u32);
    Some((us.parse::<u64>().ok()? * 1000 + shown, resolution))
}

/// How many lines of function_graph text open a depth-0 call of `func`
/// (end in `|  FUNC() {`).
pub fn count_root_calls(graph: &str, func: &str) -> usize {
    let opener = format!("|  {func}() {{");
    graph.lines().filter(|l| l.ends_with(&opener)).count()
}

/// The last line of function_graph text that closes a depth-0 call (ends in `|  }`),
/// and the duration it prints in ns; panics when there is none.
#[track_caller]
pub fn last_root_close(graph: &str) -> (&str, u64) {
    let closer = graph
        .lines()
        .rfind(|l| l.ends_with("|  }"))
        .unwrap_or_else(|| panic!("no closer at depth 0:\n{graph}"));
    let column = closer.split_once(')').unwrap().1.split_once('|').unwrap().0;
    (closer, graph_duration_ns(column).unwrap())
}

/// Count of lines of `text` that contain `needle`.
pub fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// Event name → count from trace-cmd-style report lines (`... name: payload`).
pub fn event_counts(report: &str) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for line in report.lines() {
        if let Some(name) = event_name_of(line) {
            *counts.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// The event name of a report line: the word after `SECONDS.MICROS: `.
pub fn event_name_of(line: &str) -> Option<&str> {
    let after_cpu = line.split_once("] ")?.1;
    let after_ts = after_cpu.split_once(": ")?.1;
    let name = after_ts.split(':').next()?;
    (!name.is_empty() && !name.contains(' ')).then_some(name)
}

/// The lines of a report whose event is `name` (see [`event_name_of`]).
pub fn lines_of_event<'a>(report: &'a str, name: &str) -> impl Iterator<Item = &'a str> {
    report
        .lines()
        .filter(move |l| event_name_of(l) == Some(name))
}

/// Whitespace runs collapsed to one space, ends trimmed.
pub fn normalize_spaces(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// tests/c/deep.c, the stack workload.
pub const DEEP_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/c/deep.c");

/// Builds deep.c into `dir` as the stack tests need it (-O0 -g, frame pointers) and
/// returns the executable's path.
pub fn build_deep(dir: &TempDir) -> String {
    let exe = dir.path_str("deep");
    run_ok(
        "gcc",
        &[
            "-O0",
            "-g",
            "-fno-omit-frame-pointer",
            "-o",
            &exe,
            DEEP_SOURCE,
        ],
    );
    exe
}

/// The DOM headless Chromium builds from the file at `path` (`--dump-dom`), with the
/// flags that keep it off the network and out of the user's profile.
pub fn chromium_dom(path: &Path) -> String {
    let profile = TempDir::new("chromium");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.root().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", path.display()))
        .stdin(Stdio::null())
        .output()
        .expect("cannot run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One user stack frame line without its `+0xOFFSET` (which depends on the compiler).
pub fn frame_without_offset(frame: &str) -> String {
    let (name, rest) = frame.split_once(' ').unwrap_or((frame, ""));
    let name = name.split('+').next().unwrap();
    format!("{name} {rest}")
}

/// The user stack (frames without offsets) of each `event` line of a report.
pub fn user_stacks_of_events(report: &str, event: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut in_user_stack = false;
    for line in report.lines() {
        if line == "<user stack trace >" {
            in_user_stack = true;
            continue;
        }
        if let Some(frame) = line.strip_prefix("=> ") {
            if in_user_stack && let Some(frames) = out.last_mut() {
                frames.push(frame_without_offset(frame));
            }
            continue;
        }
        in_user_stack = false;
        if event_name_of(line) == Some(event) {
            out.push(Vec::new());
        }
    }
    out
}

/// `record -e raw_syscalls:sys_enter -f 'id == 110' [-T] --user-stack --build-id-cache
/// CACHE -F -o FILE -- COMMAND`: the getppid calls of COMMAND with their user stacks
/// (and kernel stacks with `kernel_stacks`), the objects kept in CACHE; returns the
/// summary.
#[track_caller]
pub fn record_getppid_user_stacks(
    dat: &str,
    cache: &str,
    kernel_stacks: bool,
    command: &[&str],
) -> String {
    let mut options = vec!["-e", "raw_syscalls:sys_enter", "-f", "id == 110"];
    if kernel_stacks {
        options.push("-T");
    }
    options.extend(["--user-stack", "--build-id-cache", cache, "-F", "-o", dat]);
    hytrace_record(&options, command)
}

/// `record -e raw_syscalls:sys_enter -f 'id == 110' --user-stack -F -o FILE -- rstack
/// N` (`rstack` at `rstack_path`); returns the summary.
#[track_caller]
pub fn record_rstack_user_stacks(dat: &str, rstack_path: &str, calls: u64) -> String {
    hytrace_record(
        &[
            "-e",
            "raw_syscalls:sys_enter",
            "-f",
            "id == 110",
            "--user-stack",
            "--no-build-id-cache",
            "-F",
            "-o",
            dat,
        ],
        &[rstack_path, &calls.to_string()],
    )
}

/// The innermost frame of every rstack getppid stack, as report prints it (offset
/// left out): `hytrace_tests::workloads::raw_getppid` at the line of its `asm!`.
pub fn raw_getppid_frame(rstack_path: &str) -> String {
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs");
    let asm_line = std::fs::read_to_string(source)
        .unwrap()
        .lines()
        .position(|l| l.contains("std::arch::asm!("))
        .unwrap()
        + 1;
    let rstack = std::fs::canonicalize(rstack_path).unwrap();
    format!(
        "hytrace_tests::workloads::raw_getppid ({source}:{asm_line}) [{}]",
        rstack.display()
    )
}

/// The ids of every eBPF program loaded in the kernel now (BPF_PROG_GET_NEXT_ID), to
/// tell which programs a run left loaded.
pub fn bpf_program_ids() -> Vec<u32> {
    /// `union bpf_attr` as BPF_PROG_GET_NEXT_ID reads it.
    #[repr(C)]
    struct NextId {
        start_id: u32,
        next_id: u32,
        open_flags: u32,
    }
    const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
    let mut ids = Vec::new();
    let mut attr = NextId {
        start_id: 0,
        next_id: 0,
        open_flags: 0,
    };
    loop {
        // SAFETY: attr is a valid, initialized bpf_attr prefix of the size passed; the
        // kernel writes only next_id.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_GET_NEXT_ID,
                &mut attr as *mut NextId,
                std::mem::size_of::<NextId>(),
            )
        };
        if rc != 0 {
            break;
        }
        ids.push(attr.next_id);
        attr.start_id = attr.next_id;
    }
    ids
}

/// Asserts that no eBPF program loaded after `before` (a [`bpf_program_ids`]) is still
/// loaded.
#[track_caller]
pub fn assert_no_program_left(before: &[u32]) {
    let newest = before.iter().max().copied().unwrap_or(0);
    let left: Vec<u32> = bpf_program_ids()
        .into_iter()
        .filter(|id| *id > newest)
        .collect();
    assert_eq!(left, Vec::<u32>::new(), "eBPF programs left loaded");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_durations_keep_the_printed_resolution() {
        assert_eq!(graph_duration("+ 14.536 us   "), Some((14_536, 1)));
        assert_eq!(graph_duration("! 10490.30 us "), Some((10_490_300, 10)));
        assert_eq!(graph_duration("@ 123456.7 us "), Some((123_456_700, 100)));
        assert_eq!(
            graph_duration("$ 3000000 us  "),
            Some((3_000_000_000, 1000))
        );
        assert_eq!(graph_duration("              "), None);
        assert_eq!(graph_duration_ns("  0.250 us"), Some(250));
    }

    #[test]
    fn event_names_come_from_report_lines() {
        let line = "            bash-3185  [001]  6599.516832: sys_exit:             NR 1 = 2";
        assert_eq!(event_name_of(line), Some("sys_exit"));
        assert_eq!(event_name_of("cpus=2"), None);
        assert_eq!(normalize_spaces("  a   b\tc "), "a b c".to_string());
    }
}
