//! `hytrace kvm`: VM exits paired, per vCPU thread, with the kernel's handling and the
//! QEMU work that served them.
//!
//! - [`qemu_events`]: QEMU trace lines (ftrace backend marker payloads) as events with
//!   fields (pure).
//! - [`qemu_log`]: QEMU's log trace backend file, lines with thread id and wall-clock
//!   time (pure).
//! - [`exit_reasons`]: exit reason names as the kernel prints them, read from the
//!   events' print formats.
//! - [`pieces`]: a recording's records as the pairing's pieces.
//! - [`pairing`]: exits paired per vCPU thread (pure).
//! - [`summary`]: paired exits per reason (pure).
//! - [`log_match`]: QEMU log lines attached to the exits they were written in (pure).
//! - [`analysis`]: a recording's exits, paired, with the log attached.

pub mod analysis;
pub mod exit_reasons;
pub mod log_match;
pub mod pairing;
pub mod pieces;
pub mod qemu_events;
pub mod qemu_log;
pub mod summary;

#[cfg(test)]
mod seed_fixture;
