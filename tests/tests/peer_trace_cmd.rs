//! hytrace report reads trace.dat files written by trace-cmd and prints the same lines.

use hytrace_tests::{
    HandInstance, TempDir, event_name_of, hytrace_report, normalize_spaces, require_root,
    require_tool, run_ok,
};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");
const MARKER: &str = env!("CARGO_BIN_EXE_marker");

/// Event lines and loss lines ("CPU:0 [123 EVENTS DROPPED]").
fn event_lines(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|l| event_name_of(l).is_some() || is_loss(l))
        .map(normalize_spaces)
        .collect()
}

/// "CPU:0 [12 EVENTS DROPPED]", after the buffer name in files with several buffers.
fn is_loss(line: &str) -> bool {
    let line = line.split_once(": CPU:").map_or(line, |(_, rest)| rest);
    line.trim_start_matches("CPU:")
        .split_once(' ')
        .is_some_and(|(cpu, rest)| {
            cpu.chars().all(|c| c.is_ascii_digit()) && rest.ends_with("EVENTS DROPPED]")
        })
}

/// trace-cmd extract of an instance and trace-cmd report of the file (its stdout).
fn extract_and_report(instance: HandInstance, dat: &str) -> String {
    instance.write("tracing_on", "0");
    run_ok("trace-cmd", &["extract", "-B", instance.name(), "-o", dat]);
    drop(instance);
    run_ok("trace-cmd", &["report", dat])
}

/// An instance of 8 KiB per CPU that spin's 20000 getppid calls overrun on CPU 0: the
/// file's first CPU 0 page says how many events were overwritten, and hytrace prints
/// trace-cmd's "CPU:0 [N EVENTS DROPPED]" line before the same record, with the same N.
#[test]
fn prints_dropped_events_where_trace_cmd_does() {
    require_root!();
    require_tool!("trace-cmd");
    let dir = TempDir::new("peer-loss");
    let instance = HandInstance::create(
        "hyt-peer-loss",
        &[("buffer_size_kb", "8"), ("events/raw_syscalls/enable", "1")],
    );
    run_ok("taskset", &["-c", "0", SPIN, "20000"]);
    let dat = dir.path_str("loss.dat");
    // (trace-cmd extract removes the instance it read.)
    let theirs = event_lines(&extract_and_report(instance, &dat));
    let ours = event_lines(&hytrace_report(&dat, &[]));
    let losses: Vec<&String> = theirs.iter().filter(|l| is_loss(l)).collect();
    assert!(!losses.is_empty(), "trace-cmd saw no loss");
    for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(b, a, "line {i} differs");
    }
    assert_eq!(ours.len(), theirs.len());
}

/// Events of sched, raw_syscalls and irq plus 50 marker writes, extracted by trace-cmd:
/// hytrace prints every event line exactly as trace-cmd report does (spacing aside).
#[test]
fn reads_trace_cmd_extract_files_line_for_line() {
    require_root!();
    require_tool!("trace-cmd");
    let dir = TempDir::new("peer");
    let instance = HandInstance::create(
        "hyt-peer",
        &[
            ("buffer_size_kb", "2048"),
            ("events/sched/enable", "1"),
            ("events/raw_syscalls/enable", "1"),
            ("events/irq/enable", "1"),
        ],
    );
    let name = instance.name().to_string();
    let marker_path = instance.path("trace_marker");
    run_ok(MARKER, &["50", &marker_path.to_string_lossy()]);
    run_ok(SPIN, &["2000"]);
    let dat = dir.path_str("peer.dat");
    let theirs = event_lines(&extract_and_report(instance, &dat));
    let ours = event_lines(&hytrace_report(&dat, &[]));
    assert!(theirs.len() > 4000, "only {} events recorded", theirs.len());
    // trace-cmd extract also takes the top-level buffer (where other tests' marker
    // writes land); the lines of our instance carry its name.
    let instance_prefix = format!("{name}:");
    assert_eq!(
        theirs
            .iter()
            .filter(|l| l.starts_with(&instance_prefix)
                && l.contains("tracing_mark_write: hytrace-marker"))
            .count(),
        50
    );
    for (i, (a, b)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(b, a, "line {i} differs");
    }
    assert_eq!(ours.len(), theirs.len());
}

/// hytrace report's whole stdout for `dat` with `options`, asserted equal to trace-cmd
/// report's (the first line that differs is named).
#[track_caller]
fn assert_reports_as_trace_cmd(dat: &str, options: &[&str]) -> String {
    let ours = hytrace_tests::hytrace_report_text(dat, options);
    let theirs = run_ok("trace-cmd", &[&["report"], options, &[dat]].concat());
    let first_difference = ours
        .lines()
        .zip(theirs.lines())
        .position(|(a, b)| a != b)
        .map(|i| (i + 1, ours.lines().nth(i), theirs.lines().nth(i)));
    assert_eq!(first_difference, None, "{dat} {options:?}");
    assert_eq!(ours, theirs, "{dat} {options:?}");
    ours
}

/// Rewrites the kallsyms line just before and just after `function`'s in the file's
/// bytes (same lengths, so nothing else moves) as two more symbols at its address:
/// returns their names, the one before first.
fn plant_aliases(bytes: &mut [u8], function: &str) -> (String, String) {
    let needle = format!(" T {function}\n");
    let find = |from: usize, pattern: &[u8]| {
        bytes[from..]
            .windows(pattern.len())
            .position(|w| w == pattern)
            .map(|i| from + i)
    };
    let newline_before = |at: usize| bytes[..at].iter().rposition(|&b| b == b'\n').unwrap();
    let space = find(0, needle.as_bytes()).expect("the function in the file's kallsyms");
    let line_start = newline_before(space) + 1;
    let addr = String::from_utf8(bytes[line_start..line_start + 16].to_vec()).unwrap();
    let before_start = newline_before(line_start - 1) + 1;
    let after_start = space + needle.len();
    let after_end = find(after_start, b"\n").unwrap();
    let mut rewrite = |start: usize, end: usize, tag: &str| {
        let old_len = end - start;
        // "ADDR T zz_TAG_xxx…" padded to the old length.
        let mut line = format!("{addr} T zz_{tag}_");
        assert!(line.len() < old_len, "line too short to rewrite");
        while line.len() < old_len {
            line.push('x');
        }
        bytes[start..end].copy_from_slice(line.as_bytes());
        line[19..].to_string()
    };
    let before = rewrite(before_start, line_start - 1, "before");
    let after = rewrite(after_start, after_end, "after");
    (before, after)
}

/// Where several kernel symbols share an address, report names a frame as trace-cmd
/// does: a `-T` recording of 20 getppid calls whose file gets two more symbols at
/// do_syscall_64's address, one listed before it and one after; `trace-cmd report` and
/// `hytrace report` print the same lines, and the do_syscall_64 frames carry the name
/// listed first (libtraceevent's reversal, stable sort and bisection).
#[test]
fn aliased_kernel_symbols_are_named_as_trace_cmd_names_them() {
    require_root!();
    require_tool!("trace-cmd");
    let (dir, dat) = TempDir::with_file("aliases", "a.dat");
    hytrace_tests::record_getppid_kernel_stacks(&dat, &[SPIN, "20"]);
    let mut bytes = std::fs::read(&dat).unwrap();
    let (before, _after) = plant_aliases(&mut bytes, "do_syscall_64");
    let planted = dir.path_str("planted.dat");
    std::fs::write(&planted, &bytes).unwrap();
    // Every line, trace-cmd's first (cpus=N) included.
    let ours = assert_reports_as_trace_cmd(&planted, &[]);
    let frames = ours
        .lines()
        .filter(|l| l.starts_with(&format!("=> {before} (")))
        .count();
    assert!(frames >= 20, "{frames} frames named {before}");
}

/// trace-cmd report's options -t, --ts-diff, -l, --first-event and --last-event (alone
/// and together) on a recording of sched, irq and raw_syscalls events around spin: hytrace
/// report prints every byte trace-cmd prints, first line included.
#[test]
fn time_and_first_last_options_print_as_trace_cmd_prints_them() {
    require_root!();
    require_tool!("trace-cmd");
    let (_dir, dat) = TempDir::with_file("options", "o.dat");
    hytrace_tests::hytrace_record(
        &["-e", "sched", "-e", "irq", "-e", "raw_syscalls", "-o", &dat],
        &[SPIN, "2000"],
    );
    for options in [
        &[][..],
        &["-t"],
        &["--ts-diff"],
        &["-t", "--ts-diff"],
        &["--first-event"],
        &["--last-event"],
        &["--first-event", "--last-event", "-t"],
        &["-l"],
        &["-l", "-t", "--ts-diff"],
    ] {
        let ours = assert_reports_as_trace_cmd(&dat, options);
        assert!(ours.lines().count() > 2, "{options:?}: {ours}");
    }
}

/// The guest's function_graph recording (`-g vfs_read -- cat /proc/version`) and its
/// kept outlier snapshot, left in HYTRACE_GUEST_RECORDING_DIR by `cargo xtask vm-test`:
/// hytrace report prints every byte trace-cmd report prints (funcgraph entries as
/// `|  func() {`, leaf calls folded with their duration, returns with their overhead
/// marks), plain and with -t, --ts-diff and -l.
#[test]
fn guest_function_graph_recordings_print_as_trace_cmd_prints_them() {
    let Ok(dir) = std::env::var("HYTRACE_GUEST_RECORDING_DIR") else {
        hytrace_tests::skip("HYTRACE_GUEST_RECORDING_DIR is not set (cargo xtask vm-test sets it)");
        return;
    };
    require_tool!("trace-cmd");
    for name in ["graph.dat", "outlier.dat"] {
        let dat = format!("{dir}/{name}");
        for options in [&[][..], &["-t"], &["--ts-diff"], &["-l"]] {
            let ours = assert_reports_as_trace_cmd(&dat, options);
            assert!(
                ours.lines().any(|l| l.contains(" funcgraph_exit: ")),
                "{name}: no funcgraph_exit line"
            );
            assert!(
                ours.lines().any(|l| l.contains("();")),
                "{name}: no leaf call folded"
            );
        }
    }
}

/// Every `corpus-*.dat` trace-cmd recorded in the guest (function_graph of vfs_read,
/// the function tracer with --func-stack, sched and irq (softirqs too) with -T, ext4 and
/// block events on a scratch filesystem, file version 7
/// with zstd and without compression; tests/vm_kernel/trace_cmd_corpus.rs) prints
/// exactly as `trace-cmd report` prints it, plain and with -t, --ts-diff, -l (alone
/// and together), --first-event and --last-event.
#[test]
fn the_trace_cmd_corpus_prints_as_trace_cmd_prints_it() {
    let Ok(dir) = std::env::var("HYTRACE_GUEST_RECORDING_DIR") else {
        hytrace_tests::skip("HYTRACE_GUEST_RECORDING_DIR is not set (cargo xtask vm-test sets it)");
        return;
    };
    require_tool!("trace-cmd");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("corpus-") && n.ends_with(".dat"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    for name in &files {
        let dat = format!("{dir}/{name}");
        for options in [
            &[][..],
            &["-t"],
            &["--ts-diff"],
            &["-l"],
            &["-t", "--ts-diff", "-l"],
        ] {
            let ours = assert_reports_as_trace_cmd(&dat, options);
            assert!(ours.lines().count() > 2, "{name}: {ours}");
        }
        for options in [&["--first-event"][..], &["--last-event", "-t"]] {
            let ours = assert_reports_as_trace_cmd(&dat, options);
            assert!(ours.lines().count() >= 2, "{name} {options:?}: {ours}");
        }
    }
}

/// trace-cmd report's -F filters and -v on a recording of sched, irq and raw_syscalls
/// events around spin, and on getppid enters and exits each followed by its kernel
/// stack: hytrace report shows exactly the lines trace-cmd shows, for field
/// comparisons, `&&` and `||` grouped from the left, `=~` regexes, COMM and CPU, event
/// lists and regexes, a field the event lacks, a long field compared with a string (by
/// the function at its address, else in hex),
/// stacks shown after the events shown (and after a hidden enter that follows a shown
/// exit, as trace-cmd does), and -v.
#[test]
fn event_filters_select_as_trace_cmd_selects() {
    require_root!();
    require_tool!("trace-cmd");
    let (dir, dat) = TempDir::with_file("filters", "f.dat");
    hytrace_tests::hytrace_record(
        &["-e", "sched", "-e", "irq", "-e", "raw_syscalls", "-o", &dat],
        &[SPIN, "2000"],
    );
    let stacks = dir.path_str("stacks.dat");
    hytrace_tests::hytrace_record(
        &["-e", "raw_syscalls", "-f", "id == 110", "-T", "-o", &stacks],
        &[SPIN, "20"],
    );
    let cases: &[(&str, &[&str])] = &[
        (&dat, &["-F", "sys_enter: id == 110"]),
        (&dat, &["-F", "sys_enter: id == \"0x6e\""]),
        (&dat, &["-F", "raw_syscalls:COMM == \"spin\" && id != 110"]),
        (&dat, &["-F", "sys_exit: id == 110 && ret > 1"]),
        (
            &dat,
            &[
                "-F",
                "sched/sched_switch: prev_state == 0 || next_pid == 0 && prev_pid != 0",
            ],
        ),
        (&dat, &["-F", "sched: bogus == 1 || prev_pid > 0"]),
        (&dat, &["-F", "sched: !(bogus == 1) && common_pid != 0"]),
        (&dat, &["-F", "sched_switch,sched_wakeup:CPU == 1"]),
        (&dat, &["-F", "SCHED/SCHED_W.*"]),
        (
            &dat,
            &[
                "-F",
                "sched_switch: prev_comm =~ \"^spi\" || next_comm =~ \"SPIN\"",
            ],
        ),
        (
            &dat,
            &["-F", "sched", "-v", "-F", "sched_switch: prev_pid == 0"],
        ),
        (&dat, &["-v", "-F", "raw_syscalls", "-F", "sched_switch"]),
        (
            &dat,
            &["-F", "sys_enter: id == 110", "-F", "sched_wakeup", "-t"],
        ),
        (&stacks, &["-F", "sys_exit"]),
        (&stacks, &["-F", "sys_enter: common_pid != 0"]),
        (&stacks, &["-F", "kernel_stack: size > 2"]),
        (&stacks, &["-v", "-F", "sys_exit"]),
    ];
    for (file, options) in cases {
        let ours = assert_reports_as_trace_cmd(file, options);
        // The cpus= line and at least one event.
        assert!(ours.lines().count() >= 2, "{options:?}: {ours}");
    }
    // hytrace's `~` glob selects what trace-cmd's `=~` with the same pattern does.
    let glob =
        hytrace_tests::hytrace_report_text(&dat, &["-F", "sched_switch: next_comm ~ \"s*\""]);
    let regex = run_ok(
        "trace-cmd",
        &["report", "-F", "sched_switch: next_comm =~ \"^s\"", &dat],
    );
    assert_eq!(glob, regex);
    assert!(glob.lines().count() >= 2, "{glob}");
}

/// A -F filter that does not compile, or that names no event of the file, is refused
/// with the reason (the filter with a caret under the place for a syntax error) and
/// exit status 1, before anything is printed.
#[test]
fn a_bad_event_filter_is_refused_with_its_place() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("badfilter", "b.dat");
    hytrace_tests::hytrace_record(&["-e", "sched:sched_switch", "-o", &dat], &[SPIN, "20"]);
    let err = hytrace_tests::assert_fails_with(
        &["report", "-i", &dat, "-F", "sched_switch: prev_pid 1 == 2"],
        "the filter does not compile for sched/sched_switch: syntax error",
    );
    let lines: Vec<&str> = err.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with("prev_pid 1 == 2"))
        .unwrap();
    let column = |line: &str, c: char| line.find(c).unwrap();
    assert_eq!(
        column(lines[at + 1], '^'),
        column(lines[at], '1'),
        "the caret stands under the token the parse failed at: {err}"
    );
    hytrace_tests::assert_fails_with(
        &["report", "-i", &dat, "-F", "sched_wakeup"],
        "no event of the file matches 'sched_wakeup'",
    );
    hytrace_tests::assert_fails_with(
        &[
            "report",
            "-i",
            &dat,
            "-F",
            "sched_switch: prev_comm < \"a\"",
        ],
        "illegal comparison for a string",
    );
}

/// trace-cmd report's -F filters and -v on the guest's trace-cmd corpus: function_graph
/// entries and returns selected apart (an entry shown alone still folds the return
/// that follows it, as trace-cmd's plugin reads it unfiltered), function names of
/// address fields, kernel stacks following the function events shown, string fields
/// of char arrays and `__data_loc` strings, and COMM across file versions: every
/// option list prints exactly as trace-cmd prints it.
#[test]
fn the_trace_cmd_corpus_filters_as_trace_cmd_filters() {
    let Ok(dir) = std::env::var("HYTRACE_GUEST_RECORDING_DIR") else {
        hytrace_tests::skip("HYTRACE_GUEST_RECORDING_DIR is not set (cargo xtask vm-test sets it)");
        return;
    };
    require_tool!("trace-cmd");
    let cases: &[(&str, &[&str])] = &[
        ("function-graph", &["-F", "funcgraph_exit"]),
        ("function-graph", &["-F", "funcgraph_entry: depth == 0"]),
        (
            "function-graph",
            &["-F", "ftrace/funcgraph_.*: COMM =~ \"^cat\""],
        ),
        (
            "function-graph",
            &["-v", "-F", "funcgraph_entry: func == \"_raw_spin_unlock\""],
        ),
        ("function-stack", &["-F", "function: ip == \"vfs_read\""]),
        (
            "function-stack",
            &["-F", "function: ip =~ \"^vfs_get\"", "-t"],
        ),
        (
            "function-stack",
            &["-v", "-F", "function: parent_ip == \"ksys_read\""],
        ),
        (
            "sched-irq-stacks",
            &["-F", "softirq_entry: vec == 9 || vec == 1"],
        ),
        (
            "sched-irq-stacks",
            &["-F", "sched_wakeup,sched_waking: comm == \"sleep\""],
        ),
        ("sched-irq-stacks", &["-F", "irq: irq > 20 && CPU == 0"]),
        (
            "sched-irq-stacks",
            &["-F", "irq_handler_entry: name =~ \"virtio\""],
        ),
        ("sched-irq-stacks", &["-v", "-F", "kernel_stack", "-l"]),
        ("ext4-block", &["-F", "ext4"]),
        (
            "ext4-block",
            &["-F", "block/block_rq_.*: nr_sector > 8 || rwbs =~ \"^R\""],
        ),
        ("v7-zstd", &["-F", ".*:COMM != \"trace-cmd\""]),
        ("v7-none", &["-F", ".*:COMM == \"ls\"", "--ts-diff"]),
    ];
    for (name, options) in cases {
        let dat = format!("{dir}/corpus-{name}.dat");
        let ours = assert_reports_as_trace_cmd(&dat, options);
        assert!(ours.lines().count() > 2, "{name} {options:?}: {ours}");
    }
}

/// kmem and writeback events, whose 6.x print formats name what the format file does
/// not define (`vmemmap_base`, `jiffies`, enum constants in flag tables) and cast to
/// typedefs (`gfp_t`), recorded around a shell that lists, writes and syncs files:
/// every line prints as `trace-cmd report` prints it (the kmem plugin's `(func+0xoff)`
/// call-site prefix, gfp flag names, pointers of 0 as `(nil)`), not as `field=value`.
#[test]
fn kmem_and_writeback_events_print_as_trace_cmd_prints_them() {
    require_root!();
    require_tool!("trace-cmd");
    let (dir, dat) = TempDir::with_file("kmem", "k.dat");
    let scratch = dir.path_str("scratch");
    let script = format!(
        "for i in 1 2 3; do ls -R /usr/share/doc > /dev/null; echo $i > {scratch}; sync; done"
    );
    hytrace_tests::hytrace_record(
        &["-e", "kmem", "-e", "writeback", "-o", &dat],
        &["sh", "-c", &script],
    );
    let ours = assert_reports_as_trace_cmd(&dat, &[]);
    let kmalloc = ours
        .lines()
        .find(|l| l.contains(" kmalloc: "))
        .expect("a kmalloc event");
    let payload = |line: &str, event: &str| {
        let at = line.find(event).unwrap() + event.len();
        line[at..].trim_start().to_string()
    };
    assert!(
        payload(kmalloc, "kmalloc:").starts_with('(') && kmalloc.contains(" gfp_flags=GFP_"),
        "{kmalloc}"
    );
    let page = ours
        .lines()
        .find(|l| l.contains(" mm_page_alloc: "))
        .expect("an mm_page_alloc event");
    assert!(
        payload(page, "mm_page_alloc:").starts_with("page=0x"),
        "{page}"
    );
}
