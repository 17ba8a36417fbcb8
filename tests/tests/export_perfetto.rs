//! `export --perfetto`: recordings (hytrace's and trace-cmd's) written as Perfetto
//! traces, read back with Perfetto's own Python protos (the `perfetto` package that
//! `cargo xtask test` installs in target/python) and compared with `report`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use hytrace_tests::{
    HandInstance, TempDir, hytrace_ok, hytrace_record, require_root, require_tool, run_ok,
};
use serde_json::Value;

const SPIN: &str = env!("CARGO_BIN_EXE_spin");
const MARKER: &str = env!("CARGO_BIN_EXE_marker");

/// The Python with Perfetto's protos, or None (skipped) when xtask has not made it.
fn perfetto_python() -> Option<PathBuf> {
    let python = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/python/bin/python"
    ));
    python.exists().then_some(python)
}

/// The directory of the guest's recordings and the Python with Perfetto's protos, or
/// None (the test is skipped, saying why) where either is missing.
fn guest_recordings() -> Option<(String, PathBuf)> {
    let Ok(dir) = std::env::var("HYTRACE_GUEST_RECORDING_DIR") else {
        hytrace_tests::skip("HYTRACE_GUEST_RECORDING_DIR is not set (cargo xtask vm-test sets it)");
        return None;
    };
    let Some(python) = perfetto_python() else {
        hytrace_tests::skip(
            "target/python has no Perfetto protos (cargo xtask test installs them)",
        );
        return None;
    };
    Some((dir, python))
}

/// Every line tests/scripts/perfetto_events.py prints for `trace`.
fn perfetto_lines(python: &Path, trace: &str) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/perfetto_events.py");
    run_ok(python.to_str().unwrap(), &[script, trace])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn of_kind<'a>(lines: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    lines.iter().filter(move |l| l["kind"] == kind)
}

/// report --format json's objects.
fn report_json(dat: &str) -> Vec<Value> {
    hytrace_ok(&["report", "-i", dat, "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A JSON value as text, numbers and strings alike (Perfetto's JSON gives 64-bit
/// integers as strings).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An event's (timestamp, pid, name).
type EventKey = (u64, u64, String);
/// Per CPU, each event's key and the event.
type ByCpu<'a> = BTreeMap<u64, Vec<(EventKey, &'a Value)>>;

/// An event's CPU and its key, read with the side's field names.
fn key(event: &Value, ts: &str, name: &str) -> (u64, EventKey) {
    (
        event["cpu"].as_u64().unwrap(),
        (
            event[ts].as_u64().unwrap(),
            event["pid"].as_u64().unwrap(),
            event[name].as_str().unwrap().to_string(),
        ),
    )
}

/// Per CPU, the events ordered by (timestamp, pid, name): buffers of one CPU (trace-cmd
/// files hold the top level and instances) are bundled apart in the Perfetto trace.
fn per_cpu<'a>(events: impl Iterator<Item = &'a Value>, ts: &str, name: &str) -> ByCpu<'a> {
    let mut out: ByCpu<'a> = BTreeMap::new();
    for event in events {
        let (cpu, key) = key(event, ts, name);
        out.entry(cpu).or_default().push((key, event));
    }
    for events in out.values_mut() {
        events.sort_by(|a, b| a.0.cmp(&b.0));
    }
    out
}

/// Checks the Perfetto trace of `dat` against `report`: the same events per CPU with
/// the same timestamps, pids and names; for 100 of them spread over the file, every
/// field both name equal; threads in the process tree. Returns the Perfetto lines.
fn check_against_report(python: &Path, dat: &str, dir: &TempDir) -> Vec<Value> {
    let trace = dir.path_str("out.pftrace");
    hytrace_ok(&["export", "-i", dat, "--perfetto", &trace]);
    let lines = perfetto_lines(python, &trace);
    let report = report_json(dat);
    let ours = per_cpu(of_kind(&lines, "event"), "ts", "name");
    let theirs = per_cpu(report.iter(), "ts_ns", "event");
    let keys = |m: &ByCpu| {
        m.iter()
            .map(|(cpu, events)| (*cpu, events.iter().map(|e| e.0.clone()).collect::<Vec<_>>()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(keys(&ours), keys(&theirs));

    let pairs: Vec<(&Value, &Value)> = theirs
        .iter()
        .flat_map(|(cpu, events)| {
            events
                .iter()
                .zip(&ours[cpu])
                .map(|(theirs, ours)| (theirs.1, ours.1))
        })
        .collect();
    let step = (pairs.len() / 100).max(1);
    let mut compared = 0;
    for (theirs, ours) in pairs.iter().step_by(step) {
        compared += 1;
        let their_fields = theirs["fields"].as_object().unwrap();
        let our_fields = ours["fields"].as_object().unwrap();
        let mut shared = 0;
        for (name, value) in their_fields {
            if let Some(our) = our_fields.get(name)
                && !value.is_array()
            {
                assert_eq!(text(our), text(value), "{name} of {theirs} vs {ours}");
                shared += 1;
            }
        }
        assert!(
            shared > 0 || their_fields.is_empty(),
            "no field in common: {theirs} vs {ours}"
        );
    }
    assert!(compared >= 100.min(pairs.len()), "{compared} compared");
    assert!(of_kind(&lines, "thread").next().is_some(), "no threads");
    lines
}

/// `record -e sched -e raw_syscalls -e irq -- sh -c 'spin 100000; marker 20'`, then
/// `export --perfetto`: Perfetto's protos parse the file; its events match report's
/// per CPU (timestamps, pids, names; fields of 100); its sched_switch count equals
/// `report --count`'s; the 20 print events carry the marker lines.
#[test]
fn a_recording_reads_back_in_perfettos_protos_as_report_prints_it() {
    require_root!();
    let Some(python) = perfetto_python() else {
        hytrace_tests::skip(
            "target/python has no Perfetto protos (cargo xtask test installs them)",
        );
        return;
    };
    let dir = TempDir::new("perfetto");
    let dat = dir.path_str("p.dat");
    let script = format!("{SPIN} 100000; {MARKER} 20");
    hytrace_record(
        &[
            "-e",
            "sched",
            "-e",
            "raw_syscalls",
            "-e",
            "irq",
            "-b",
            "32768",
            "-o",
            &dat,
        ],
        &["sh", "-c", &script],
    );
    let lines = check_against_report(&python, &dat, &dir);
    let switches = of_kind(&lines, "event")
        .filter(|l| l["name"] == "sched_switch")
        .count() as u64;
    let counts = hytrace_ok(&["report", "-i", &dat, "--count"]);
    let counted: u64 = counts
        .lines()
        .find(|l| l.trim_end().ends_with(" sched_switch"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    assert_eq!(switches, counted);
    assert!(switches > 0);
    let prints: Vec<String> = of_kind(&lines, "event")
        .filter(|l| l["name"] == "print")
        .map(|l| text(&l["fields"]["buf"]))
        .collect();
    let expected: Vec<String> = (0..20).map(|i| format!("hytrace-marker {i}\n")).collect();
    assert_eq!(prints, expected);
    // sys_enter as Perfetto's typed message: id and the six arguments.
    let getppid = of_kind(&lines, "event")
        .filter(|l| l["name"] == "sys_enter" && text(&l["fields"]["id"]) == "110")
        .count();
    assert!(getppid >= 100_000, "{getppid} getppid sys_enter");
}

/// A trace-cmd `extract` file (sched, raw_syscalls, irq and 50 marker writes in an
/// instance) exports the same way: every event per CPU as report prints it.
#[test]
fn a_trace_cmd_file_exports_the_same_way() {
    require_root!();
    require_tool!("trace-cmd");
    let Some(python) = perfetto_python() else {
        hytrace_tests::skip(
            "target/python has no Perfetto protos (cargo xtask test installs them)",
        );
        return;
    };
    let dir = TempDir::new("perfetto-peer");
    let instance = HandInstance::create(
        "hyt-pftrace",
        &[
            ("buffer_size_kb", "2048"),
            ("events/sched/enable", "1"),
            ("events/raw_syscalls/enable", "1"),
            ("events/irq/enable", "1"),
        ],
    );
    run_ok(
        MARKER,
        &["50", &instance.path("trace_marker").to_string_lossy()],
    );
    run_ok(SPIN, &["2000"]);
    instance.write("tracing_on", "0");
    let dat = dir.path_str("peer.dat");
    run_ok("trace-cmd", &["extract", "-B", instance.name(), "-o", &dat]);
    drop(instance);
    let lines = check_against_report(&python, &dat, &dir);
    let markers = of_kind(&lines, "event")
        .filter(|l| {
            l["name"] == "print" && text(&l["fields"]["buf"]).starts_with("hytrace-marker ")
        })
        .count();
    assert!(markers >= 50, "{markers} marker prints");
}

/// The guest's function_graph recording (`-g vfs_read -- cat /proc/version`, left in
/// HYTRACE_GUEST_RECORDING_DIR by `cargo xtask vm-test`): its export matches report
/// per CPU, and per thread every funcgraph_exit closes the innermost open entry at its
/// own depth, the only calls left open being the few a thread was inside when the
/// recording stopped (its exit path).
#[test]
fn a_guest_function_graph_recording_exports_balanced_calls() {
    let Some((dir, python)) = guest_recordings() else {
        return;
    };
    let dat = format!("{dir}/graph.dat");
    let scratch = TempDir::new("perfetto-graph");
    let lines = check_against_report(&python, &dat, &scratch);
    // Open calls per thread: the depths of their entries.
    let mut open: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    let (mut entries, mut exits) = (0, 0);
    for event in of_kind(&lines, "event") {
        let pid = event["pid"].as_u64().unwrap();
        let depth = text(&event["fields"]["depth"]).parse::<i64>().unwrap_or(0);
        match event["name"].as_str().unwrap() {
            "funcgraph_entry" => {
                entries += 1;
                open.entry(pid).or_default().push(depth);
            }
            "funcgraph_exit" => {
                exits += 1;
                let opened = open.entry(pid).or_default().pop();
                assert_eq!(opened, Some(depth), "an exit at depth {depth} of pid {pid}");
            }
            _ => {}
        }
    }
    assert!(entries > 0);
    // What stays open is what a thread was inside when the recording stopped: cat's
    // exit path (where the instance cannot pick vfs_read's trees, on 6.12, everything
    // cat calls is recorded, and do_exit never returns), a few levels deep.
    let left_open: usize = open.values().map(Vec::len).sum();
    assert_eq!(entries - exits, left_open);
    assert!(
        open.values().all(|calls| calls.len() <= 16),
        "calls left open: {open:?}"
    );
}

/// `record --hist syscalls -e raw_syscalls:sys_enter -F -- spin 100000`, exported: a
/// track `hist syscalls: getppid` holding one slice over the recording (from its first
/// event to its last) whose annotations carry the stored histogram's count, 100000,
/// and percentiles in order; the track events on their own sequence, the first one
/// clearing its incremental state.
#[test]
fn stored_histograms_become_annotated_slices() {
    require_root!();
    let Some(python) = perfetto_python() else {
        hytrace_tests::skip(
            "target/python has no Perfetto protos (cargo xtask test installs them)",
        );
        return;
    };
    let dir = TempDir::new("perfetto-hist");
    let dat = dir.path_str("h.dat");
    hytrace_record(
        &[
            "--hist",
            "syscalls",
            "-e",
            "raw_syscalls:sys_enter",
            "-F",
            "-o",
            &dat,
        ],
        &[SPIN, "100000"],
    );
    let trace = dir.path_str("h.pftrace");
    hytrace_ok(&["export", "-i", &dat, "--perfetto", &trace]);
    let lines = perfetto_lines(&python, &trace);
    let track = of_kind(&lines, "track")
        .find(|t| t["name"] == "hist syscalls: getppid")
        .unwrap_or_else(|| {
            panic!(
                "no getppid track: {:?}",
                of_kind(&lines, "track").collect::<Vec<_>>()
            )
        });
    let slices: Vec<&Value> = of_kind(&lines, "slice")
        .filter(|s| s["track"] == track["uuid"])
        .collect();
    assert_eq!(slices.len(), 2, "{slices:?}");
    let (begin, end) = (slices[0], slices[1]);
    assert_eq!(begin["type"], "TYPE_SLICE_BEGIN");
    assert_eq!(end["type"], "TYPE_SLICE_END");
    assert_eq!(begin["name"], "getppid");
    let notes = &begin["annotations"];
    assert_eq!(notes["count"], 100_000, "{notes}");
    let p = |name: &str| notes[name].as_u64().unwrap();
    assert!(p("p50_ns") <= p("p90_ns") && p("p90_ns") <= p("p99_ns") && p("p99_ns") <= p("max_ns"));
    let events: Vec<u64> = of_kind(&lines, "event")
        .map(|e| e["ts"].as_u64().unwrap())
        .collect();
    assert_eq!(begin["ts"].as_u64(), events.iter().min().copied());
    assert_eq!(end["ts"].as_u64(), events.iter().max().copied());
    let first = of_kind(&lines, "slice").next().unwrap();
    let tracks_first: Vec<&Value> = of_kind(&lines, "track").collect();
    assert!(!tracks_first.is_empty());
    assert_eq!(first["sequence"], 2);
}

/// The guest's `hytrace kvm -- kvmguest --markers 1000` recording (left in
/// HYTRACE_GUEST_RECORDING_DIR by `cargo xtask vm-test`), exported: one track per vCPU
/// thread, a slice per paired exit named by its reason, as many per reason as `hytrace
/// kvm -i FILE --json` counts, each ending after it begins; the 1000 `io` exits that
/// went to QEMU each hold a nested `qemu` slice.
#[test]
fn a_guest_kvm_recording_exports_its_exits_as_slices() {
    let Some((dir, python)) = guest_recordings() else {
        return;
    };
    let dat = format!("{dir}/kvm.dat");
    let scratch = TempDir::new("perfetto-kvm");
    let trace = scratch.path_str("k.pftrace");
    hytrace_ok(&["export", "-i", &dat, "--perfetto", &trace]);
    let lines = perfetto_lines(&python, &trace);
    let tracks: Vec<&Value> = of_kind(&lines, "track")
        .filter(|t| {
            t["name"]
                .as_str()
                .unwrap()
                .starts_with("kvm exits, vCPU 0 ")
        })
        .collect();
    assert_eq!(
        tracks.len(),
        1,
        "{:?}",
        of_kind(&lines, "track").collect::<Vec<_>>()
    );
    let uuid = &tracks[0]["uuid"];
    // Per reason, the outer slices; nested ones are QEMU's parts.
    let mut depth = 0;
    let mut ours: BTreeMap<String, u64> = BTreeMap::new();
    let mut qemu = 0;
    let mut open_at: Vec<u64> = Vec::new();
    for slice in of_kind(&lines, "slice").filter(|s| &s["track"] == uuid) {
        let ts = slice["ts"].as_u64().unwrap();
        match slice["type"].as_str().unwrap() {
            "TYPE_SLICE_BEGIN" => {
                let name = slice["name"].as_str().unwrap().to_string();
                if depth == 0 {
                    *ours.entry(name).or_default() += 1;
                } else {
                    assert_eq!(name, "qemu");
                    qemu += 1;
                }
                depth += 1;
                open_at.push(ts);
            }
            _ => {
                depth -= 1;
                assert!(
                    ts >= open_at.pop().unwrap(),
                    "a slice ends before it begins"
                );
            }
        }
    }
    assert_eq!(depth, 0);
    let json: Value =
        serde_json::from_str(hytrace_ok(&["kvm", "-i", &dat, "--json"]).trim()).unwrap();
    let theirs: BTreeMap<String, u64> = json["exits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["reason"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ours, theirs);
    assert_eq!(ours.get("io"), Some(&1000));
    assert_eq!(qemu, 1000);
}

/// The GNU build-id of `exe` as lower-case hex, as `readelf -n` prints it.
fn build_id_of(exe: &str) -> String {
    run_ok("readelf", &["-n", exe])
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
        .expect("a build-id note")
}

/// `record -e raw_syscalls:sys_enter -f 'id == 110' --user-stack -F -- deep 100`, then
/// `export --perfetto`: 100 callstack samples, one per getppid sys_enter at its
/// timestamp, tid and CPU; each sample's frames, outermost first, are the report's
/// JSON frames of that event reversed (function, file offset, file:line, object), the
/// innermost being the inlined raw_getppid under 25 recurse frames, then c, b, a and
/// main; the executable's mapping carries its build-id as readelf prints it.
#[test]
fn user_stacks_export_as_callstack_samples_with_the_reports_frames() {
    require_root!();
    require_tool!("gcc");
    require_tool!("readelf");
    let Some(python) = perfetto_python() else {
        hytrace_tests::skip(
            "target/python has no Perfetto protos (cargo xtask test installs them)",
        );
        return;
    };
    let dir = TempDir::new("perfetto-stacks");
    let exe = hytrace_tests::build_deep(&dir);
    let dat = dir.path_str("u.dat");
    let cache = dir.path_str("build-id-cache");
    hytrace_tests::record_getppid_user_stacks(&dat, &cache, false, &[&exe, "100"]);
    let trace = dir.path_str("u.pftrace");
    let said = hytrace_tests::record_ok(&[
        "export",
        "-i",
        &dat,
        "--perfetto",
        &trace,
        "--build-id-cache",
        &cache,
    ]);
    assert!(
        said.contains("and 100 user stacks as callstack samples"),
        "{said}"
    );
    let lines = perfetto_lines(&python, &trace);
    let samples: Vec<&Value> = of_kind(&lines, "sample").collect();
    assert_eq!(samples.len(), 100);

    let report: Vec<Value> = hytrace_ok(&[
        "report",
        "-i",
        &dat,
        "--format",
        "json",
        "--build-id-cache",
        &cache,
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    let by_ts: BTreeMap<u64, &Value> = report
        .iter()
        .map(|e| (e["ts_ns"].as_u64().unwrap(), e))
        .collect();
    let build_id = build_id_of(&exe);
    let mut depth = None;
    for sample in &samples {
        let event = by_ts[&sample["ts"].as_u64().unwrap()];
        assert_eq!(event["event"], "sys_enter");
        assert_eq!(sample["tid"], event["pid"]);
        assert_eq!(sample["cpu"], event["cpu"]);
        let theirs: Vec<&Value> = event["user_stack"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .collect();
        let ours = sample["frames"].as_array().unwrap();
        assert_eq!(ours.len(), theirs.len(), "{sample}");
        for (our, their) in ours.iter().zip(&theirs) {
            if their.get("function").is_some() {
                assert_eq!(our["function"], their["function"], "{our} vs {their}");
                assert_eq!(our["rel_pc"], their["file_offset"], "{our} vs {their}");
                assert_eq!(our["source"], their["file"], "{our} vs {their}");
                assert_eq!(our["line"], their["line"], "{our} vs {their}");
                assert_eq!(our["mapping"], their["object"], "{our} vs {their}");
            }
        }
        let names: Vec<&str> = ours
            .iter()
            .map(|f| f["function"].as_str().unwrap())
            .collect();
        let main = names
            .iter()
            .position(|n| *n == "main")
            .unwrap_or_else(|| panic!("no main: {names:?} {sample}"));
        let mut expected = vec!["main", "a", "b", "c"];
        expected.extend(std::iter::repeat_n("recurse", 25));
        expected.push("raw_getppid");
        assert_eq!(names[main..], expected[..], "{names:?}");
        assert_eq!(ours[main]["mapping"], exe.as_str());
        assert_eq!(ours[main]["build_id"], build_id.as_str());
        // One stack for every call: interned once, the same frames each time.
        assert_eq!(*depth.get_or_insert(ours.len()), ours.len());
    }
}

/// The guest's kept `graph --on-outlier syscalls:5000 -o` snapshot of sleeper's 100 ms
/// nap, with the header graph printed for it (both left in
/// HYTRACE_GUEST_RECORDING_DIR): the export holds a track `syscalls over 5000.000 us,
/// thread TID` with a clock_nanosleep slice whose length, and delta_ns annotation, is
/// the printed duration to the nanosecond; that thread's funcgraph entries of the
/// sleep lie inside the slice.
#[test]
fn a_kept_outlier_snapshot_exports_its_sample_as_a_slice() {
    let Some((dir, python)) = guest_recordings() else {
        return;
    };
    let dat = format!("{dir}/outlier.dat");
    // "syscalls clock_nanosleep took 100123.456 us (tid 412; threshold 5000.000 us)"
    let header = std::fs::read_to_string(format!("{dir}/outlier.txt")).unwrap();
    let took_us = header
        .split(" took ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let (us, frac) = took_us.split_once('.').unwrap();
    let took_ns = us.parse::<u64>().unwrap() * 1000 + frac.parse::<u64>().unwrap();
    let tid: u64 = header
        .split("(tid ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no tid in {header}"));
    assert!(
        header.starts_with("syscalls clock_nanosleep took "),
        "{header}"
    );

    let scratch = TempDir::new("perfetto-outlier");
    let lines = check_against_report(&python, &dat, &scratch);
    let track_name = format!("syscalls over 5000.000 us, thread {tid}");
    let track = of_kind(&lines, "track")
        .find(|t| t["name"] == track_name.as_str())
        .unwrap_or_else(|| panic!("no track {track_name}"))["uuid"]
        .clone();
    let slices: Vec<&Value> = of_kind(&lines, "slice")
        .filter(|s| s["track"] == track)
        .collect();
    let begin = slices
        .iter()
        .position(|s| {
            s["type"] == "TYPE_SLICE_BEGIN"
                && s["name"] == "clock_nanosleep"
                && s["annotations"]["delta_ns"].as_u64() == Some(took_ns)
        })
        .unwrap_or_else(|| panic!("no {took_ns} ns clock_nanosleep slice: {slices:?}"));
    let end = &slices[begin + 1];
    assert_eq!(end["type"], "TYPE_SLICE_END");
    let (from, to) = (
        slices[begin]["ts"].as_u64().unwrap(),
        end["ts"].as_u64().unwrap(),
    );
    assert_eq!(to - from, took_ns);
    let inside = of_kind(&lines, "event")
        .filter(|e| e["name"] == "funcgraph_entry" && e["pid"].as_u64() == Some(tid))
        .filter(|e| (from..=to).contains(&e["ts"].as_u64().unwrap()))
        .count();
    assert!(
        inside > 0,
        "no funcgraph entry of thread {tid} within the sample"
    );
}
