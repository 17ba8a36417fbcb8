use std::collections::BTreeMap;

use super::{messages::FtraceEventKind, *};
use crate::{
    format::parse_event_format, output::event_report, report::ReportStyle, store::read_trace_file,
};

/// `perfetto.protos.Trace`, to read back what [`write`] wrote.
#[derive(Clone, PartialEq, prost::Message)]
struct Trace {
    #[prost(message, repeated, tag = "1")]
    packet: Vec<TracePacket>,
}

/// trace-cmd 3.1.6's v7 extract fixture (sched, raw_syscalls, irq, markers).
fn fixture() -> Recording {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/store/fixtures/extract-v7-zstd.tracedat"
    );
    let file = read_trace_file(&std::fs::read(path).unwrap()).unwrap();
    Recording::from_file(file, "fixture").unwrap()
}

#[test]
fn every_event_reaches_a_bundle_of_its_cpu_with_the_counts_report_gives() {
    let recording = fixture();
    let mut out = Vec::new();
    let stats = write(&recording, &ObjectSearch::default(), &mut out).unwrap();
    let trace = <Trace as prost::Message>::decode(out.as_slice()).unwrap();
    let PacketData::ProcessTree(tree) = trace.packet[0].data.clone().unwrap() else {
        panic!("the first packet is not the process tree");
    };
    assert_eq!(tree.threads.len(), recording.file.meta.cmdline_map().len());
    let mut names: BTreeMap<String, u64> = BTreeMap::new();
    let mut events = 0;
    for packet in &trace.packet[1..] {
        assert_eq!(packet.trusted_packet_sequence_id, Some(1));
        let Some(PacketData::FtraceEvents(bundle)) = &packet.data else {
            panic!("not a bundle: {packet:?}");
        };
        assert!(bundle.cpu.is_some_and(|c| c < 2));
        // Time order within a bundle.
        assert!(
            bundle
                .event
                .windows(2)
                .all(|w| w[0].timestamp <= w[1].timestamp)
        );
        for event in &bundle.event {
            events += 1;
            let name = match event.event.as_ref().unwrap() {
                FtraceEventKind::Generic(g) => g.event_name.clone().unwrap(),
                FtraceEventKind::SchedSwitch(_) => "sched_switch".into(),
                FtraceEventKind::SchedWakeup(_) => "sched_wakeup".into(),
                FtraceEventKind::SchedWaking(_) => "sched_waking".into(),
                FtraceEventKind::SysEnter(_) => "sys_enter".into(),
                FtraceEventKind::SysExit(_) => "sys_exit".into(),
                FtraceEventKind::Print(_) => "print".into(),
                FtraceEventKind::IrqHandlerEntry(_) => "irq_handler_entry".into(),
                FtraceEventKind::IrqHandlerExit(_) => "irq_handler_exit".into(),
                FtraceEventKind::SoftirqEntry(_) => "softirq_entry".into(),
                FtraceEventKind::SoftirqExit(_) => "softirq_exit".into(),
                other => format!("{other:?}"),
            };
            *names.entry(name).or_default() += 1;
        }
    }
    assert_eq!(events, stats.events);
    assert_eq!(stats.bundles as usize, trace.packet.len() - 1);
    let report = event_report::print(
        &recording,
        &RecordFilter::default(),
        None,
        ReportStyle::Count,
        &mut std::io::sink(),
    )
    .unwrap();
    let counted: BTreeMap<String, u64> = report.counts.into_iter().collect();
    assert_eq!(names, counted);
}

/// sched_switch as this machine's 6.18 kernel defines it.
const SCHED_SWITCH: &str = "name: sched_switch
ID: 330
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;

print fmt: \"prev_comm=%s prev_pid=%d\", REC->prev_comm, REC->prev_pid
";

#[test]
fn sched_switch_becomes_perfettos_typed_message() {
    let format = parse_event_format("sched", SCHED_SWITCH).unwrap();
    let mut record = vec![0u8; 64];
    record[0..2].copy_from_slice(&330u16.to_le_bytes());
    record[8..12].copy_from_slice(b"spin");
    record[24..28].copy_from_slice(&4242i32.to_le_bytes());
    record[28..32].copy_from_slice(&120i32.to_le_bytes());
    record[32..40].copy_from_slice(&1i64.to_le_bytes());
    record[40..47].copy_from_slice(b"swapper");
    record[60..64].copy_from_slice(&(-1i32).to_le_bytes());
    assert_eq!(
        events::event_kind(&format, &record),
        FtraceEventKind::SchedSwitch(messages::SchedSwitchFtraceEvent {
            prev_comm: Some("spin".into()),
            prev_pid: Some(4242),
            prev_prio: Some(120),
            prev_state: Some(1),
            next_comm: Some("swapper".into()),
            next_pid: Some(0),
            next_prio: Some(-1),
        })
    );
    // Another system's event of the same name is not sched's: generic, every field.
    let other = parse_event_format("mine", SCHED_SWITCH).unwrap();
    let FtraceEventKind::Generic(generic) = events::event_kind(&other, &record) else {
        panic!("not generic");
    };
    assert_eq!(generic.event_name.as_deref(), Some("sched_switch"));
    assert_eq!(generic.field.len(), 7);
    assert_eq!(
        generic.field[0].value,
        Some(messages::GenericValue::Str("spin".into()))
    );
    assert_eq!(
        generic.field[1].value,
        Some(messages::GenericValue::Int(4242))
    );
}
