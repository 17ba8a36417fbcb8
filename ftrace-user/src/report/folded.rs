//! A report's stacks folded: one line per distinct stack, `comm;outermost;…;innermost
//! COUNT`, root first, as flame graph tools read them (Brendan Gregg's
//! stackcollapse format). The user frames of `record --user-stack` come first, then
//! the kernel frames of the kernel_stack record (`record -T`) that follows the event
//! on its CPU, each suffixed `_[k]`. Events with neither are not counted.

use std::collections::HashMap;

use super::Report;
use crate::format::{Printer, SymbolLookup as _};

/// Folded stacks with their counts, most first (then by stack).
pub fn fold(report: &mut Report<'_>) -> Vec<(String, u64)> {
    let recording = report.recording;
    let stacks = report.stacks();
    let mut counts: HashMap<String, u64> = HashMap::new();
    // Per stream: the folded prefix of the last event, waiting for its kernel stack.
    let mut pending: Vec<Option<Pending>> = Vec::new();
    for record in report.records() {
        let data = record.data;
        let origin = record.origin as usize;
        if pending.len() <= origin {
            pending.resize_with(origin + 1, || None);
        }
        let type_id = u16::from_le_bytes([data[0], data[1]]);
        let event = recording.event(type_id);
        let kernel_frames = event.and_then(|event| match &event.printer {
            Printer::Plugin(plugin) => plugin.kernel_stack(&event.fields, data),
            _ => None,
        });
        if let Some(frames) = kernel_frames {
            if let Some(mut waiting) = pending[origin].take() {
                for addr in frames.iter().rev() {
                    waiting.stack.push(';');
                    match recording.symbols.kernel().lookup(*addr) {
                        Some((name, _)) => waiting.stack.push_str(name),
                        None => waiting.stack.push_str(&format!("0x{addr:x}")),
                    }
                    waiting.stack.push_str("_[k]");
                    // report --kernel-lines: the functions inlined at the call, as
                    // frames called from this one, outermost first.
                    let lines = recording.symbols.kernel_source_lines(*addr);
                    for inlined in lines.unwrap_or(&[]).iter().rev().filter(|l| l.inlined) {
                        waiting.stack.push(';');
                        waiting.stack.push_str(&inlined.function);
                        waiting.stack.push_str("_[k]");
                    }
                }
                *counts.entry(waiting.stack).or_default() += 1;
            }
            continue;
        }
        if let Some(done) = pending[origin].take()
            && done.has_user_frames
        {
            *counts.entry(done.stack).or_default() += 1;
        }
        let pid = i32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        let mut stack = recording.comm_at(pid, record.index).replace(';', ":");
        let mut has_user_frames = false;
        if let Some(stacks) = stacks
            && let Some(sample) = record
                .user_stack
                .and_then(|i| stacks.samples.get(i as usize))
            && let Ok(index) = sample.stack
            && let Some(frames) = stacks.frames.stack(index)
        {
            for frame in frames.iter().rev() {
                stack.push(';');
                stack.push_str(&frame.folded_name().replace(';', ":"));
            }
            has_user_frames = !frames.is_empty();
        }
        pending[origin] = Some(Pending {
            stack,
            has_user_frames,
        });
    }
    for done in pending.into_iter().flatten() {
        if done.has_user_frames {
            *counts.entry(done.stack).or_default() += 1;
        }
    }
    let mut folded: Vec<(String, u64)> = counts.into_iter().collect();
    folded.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    folded
}

struct Pending {
    stack: String,
    has_user_frames: bool,
}
