//! hytrace runs as root in directories other users can write to: links planted at the
//! paths it writes are never followed, and what it writes is readable by root alone.

use std::{
    os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use hytrace_tests::{
    TempDir, all_symlinks, assert_fails_with, assert_no_hytrace_instance, assert_one_line_error,
    entries_named, hytrace_bin, hytrace_record, hytrace_report, profile_dir, require_root,
    spawn_hytrace, wait_ok, with_command,
};

const VICTIM_TEXT: &[u8] = b"root's precious file\n";

/// A root-owned 0644 file the planted links point to.
fn victim(dir: &TempDir) -> PathBuf {
    let path = dir.path("victim");
    std::fs::write(&path, VICTIM_TEXT).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn assert_untouched(victim: &Path) {
    assert_eq!(std::fs::read(victim).unwrap(), VICTIM_TEXT);
    let meta = std::fs::metadata(victim).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o644);
}

/// The pid the next process will probably get.
fn next_pid() -> u32 {
    Command::new("true").spawn().unwrap().id() + 1
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[test]
fn links_planted_at_spool_temporary_and_output_paths_are_never_followed() {
    require_root!();
    let dir = TempDir::new("planted");
    let victim = victim(&dir);

    // The spool names earlier versions used (`.NAME.hytrace-PID.cpuN`) and the graph's
    // temporary files (`$TMPDIR/hytrace-graph-PID.dat`, `hytrace-outlier-PID.dat`),
    // planted for the next 200 pids.
    let first = next_pid();
    let mut planted = 0;
    for pid in first..first + 200 {
        for cpu in 0..online_cpus() {
            let link = dir.path(&format!(".sym.dat.hytrace-{pid}.cpu{cpu}"));
            std::os::unix::fs::symlink(&victim, link).unwrap();
            planted += 1;
        }
        for temp in ["graph", "outlier"] {
            std::os::unix::fs::symlink(&victim, dir.path(&format!("hytrace-{temp}-{pid}.dat")))
                .unwrap();
            planted += 1;
        }
    }
    let links_before = entries_named(dir.root(), ".sym.dat.hytrace-").len();

    let sym_dat = dir.path_str("sym.dat");
    hytrace_record(&["-e", "sched:sched_switch", "-o", &sym_dat], &["true"]);
    assert_untouched(&victim);
    let meta = std::fs::symlink_metadata(&sym_dat).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), 0);
    // Its own file is a recording report reads.
    hytrace_report(&sym_dat, &[]);
    // The planted links are still there (never replaced, never written through), and
    // the session's private directory is gone.
    assert_eq!(
        entries_named(dir.root(), ".sym.dat.hytrace-").len(),
        links_before
    );
    assert!(
        all_symlinks(dir.root(), ".sym.dat.hytrace-"),
        "a private directory was left behind"
    );

    // graph's temporary files live in a private directory of $TMPDIR: the planted
    // names are not used (this kernel may lack function_graph: then graph fails with
    // that reason, having written nothing).
    let graph = Command::new(hytrace_bin())
        .args(["graph", "-g", "vfs_read", "--duration", "0.2"])
        .env("TMPDIR", dir.root())
        .output()
        .unwrap();
    assert_untouched(&victim);
    if !graph.status.success() {
        let stderr = String::from_utf8_lossy(&graph.stderr);
        assert!(stderr.starts_with("hytrace: error: "), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
    assert!(all_symlinks(dir.root(), "hytrace-graph-"));
    assert_eq!(planted, 200 * (online_cpus() + 2));
    assert_no_hytrace_instance();
}

#[test]
fn a_link_at_the_output_is_refused_unless_forced_and_never_written_through() {
    require_root!();
    let dir = TempDir::new("outlink");
    let victim = victim(&dir);
    let out_dat = dir.path("out.dat");
    std::os::unix::fs::symlink(&victim, &out_dat).unwrap();
    let out_str = out_dat.to_string_lossy().into_owned();

    let stderr = assert_one_line_error(
        &with_command(
            &["record", "-e", "sched:sched_switch", "-o", &out_str],
            &["true"],
        ),
        "is a symbolic link",
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_untouched(&victim);
    assert!(
        std::fs::symlink_metadata(&out_dat)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_no_hytrace_instance();
    assert!(entries_named(dir.root(), ".out.dat.hytrace-").is_empty());

    // --force replaces the link itself.
    hytrace_record(
        &["-e", "sched:sched_switch", "-o", &out_str, "--force"],
        &["true"],
    );
    assert_untouched(&victim);
    let meta = std::fs::symlink_metadata(&out_dat).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.mode() & 0o7777, 0o600);
    hytrace_report(&out_str, &[]);

    // A regular file is replaced by a new one: a hard link to the old one keeps the old
    // contents (nothing is truncated in place).
    let hard = dir.path("hard");
    std::fs::hard_link(&out_dat, &hard).unwrap();
    let old = std::fs::read(&hard).unwrap();
    hytrace_record(&["-e", "sched:sched_switch", "-o", &out_str], &["true"]);
    assert_eq!(std::fs::read(&hard).unwrap(), old);
    assert_ne!(
        std::fs::metadata(&hard).unwrap().ino(),
        std::fs::metadata(&out_dat).unwrap().ino()
    );

    // A device is never replaced, forced or not.
    assert_one_line_error(
        &with_command(
            &[
                "record",
                "-e",
                "sched:sched_switch",
                "-o",
                "/dev/null",
                "--force",
            ],
            &["true"],
        ),
        "never replaces a device",
    );
    assert!(
        std::fs::symlink_metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

/// Every file and directory under `dir` that others could read, with its mode.
fn readable_by_others(dir: &Path, found: &mut Vec<(PathBuf, u32)>, files_seen: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return; // removed meanwhile
    };
    for entry in entries.filter_map(std::result::Result::ok) {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = meta.mode() & 0o7777;
        if meta.is_dir() {
            if mode & 0o077 != 0 {
                found.push((path.clone(), mode));
            }
            readable_by_others(&path, found, files_seen);
        } else {
            *files_seen += 1;
            if mode & 0o077 != 0 {
                found.push((path, mode));
            }
        }
    }
}

#[test]
fn recordings_are_0600_and_nothing_others_can_read_exists_while_recording() {
    require_root!();
    let (dir, dat) = TempDir::with_file("modes", "x.dat");
    let sleeper = profile_dir().join("sleeper").to_string_lossy().into_owned();
    // SAFETY: umask has no preconditions; the usual 022 would let others read files
    // created without an explicit mode.
    unsafe { libc::umask(0o022) };
    let mut child = spawn_hytrace(&with_command(
        &[
            "record",
            "-e",
            "sched:sched_switch",
            "-e",
            "raw_syscalls",
            "-o",
            &dat,
        ],
        &[&sleeper, "300"],
    ));
    let mut exposed = Vec::new();
    let (mut looks, mut looks_with_files) = (0u32, 0u32);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        let mut files = 0;
        readable_by_others(dir.root(), &mut exposed, &mut files);
        looks += 1;
        if files > 0 {
            looks_with_files += 1;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "record hung");
        std::thread::sleep(Duration::from_millis(2));
    }
    wait_ok(child);
    assert!(exposed.is_empty(), "readable by others: {exposed:?}");
    // The spools were there to be looked at, many times.
    assert!(
        looks_with_files >= 10,
        "saw files in {looks_with_files} of {looks} looks"
    );
    let meta = std::fs::metadata(&dat).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), 0);
    let mut files = 0;
    readable_by_others(dir.root(), &mut exposed, &mut files);
    assert!(exposed.is_empty(), "readable by others: {exposed:?}");
    assert_eq!(files, 1, "only x.dat remains");

    // --mode widens it when asked, and only then.
    let shared = dir.path_str("shared.dat");
    hytrace_record(
        &["-e", "sched:sched_switch", "-o", &shared, "--mode", "0640"],
        &["true"],
    );
    assert_eq!(std::fs::metadata(&shared).unwrap().mode() & 0o7777, 0o640);
    assert_fails_with(
        &with_command(
            &["record", "-e", "sched:sched_switch", "--mode", "4755"],
            &["true"],
        ),
        "set-id",
    );
}
