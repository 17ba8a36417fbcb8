//! `hytrace kvm --json`: the exit table as one JSON object.

use std::io::Write as _;

use crate::{
    format::json_string::write_string,
    kvm::{
        pairing::Unit,
        summary::{Distribution, KvmSummary},
    },
};

fn distribution(out: &mut Vec<u8>, d: &Distribution) {
    let _ = write!(
        out,
        "{{\"avg\":{},\"p50\":{},\"p99\":{},\"max\":{}}}",
        d.avg, d.p50, d.p99, d.max
    );
}

/// `{"unit":…,"vcpus":N,"exits":[{"reason":…,"count":N,"kernel_ns":{…},"user_ns":{…},
/// "qemu_events":[{"event":…,"count":N}]}],"unpaired":{…},"lost":{…}}`.
pub fn summary(summary: &KvmSummary) -> String {
    let mut out = Vec::new();
    let unit = match summary.unit {
        Unit::KvmExit => "kvm_exit",
        Unit::KvmRun => "kvm_run",
    };
    let _ = write!(
        out,
        "{{\"unit\":\"{unit}\",\"vcpus\":{},\"exits\":[",
        summary.vcpus
    );
    for (i, row) in summary.rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"reason\":");
        write_string(&mut out, &row.reason);
        let _ = write!(
            out,
            ",\"count\":{},\"to_userspace\":{},\"kernel_ns\":",
            row.count, row.to_userspace
        );
        distribution(&mut out, &row.kernel_ns);
        out.extend_from_slice(b",\"user_ns\":");
        distribution(&mut out, &row.user_ns);
        out.extend_from_slice(b",\"qemu_events\":[");
        for (j, (event, count)) in row.qemu_events.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"event\":");
            write_string(&mut out, event);
            let _ = write!(out, ",\"count\":{count}}}");
        }
        out.extend_from_slice(b"]}");
    }
    let u = &summary.unpaired;
    let _ = write!(
        out,
        "],\"unpaired\":{{\"exit_without_entry\":{},\"entry_without_exit\":{},\
         \"userspace_exit_without_exit\":{},\"handling_without_exit\":{},\
         \"qemu_outside_exits\":{},\"qemu_other_threads\":{},\
         \"run_without_userspace_exit\":{},\"open_at_end\":{}}},\
         \"lost\":{{\"reports\":{},\"incomplete_exits\":{}}}}}",
        u.exit_without_entry,
        u.entry_without_exit,
        u.userspace_exit_without_exit,
        u.handling_without_exit,
        u.qemu_outside_exits,
        u.qemu_other_threads,
        u.run_without_userspace_exit,
        u.open_at_end,
        summary.lost.reports,
        summary.lost.incomplete_exits
    );
    String::from_utf8(out).unwrap_or_default()
}
