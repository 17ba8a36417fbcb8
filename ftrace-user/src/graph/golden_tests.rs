//! Golden tests: the function_graph text of real kernels (fixtures copied from the
//! project's seed documents: a KVM guest's smp_call_function_many_cond, and
//! vcpu_enter_guest on AMD and Intel hosts) is turned back into the binary
//! funcgraph_entry / funcgraph_exit records the kernel would have written, in
//! ring-buffer pages; decoding and rendering those pages must give the same text, line
//! for line.

use std::collections::HashMap;

use super::{GraphEvent, GraphSymbols, events::GraphFormats};
use crate::output::call_graph::render;
use crate::{
    decode::{CpuStream, Merger, PageLayout, page::tests::PageBuilder},
    format::parse_event_format,
};

/// The fields funcgraph_entry and funcgraph_exit begin with (the formats of this
/// development machine's kernel, 6.18).
macro_rules! graph_common_fields {
    () => {
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long func;\toffset:8;\tsize:8;\tsigned:0;
\tfield:unsigned int depth;\toffset:16;\tsize:4;\tsigned:0;
"
    };
}

/// funcgraph_entry's format on 6.18.
const ENTRY_FORMAT: &str = concat!(
    "name: funcgraph_entry
ID: 11
format:
",
    graph_common_fields!(),
    "\tfield:unsigned long args[];\toffset:24;\tsize:0;\tsigned:0;

print fmt: \"--> %ps (%u)\", (void *)REC->func, REC->depth
"
);

/// funcgraph_exit's format on 6.18.
const EXIT_FORMAT: &str = concat!(
    "name: funcgraph_exit
ID: 10
format:
",
    graph_common_fields!(),
    "\tfield:unsigned int overrun;\toffset:20;\tsize:4;\tsigned:0;
\tfield:unsigned long long calltime;\toffset:24;\tsize:8;\tsigned:0;
\tfield:unsigned long long rettime;\toffset:32;\tsize:8;\tsigned:0;

print fmt: \"<-- %ps (%u) (start: %llx  end: %llx) over: %u\", (void *)REC->func, REC->depth, REC->calltime, REC->rettime, REC->depth
"
);

const PID: i32 = 4242;
const PAGE_SIZE: usize = 1 << 16;

/// The functions of a fixture: name (with its `[module]`) by address, and which are
/// irq entry functions.
#[derive(Default)]
struct FixtureSymbols {
    names: Vec<String>,
    irq: Vec<u64>,
}

impl FixtureSymbols {
    fn address(&mut self, name: &str) -> u64 {
        let index = match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        };
        0xffff_ffff_8100_0000 + 0x100 * index as u64
    }
}

impl GraphSymbols for FixtureSymbols {
    fn function(&self, addr: u64) -> String {
        let index = ((addr - 0xffff_ffff_8100_0000) / 0x100) as usize;
        self.names[index].clone()
    }
    fn is_irq_entry(&self, addr: u64) -> bool {
        self.irq.contains(&addr)
    }
    fn comm(&self, pid: i32) -> String {
        format!("task{pid}")
    }
}

/// A record to write: (cpu, timestamp, payload).
type Written = (u32, u64, Vec<u8>);

fn entry_record(func: u64, depth: u32) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&11u16.to_le_bytes());
    r.extend_from_slice(&[0, 0]);
    r.extend_from_slice(&PID.to_le_bytes());
    r.extend_from_slice(&func.to_le_bytes());
    r.extend_from_slice(&depth.to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes());
    r
}

fn exit_record(func: u64, depth: u32, calltime: u64, rettime: u64) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&10u16.to_le_bytes());
    r.extend_from_slice(&[0, 0]);
    r.extend_from_slice(&PID.to_le_bytes());
    r.extend_from_slice(&func.to_le_bytes());
    r.extend_from_slice(&depth.to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(&calltime.to_le_bytes());
    r.extend_from_slice(&rettime.to_le_bytes());
    r
}

/// "3.036 us" (after an optional mark) in nanoseconds.
fn duration_ns(column: &str) -> Option<u64> {
    let text = column
        .trim()
        .trim_start_matches(['+', '!', '#', '*', '@', '$'])
        .trim();
    let number = text.strip_suffix("us")?.trim();
    let (us, frac) = number.split_once('.').unwrap_or((number, ""));
    let frac_ns: u64 = format!("{frac:0<3}")[..3].parse().ok()?;
    Some(us.parse::<u64>().ok()? * 1000 + frac_ns)
}

/// Turns one block of function_graph text back into the records the kernel wrote.
fn records_of(block: &str, symbols: &mut FixtureSymbols) -> Vec<Written> {
    let mut written = Vec::new();
    let mut open: HashMap<(u32, u32), u64> = HashMap::new();
    let mut last_func: Option<u64> = None;
    let mut ts = 1_000_000u64;
    for line in block.lines() {
        let (cpu_text, rest) = line.split_once(')').expect("a CPU column");
        let cpu: u32 = cpu_text.trim().parse().expect("a CPU number");
        if rest.contains("<==========") {
            symbols.irq.push(last_func.expect("an arrow after a call"));
            continue;
        }
        let (column, call) = rest.split_once("|  ").expect("a duration column");
        let depth = ((call.len() - call.trim_start().len()) / 2) as u32;
        let call = call.trim();
        ts += 1000;
        let duration = duration_ns(column);
        if let Some(name) = call.strip_suffix("();") {
            let func = symbols.address(name);
            let d = duration.expect("a leaf has a duration");
            written.push((cpu, ts, entry_record(func, depth)));
            written.push((cpu, ts + 1, exit_record(func, depth, ts + 1 - d, ts + 1)));
            last_func = Some(func);
        } else if let Some(name) = call.strip_suffix("() {") {
            let func = symbols.address(name);
            open.insert((cpu, depth), func);
            written.push((cpu, ts, entry_record(func, depth)));
            last_func = Some(func);
        } else if let Some(name) = call
            .strip_prefix("} /* ")
            .and_then(|c| c.strip_suffix(" */"))
        {
            let func = symbols.address(name);
            let d = duration.expect("a closer has a duration");
            written.push((cpu, ts, exit_record(func, depth, ts - d, ts)));
            last_func = Some(func);
        } else if call == "}" {
            let func = open
                .remove(&(cpu, depth))
                .expect("a closer of an opened call");
            let d = duration.expect("a closer has a duration");
            written.push((cpu, ts, exit_record(func, depth, ts - d, ts)));
            last_func = Some(func);
        } else {
            panic!("unexpected line {line:?}");
        }
    }
    written
}

/// Ring-buffer pages per CPU holding the records in order.
fn pages_of(written: &[Written]) -> Vec<(u32, Vec<u8>)> {
    let mut by_cpu: Vec<(u32, Vec<&Written>)> = Vec::new();
    for record in written {
        match by_cpu.iter_mut().find(|(cpu, _)| *cpu == record.0) {
            Some((_, list)) => list.push(record),
            None => by_cpu.push((record.0, vec![record])),
        }
    }
    by_cpu
        .into_iter()
        .map(|(cpu, records)| {
            let first = records[0].1;
            let mut page = PageBuilder::new(first);
            let mut previous = first;
            for (_, ts, payload) in records {
                page = page.record((ts - previous) as u32, payload);
                previous = *ts;
            }
            (cpu, page.finish(0, PAGE_SIZE))
        })
        .collect()
}

fn render_block(block: &str, cpus: u32) -> String {
    let mut symbols = FixtureSymbols::default();
    let written = records_of(block, &mut symbols);
    let pages = pages_of(&written);
    let entry = parse_event_format("ftrace", ENTRY_FORMAT).unwrap();
    let exit = parse_event_format("ftrace", EXIT_FORMAT).unwrap();
    let formats = GraphFormats::new(&entry, &exit).unwrap();
    let streams = pages
        .iter()
        .map(|(cpu, bytes)| (*cpu, CpuStream::new(bytes, PAGE_SIZE, PageLayout::LP64)))
        .collect();
    let events: Vec<GraphEvent> = Merger::new(streams)
        .map(|merged| {
            formats
                .event(merged.cpu, merged.record.ts, merged.record.data)
                .expect("a graph record")
        })
        .collect();
    assert_eq!(events.len(), written.len());
    render(&events, cpus, &symbols)
}

/// Each blank-line separated block of a fixture renders back to itself.
fn check_fixture(text: &str, cpus: u32) -> usize {
    let mut blocks = 0;
    for block in text
        .split("\n\n")
        .map(|b| b.trim_matches('\n'))
        .filter(|b| !b.is_empty())
    {
        let rendered = render_block(block, cpus);
        for (number, (got, want)) in rendered.lines().zip(block.lines()).enumerate() {
            assert_eq!(got, want, "line {} of block {blocks}", number + 1);
        }
        assert_eq!(
            rendered.lines().count(),
            block.lines().count(),
            "block {blocks}"
        );
        blocks += 1;
    }
    blocks
}

#[test]
fn guest_smp_call_function_many_cond_renders_as_the_kernel_printed_it() {
    // 16 CPUs: a two-digit CPU column. Opens with calls whose entries came before the
    // capture (`} /* func */` closers) and the return arrow of the timer interrupt.
    let text = include_str!("fixtures/seed000_guest_smp_call.txt");
    assert_eq!(check_fixture(text, 16), 1);
}

#[test]
fn amd_vcpu_enter_guest_renders_as_the_kernel_printed_it() {
    // Over 100 CPUs: a three-digit CPU column; module symbols `[kvm]`, `[kvm_amd]`.
    let text = include_str!("fixtures/seed001_amd_cpuid.txt");
    assert_eq!(check_fixture(text, 192), 3);
}

#[test]
fn intel_vcpu_enter_guest_renders_as_the_kernel_printed_it() {
    let text = include_str!("fixtures/seed001_intel_cpuid.txt");
    assert_eq!(check_fixture(text, 64), 3);
}

#[test]
fn durations_parse_from_the_column() {
    assert_eq!(duration_ns("   3.036 us    "), Some(3036));
    assert_eq!(duration_ns(" + 14.536 us   "), Some(14_536));
    assert_eq!(duration_ns("               "), None);
}
