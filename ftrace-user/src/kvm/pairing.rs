//! VM exits paired, per vCPU thread, from the pieces a recording holds (pure).
//!
//! Where the kernel fires kvm_exit, an exit is kvm_exit(reason) → the kernel's handling
//! (kvm_pio, kvm_mmio, …) → either kvm_entry (handled in the kernel) or
//! kvm_userspace_exit → KVM_RUN returns → QEMU's events → the next KVM_RUN → kvm_entry.
//! Its kernel time is the exit's whole span less the QEMU time; its QEMU time runs from
//! KVM_RUN's return (else kvm_userspace_exit) to the next KVM_RUN call (else
//! kvm_entry).
//!
//! Where it does not (a KVM backend without those tracepoints), the unit is the
//! KVM_RUN round trip: KVM_RUN called → kvm_userspace_exit(reason) → KVM_RUN returns
//! → QEMU's events → KVM_RUN called again. The kernel time is then the whole KVM_RUN
//! call (guest time included), the QEMU time from its return to the next call.
//!
//! Pieces that fit no exit are counted by kind; an exit open on a CPU whose events
//! were lost is finished as incomplete and kept out of the timings.

use std::collections::{BTreeMap, HashMap};

use super::qemu_events::QemuEvent;

/// One thing a vCPU thread did, as the recording shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// kvm_exit: the reason as the kernel prints it, the guest's rip.
    Exit {
        reason: String,
        rip: u64,
        vcpu: Option<u32>,
    },
    /// kvm_entry.
    Entry { vcpu: Option<u32> },
    /// kvm_userspace_exit: the reason as the kernel prints it (KVM_EXIT_IO, …).
    UserspaceExit { reason: String },
    /// The kernel's handling of an exit (kvm_pio, kvm_mmio, kvm_msr, …): the event's
    /// name and printed text.
    Handling { event: String, text: String },
    /// ioctl(KVM_RUN) called.
    RunCall,
    /// An ioctl returned (the thread's KVM_RUN, if one is open).
    IoctlReturn,
    /// A QEMU trace event written by this thread.
    Qemu(QemuEvent),
}

/// One piece with its time (ns), CPU and thread.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedPiece {
    pub ts: u64,
    pub cpu: u32,
    pub tid: i32,
    pub piece: Piece,
}

/// What the pairing is fed, in time order.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Piece(TimedPiece),
    /// Events were lost on `cpu` before `ts`.
    Lost {
        cpu: u32,
        ts: u64,
    },
}

/// What an exit is made of: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// kvm_exit → kvm_entry.
    KvmExit,
    /// KVM_RUN round trips (kvm_exit does not fire in this recording).
    KvmRun,
}

/// One exit, paired.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedExit {
    pub tid: i32,
    pub vcpu: Option<u32>,
    /// kvm_exit's reason; in KVM_RUN mode the kvm_userspace_exit reason.
    pub reason: String,
    /// kvm_userspace_exit's reason, when the exit went to userspace.
    pub userspace_reason: Option<String>,
    pub rip: Option<u64>,
    /// When the exit began (kvm_exit; in KVM_RUN mode the KVM_RUN call).
    pub ts: u64,
    pub kernel_ns: u64,
    pub user_ns: u64,
    /// When QEMU's part began and ended (None for exits handled in the kernel).
    pub user_window: Option<(u64, u64)>,
    /// The kernel's handling events (name and text), in order.
    pub handling: Vec<(String, String)>,
    /// QEMU's events on this thread while it served the exit, in order.
    pub qemu: Vec<QemuEvent>,
    /// Events were lost while it was open: its times are not known.
    pub incomplete: bool,
}

/// Pieces that fit no exit, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unpaired {
    /// kvm_exit followed by another kvm_exit on the same thread (the entry is missing).
    pub exit_without_entry: u64,
    /// kvm_entry with no exit open (each thread's first entry, and entries after a loss).
    pub entry_without_exit: u64,
    /// kvm_userspace_exit with no exit open.
    pub userspace_exit_without_exit: u64,
    /// Handling events (kvm_pio, …) with no exit open.
    pub handling_without_exit: u64,
    /// QEMU events of vCPU threads outside any exit's QEMU part.
    pub qemu_outside_exits: u64,
    /// QEMU events of threads that never ran KVM_RUN or exited (I/O threads, main loop).
    pub qemu_other_threads: u64,
    /// KVM_RUN returns without a kvm_userspace_exit (signals, KVM_RUN mode only).
    pub run_without_userspace_exit: u64,
    /// Exits still open when the recording ended.
    pub open_at_end: u64,
}

/// Events lost, as they affected the pairing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Losses {
    /// Times the kernel reported lost events.
    pub reports: u64,
    /// Exits finished as incomplete because of them.
    pub incomplete_exits: u64,
}

/// The pairing's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairing {
    pub unit: Unit,
    /// Exits in the order they ended.
    pub exits: Vec<PairedExit>,
    pub unpaired: Unpaired,
    pub lost: Losses,
    /// vCPU threads (those with a kvm_exit, kvm_entry or KVM_RUN): tid → vcpu id seen.
    pub vcpu_threads: BTreeMap<i32, Option<u32>>,
}

/// An exit being served.
#[derive(Debug, Default)]
struct OpenExit {
    reason: String,
    userspace_reason: Option<String>,
    rip: Option<u64>,
    vcpu: Option<u32>,
    began: u64,
    /// kvm_userspace_exit's time.
    to_user: Option<u64>,
    /// KVM_RUN's return.
    returned: Option<u64>,
    /// The next KVM_RUN call.
    called_again: Option<u64>,
    handling: Vec<(String, String)>,
    qemu: Vec<QemuEvent>,
    incomplete: bool,
}

impl OpenExit {
    fn in_userspace(&self) -> bool {
        (self.to_user.is_some() || self.returned.is_some()) && self.called_again.is_none()
    }

    fn close(self, tid: i32, kernel_ns: u64, user_ns: u64, ended: u64) -> PairedExit {
        let user_window = self
            .returned
            .or(self.to_user)
            .map(|start| (start, self.called_again.unwrap_or(ended)));
        PairedExit {
            user_window,
            tid,
            vcpu: self.vcpu,
            reason: self.reason,
            userspace_reason: self.userspace_reason,
            rip: self.rip,
            ts: self.began,
            kernel_ns,
            user_ns,
            handling: self.handling,
            qemu: self.qemu,
            incomplete: self.incomplete,
        }
    }
}

/// One thread's state.
#[derive(Debug, Default)]
struct Thread {
    /// When its KVM_RUN was called, while one is running.
    run_called: Option<u64>,
    /// The exit being served.
    open: Option<OpenExit>,
    /// KVM_RUN mode: what the running KVM_RUN has shown so far.
    run_pieces: OpenExit,
    last_cpu: u32,
}

/// Pairs the pieces of a recording; `unit` says which pairing applies (see
/// [`unit_of`]).
pub fn pair(inputs: impl IntoIterator<Item = Input>, unit: Unit) -> Pairing {
    let mut threads: HashMap<i32, Thread> = HashMap::new();
    let mut out = Pairing {
        unit,
        exits: Vec::new(),
        unpaired: Unpaired::default(),
        lost: Losses::default(),
        vcpu_threads: BTreeMap::new(),
    };
    // QEMU events of threads not (yet) known as vCPU threads, settled at the end.
    let mut early_qemu: HashMap<i32, u64> = HashMap::new();
    for input in inputs {
        match input {
            Input::Lost { cpu, .. } => {
                out.lost.reports += 1;
                for thread in threads.values_mut().filter(|t| t.last_cpu == cpu) {
                    if let Some(open) = thread.open.as_mut() {
                        open.incomplete = true;
                    }
                    if thread.run_called.is_some() {
                        thread.run_pieces.incomplete = true;
                    }
                }
            }
            Input::Piece(piece) => {
                if let Piece::Qemu(_) = &piece.piece
                    && !threads.contains_key(&piece.tid)
                {
                    *early_qemu.entry(piece.tid).or_default() += 1;
                    continue;
                }
                let thread = threads.entry(piece.tid).or_default();
                thread.last_cpu = piece.cpu;
                match unit {
                    Unit::KvmExit => kvm_exit_step(thread, piece, &mut out),
                    Unit::KvmRun => kvm_run_step(thread, piece, &mut out),
                }
            }
        }
    }
    for (tid, count) in early_qemu {
        if threads.contains_key(&tid) {
            out.unpaired.qemu_outside_exits += count;
        } else {
            out.unpaired.qemu_other_threads += count;
        }
    }
    for thread in threads.values() {
        if thread.open.is_some() {
            out.unpaired.open_at_end += 1;
        }
    }
    out
}

/// kvm_exit is in the recording: exits run from kvm_exit to kvm_entry.
pub fn unit_of(has_kvm_exit: bool) -> Unit {
    if has_kvm_exit {
        Unit::KvmExit
    } else {
        Unit::KvmRun
    }
}

fn note_vcpu(out: &mut Pairing, tid: i32, vcpu: Option<u32>) {
    let seen = out.vcpu_threads.entry(tid).or_default();
    if vcpu.is_some() {
        *seen = vcpu;
    }
}

/// Ends `open` at `ended` with its two times.
fn finish(out: &mut Pairing, tid: i32, open: OpenExit, ended: u64, times: (u64, u64)) {
    if open.incomplete {
        out.lost.incomplete_exits += 1;
    }
    out.exits.push(open.close(tid, times.0, times.1, ended));
}

fn kvm_exit_step(thread: &mut Thread, piece: TimedPiece, out: &mut Pairing) {
    let TimedPiece { ts, tid, piece, .. } = piece;
    match piece {
        Piece::Exit { reason, rip, vcpu } => {
            note_vcpu(out, tid, vcpu);
            if thread.open.is_some() {
                out.unpaired.exit_without_entry += 1;
            }
            thread.open = Some(OpenExit {
                reason,
                rip: Some(rip),
                vcpu,
                began: ts,
                ..OpenExit::default()
            });
        }
        Piece::Handling { event, text } => match thread.open.as_mut() {
            Some(open) => open.handling.push((event, text)),
            None => out.unpaired.handling_without_exit += 1,
        },
        Piece::UserspaceExit { reason } => match thread.open.as_mut() {
            Some(open) if open.to_user.is_none() => {
                open.userspace_reason = Some(reason);
                open.to_user = Some(ts);
            }
            _ => out.unpaired.userspace_exit_without_exit += 1,
        },
        Piece::RunCall => {
            note_vcpu(out, tid, None);
            thread.run_called = Some(ts);
            if let Some(open) = thread.open.as_mut()
                && open.in_userspace()
            {
                open.called_again = Some(ts);
            }
        }
        Piece::IoctlReturn => {
            if thread.run_called.take().is_some()
                && let Some(open) = thread.open.as_mut()
                && open.to_user.is_some()
                && open.returned.is_none()
            {
                open.returned = Some(ts);
            }
        }
        Piece::Qemu(event) => match thread.open.as_mut() {
            Some(open) if open.in_userspace() => open.qemu.push(event),
            _ => out.unpaired.qemu_outside_exits += 1,
        },
        Piece::Entry { vcpu } => {
            note_vcpu(out, tid, vcpu);
            match thread.open.take() {
                Some(mut open) => {
                    open.vcpu = open.vcpu.or(vcpu);
                    let total = ts.saturating_sub(open.began);
                    let user_ns = match open.returned.or(open.to_user) {
                        Some(start) => open.called_again.unwrap_or(ts).saturating_sub(start),
                        None => 0,
                    }
                    .min(total);
                    finish(out, tid, open, ts, (total - user_ns, user_ns));
                }
                None => out.unpaired.entry_without_exit += 1,
            }
        }
    }
}

fn kvm_run_step(thread: &mut Thread, piece: TimedPiece, out: &mut Pairing) {
    let TimedPiece { ts, tid, piece, .. } = piece;
    match piece {
        Piece::RunCall => {
            note_vcpu(out, tid, None);
            if let Some(mut open) = thread.open.take() {
                open.called_again = Some(ts);
                let returned = open.returned.unwrap_or(ts);
                let kernel_ns = returned.saturating_sub(open.began);
                finish(out, tid, open, ts, (kernel_ns, ts.saturating_sub(returned)));
            }
            thread.run_called = Some(ts);
            thread.run_pieces = OpenExit {
                began: ts,
                ..OpenExit::default()
            };
        }
        Piece::UserspaceExit { reason } => {
            if thread.run_called.is_some() && thread.run_pieces.to_user.is_none() {
                thread.run_pieces.reason = reason.clone();
                thread.run_pieces.userspace_reason = Some(reason);
                thread.run_pieces.to_user = Some(ts);
            } else {
                out.unpaired.userspace_exit_without_exit += 1;
            }
        }
        Piece::Handling { event, text } => {
            if thread.run_called.is_some() {
                thread.run_pieces.handling.push((event, text));
            } else {
                out.unpaired.handling_without_exit += 1;
            }
        }
        Piece::IoctlReturn => {
            if thread.run_called.take().is_some() {
                let mut open = std::mem::take(&mut thread.run_pieces);
                if open.to_user.is_none() {
                    out.unpaired.run_without_userspace_exit += 1;
                    open.reason = "KVM_RUN returned without kvm_userspace_exit".into();
                }
                open.returned = Some(ts);
                thread.open = Some(open);
            }
        }
        Piece::Qemu(event) => match thread.open.as_mut() {
            Some(open) => open.qemu.push(event),
            None => out.unpaired.qemu_outside_exits += 1,
        },
        Piece::Exit { .. } | Piece::Entry { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kvm::qemu_events::parse_qemu_event;

    fn at(ts: u64, tid: i32, piece: Piece) -> Input {
        Input::Piece(TimedPiece {
            ts,
            cpu: 0,
            tid,
            piece,
        })
    }

    fn qemu(text: &str) -> Piece {
        Piece::Qemu(parse_qemu_event(text).unwrap())
    }

    fn exit(reason: &str) -> Piece {
        Piece::Exit {
            reason: reason.into(),
            rip: 0xc45d,
            vcpu: None,
        }
    }

    /// Seed 003's exit: IO_INSTRUCTION through QEMU and back, on one thread.
    #[test]
    fn an_exit_through_qemu_carries_its_qemu_events_and_times() {
        let inputs = vec![
            at(100, 7, Piece::RunCall),
            at(200, 7, Piece::Entry { vcpu: Some(0) }),
            at(1_000, 7, exit("IO_INSTRUCTION")),
            at(
                1_003,
                7,
                Piece::Handling {
                    event: "kvm_pio".into(),
                    text: "pio_read at 0x71 size 1 count 1".into(),
                },
            ),
            at(
                1_005,
                7,
                Piece::UserspaceExit {
                    reason: "KVM_EXIT_IO".into(),
                },
            ),
            at(1_006, 7, Piece::IoctlReturn),
            at(1_008, 7, qemu("cpu_set_apic_base 00000000fee00900")),
            at(1_010, 7, qemu("cpu_in addr 0x71 value 0")),
            at(1_011, 7, Piece::RunCall),
            at(1_013, 7, Piece::Entry { vcpu: Some(0) }),
            at(1_020, 9, qemu("main_loop_wait")),
        ];
        let pairing = pair(inputs, Unit::KvmExit);
        assert_eq!(pairing.exits.len(), 1);
        let e = &pairing.exits[0];
        assert_eq!(e.reason, "IO_INSTRUCTION");
        assert_eq!(e.userspace_reason.as_deref(), Some("KVM_EXIT_IO"));
        assert_eq!(e.vcpu, Some(0));
        assert_eq!((e.kernel_ns, e.user_ns), (8, 5));
        assert_eq!(e.handling.len(), 1);
        let names: Vec<&str> = e.qemu.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["cpu_set_apic_base", "cpu_in"]);
        assert_eq!(pairing.unpaired.entry_without_exit, 1);
        assert_eq!(pairing.unpaired.qemu_other_threads, 1);
        assert_eq!(pairing.vcpu_threads.get(&7), Some(&Some(0)));
    }

    #[test]
    fn an_exit_handled_in_the_kernel_has_no_qemu_time() {
        let inputs = vec![
            at(10, 1, exit("npf")),
            at(15, 1, qemu("cpu_out addr 0x3f8(b) value 1")),
            at(30, 1, Piece::Entry { vcpu: None }),
        ];
        let pairing = pair(inputs, Unit::KvmExit);
        let e = &pairing.exits[0];
        assert_eq!((e.kernel_ns, e.user_ns), (20, 0));
        assert!(e.qemu.is_empty());
        assert_eq!(pairing.unpaired.qemu_outside_exits, 1);
    }

    #[test]
    fn missing_entries_and_losses_are_counted_not_dropped() {
        let inputs = vec![
            at(10, 1, exit("io")),
            at(20, 1, exit("io")),
            Input::Lost { cpu: 0, ts: 25 },
            at(30, 1, Piece::Entry { vcpu: None }),
            at(40, 1, exit("hlt")),
        ];
        let pairing = pair(inputs, Unit::KvmExit);
        assert_eq!(pairing.exits.len(), 1);
        assert!(pairing.exits[0].incomplete);
        assert_eq!(pairing.unpaired.exit_without_entry, 1);
        assert_eq!(pairing.unpaired.open_at_end, 1);
        assert_eq!(
            pairing.lost,
            Losses {
                reports: 1,
                incomplete_exits: 1
            }
        );
    }

    #[test]
    fn kvm_run_round_trips_are_the_unit_without_kvm_exit() {
        let mut inputs = Vec::new();
        for i in 0..3u64 {
            let t = i * 100;
            inputs.push(at(t, 5, Piece::RunCall));
            inputs.push(at(
                t + 40,
                5,
                Piece::UserspaceExit {
                    reason: "KVM_EXIT_IO".into(),
                },
            ));
            inputs.push(at(t + 50, 5, Piece::IoctlReturn));
            inputs.push(at(
                t + 60,
                5,
                qemu(&format!("cpu_out addr 0x3f8(b) value {i}")),
            ));
        }
        // The last KVM_RUN (HLT) is never followed by another call.
        let pairing = pair(inputs, Unit::KvmRun);
        assert_eq!(pairing.exits.len(), 2);
        for (i, e) in pairing.exits.iter().enumerate() {
            assert_eq!(e.reason, "KVM_EXIT_IO");
            assert_eq!((e.kernel_ns, e.user_ns), (50, 50));
            assert_eq!(e.qemu.len(), 1);
            assert_eq!(e.qemu[0].number("value"), Some(i as u64));
        }
        assert_eq!(pairing.unpaired.open_at_end, 1);
    }
}
