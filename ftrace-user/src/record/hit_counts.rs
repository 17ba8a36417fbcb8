//! The kernel hit counters beside a recording: attached in the recording's scope (its
//! threads and CPUs), counting only while the instance's tracing_on is 1 (the gate
//! opens just before it goes to 1 and closes just after it goes back to 0, and the
//! gaps are measured), following the children of the counted threads with -c, read
//! into per-event, per-CPU counts at the end.

use std::time::Instant;

use super::{
    RecordError,
    summary::{CountWindow, NoHitCount},
};
use crate::{
    bpf::event_hits::{EventHitCounters, EventHitsError, ForkFields, HitScope},
    format::parse_event_format,
    notes::{StepProgress, chain},
    tracefs::{EventId, Instance, Tracefs, cpus_of_mask},
};

pub(super) struct HitCounts {
    counters: Result<EventHitCounters, NoHitCount>,
    events: usize,
    system_wide: bool,
    /// -c, but sched_process_fork's pid fields were not found.
    children_not_followed: bool,
    gate_opened: Option<Instant>,
    tracing_on: Option<Instant>,
    tracing_off: Option<Instant>,
    gate_closed: Option<Instant>,
}

/// The pid fields of sched_process_fork's record, from its format file.
fn fork_fields(tracefs: &Tracefs) -> Option<ForkFields> {
    let event = EventId {
        system: "sched".into(),
        name: "sched_process_fork".into(),
    };
    let text = tracefs.event_format(&event).ok()?;
    let format = parse_event_format(&event.system, &text).ok()?;
    let offset = |name: &str| {
        let field = format.field(name)?;
        (field.size == 4).then_some(field.offset as u32)
    };
    Some(ForkFields {
        parent_pid: offset("parent_pid")?,
        child_pid: offset("child_pid")?,
    })
}

/// ftrace's own events and kprobe/uprobe events (hytrace's session probes and those
/// made in tracefs by hand) have no raw tracepoint.
fn is_dynamic_or_ftrace(id: &EventId) -> bool {
    matches!(id.system.as_str(), "ftrace" | "kprobes" | "uprobes")
        || id.system.starts_with("hytrace")
}

impl HitCounts {
    /// Attaches the counters to `events` (unless `bpf` is off), limited to `tids`
    /// (the instance's set_event_pid list; empty: every thread) and the CPUs of
    /// `cpumask`. A counter that cannot load leaves the reason for the summary;
    /// `progress` says how far a long attach is.
    pub fn start(
        tracefs: &Tracefs,
        bpf: bool,
        events: &[(EventId, Option<String>)],
        tids: &[u32],
        cpumask: Option<&str>,
        children: bool,
        progress: &mut StepProgress,
    ) -> Result<HitCounts, RecordError> {
        let follow_forks = if children && !tids.is_empty() {
            fork_fields(tracefs)
        } else {
            None
        };
        let counters = if bpf {
            let scope = HitScope {
                tids: (!tids.is_empty()).then(|| tids.to_vec()),
                cpus: cpumask.map(cpus_of_mask).transpose()?,
                follow_forks,
            };
            // Raw tracepoints are named by the event alone: events of ftrace itself and
            // of probes are none, whatever their names.
            let tracepoints: Vec<Option<&str>> = events
                .iter()
                .map(|(id, _)| (!is_dynamic_or_ftrace(id)).then_some(id.name.as_str()))
                .collect();
            EventHitCounters::attach(&tracepoints, &scope, progress)
                .map_err(|e| NoHitCount::Failed { reason: chain(&e) })
        } else {
            Err(NoHitCount::Disabled)
        };
        Ok(HitCounts {
            counters,
            events: events.len(),
            system_wide: tids.is_empty(),
            children_not_followed: children && !tids.is_empty() && follow_forks.is_none(),
            gate_opened: None,
            tracing_on: None,
            tracing_off: None,
            gate_closed: None,
        })
    }

    /// Opens the counters' gate, then turns the instance's tracing on.
    pub fn turn_on(&mut self, instance: &Instance) -> Result<(), RecordError> {
        if self.with_gate(EventHitCounters::open_gate) {
            self.gate_opened = Some(Instant::now());
        }
        instance.set_tracing_on(true)?;
        self.tracing_on = Some(Instant::now());
        Ok(())
    }

    /// Turns the instance's tracing off, then closes the counters' gate and takes the
    /// counters off their tracepoints (before the instance's events are disabled: see
    /// [`EventHitCounters::detach`]).
    pub fn turn_off(&mut self, instance: &Instance) -> Result<(), RecordError> {
        self.tracing_off = Some(Instant::now());
        instance.set_tracing_on(false)?;
        if self.with_gate(EventHitCounters::close_gate) {
            self.gate_closed = Some(Instant::now());
        }
        if let Ok(counters) = &mut self.counters {
            counters.detach();
        }
        Ok(())
    }

    /// Moves the gate; a failure leaves the counters' reason for the summary (the
    /// recording goes on). Whether it moved.
    fn with_gate(
        &mut self,
        change: fn(&mut EventHitCounters) -> Result<(), EventHitsError>,
    ) -> bool {
        let Ok(counters) = &mut self.counters else {
            return false;
        };
        match change(counters) {
            Ok(()) => true,
            Err(e) => {
                self.counters = Err(NoHitCount::Failed { reason: chain(&e) });
                false
            }
        }
    }

    /// Each event's hits per CPU (or why none), and when they were counted; detaches
    /// the counters.
    pub fn finish(self) -> (Vec<Result<Vec<u64>, NoHitCount>>, Option<CountWindow>) {
        let counters = match self.counters {
            Ok(counters) => counters,
            Err(why) => return (vec![Err(why); self.events], None),
        };
        let hits = (0..self.events)
            .map(|slot| match counters.not_attached(slot) {
                Some(_) => Err(NoHitCount::NotRawTracepoint),
                None => counters
                    .per_cpu(slot)
                    .map_err(|e| NoHitCount::Failed { reason: chain(&e) }),
            })
            .collect();
        let window = match (
            self.gate_opened,
            self.tracing_on,
            self.tracing_off,
            self.gate_closed,
        ) {
            (Some(opened), Some(on), Some(off), Some(closed)) => Some(CountWindow {
                window_ns: closed.duration_since(opened).as_nanos() as u64,
                before_ns: on.duration_since(opened).as_nanos() as u64,
                after_ns: closed.duration_since(off).as_nanos() as u64,
                system_wide: self.system_wide,
                children_not_counted: self.children_not_followed,
                children_missed: counters.children_missed().unwrap_or(0),
                recursion_misses: counters.recursion_misses(),
            }),
            _ => None,
        };
        (hits, window)
    }
}
