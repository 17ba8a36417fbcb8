//! `report --kernel-lines` against this machine's kernel: the recording names its
//! kernel by the build-id of /sys/kernel/notes and by its release, a report looks for
//! that kernel's debug info and says where it looked, and a file of another build is
//! refused. Naming lines is tested against the guest kernel's real vmlinux (a recording
//! the guest of `cargo xtask vm-test` makes, named here against Debian's debug
//! package) and on a fixture kernel in ftrace-user (`report::kernel_lines::tests`):
//! this machine's kernel has no debug package.

use std::collections::BTreeMap;

use hytrace_tests::{
    TempDir, assert_no_hytrace_instance, build_deep, hytrace, hytrace_record,
    record_getppid_kernel_stacks, require_root, require_tool, run_ok,
};

/// The bytes of /sys/kernel/notes as lower-case hex.
fn kernel_notes_hex() -> String {
    std::fs::read("/sys/kernel/notes")
        .expect("/sys/kernel/notes")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn stderr_of(args: &[&str]) -> (bool, String, String) {
    let out = hytrace(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `record -T` of 10 getppid calls, then `report --kernel-lines`: no debug info here,
/// so it fails before printing anything, naming the kernel's release and the build-id
/// (found in /sys/kernel/notes) and the places it looked; `--vmlinux` given the test's
/// own executable is refused for its build-id; a file without kernel stacks is refused.
#[test]
fn reports_name_the_recorded_kernel_and_refuse_another() {
    require_root!();
    require_tool!("gcc");
    let dir = TempDir::new("klines");
    let exe = build_deep(&dir);
    let dat = dir.path_str("k.dat");
    record_getppid_kernel_stacks(&dat, &[&exe, "10"]);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string();
    let empty = dir.path_str("no-debug");
    std::fs::create_dir(&empty).unwrap();
    let (ok, stdout, stderr) = stderr_of(&[
        "report",
        "-i",
        &dat,
        "--kernel-lines",
        "--debug-dir",
        &empty,
    ]);
    assert!(!ok, "{stdout}");
    assert_eq!(stdout, "");
    let prefix = format!(
        "hytrace: error: no kernel debug info for this recording (kernel {release}, build-id "
    );
    let rest = stderr
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{stderr}"));
    let build_id = &rest[..rest.find(')').unwrap()];
    assert_eq!(build_id.len(), 40, "{stderr}");
    assert!(
        kernel_notes_hex().contains(build_id),
        "{build_id} is not in /sys/kernel/notes"
    );
    assert!(
        rest.contains(&format!(
            "looked for {empty}/.build-id/{}/{}.debug, /usr/lib/debug/.build-id/",
            &build_id[..2],
            &build_id[2..]
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "/boot/vmlinux-{release}, /lib/modules/{release}/build/vmlinux. Install the kernel's \
             debug package (Debian: linux-image-{release}-dbg) or give --vmlinux FILE"
        )),
        "{stderr}"
    );

    // Another ELF file given as the kernel: its build-id is not the kernel's.
    let (ok, stdout, stderr) = stderr_of(&["report", "-i", &dat, "--vmlinux", &exe]);
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with(&format!(
            "hytrace: error: {exe} is not the recording's kernel: its build-id is "
        )) && stderr
            .trim_end()
            .ends_with(&format!(", the recording's {build_id}")),
        "{stderr}"
    );

    // No kernel stacks recorded.
    let plain = dir.path_str("plain.dat");
    hytrace_record(
        &[
            "-e",
            "raw_syscalls:sys_enter",
            "-f",
            "id == 110",
            "-F",
            "-o",
            &plain,
        ],
        &[&exe, "10"],
    );
    let (ok, _, stderr) = stderr_of(&["report", "-i", &plain, "--kernel-lines"]);
    assert!(!ok);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "hytrace: error: {plain} has no kernel stacks to name lines of (record with -T or --profile)"
        )
    );
    assert_no_hytrace_instance();
}

/// addr2line's answer for each address: (function, file:line) pairs, the function
/// inlined at the address first, the one it was inlined into last; addr2line's
/// ` (discriminator N)` suffixes left off.
fn addr2line(vmlinux: &str, addrs: &[u64]) -> Vec<Vec<(String, String)>> {
    let mut args = vec!["-f".to_string(), "-i".into(), "-a".into(), "-e".into()];
    args.push(vmlinux.into());
    args.extend(addrs.iter().map(|a| format!("{a:#x}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let text = run_ok("addr2line", &args);
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("0x") {
            out.push(Vec::new());
            continue;
        }
        let location = lines.next().unwrap_or_default();
        let location = location.split(" (discriminator").next().unwrap();
        out.last_mut()
            .expect("addr2line prints the address first")
            .push((line.to_string(), location.to_string()));
    }
    out
}

/// A kernel frame as the JSON report names it: kallsyms' function and offset, then
/// the (function, file:line) list, innermost inlined function first.
type NamedFrame = (String, u64, Vec<(String, String)>);

/// gdb's line-table answer for each address: the file:line of the instruction (`info
/// line *ADDR`). binutils 2.40's addr2line names the wrong file for some addresses of
/// DWARF 5 units (the unit's primary file instead of a header's: kernel/entry/common.c
/// for include/trace/events/syscalls.h, seen on this vmlinux), so the innermost file
/// is checked against gdb.
fn gdb_lines(vmlinux: &str, addrs: &[u64]) -> Vec<String> {
    let mut args = vec!["-batch".to_string()];
    for addr in addrs {
        args.push("-ex".into());
        args.push(format!("info line *{addr:#x}"));
    }
    args.push(vmlinux.into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok("gdb", &args)
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("Line ")?;
            let (line, rest) = rest.split_once(" of \"")?;
            let (file, _) = rest.split_once('"')?;
            Some(format!("{file}:{line}"))
        })
        .collect()
}

/// The value of `"name":` in one JSON object's text (a string or a number).
fn field<'a>(object: &'a str, name: &str) -> Option<&'a str> {
    let rest = object.split_once(&format!("\"{name}\":"))?.1;
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    // The last field of an object split out of its array has no delimiter after it.
    Some(&rest[..rest.find(['"', ',', '}']).unwrap_or(rest.len())])
}

/// The guest kernel's stacks (recorded by vm_kernel's
/// `kernel_stacks_are_recorded_for_the_host_to_name`), named by `report --kernel-lines
/// --format json --debug-dir DIR` with Debian's vmlinux of that kernel: it is found by
/// the recording's release under DIR, and for every distinct frame the functions and
/// lines hytrace names equal what binutils' addr2line -f -i says of the same address in
/// the same file (the frame minus the KASLR shift, minus one: inside the call), and the
/// instruction's own file:line what gdb's line table says; do_syscall_64 is among them. Run by `cargo xtask vm-test`
/// after the guest, which sets HYTRACE_GUEST_RECORDING and HYTRACE_KERNEL_DEBUG_DIR.
#[test]
fn a_guest_recording_is_named_as_addr2line_names_it() {
    let (Ok(dat), Ok(debug_dir)) = (
        std::env::var("HYTRACE_GUEST_RECORDING"),
        std::env::var("HYTRACE_KERNEL_DEBUG_DIR"),
    ) else {
        hytrace_tests::skip(
            "runs in cargo xtask vm-test, after the guest has recorded its kernel's stacks",
        );
        return;
    };
    require_tool!("addr2line");
    require_tool!("gdb");
    let out = hytrace(&[
        "report",
        "-i",
        &dat,
        "--kernel-lines",
        "--format",
        "json",
        "--debug-dir",
        &debug_dir,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let vmlinux = stderr
        .split_once("hytrace: kernel lines from ")
        .and_then(|(_, rest)| rest.split_once(": "))
        .map(|(path, _)| path.to_string())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        vmlinux.starts_with(&format!("{debug_dir}/boot/vmlinux-")),
        "{vmlinux}"
    );
    let json = String::from_utf8(out.stdout).unwrap();

    // Each distinct frame: its address, kallsyms' function and offset, and the
    // (function, file:line) list named, innermost inlined function first.
    let mut frames: BTreeMap<u64, NamedFrame> = BTreeMap::new();
    let mut stacks = 0;
    for line in json
        .lines()
        .filter(|l| l.contains("\"event\":\"kernel_stack\""))
    {
        stacks += 1;
        let array = line.split_once(",\"kernel_stack\":[").expect(line).1;
        let mut pending: Vec<(String, String)> = Vec::new();
        for object in array.split("},{") {
            let location = match (field(object, "file"), field(object, "line")) {
                (Some(file), Some(line)) => format!("{file}:{line}"),
                _ => "??:0".to_string(),
            };
            let function = field(object, "function").unwrap_or_default().to_string();
            pending.push((function.clone(), location));
            if field(object, "inlined") == Some("false") {
                let address: u64 = field(object, "address").unwrap().parse().unwrap();
                let offset: u64 = field(object, "offset").unwrap_or("0").parse().unwrap();
                frames.insert(address, (function, offset, std::mem::take(&mut pending)));
            }
        }
    }
    assert_eq!(stacks, 20, "{json}");
    let (address, (_, offset, _)) = frames
        .iter()
        .find(|(_, (f, _, _))| f == "do_syscall_64")
        .unwrap_or_else(|| panic!("no do_syscall_64 frame in {json}"));
    // The shift: do_syscall_64's start as the kernel ran it minus nm's.
    let linked = run_ok("nm", &[&vmlinux])
        .lines()
        .find(|l| l.ends_with(" T do_syscall_64"))
        .and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
        .expect("do_syscall_64 in nm's table");
    let shift = (address - offset).wrapping_sub(linked);
    let addrs: Vec<u64> = frames
        .keys()
        .map(|a| a.wrapping_sub(shift).wrapping_sub(1))
        .collect();
    let theirs = addr2line(&vmlinux, &addrs);
    let lines = gdb_lines(&vmlinux, &addrs);
    assert_eq!(theirs.len(), frames.len());
    assert_eq!(lines.len(), frames.len(), "{lines:?}");
    let line_number = |location: &str| location.rsplit(':').next().unwrap_or("").to_string();
    for (((address, (_, _, ours)), theirs), innermost) in frames.iter().zip(&theirs).zip(&lines) {
        assert!(
            ours.iter().all(|(_, l)| l != "??:0"),
            "frame {address:#x} unnamed: {ours:?}"
        );
        // The chain of functions and their lines: addr2line's.
        let ours_chain: Vec<(&str, String)> = ours
            .iter()
            .map(|(f, l)| (f.as_str(), line_number(l)))
            .collect();
        let theirs_chain: Vec<(&str, String)> = theirs
            .iter()
            .map(|(f, l)| (f.as_str(), line_number(l)))
            .collect();
        assert_eq!(ours_chain, theirs_chain, "frame {address:#x}");
        // The instruction's own file:line: gdb's (paths relative to the build
        // directory, which hytrace prefixes with the unit's compilation directory).
        assert!(
            ours[0].1.ends_with(&format!("/{innermost}")),
            "frame {address:#x}: {ours:?}, gdb: {innermost}"
        );
    }
}
