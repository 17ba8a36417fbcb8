//! `--uprobe 'p:NAME PATH:FUNC VAR…'`: parameters fetched by name, placed and typed
//! from DWARF, in a register at entry (optimized Rust) or a stack slot after the
//! prologue (C at -O0).

use hytrace_tests::{
    DEEP_SOURCE, TempDir, assert_no_hytrace_instance, assert_no_hytrace_uprobe,
    assert_one_line_error, build_deep, hytrace_record, hytrace_report, lines_of_event,
    require_root, require_tool,
};

const SLEEPER: &str = env!("CARGO_BIN_EXE_sleeper");

/// The value of field `name` (`name=VALUE`) in a report line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
}

/// sleeper calls nap(3) 20 times; a probe on nap fetching `ms` by name records 20
/// hits with ms=3 (nap's parameter is in %rdi at entry in the optimized build).
#[test]
fn a_register_parameter_is_fetched_by_name() {
    require_root!();
    let (_dir, dat) = TempDir::with_file("pbn", "n.dat");
    let probe = format!("p:napa {SLEEPER}:nap ms");
    hytrace_record(
        &["--uprobe", &probe, "-F", "-o", &dat],
        &[SLEEPER, "20", "0", "3"],
    );
    let report = hytrace_report(&dat, &[]);
    let hits: Vec<&str> = lines_of_event(&report, "napa").collect();
    assert_eq!(hits.len(), 20, "{report}");
    for hit in hits {
        assert_eq!(field(hit, "ms"), "3", "{hit}");
    }
    assert_no_hytrace_uprobe();
    assert_no_hytrace_instance();
}

/// deep (gcc -O0) calls recurse(25) … recurse(1) per iteration; a probe on recurse
/// fetching `depth` by name (a stack slot, read after the prologue) records 25, 24,
/// …, 1 twice for `deep 2`.
#[test]
fn a_stack_slot_parameter_is_fetched_after_the_prologue() {
    require_root!();
    require_tool!("gcc");
    let dir = TempDir::new("pbn-c");
    let exe = build_deep(&dir);
    let dat = dir.path_str("d.dat");
    let probe = format!("p:rec {exe}:recurse depth");
    hytrace_record(&["--uprobe", &probe, "-F", "-o", &dat], &[&exe, "2"]);
    let report = hytrace_report(&dat, &[]);
    let depths: Vec<i64> = lines_of_event(&report, "rec")
        .map(|line| field(line, "depth").parse().unwrap())
        .collect();
    let once: Vec<i64> = (1..=25).rev().collect();
    assert_eq!(depths, [once.clone(), once].concat());
}

/// `PATH:FILE:LINE`: a probe on deep.c's line of the recursive call runs for every
/// level but the last: 24 times per iteration, 48 for `deep 2`.
#[test]
fn a_source_line_probe_fires_at_every_pass_over_the_line() {
    require_root!();
    require_tool!("gcc");
    let dir = TempDir::new("pbn-line");
    let exe = build_deep(&dir);
    let source = std::fs::read_to_string(DEEP_SOURCE).unwrap();
    let line = source
        .lines()
        .position(|l| l.contains("/* call: recurse */"))
        .unwrap()
        + 1;
    let dat = dir.path_str("l.dat");
    let probe = format!("p:recline {exe}:deep.c:{line}");
    hytrace_record(&["--uprobe", &probe, "-F", "-o", &dat], &[&exe, "2"]);
    let report = hytrace_report(&dat, &[]);
    assert_eq!(lines_of_event(&report, "recline").count(), 48, "{report}");
    assert_no_hytrace_uprobe();
}

/// A name FUNC has no parameter of is refused in one line naming the parameters it
/// has, before anything is set up.
#[test]
fn an_unknown_parameter_is_refused_naming_the_known_ones() {
    require_root!();
    let probe = format!("p:bad {SLEEPER}:nap nosuch");
    let stderr = assert_one_line_error(
        &[
            "record",
            "--uprobe",
            &probe,
            "-o",
            "/tmp/never.dat",
            "--",
            SLEEPER,
            "1",
        ],
        "nap has no parameter nosuch (its parameters: ms)",
    );
    assert!(!std::path::Path::new("/tmp/never.dat").exists(), "{stderr}");
    assert_no_hytrace_uprobe();
    assert_no_hytrace_instance();
}
