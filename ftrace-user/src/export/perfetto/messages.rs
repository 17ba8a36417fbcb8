//! The parts of Perfetto's trace format (protos/perfetto/trace/*.proto) hytrace
//! writes, as prost messages: field numbers and types as Perfetto publishes them.

/// `perfetto.protos.Trace`: the file is a sequence of its `packet` field (tag 1).
pub const TRACE_PACKET_TAG: u32 = 1;

#[derive(Clone, PartialEq, prost::Message)]
pub struct TracePacket {
    #[prost(uint64, optional, tag = "8")]
    pub timestamp: Option<u64>,
    #[prost(uint32, optional, tag = "10")]
    pub trusted_packet_sequence_id: Option<u32>,
    #[prost(uint32, optional, tag = "13")]
    pub sequence_flags: Option<u32>,
    /// What later packets of the sequence refer to by iid (not part of `data`).
    #[prost(message, optional, tag = "12")]
    pub interned_data: Option<InternedData>,
    #[prost(oneof = "PacketData", tags = "1, 2, 11, 60, 66")]
    pub data: Option<PacketData>,
}

/// `TracePacket.sequence_flags`: SEQ_INCREMENTAL_STATE_CLEARED (the sequence's
/// interned data starts anew here).
pub const SEQ_INCREMENTAL_STATE_CLEARED: u32 = 1;
/// `TracePacket.sequence_flags`: SEQ_NEEDS_INCREMENTAL_STATE (the packet refers to
/// interned data).
pub const SEQ_NEEDS_INCREMENTAL_STATE: u32 = 2;

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum PacketData {
    #[prost(message, tag = "1")]
    FtraceEvents(FtraceEventBundle),
    #[prost(message, tag = "2")]
    ProcessTree(ProcessTree),
    #[prost(message, tag = "11")]
    TrackEvent(TrackEvent),
    #[prost(message, tag = "60")]
    TrackDescriptor(TrackDescriptor),
    #[prost(message, tag = "66")]
    PerfSample(PerfSample),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FtraceEventBundle {
    #[prost(uint32, optional, tag = "1")]
    pub cpu: Option<u32>,
    #[prost(message, repeated, tag = "2")]
    pub event: Vec<FtraceEvent>,
    /// Events were lost before this bundle.
    #[prost(bool, optional, tag = "3")]
    pub lost_events: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FtraceEvent {
    #[prost(uint64, optional, tag = "1")]
    pub timestamp: Option<u64>,
    #[prost(uint32, optional, tag = "2")]
    pub pid: Option<u32>,
    #[prost(uint32, optional, tag = "5")]
    pub common_flags: Option<u32>,
    #[prost(
        oneof = "FtraceEventKind",
        tags = "3, 4, 17, 20, 24, 25, 36, 37, 114, 238, 239, 327, 329, 330, 399, 437, 438"
    )]
    pub event: Option<FtraceEventKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum FtraceEventKind {
    #[prost(message, tag = "3")]
    Print(PrintFtraceEvent),
    #[prost(message, tag = "4")]
    SchedSwitch(SchedSwitchFtraceEvent),
    #[prost(message, tag = "17")]
    SchedWakeup(SchedWakeupFtraceEvent),
    #[prost(message, tag = "20")]
    SchedWaking(SchedWakeupFtraceEvent),
    #[prost(message, tag = "24")]
    SoftirqEntry(SoftirqFtraceEvent),
    #[prost(message, tag = "25")]
    SoftirqExit(SoftirqFtraceEvent),
    #[prost(message, tag = "36")]
    IrqHandlerEntry(IrqHandlerEntryFtraceEvent),
    #[prost(message, tag = "37")]
    IrqHandlerExit(IrqHandlerExitFtraceEvent),
    #[prost(message, tag = "114")]
    SchedWakeupNew(SchedWakeupFtraceEvent),
    #[prost(message, tag = "238")]
    SchedProcessExit(SchedProcessExitFtraceEvent),
    #[prost(message, tag = "239")]
    SchedProcessFork(SchedProcessForkFtraceEvent),
    #[prost(message, tag = "327")]
    Generic(GenericFtraceEvent),
    #[prost(message, tag = "329")]
    SysEnter(SysEnterFtraceEvent),
    #[prost(message, tag = "330")]
    SysExit(SysExitFtraceEvent),
    #[prost(message, tag = "399")]
    KvmUserspaceExit(KvmUserspaceExitFtraceEvent),
    #[prost(message, tag = "437")]
    FuncgraphEntry(FuncgraphEntryFtraceEvent),
    #[prost(message, tag = "438")]
    FuncgraphExit(FuncgraphExitFtraceEvent),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PrintFtraceEvent {
    #[prost(uint64, optional, tag = "1")]
    pub ip: Option<u64>,
    #[prost(string, optional, tag = "2")]
    pub buf: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SchedSwitchFtraceEvent {
    #[prost(string, optional, tag = "1")]
    pub prev_comm: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub prev_pid: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub prev_prio: Option<i32>,
    #[prost(int64, optional, tag = "4")]
    pub prev_state: Option<i64>,
    #[prost(string, optional, tag = "5")]
    pub next_comm: Option<String>,
    #[prost(int32, optional, tag = "6")]
    pub next_pid: Option<i32>,
    #[prost(int32, optional, tag = "7")]
    pub next_prio: Option<i32>,
}

/// sched_wakeup, sched_wakeup_new and sched_waking share their fields.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SchedWakeupFtraceEvent {
    #[prost(string, optional, tag = "1")]
    pub comm: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub prio: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    pub success: Option<i32>,
    #[prost(int32, optional, tag = "5")]
    pub target_cpu: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SchedProcessExitFtraceEvent {
    #[prost(string, optional, tag = "1")]
    pub comm: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub tgid: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    pub prio: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SchedProcessForkFtraceEvent {
    #[prost(string, optional, tag = "1")]
    pub parent_comm: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub parent_pid: Option<i32>,
    #[prost(string, optional, tag = "3")]
    pub child_comm: Option<String>,
    #[prost(int32, optional, tag = "4")]
    pub child_pid: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct IrqHandlerEntryFtraceEvent {
    #[prost(int32, optional, tag = "1")]
    pub irq: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct IrqHandlerExitFtraceEvent {
    #[prost(int32, optional, tag = "1")]
    pub irq: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    pub ret: Option<i32>,
}

/// softirq_entry and softirq_exit share their one field.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SoftirqFtraceEvent {
    #[prost(uint32, optional, tag = "1")]
    pub vec: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SysEnterFtraceEvent {
    #[prost(int64, optional, tag = "1")]
    pub id: Option<i64>,
    #[prost(uint64, repeated, packed = "false", tag = "2")]
    pub args: Vec<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SysExitFtraceEvent {
    #[prost(int64, optional, tag = "1")]
    pub id: Option<i64>,
    #[prost(int64, optional, tag = "2")]
    pub ret: Option<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KvmUserspaceExitFtraceEvent {
    #[prost(uint32, optional, tag = "1")]
    pub reason: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FuncgraphEntryFtraceEvent {
    #[prost(int32, optional, tag = "1")]
    pub depth: Option<i32>,
    #[prost(uint64, optional, tag = "2")]
    pub func: Option<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FuncgraphExitFtraceEvent {
    #[prost(uint64, optional, tag = "1")]
    pub calltime: Option<u64>,
    #[prost(int32, optional, tag = "2")]
    pub depth: Option<i32>,
    #[prost(uint64, optional, tag = "3")]
    pub func: Option<u64>,
    #[prost(uint64, optional, tag = "4")]
    pub overrun: Option<u64>,
    #[prost(uint64, optional, tag = "5")]
    pub rettime: Option<u64>,
}

/// Any other event: its name and every field.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GenericFtraceEvent {
    #[prost(string, optional, tag = "1")]
    pub event_name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub field: Vec<GenericField>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GenericField {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(oneof = "GenericValue", tags = "3, 4, 5")]
    pub value: Option<GenericValue>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum GenericValue {
    #[prost(string, tag = "3")]
    Str(String),
    #[prost(int64, tag = "4")]
    Int(i64),
    #[prost(uint64, tag = "5")]
    Uint(u64),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProcessTree {
    #[prost(message, repeated, tag = "1")]
    pub processes: Vec<Process>,
    #[prost(message, repeated, tag = "2")]
    pub threads: Vec<Thread>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Process {
    #[prost(int32, optional, tag = "1")]
    pub pid: Option<i32>,
    #[prost(string, repeated, tag = "3")]
    pub cmdline: Vec<String>,
    /// The cmdline is the command name (all a recording has).
    #[prost(bool, optional, tag = "9")]
    pub cmdline_is_comm: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Thread {
    #[prost(int32, optional, tag = "1")]
    pub tid: Option<i32>,
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
    #[prost(int32, optional, tag = "3")]
    pub tgid: Option<i32>,
}

/// A track of its own (what hytrace adds: kvm exits, stored histograms).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TrackDescriptor {
    #[prost(uint64, optional, tag = "1")]
    pub uuid: Option<u64>,
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TrackEvent {
    /// One of the `TRACK_EVENT_*` types.
    #[prost(int32, optional, tag = "9")]
    pub r#type: Option<i32>,
    #[prost(uint64, optional, tag = "11")]
    pub track_uuid: Option<u64>,
    #[prost(string, optional, tag = "23")]
    pub name: Option<String>,
    #[prost(message, repeated, tag = "4")]
    pub debug_annotations: Vec<DebugAnnotation>,
}

/// `TrackEvent.Type`: a slice begins, ends.
pub const TRACK_EVENT_SLICE_BEGIN: i32 = 1;
pub const TRACK_EVENT_SLICE_END: i32 = 2;

/// A named value shown with a slice.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DebugAnnotation {
    #[prost(string, optional, tag = "10")]
    pub name: Option<String>,
    #[prost(uint64, optional, tag = "3")]
    pub uint_value: Option<u64>,
    #[prost(string, optional, tag = "6")]
    pub string_value: Option<String>,
}

/// `InternedData`: the tables a sequence's packets refer to by iid (each from 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct InternedData {
    #[prost(message, repeated, tag = "5")]
    pub function_names: Vec<InternedString>,
    #[prost(message, repeated, tag = "6")]
    pub frames: Vec<Frame>,
    #[prost(message, repeated, tag = "7")]
    pub callstacks: Vec<Callstack>,
    #[prost(message, repeated, tag = "16")]
    pub build_ids: Vec<InternedString>,
    #[prost(message, repeated, tag = "17")]
    pub mapping_paths: Vec<InternedString>,
    #[prost(message, repeated, tag = "18")]
    pub source_paths: Vec<InternedString>,
    #[prost(message, repeated, tag = "19")]
    pub mappings: Vec<Mapping>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InternedString {
    #[prost(uint64, optional, tag = "1")]
    pub iid: Option<u64>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub str: Option<Vec<u8>>,
}

/// An object frames point into (`profile_common.proto`'s Mapping).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Mapping {
    #[prost(uint64, optional, tag = "1")]
    pub iid: Option<u64>,
    /// iid into `build_ids`.
    #[prost(uint64, optional, tag = "2")]
    pub build_id: Option<u64>,
    /// iids into `mapping_paths`, one per path component.
    #[prost(uint64, repeated, packed = "false", tag = "7")]
    pub path_string_ids: Vec<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    #[prost(uint64, optional, tag = "1")]
    pub iid: Option<u64>,
    /// iid into `function_names`.
    #[prost(uint64, optional, tag = "2")]
    pub function_name_id: Option<u64>,
    /// iid into `mappings`.
    #[prost(uint64, optional, tag = "3")]
    pub mapping_id: Option<u64>,
    #[prost(uint64, optional, tag = "4")]
    pub rel_pc: Option<u64>,
    /// iid into `source_paths`.
    #[prost(uint64, optional, tag = "5")]
    pub source_path_iid: Option<u64>,
    #[prost(uint32, optional, tag = "6")]
    pub line_number: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Callstack {
    #[prost(uint64, optional, tag = "1")]
    pub iid: Option<u64>,
    /// iids into `frames`, the outermost (bottom) frame first.
    #[prost(uint64, repeated, packed = "false", tag = "2")]
    pub frame_ids: Vec<u64>,
}

/// A callstack of a thread at a time (`profiling/profile_packet.proto`'s PerfSample).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PerfSample {
    #[prost(uint32, optional, tag = "1")]
    pub cpu: Option<u32>,
    #[prost(uint32, optional, tag = "2")]
    pub pid: Option<u32>,
    #[prost(uint32, optional, tag = "3")]
    pub tid: Option<u32>,
    /// iid into `callstacks`.
    #[prost(uint64, optional, tag = "4")]
    pub callstack_iid: Option<u64>,
}
