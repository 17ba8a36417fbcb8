//! `report --profile`: per task, from sched_switch and sched_wakeup(_new) events (with
//! the kernel stack after each switch, `record -T`, and the user stack at it, `record
//! --user-stack`), as `record --profile` records them:
//!
//! - run time: switched in → switched out;
//! - run-queue wait: woken (or preempted) → switched in, with p50 and p99;
//! - blocked time: switched out asleep → woken, summed per the kernel + user stack it
//!   blocked in (off-CPU time by stack), largest first.
//!
//! "Woken" is sched_waking where the file has it (the waker's call, when the timer or
//! the event fired), else sched_wakeup (which a remote wakeup emits later, on the
//! woken task's CPU).
//!
//! Intervals open at the start or end of the recording are not counted.

use std::collections::HashMap;

use super::Report;
use crate::{
    format::EventFormat,
    symbolize::{kallsyms::is_tracing_frame, user::UserFrame},
};

/// `prev_state` of a task switched out while runnable (preempted): TASK_REPORT_MAX.
const PREEMPTED: u64 = 0x100;

/// One task's profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskProfile {
    pub pid: i32,
    pub comm: String,
    pub run_ns: u64,
    /// Run-queue waits, sorted.
    pub runq_waits_ns: Vec<u64>,
    pub blocked_ns: u64,
    /// Blocked time per stack, largest first.
    pub blocked: Vec<BlockedStack>,
}

impl TaskProfile {
    /// The `p`-th percentile (nearest rank) of the run-queue waits, if any.
    pub fn runq_percentile(&self, p: f64) -> Option<u64> {
        if self.runq_waits_ns.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * self.runq_waits_ns.len() as f64)
            .ceil()
            .max(1.0) as usize;
        self.runq_waits_ns.get(rank - 1).copied()
    }
}

/// Time a task spent blocked in one place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockedStack {
    pub total_ns: u64,
    pub count: u64,
    /// Kernel frames, innermost first.
    pub kernel: Vec<String>,
    /// User frames, innermost first.
    pub user: Vec<UserFrame>,
}

/// The fields a profile reads, resolved once.
struct Events<'r> {
    switch: Option<&'r EventFormat>,
    waking: Option<&'r EventFormat>,
    wakeup: Option<&'r EventFormat>,
    wakeup_new: Option<&'r EventFormat>,
    kernel_stack: Option<&'r EventFormat>,
}

#[derive(Default)]
struct TaskState {
    comm: String,
    on_cpu_since: Option<u64>,
    runnable_since: Option<u64>,
    /// When it blocked, and the stack it blocked in.
    blocked_since: Option<(u64, StackKey)>,
    run_ns: u64,
    runq_waits: Vec<u64>,
    blocked: HashMap<StackKey, (u64, u64)>,
}

type StackKey = (Vec<String>, Option<u32>);

/// Profiles every task of the report's records, most busy (run + blocked) first.
pub fn profile(report: &mut Report<'_>) -> Vec<TaskProfile> {
    let recording = report.recording;
    let stacks = report.stacks();
    let events = Events {
        switch: recording.event_named("sched", "sched_switch"),
        waking: recording.event_named("sched", "sched_waking"),
        wakeup: recording.event_named("sched", "sched_wakeup"),
        wakeup_new: recording.event_named("sched", "sched_wakeup_new"),
        kernel_stack: recording.event_named("ftrace", "kernel_stack"),
    };
    let id = |e: Option<&EventFormat>| e.map(|e| e.id);
    // The event that ends a blocked interval: sched_waking where recorded.
    let (wake, wake_id) = match events.waking {
        Some(waking) => (Some(waking), Some(waking.id)),
        None => (events.wakeup, id(events.wakeup)),
    };
    let (switch_id, wakeup_new_id, stack_id) = (
        id(events.switch),
        id(events.wakeup_new),
        id(events.kernel_stack),
    );
    let mut tasks: HashMap<i32, TaskState> = HashMap::new();
    // Per stream: the task whose switch-out waits for its kernel stack.
    let mut awaiting_stack: Vec<Option<i32>> = Vec::new();
    for record in report.records() {
        let data = record.data;
        let origin = record.origin as usize;
        if awaiting_stack.len() <= origin {
            awaiting_stack.resize(origin + 1, None);
        }
        let type_id = Some(u16::from_le_bytes([data[0], data[1]]));
        let t = record.ts;
        if type_id == stack_id {
            if let Some(pid) = awaiting_stack[origin].take()
                && let Some(event) = events.kernel_stack
                && let Some(Some((_, key))) = tasks.get_mut(&pid).map(|s| s.blocked_since.as_mut())
                && let crate::format::Printer::Plugin(plugin) = &event.printer
                && let Some(frames) = plugin.kernel_stack(&event.fields, data)
            {
                key.0 = frames
                    .iter()
                    .map(|&addr| match recording.symbols.kernel().lookup(addr) {
                        Some((name, _)) => name.to_string(),
                        None => format!("0x{addr:x}"),
                    })
                    .skip_while(|name| is_tracing_frame(name))
                    .collect();
            }
            continue;
        }
        awaiting_stack[origin] = None;
        if type_id == switch_id
            && let Some(event) = events.switch
        {
            let int = |name: &str| event.field(name).and_then(|f| f.int(data));
            let text = |name: &str| {
                event
                    .field(name)
                    .and_then(|f| f.bytes(data))
                    .map(|b| {
                        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                        String::from_utf8_lossy(&b[..end]).into_owned()
                    })
                    .unwrap_or_default()
            };
            let (Some(prev), Some(next), Some(state)) =
                (int("prev_pid"), int("next_pid"), int("prev_state"))
            else {
                continue;
            };
            let (prev, next, state) = (prev as i32, next as i32, state as u64);
            if prev != 0 {
                let task = tasks.entry(prev).or_default();
                task.comm = text("prev_comm");
                if let Some(since) = task.on_cpu_since.take() {
                    task.run_ns += t.saturating_sub(since);
                }
                if state == 0 || state & PREEMPTED != 0 {
                    task.runnable_since = Some(t);
                } else {
                    let user = stacks.and_then(|stacks| {
                        let sample = stacks.samples.get(record.user_stack? as usize)?;
                        sample.stack.ok()
                    });
                    task.blocked_since = Some((t, (Vec::new(), user)));
                    awaiting_stack[origin] = Some(prev);
                }
            }
            if next != 0 {
                let task = tasks.entry(next).or_default();
                task.comm = text("next_comm");
                task.on_cpu_since = Some(t);
                if let Some(since) = task.runnable_since.take() {
                    task.runq_waits.push(t.saturating_sub(since));
                }
            }
        } else if (type_id == wake_id || type_id == wakeup_new_id)
            && let Some(event) = if type_id == wake_id {
                wake
            } else {
                events.wakeup_new
            }
            && let Some(pid) = event.field("pid").and_then(|f| f.int(data))
        {
            let task = tasks.entry(pid as i32).or_default();
            if let Some((since, key)) = task.blocked_since.take() {
                let slot = task.blocked.entry(key).or_default();
                slot.0 += t.saturating_sub(since);
                slot.1 += 1;
            }
            if task.on_cpu_since.is_none() {
                task.runnable_since.get_or_insert(t);
            }
        }
    }
    let mut profiles: Vec<TaskProfile> = tasks
        .into_iter()
        .filter(|(_, s)| s.run_ns > 0 || !s.blocked.is_empty() || !s.runq_waits.is_empty())
        .map(|(pid, state)| {
            let mut runq_waits_ns = state.runq_waits;
            runq_waits_ns.sort_unstable();
            let mut blocked: Vec<BlockedStack> = state
                .blocked
                .into_iter()
                .map(|((kernel, user), (total_ns, count))| BlockedStack {
                    total_ns,
                    count,
                    kernel,
                    user: user
                        .and_then(|index| {
                            let frames = stacks?.frames.stack(index)?;
                            Some(frames.into_iter().cloned().collect())
                        })
                        .unwrap_or_default(),
                })
                .collect();
            blocked.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(b.count.cmp(&a.count)));
            TaskProfile {
                pid,
                comm: state.comm,
                run_ns: state.run_ns,
                blocked_ns: blocked.iter().map(|b| b.total_ns).sum(),
                runq_waits_ns,
                blocked,
            }
        })
        .collect();
    profiles.sort_by(|a, b| {
        (b.run_ns + b.blocked_ns)
            .cmp(&(a.run_ns + a.blocked_ns))
            .then(a.pid.cmp(&b.pid))
    });
    profiles
}
