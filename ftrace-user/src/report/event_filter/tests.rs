use std::borrow::Cow;

use super::*;
use crate::format::parse_event_format;

const SCHED_SWITCH: &str =
    include_str!("../../store/fixtures/capture/meta/events/sched/sched_switch.format");

const FUNCTION: &str = "name: function
ID: 1
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long ip;\toffset:8;\tsize:8;\tsigned:0;
\tfield:unsigned long parent_ip;\toffset:16;\tsize:8;\tsigned:0;

print fmt: \" %ps <-- %ps\", (void *)REC->ip, (void *)REC->parent_ip
";

const KERNEL_STACK: &str = "name: kernel_stack
ID: 4
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int size;\toffset:8;\tsize:4;\tsigned:1;
\tfield:unsigned long caller[8];\toffset:16;\tsize:64;\tsigned:0;

print fmt: \"\\t=> %ps\\n\", (void *)REC->caller[0]
";

fn events() -> Vec<EventFormat> {
    vec![
        parse_event_format("ftrace", FUNCTION).unwrap(),
        parse_event_format("ftrace", KERNEL_STACK).unwrap(),
        parse_event_format("sched", SCHED_SWITCH).unwrap(),
    ]
}

struct Facts {
    data: Vec<u8>,
    cpu: u32,
    comm: &'static str,
}

impl RecordFacts for Facts {
    fn data(&self) -> &[u8] {
        &self.data
    }
    fn cpu(&self) -> u32 {
        self.cpu
    }
    fn comm(&self) -> Cow<'_, str> {
        self.comm.into()
    }
    fn function(&self, addr: u64) -> Option<&str> {
        (0xffff_ffff_8100_0000..0xffff_ffff_8100_0100)
            .contains(&addr)
            .then_some("vfs_read")
    }
}

fn comm_bytes(comm: &str) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..comm.len()].copy_from_slice(comm.as_bytes());
    bytes
}

/// A sched_switch record: pid 7 switching from (prev_comm, prev_pid, prev_state) to
/// (next_comm, next_pid).
fn switch(prev: (&str, i32, i64), next: (&str, i32)) -> Facts {
    let mut data = Vec::new();
    data.extend_from_slice(&372u16.to_le_bytes());
    data.extend_from_slice(&[1, 0]);
    data.extend_from_slice(&7i32.to_le_bytes());
    data.extend_from_slice(&comm_bytes(prev.0));
    data.extend_from_slice(&prev.1.to_le_bytes());
    data.extend_from_slice(&120i32.to_le_bytes());
    data.extend_from_slice(&prev.2.to_le_bytes());
    data.extend_from_slice(&comm_bytes(next.0));
    data.extend_from_slice(&next.1.to_le_bytes());
    data.extend_from_slice(&120i32.to_le_bytes());
    Facts {
        data,
        cpu: 1,
        comm: "spin",
    }
}

fn function(ip: u64) -> Facts {
    let mut data = Vec::new();
    data.extend_from_slice(&1u16.to_le_bytes());
    data.extend_from_slice(&[0, 0]);
    data.extend_from_slice(&7i32.to_le_bytes());
    data.extend_from_slice(&ip.to_le_bytes());
    data.extend_from_slice(&0u64.to_le_bytes());
    Facts {
        data,
        cpu: 0,
        comm: "spin",
    }
}

fn kernel_stack() -> Facts {
    let mut data = Vec::new();
    data.extend_from_slice(&4u16.to_le_bytes());
    data.extend_from_slice(&[0, 0]);
    data.extend_from_slice(&7i32.to_le_bytes());
    data.extend_from_slice(&8i32.to_le_bytes());
    data.extend_from_slice(&[0; 4 + 64]);
    Facts {
        data,
        cpu: 1,
        comm: "spin",
    }
}

fn filters(specs: &[(&str, bool)]) -> Result<EventFilters, EventFilterError> {
    let specs: Vec<FilterSpec> = specs
        .iter()
        .map(|(text, hides)| FilterSpec {
            text: text.to_string(),
            hides: *hides,
        })
        .collect();
    EventFilters::build(&events(), &specs)
}

/// Whether `facts` passes the one filter `spec`.
fn shows(spec: &str, facts: &Facts) -> bool {
    let events = events();
    let type_id = u16::from_le_bytes([facts.data[0], facts.data[1]]);
    let event = events.iter().find(|e| e.id == type_id).unwrap();
    filters(&[(spec, false)])
        .unwrap()
        .shows(event, facts, &mut false)
}

fn error(spec: &str) -> String {
    match filters(&[(spec, false)]) {
        Ok(compiled) => panic!("{spec} compiles: {:?}", compiled.shown[0].per_event.last()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn numeric_comparisons_read_fields_as_libtraceevent_does() {
    let r = switch(("spin", 42, 1), ("swapper/1", 0));
    assert!(shows("sched_switch: prev_pid == 42", &r));
    assert!(shows("sched_switch: prev_pid==42&&next_pid==0", &r));
    assert!(!shows("sched_switch: prev_pid != 42", &r));
    assert!(shows(
        "sched_switch: prev_pid >= 0x2a && prev_pid <= 052",
        &r
    ));
    assert!(shows("sched_switch: prev_state & 1", &r));
    assert!(!shows("sched_switch: prev_state & 2", &r));
    assert!(shows("sched_switch: common_pid == 7 && CPU == 1", &r));
    // Signed fields are sign-extended, then compared as unsigned 64-bit numbers.
    let negative = switch(("spin", -1, 0), ("x", 0));
    assert!(shows("sched_switch: prev_pid > 0", &negative));
    assert!(shows(
        "sched_switch: prev_pid == 18446744073709551615",
        &negative
    ));
}

#[test]
fn and_and_or_group_from_the_left() {
    let r = switch(("spin", 42, 0), ("x", 0));
    // As C reads it, `1 || (0 && 0)` is true; libtraceevent reads `(1 || 0) && 0`.
    assert!(!shows(
        "sched_switch: prev_pid == 42 || next_pid == 9 && next_pid == 8",
        &r
    ));
    assert!(shows(
        "sched_switch: prev_pid == 42 || (next_pid == 9 && next_pid == 8)",
        &r
    ));
    assert!(shows("sched_switch: !prev_pid == 41", &r));
    assert!(!shows(
        "sched_switch: !(prev_pid == 42 || next_pid == 9)",
        &r
    ));
}

#[test]
fn a_field_the_event_lacks_is_false_and_folded_away() {
    let r = switch(("spin", 42, 0), ("x", 0));
    assert!(shows("sched_switch: bogus == 1 || prev_pid == 42", &r));
    assert!(!shows("sched_switch: bogus == 1 && prev_pid == 42", &r));
    // Not a negation of the comparison: the whole comparison is false.
    assert!(!shows("sched_switch: bogus != 1", &r));
    assert!(shows("sched_switch: !(bogus == 1)", &r));
    assert!(!shows("sched_switch: bogus == \"x\"", &r));
}

#[test]
fn strings_compare_equal_by_regex_and_by_glob() {
    let r = switch(("kworker/0:1", 42, 0), ("spin", 9));
    assert!(shows("sched_switch: prev_comm == \"kworker/0:1\"", &r));
    assert!(!shows("sched_switch: prev_comm == \"kworker\"", &r));
    assert!(shows("sched_switch: next_comm != \"kworker/0:1\"", &r));
    assert!(shows("sched_switch: prev_comm =~ \"^KWORK.*\"", &r));
    assert!(shows("sched_switch: prev_comm =~ 'ker/[0-9]'", &r));
    assert!(!shows("sched_switch: next_comm !~ \"pi\"", &r));
    assert!(shows("sched_switch: prev_comm ~ \"kworker/*\"", &r));
    assert!(!shows("sched_switch: prev_comm ~ \"worker*\"", &r));
    assert!(shows(
        "sched_switch: COMM == \"spin\" && COMM =~ \"^s\"",
        &r
    ));
    assert!(shows("sched_switch: CPU == \"0x1\"", &r));
}

#[test]
fn an_address_field_compares_with_a_string_by_its_function_name() {
    assert!(shows(
        "function: ip == \"vfs_read\"",
        &function(0xffff_ffff_8100_0010)
    ));
    assert!(!shows(
        "function: ip == \"vfs_read\"",
        &function(0xffff_ffff_8200_0000)
    ));
    assert!(shows(
        "function: ip == \"0xffffffff82000000\"",
        &function(0xffff_ffff_8200_0000)
    ));
}

#[test]
fn event_patterns_are_whole_regular_expressions_of_system_or_name() {
    let r = switch(("a", 1, 0), ("b", 2));
    assert!(shows("sched", &r));
    assert!(shows("SCHED/sched_s.*", &r));
    assert!(shows("ftrace/function,sched/sched_switch", &r));
    assert!(!shows("sched", &function(0)));
    assert!(!shows("function,kernel_stack", &r));
    assert_eq!(
        error("sched_sw"),
        "-F 'sched_sw': no event of the file matches 'sched_sw' (hytrace list names them)"
    );
    assert_eq!(
        error("sched/nope:prev_pid==1"),
        "-F 'sched/nope:prev_pid==1': no event of the file matches 'sched/nope' (hytrace \
         list names them)"
    );
    assert_eq!(
        error(",sched"),
        "-F ',sched': an event name is missing before ':' or between ','"
    );
}

#[test]
fn a_filter_that_does_not_compile_is_shown_with_a_caret() {
    assert_eq!(
        error("sched_switch:prev_pid 1 == 2"),
        "-F 'sched_switch:prev_pid 1 == 2': the filter does not compile for \
         sched/sched_switch: syntax error\n  prev_pid 1 == 2\n           ^"
    );
    // libtraceevent reads a doubled comparison as one.
    assert!(shows(
        "sched_switch: prev_pid == == 1",
        &switch(("a", 1, 0), ("b", 2))
    ));
    assert!(error("sched_switch: prev_pid = 1").contains("unknown operator '='"));
    assert!(error("sched_switch: 1 == prev_pid").contains("syntax error"));
    assert!(error("sched_switch: prev_comm < \"a\"").contains("illegal comparison for a string"));
    assert!(error("sched_switch: prev_pid =~ 1").contains("=~ and !~ take a string"));
    assert!(error("sched_switch: prev_pid ~ 1").contains("~ takes a string"));
    assert!(error("sched_switch: (prev_pid == 1").contains("unbalanced '('"));
    assert!(error("sched_switch: prev_pid == 1)").contains("unbalanced ')'"));
    assert!(error("sched_switch: prev_pid ==").contains("not complete"));
    assert!(error("sched_switch: prev_comm =~ \"[ab\"").contains("bad regular expression"));
    assert!(error("sched_switch: prev_pid == prev_prio").contains("syntax error"));
}

#[test]
fn stacks_follow_the_records_shown_and_v_hides() {
    let events = events();
    let switch_event = &events[2];
    let stack_event = &events[1];
    let shown = switch(("a", 1, 0), ("b", 2));
    let other = switch(("a", 5, 0), ("b", 2));
    let stack = kernel_stack();
    let f = filters(&[("sched_switch: prev_pid == 1", false)]).unwrap();
    let mut follows = false;
    assert!(!f.shows(stack_event, &stack, &mut follows));
    assert!(f.shows(switch_event, &shown, &mut follows));
    assert!(f.shows(stack_event, &stack, &mut follows));
    // A record that fails the filter leaves the flag as it was (trace-cmd's order).
    assert!(!f.shows(switch_event, &other, &mut follows));
    assert!(f.shows(stack_event, &stack, &mut follows));

    let f = filters(&[("sched_switch: prev_pid == 1", true)]).unwrap();
    let mut follows = false;
    assert!(!f.shows(switch_event, &shown, &mut follows));
    assert!(f.shows(switch_event, &other, &mut follows));
    assert!(f.shows(stack_event, &stack, &mut follows));

    // Shown by one -F or another, then hidden by a -v -F.
    let f = filters(&[
        ("sched_switch: prev_pid == 1", false),
        ("sched_switch: prev_pid == 5", false),
        ("sched_switch: next_pid == 2 && prev_pid == 5", true),
    ])
    .unwrap();
    assert!(f.shows(switch_event, &shown, &mut false));
    assert!(!f.shows(switch_event, &other, &mut false));
}
