//! The compatibility corpus: trace-cmd's own recordings, made in the guest (6.12, where
//! `trace-cmd record` works) and left in HYTRACE_GUEST_OUT as `corpus-NAME.dat` for the
//! host, which checks that `hytrace report` prints each exactly as `trace-cmd report`
//! does (tests/peer_trace_cmd.rs, `the_trace_cmd_corpus_prints_as_trace_cmd_prints_it`).

use hytrace_tests::{have_tool, require_root, run};

/// (name, trace-cmd record's arguments before the command, the command).
const CORPUS: &[(&str, &[&str], &[&str])] = &[
    (
        "function-graph",
        &["-p", "function_graph", "-g", "vfs_read"],
        &["cat", "/proc/version"],
    ),
    (
        "function-stack",
        &["-p", "function", "-l", "vfs_*", "--func-stack"],
        &["cat", "/proc/version"],
    ),
    (
        "sched-irq-stacks",
        &["-e", "sched", "-e", "irq", "-T"],
        &["sleep", "0.2"],
    ),
    (
        "v7-zstd",
        &[
            "--file-version",
            "7",
            "--compression",
            "zstd",
            "-e",
            "sched",
            "-e",
            "raw_syscalls",
        ],
        &["ls", "/"],
    ),
    (
        "v7-none",
        &[
            "--file-version",
            "7",
            "--compression",
            "none",
            "-e",
            "sched",
            "-e",
            "raw_syscalls",
        ],
        &["ls", "/"],
    ),
];

/// Records each corpus file with trace-cmd into HYTRACE_GUEST_OUT; each recording
/// succeeds and its file exists.
#[test]
fn trace_cmd_records_the_corpus_for_the_host() {
    require_root!();
    let Ok(out) = std::env::var("HYTRACE_GUEST_OUT") else {
        hytrace_tests::skip(
            "HYTRACE_GUEST_OUT is not set (cargo xtask vm-test sets it in the guest)",
        );
        return;
    };
    if !have_tool("trace-cmd") {
        hytrace_tests::skip("no trace-cmd");
        return;
    }
    for (name, options, command) in CORPUS {
        let dat = format!("{out}/corpus-{name}.dat");
        let _ = std::fs::remove_file(&dat);
        let args = [&["record", "-o", dat.as_str()], *options, *command].concat();
        let recorded = run("trace-cmd", &args);
        assert!(
            recorded.status.success(),
            "trace-cmd {args:?}: {}",
            String::from_utf8_lossy(&recorded.stderr)
        );
        assert!(std::path::Path::new(&dat).exists(), "{dat}");
    }
}
