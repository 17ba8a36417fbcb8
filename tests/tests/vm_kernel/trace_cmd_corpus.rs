//! The compatibility corpus: trace-cmd's own recordings, made in the guest (6.12, where
//! `trace-cmd record` works) and left in HYTRACE_GUEST_OUT as `corpus-NAME.dat` for the
//! host, which checks that `hytrace report` prints each exactly as `trace-cmd report`
//! does (tests/peer_trace_cmd.rs, `the_trace_cmd_corpus_prints_as_trace_cmd_prints_it`).

use hytrace_tests::{have_tool, require_root, run, run_ok};

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

/// HYTRACE_GUEST_OUT, where the guest leaves files for the host, when it is set and
/// `tools` are installed; else None, the reason said as a skip.
fn guest_out_with(tools: &[&str]) -> Option<String> {
    let Ok(out) = std::env::var("HYTRACE_GUEST_OUT") else {
        hytrace_tests::skip(
            "HYTRACE_GUEST_OUT is not set (cargo xtask vm-test sets it in the guest)",
        );
        return None;
    };
    if let Some(missing) = tools.iter().find(|t| !have_tool(t)) {
        hytrace_tests::skip(&format!("no {missing}"));
        return None;
    }
    Some(out)
}

/// Records each corpus file with trace-cmd into HYTRACE_GUEST_OUT; each recording
/// succeeds and its file exists.
#[test]
fn trace_cmd_records_the_corpus_for_the_host() {
    require_root!();
    let Some(out) = guest_out_with(&["trace-cmd"]) else {
        return;
    };
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

/// Records `-e ext4 -e block` with trace-cmd while a file is written, synced, read
/// back and removed on a scratch ext4 filesystem (a 64 MiB image on a loop device),
/// into HYTRACE_GUEST_OUT as corpus-ext4-block.dat; the recording holds ext4 and block
/// events.
#[test]
fn trace_cmd_records_ext4_and_block_events_on_a_scratch_filesystem() {
    require_root!();
    let Some(out) = guest_out_with(&["trace-cmd", "mkfs.ext4"]) else {
        return;
    };
    let image = "/tmp/corpus-ext4.img";
    let mount_point = "/tmp/corpus-ext4";
    run_ok("truncate", &["-s", "64M", image]);
    run_ok("mkfs.ext4", &["-q", "-F", image]);
    let device = run_ok("losetup", &["-f", "--show", image])
        .trim()
        .to_string();
    std::fs::create_dir_all(mount_point).unwrap();
    run_ok("mount", &["-t", "ext4", &device, mount_point]);
    let dat = format!("{out}/corpus-ext4-block.dat");
    let _ = std::fs::remove_file(&dat);
    let script = format!(
        "dd if=/dev/urandom of={mount_point}/f bs=4k count=64 conv=fsync status=none && \
         echo 3 > /proc/sys/vm/drop_caches && cat {mount_point}/f > /dev/null && \
         rm {mount_point}/f && sync"
    );
    let recorded = run(
        "trace-cmd",
        &[
            "record", "-o", &dat, "-e", "ext4", "-e", "block", "sh", "-c", &script,
        ],
    );
    run_ok("umount", &[mount_point]);
    run_ok("losetup", &["-d", &device]);
    let _ = std::fs::remove_file(image);
    assert!(
        recorded.status.success(),
        "trace-cmd record: {}",
        String::from_utf8_lossy(&recorded.stderr)
    );
    let report = run_ok("trace-cmd", &["report", &dat]);
    for event in [
        " ext4_da_write_begin: ",
        " block_rq_issue: ",
        " ext4_unlink_enter: ",
    ] {
        assert!(report.contains(event), "no{event}in {dat}");
    }
}
