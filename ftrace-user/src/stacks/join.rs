//! Which recorded event each captured stack belongs to (pure).
//!
//! The `user_stack` program is attached after the ftrace events are enabled, so at
//! every hit of a tracepoint the ftrace record is reserved first and the program runs
//! right after it, on the same thread, in the same tracepoint call. Both use
//! CLOCK_MONOTONIC. So the stack of the event recorded at `t` by thread T is the first
//! stack of T taken at or after `t`, provided it was taken before T's next recorded
//! event (of any of the types the program was attached to). The program cannot tell
//! which tracepoint fired (for BPF the kernel overwrites the record's common fields),
//! so the join is by thread and time alone; the window makes it exact: a stack is
//! never given to an event it was not taken at. Hits the event filter dropped have a
//! stack and no event: their stacks come after the recorded event's own and are left
//! over. Where an event interrupts another on the same thread between the ftrace
//! record and the program (an irq event over a syscall event, a preempted syscall
//! tracepoint), the interrupted event gets no stack rather than a wrong one, and is
//! counted. One case is not exact: when a hit's own stack was lost (the ring buffer
//! full) and a filtered-out hit of the same thread came before its next recorded
//! event, that hit's stack fills the window; the lost count is stored and printed, so
//! such a file says so.
//!
//! The idle threads (tid 0) are one per CPU, so for them the CPU is part of the key.
//! Other threads are keyed without it: syscall tracepoints are preemptible on recent
//! kernels, so a thread can move between the ftrace handler and the program.

use std::collections::{HashMap, HashSet};

use super::StackSample;

/// Identifies a recorded event for the join: (tid, CPU for the idle threads else
/// `u32::MAX`, timestamp); see [`event_key`].
pub type EventKey = (u32, u32, u64);

/// The key of `event` in [`Joined::by_event`].
pub fn event_key(event: &RecordedEvent) -> EventKey {
    let (tid, cpu) = key(event.tid, event.cpu);
    (tid, cpu, event.ts)
}

/// What the join found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Joined {
    /// Recorded event → index into the samples.
    pub by_event: HashMap<EventKey, u32>,
    /// Stacks that belong to no recorded event (filtered out, or their event lost).
    pub unjoined_samples: u64,
    /// Recorded events of a stack-capturing type that got no stack (lost in the ring
    /// buffer, interrupted by another event of the thread, or outside the capture).
    pub events_without_stack: u64,
}

/// One recorded event as the join sees it.
#[derive(Debug, Clone, Copy)]
pub struct RecordedEvent {
    pub tid: u32,
    pub cpu: u32,
    pub event_type: u16,
    pub ts: u64,
}

type Key = (u32, u32);

fn key(tid: u32, cpu: u32) -> Key {
    (tid, if tid == 0 { cpu } else { u32::MAX })
}

/// Joins `samples` to the recorded events of `events` (in timestamp order) whose type
/// is one of `event_types` (those the program was attached to).
pub fn join(
    samples: &[StackSample],
    event_types: &[u16],
    events: impl IntoIterator<Item = RecordedEvent>,
) -> Joined {
    let mut queues: HashMap<Key, Queue> = HashMap::new();
    for (index, sample) in samples.iter().enumerate() {
        queues
            .entry(key(sample.tid, sample.cpu))
            .or_default()
            .samples
            .push((sample.ktime_ns, index as u32));
    }
    for queue in queues.values_mut() {
        queue.samples.sort_unstable();
    }
    let types: HashSet<u16> = event_types.iter().copied().collect();
    let mut joined = Joined::default();
    for event in events {
        if !types.contains(&event.event_type) {
            continue;
        }
        let Some(queue) = queues.get_mut(&key(event.tid, event.cpu)) else {
            joined.events_without_stack += 1;
            continue;
        };
        if let Some(pending) = queue.pending.replace(event) {
            queue.resolve(pending, Some(event.ts), &mut joined);
        }
    }
    for queue in queues.values_mut() {
        if let Some(pending) = queue.pending.take() {
            queue.resolve(pending, None, &mut joined);
        }
        joined.unjoined_samples += (queue.samples.len() - queue.next) as u64;
    }
    joined
}

#[derive(Default)]
struct Queue {
    /// (ktime, sample index), in time order.
    samples: Vec<(u64, u32)>,
    /// The first sample not yet joined or skipped.
    next: usize,
    /// The last event seen, waiting for the next one to close its window.
    pending: Option<RecordedEvent>,
}

impl Queue {
    /// Joins `event` to the first sample in [event.ts, until).
    fn resolve(&mut self, event: RecordedEvent, until: Option<u64>, joined: &mut Joined) {
        while let Some(&(ktime, _)) = self.samples.get(self.next)
            && ktime < event.ts
        {
            joined.unjoined_samples += 1;
            self.next += 1;
        }
        match self.samples.get(self.next) {
            Some(&(ktime, index)) if until.is_none_or(|until| ktime < until) => {
                joined.by_event.insert(event_key(&event), index);
                self.next += 1;
            }
            _ => joined.events_without_stack += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::StackError;

    fn sample(ktime_ns: u64, tid: u32, cpu: u32) -> StackSample {
        StackSample {
            ktime_ns,
            tid,
            tgid: tid,
            cpu,
            stack: Err(StackError::Empty),
        }
    }

    fn event(ts: u64, tid: u32, cpu: u32, event_type: u16) -> RecordedEvent {
        RecordedEvent {
            tid,
            cpu,
            event_type,
            ts,
        }
    }

    #[test]
    fn each_event_takes_the_first_stack_of_its_thread_after_it_and_before_its_next() {
        let samples = [
            sample(105, 7, 0), // event at 100
            sample(150, 7, 0), // a filtered-out hit: no event
            sample(205, 7, 1), // event at 200 (the thread moved CPU)
            sample(106, 8, 0), // another thread's event at 101
            sample(400, 0, 0), // idle thread, CPU 0
            sample(401, 0, 1), // idle thread, CPU 1
        ];
        let events = [
            event(100, 7, 0, 1),
            event(101, 8, 0, 1),
            event(102, 7, 0, 9), // kernel_stack record: not a stack-capturing type
            event(200, 7, 0, 2),
            event(300, 7, 0, 1), // its stack was lost: nothing in [300, end)
            event(399, 0, 1, 1),
            event(399, 0, 0, 1),
        ];
        let joined = join(&samples, &[1, 2], events);
        let any = u32::MAX;
        let expected: HashMap<EventKey, u32> = [
            ((7, any, 100), 0),
            ((8, any, 101), 3),
            ((7, any, 200), 2),
            ((0, 0, 399), 4),
            ((0, 1, 399), 5),
        ]
        .into_iter()
        .collect();
        assert_eq!(joined.by_event, expected);
        assert_eq!(joined.unjoined_samples, 1);
        assert_eq!(joined.events_without_stack, 1);
    }

    #[test]
    fn a_lost_stack_never_takes_the_next_events_stack() {
        // Events at 100 and 200; only the second's stack arrived.
        let joined = join(
            &[sample(210, 7, 0)],
            &[1],
            [event(100, 7, 0, 1), event(200, 7, 0, 1)],
        );
        let only: HashMap<EventKey, u32> = [((7, u32::MAX, 200), 0)].into_iter().collect();
        assert_eq!(joined.by_event, only);
        assert_eq!(joined.events_without_stack, 1);
        assert_eq!(joined.unjoined_samples, 0);
    }

    #[test]
    fn an_event_interrupted_before_its_stack_gets_none_and_the_interrupter_its_own() {
        // sys_enter recorded at 100; an irq event of the same thread at 110 with its
        // stack at 115; sys_enter's own stack at 120.
        let joined = join(
            &[sample(115, 7, 0), sample(120, 7, 0)],
            &[1, 2],
            [event(100, 7, 0, 1), event(110, 7, 0, 2)],
        );
        let only: HashMap<EventKey, u32> = [((7, u32::MAX, 110), 0)].into_iter().collect();
        assert_eq!(joined.by_event, only);
        assert_eq!(joined.events_without_stack, 1);
        assert_eq!(joined.unjoined_samples, 1);
    }
}
