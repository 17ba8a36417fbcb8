//! Gating a function_graph instance on FUNC's calls, where the kernel cannot limit an
//! instance's graph to FUNC (no set_graph_function in instances, as on 6.12): a kprobe
//! on FUNC's entry turns the instance's tracing on (event trigger `traceon`), a
//! kretprobe on its return records itself and then turns tracing off (`traceoff if
//! common_pid != 0`: a trigger with a condition runs after its event is written, and
//! only for the pids set_event_pid lets through, so only a followed thread's return
//! stops recording). So the followed threads are recorded while FUNC runs somewhere,
//! rather than all the time. (The entry trigger has no condition, since a condition is
//! only evaluated on a written record and nothing is written while tracing is off, so
//! any process's call of FUNC starts recording.)
//!
//! The kretprobe runs before function_graph's own return handler, so FUNC's closing
//! record is not written; readers close the tree from the kretprobe's record
//! ([`crate::graph::events::GATE_RETURN_PREFIX`]). Nested or concurrent calls of FUNC
//! in the followed threads: the first return stops recording until the next entry,
//! and the calls still open then are printed as cut.

use crate::{
    graph::events::GATE_RETURN_PREFIX,
    tracefs::{
        EventId, Instance, Tracefs,
        dynamic_events::{ProbeKind, ProbeSpec, SessionProbes},
    },
};

use super::RecordError;

/// The probes of the gate; removed when dropped (after the instance's triggers).
pub struct GraphGate {
    _probes: SessionProbes,
    /// The return probes' events, which the instance records.
    recorded: Vec<EventId>,
}

/// Whether `roots` can be gated: plain function names (a glob would need one probe
/// per match) and a kernel with kprobe events.
pub fn can_gate(tracefs: &Tracefs, roots: &[String]) -> bool {
    !roots.is_empty()
        && tracefs.path("kprobe_events").exists()
        && roots.iter().all(|r| {
            r.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
}

impl GraphGate {
    /// Creates the probes and the triggers in `instance`, whose tracing should be off;
    /// the return triggers fire for `pids` and their children.
    pub fn install(
        tracefs: &Tracefs,
        instance: &mut Instance,
        roots: &[String],
        pids: &[u32],
    ) -> Result<GraphGate, RecordError> {
        instance.set_event_pids(pids)?;
        instance.set_event_fork(true)?;
        let mut specs = Vec::new();
        for (i, root) in roots.iter().enumerate() {
            for retprobe in [false, true] {
                specs.push(ProbeSpec {
                    kind: ProbeKind::Kprobe,
                    retprobe,
                    name: if retprobe {
                        format!("{GATE_RETURN_PREFIX}{i}")
                    } else {
                        format!("graph_entry_{i}")
                    },
                    target: root.clone(),
                    fetchargs: Vec::new(),
                });
            }
        }
        let probes = SessionProbes::create(tracefs, &specs)?;
        let mut recorded = Vec::new();
        for (spec, event) in specs.iter().zip(probes.events()) {
            if spec.retprobe {
                instance.add_trigger(&event, "traceoff if common_pid != 0")?;
                instance.enable_event(&event)?;
                recorded.push(event);
            } else {
                instance.add_trigger(&event, "traceon")?;
            }
        }
        Ok(GraphGate {
            _probes: probes,
            recorded,
        })
    }

    /// The events the gate writes into the instance (its return probes'), whose
    /// formats a recording of the instance needs.
    pub fn recorded_events(&self) -> &[EventId] {
        &self.recorded
    }
}
