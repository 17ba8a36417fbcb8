//! The record summary's kernel-hit audit: eBPF counters on the recorded tracepoints,
//! counting only while the instance records and only what it could record (the same
//! threads and CPUs), so `recorded = kernel hits` per event and `recorded + lost =
//! kernel hits` per CPU; written by --summary-json and stored in the file for
//! `report --count`.

use std::process::{Child, Command};

use hytrace_tests::{TempDir, hytrace_ok, hytrace_record, json_u64, require_root};

const SPIN: &str = env!("CARGO_BIN_EXE_spin");

/// Two spinners calling getppid on the other CPUs until dropped.
struct Spinners(Vec<Child>);

impl Spinners {
    fn start() -> Spinners {
        Spinners(
            (0..2)
                .map(|_| Command::new(SPIN).arg("4000000000").spawn().unwrap())
                .collect(),
        )
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A signed integer field of a JSON object.
fn json_i64(json: &str, name: &str) -> i64 {
    let field = format!("\"{name}\":");
    let at = json
        .find(&field)
        .unwrap_or_else(|| panic!("no {field} in {json}"))
        + field.len();
    let text: String = json[at..]
        .chars()
        .take_while(|c| *c == '-' || c.is_ascii_digit())
        .collect();
    text.parse()
        .unwrap_or_else(|_| panic!("{field} is not a number in {json}"))
}

/// The event objects of --summary-json: (name, recorded, kernel_hits, difference, the
/// object's text).
fn events_of(json: &str) -> Vec<(String, u64, u64, i64, String)> {
    let events = json.split("],\"cpus\":").next().unwrap();
    events
        .split("{\"name\":\"")
        .skip(1)
        .map(|object| {
            let name = object.split('"').next().unwrap().to_string();
            (
                name,
                json_u64(object, "recorded"),
                json_u64(object, "kernel_hits"),
                json_i64(object, "difference"),
                object.to_string(),
            )
        })
        .collect()
}

/// The CPU objects of --summary-json: (cpu, recorded, lost, kernel_hits, difference).
fn cpus_of(json: &str) -> Vec<(u64, u64, u64, u64, i64)> {
    let cpus = json
        .split("],\"cpus\":")
        .nth(1)
        .unwrap()
        .split("],\"window_ns\"")
        .next()
        .unwrap();
    cpus.split("{\"cpu\":")
        .skip(1)
        .map(|object| {
            let object = format!("{{\"cpu\":{object}");
            (
                json_u64(&object, "cpu"),
                json_u64(&object, "recorded"),
                json_u64(&object, "lost"),
                json_u64(&object, "kernel_hits"),
                json_i64(&object, "difference"),
            )
        })
        .collect()
}

/// `record -e raw_syscalls -F --summary-json -- spin 300000` beside two spinners
/// calling getppid on the other CPUs: nothing lost, each event's kernel hits equal its
/// recorded count exactly (the spinners and hytrace's own syscalls are not counted),
/// the file holds 300000 getppid sys_enter records, and the text summary says
/// `= recorded` for both events.
#[test]
fn a_followed_command_is_counted_exactly_beside_other_spinners() {
    require_root!();
    let dir = TempDir::new("audit-follow");
    let (dat, json) = (dir.path_str("a.dat"), dir.path_str("a.json"));
    let _others = Spinners::start();
    let summary = hytrace_record(
        &[
            "-e",
            "raw_syscalls",
            "-F",
            "-o",
            &dat,
            "--summary-json",
            &json,
        ],
        &[SPIN, "300000"],
    );
    let json = std::fs::read_to_string(&json).unwrap();
    let cpus = cpus_of(&json);
    assert!(cpus.iter().all(|c| c.2 == 0), "events were lost: {json}");
    let events = events_of(&json);
    assert_eq!(events.len(), 2, "{json}");
    for (name, recorded, hits, difference, _) in &events {
        assert_eq!(hits, recorded, "{name}: {json}");
        assert_eq!(*difference, 0, "{name}: {json}");
        assert!(
            summary
                .lines()
                .any(|l| l.contains(name.as_str()) && l.ends_with("= recorded")),
            "{summary}"
        );
    }
    let report = hytrace_ok(&["report", "-i", &dat]);
    let getppid = report
        .lines()
        .filter(|l| l.contains(" sys_enter:") && l.contains(" NR 110 "))
        .count();
    assert_eq!(getppid, 300000);
    assert!(json.contains("\"system_wide\":false"), "{json}");
}

/// `record -e raw_syscalls -e sched:sched_switch -- ls`, system-wide: every event's
/// kernel hits are at least its recorded count (the count's window holds the
/// recording's), and any difference names the system-wide gaps around tracing_on.
#[test]
fn a_system_wide_recording_names_why_its_counts_differ() {
    require_root!();
    let dir = TempDir::new("audit-wide");
    let (dat, json) = (dir.path_str("w.dat"), dir.path_str("w.json"));
    let summary = hytrace_record(
        &[
            "-e",
            "raw_syscalls",
            "-e",
            "sched:sched_switch",
            "-o",
            &dat,
            "--summary-json",
            &json,
        ],
        &["ls", "/"],
    );
    let json = std::fs::read_to_string(&json).unwrap();
    let events = events_of(&json);
    assert_eq!(events.len(), 3, "{json}");
    for (name, recorded, hits, difference, object) in &events {
        assert_eq!(
            *difference,
            *hits as i64 - *recorded as i64,
            "{name}: {json}"
        );
        assert!(*difference >= 0, "{name}: {json}");
        if *difference > 0 {
            assert!(
                object.contains("system-wide: the count ran"),
                "{name}: {json}"
            );
        }
    }
    assert!(summary.contains("(system-wide)"), "{summary}");
}

/// `record -e raw_syscalls -F -b 64 -- spin 2000000` loses events; for each CPU the
/// summary's recorded + lost equals the kernel's hits exactly, and `report --count`
/// prints the stored audit: the same per-CPU line, and each event's count in the file
/// equal to what was recorded.
#[test]
fn lost_events_are_accounted_for_per_cpu() {
    require_root!();
    let dir = TempDir::new("audit-lost");
    let (dat, json) = (dir.path_str("l.dat"), dir.path_str("l.json"));
    hytrace_record(
        &[
            "-e",
            "raw_syscalls",
            "-F",
            "-b",
            "64",
            "-o",
            &dat,
            "--summary-json",
            &json,
        ],
        &[SPIN, "2000000"],
    );
    let json = std::fs::read_to_string(&json).unwrap();
    let cpus = cpus_of(&json);
    let lost: u64 = cpus.iter().map(|c| c.2).sum();
    assert!(lost > 0, "nothing was lost with -b 64: {json}");
    for (cpu, recorded, lost, hits, difference) in &cpus {
        assert_eq!(recorded + lost, *hits, "cpu {cpu}: {json}");
        assert_eq!(*difference, 0, "cpu {cpu}: {json}");
    }
    // Every getppid and its exit hit the kernel's counters once.
    let hits: u64 = cpus.iter().map(|c| c.3).sum();
    assert!(hits >= 4_000_000, "{json}");

    let counts = hytrace_ok(&["report", "-i", &dat, "--count"]);
    for (cpu, recorded, lost, hits, _) in &cpus {
        let line = format!(
            "# cpu {cpu}: {recorded} recorded + {lost} lost = {} = kernel hits",
            recorded + lost
        );
        assert_eq!(hits, &(recorded + lost));
        assert!(
            counts.lines().any(|l| l == line),
            "no {line:?} in:\n{counts}"
        );
    }
    for (name, recorded, hits, _, _) in events_of(&json) {
        let short = name.split(':').nth(1).unwrap();
        let decoded = counts
            .lines()
            .find(|l| {
                l.trim_start()
                    .split_once(' ')
                    .is_some_and(|(_, n)| n == short)
            })
            .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap();
        let line = format!("# {name:<22} {decoded:>12} {recorded:>12} {hits:>12}");
        assert_eq!(decoded, recorded);
        assert!(
            counts.lines().any(|l| l == line),
            "no {line:?} in:\n{counts}"
        );
    }
}

/// `record -e raw_syscalls -M 1 -F -- taskset -c 1 spin 10000`: the instance records
/// CPU 0 only and spin runs on CPU 1 after taskset, so the 10000 getppid calls are
/// neither recorded nor counted; each event's kernel hits equal its recorded count
/// (taskset's own calls on CPU 0 before it moved).
#[test]
fn the_cpumask_limits_the_count_as_it_limits_the_recording() {
    require_root!();
    if std::thread::available_parallelism().map_or(1, std::num::NonZero::get) < 2 {
        hytrace_tests::skip("needs two CPUs");
        return;
    }
    hytrace_tests::require_tool!("taskset");
    let dir = TempDir::new("audit-cpumask");
    let (dat, json) = (dir.path_str("m.dat"), dir.path_str("m.json"));
    hytrace_record(
        &[
            "-e",
            "raw_syscalls",
            "-M",
            "1",
            "-F",
            "-o",
            &dat,
            "--summary-json",
            &json,
        ],
        &["taskset", "-c", "1", SPIN, "10000"],
    );
    let json = std::fs::read_to_string(&json).unwrap();
    for (name, recorded, hits, _, _) in events_of(&json) {
        assert_eq!(hits, recorded, "{name}: {json}");
        assert!(hits < 10000, "{name}: CPU 1's calls were counted: {json}");
    }
}

/// `record -e raw_syscalls -F -c -- sh -c 'spin 1000; spin 1000'`: the kernel records
/// the shell and the two spins it forks (event-fork), and the counters follow the
/// same forks: each event's kernel hits equal its recorded count, and the file holds
/// the 2000 getppid calls of the two spins.
#[test]
fn children_followed_with_dash_c_are_counted_too() {
    require_root!();
    let dir = TempDir::new("audit-children");
    let (dat, json) = (dir.path_str("c.dat"), dir.path_str("c.json"));
    let script = format!("{SPIN} 1000; {SPIN} 1000");
    hytrace_record(
        &[
            "-e",
            "raw_syscalls",
            "-F",
            "-c",
            "-o",
            &dat,
            "--summary-json",
            &json,
        ],
        &["sh", "-c", &script],
    );
    let json = std::fs::read_to_string(&json).unwrap();
    for (name, recorded, hits, _, _) in events_of(&json) {
        assert_eq!(hits, recorded, "{name}: {json}");
        assert!(recorded > 2000, "{name}: {json}");
    }
    // The shell calls getppid once itself.
    let report = hytrace_ok(&["report", "-i", &dat, "--comm", "spin"]);
    let getppid = report
        .lines()
        .filter(|l| l.contains(" sys_enter:") && l.contains(" NR 110 "))
        .count();
    assert_eq!(getppid, 2000);
}
