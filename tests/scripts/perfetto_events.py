"""Reads a Perfetto trace with Perfetto's own Python protos (the `perfetto` package)
and prints what the tests compare, one JSON object per line:

- {"kind": "event", "cpu", "ts", "pid", "name", "fields"} for every ftrace event, in
  the file's order (bundles per CPU);
- {"kind": "bundle", "cpu", "events", "lost_events"} for every bundle;
- {"kind": "thread", "tid", "tgid", "name"} and {"kind": "process", "pid", "cmdline"}
  from the process trees;
- {"kind": "track", "uuid", "name"} for every track descriptor, and {"kind": "slice",
  "track", "type", "name", "ts", "annotations", "sequence", "flags"} for every track
  event;
- {"kind": "sample", "ts", "cpu", "pid", "tid", "frames", "sequence"} for every perf
  sample, its callstack resolved through the sequence's interned data (reset where a
  packet clears the sequence's incremental state): each frame as {"function",
  "mapping", "build_id", "rel_pc", "source", "line"}, the outermost first;
- {"kind": "packets", "count"} last.

Usage: perfetto_events.py FILE
"""

import json
import sys

from google.protobuf.json_format import MessageToDict
from perfetto.protos.perfetto.trace import perfetto_trace_pb2


CLEARED = perfetto_trace_pb2.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED


class Interned:
    """One sequence's interned tables, by iid."""

    def __init__(self):
        self.tables = {}

    def add(self, data):
        for name in ("function_names", "build_ids", "mapping_paths", "source_paths",
                     "mappings", "frames", "callstacks"):
            table = self.tables.setdefault(name, {})
            for entry in getattr(data, name):
                table[entry.iid] = entry

    def get(self, name, iid):
        return self.tables.get(name, {})[iid]

    def text(self, name, iid):
        return self.get(name, iid).str.decode("utf-8", "replace") if iid else None

    def frames(self, callstack_iid):
        out = []
        for frame_iid in self.get("callstacks", callstack_iid).frame_ids:
            frame = self.get("frames", frame_iid)
            mapping = self.get("mappings", frame.mapping_id)
            build_id = (self.get("build_ids", mapping.build_id).str.hex()
                        if mapping.build_id else None)
            out.append({
                "function": self.text("function_names", frame.function_name_id),
                "mapping": "/".join(self.text("mapping_paths", i)
                                    for i in mapping.path_string_ids),
                "build_id": build_id,
                "rel_pc": frame.rel_pc,
                "source": self.text("source_paths", frame.source_path_iid),
                "line": frame.line_number if frame.HasField("line_number") else None,
            })
        return out


def main(path):
    trace = perfetto_trace_pb2.Trace()
    with open(path, "rb") as f:
        trace.ParseFromString(f.read())
    out = sys.stdout
    interned = {}
    for packet in trace.packet:
        sequence = packet.trusted_packet_sequence_id
        if packet.sequence_flags & CLEARED:
            interned[sequence] = Interned()
        if packet.HasField("interned_data"):
            interned.setdefault(sequence, Interned()).add(packet.interned_data)
        if packet.HasField("perf_sample"):
            sample = packet.perf_sample
            out.write(json.dumps({
                "kind": "sample", "ts": packet.timestamp, "cpu": sample.cpu,
                "pid": sample.pid, "tid": sample.tid, "sequence": sequence,
                "frames": interned[sequence].frames(sample.callstack_iid)}) + "\n")
        if packet.HasField("process_tree"):
            for p in packet.process_tree.processes:
                out.write(json.dumps({"kind": "process", "pid": p.pid,
                                      "cmdline": list(p.cmdline)}) + "\n")
            for t in packet.process_tree.threads:
                out.write(json.dumps({"kind": "thread", "tid": t.tid, "tgid": t.tgid,
                                      "name": t.name}) + "\n")
        if packet.HasField("track_descriptor"):
            track = packet.track_descriptor
            out.write(json.dumps({"kind": "track", "uuid": track.uuid,
                                  "name": track.name}) + "\n")
        if packet.HasField("track_event"):
            event = packet.track_event
            annotations = {}
            for a in event.debug_annotations:
                value = a.WhichOneof("value")
                annotations[a.name] = getattr(a, value) if value else None
            out.write(json.dumps({
                "kind": "slice", "track": event.track_uuid,
                "type": perfetto_trace_pb2.TrackEvent.Type.Name(event.type),
                "name": event.name, "ts": packet.timestamp,
                "annotations": annotations,
                "sequence": packet.trusted_packet_sequence_id,
                "flags": packet.sequence_flags}, sort_keys=True) + "\n")
        if packet.HasField("ftrace_events"):
            bundle = packet.ftrace_events
            out.write(json.dumps({"kind": "bundle", "cpu": bundle.cpu,
                                  "events": len(bundle.event),
                                  "lost_events": bundle.lost_events}) + "\n")
            for event in bundle.event:
                which = event.WhichOneof("event")
                message = getattr(event, which)
                if which == "generic":
                    name = message.event_name
                    fields = {}
                    for field in message.field:
                        value = field.WhichOneof("value")
                        fields[field.name] = getattr(field, value) if value else None
                else:
                    name = which
                    fields = MessageToDict(message, preserving_proto_field_name=True,
                                           always_print_fields_with_no_presence=False)
                out.write(json.dumps({"kind": "event", "cpu": bundle.cpu,
                                      "ts": event.timestamp, "pid": event.pid,
                                      "name": name, "fields": fields},
                                     sort_keys=True) + "\n")
    out.write(json.dumps({"kind": "packets", "count": len(trace.packet)}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
