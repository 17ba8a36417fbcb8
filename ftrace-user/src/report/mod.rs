//! Printing a recording: its merged records (read through [`crate::trace`]) filtered
//! and rendered as text or JSON.
//!
//! - [`filter`]: which records the user asked for.
//! - [`histograms`]: the stored BPF histograms and the same recomputed from events.

pub mod filter;
pub mod histograms;

use std::{
    collections::BTreeMap,
    io::Write,
    sync::{Mutex, mpsc},
};

use thiserror::Error;

use crate::output::event_line::{LineLayout, Selected, render};
use crate::{
    decode::{Merger, Missed, StreamStats},
    format::{Printer, plugins::FunctionIndents},
    trace::{Recording, RecordingError},
};
pub use filter::RecordFilter;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error("cannot write the report")]
    Write(#[source] std::io::Error),
}

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStyle {
    Text,
    Json,
    /// Only counts per event name.
    Count,
}

/// What a report saw: events printed, and per-CPU stream statistics (losses, corrupt
/// pages) to tell the user about.
#[derive(Debug, Default)]
pub struct ReportStats {
    pub printed: u64,
    pub streams: Vec<(String, u32, StreamStats)>,
    /// (event name, count) in order of first appearance, for [`ReportStyle::Count`].
    pub counts: Vec<(String, u64)>,
}

/// Records per rendering job.
const BATCH: usize = 16 * 1024;

/// Prints the records `filter` selects to `out`.
///
/// The merge runs on this thread; formatting runs on worker threads in batches whose
/// output is written back in order, so the text is the same as a sequential run.
pub fn report(
    recording: &Recording,
    filter: &RecordFilter,
    style: ReportStyle,
    out: &mut dyn Write,
) -> Result<ReportStats, ReportError> {
    let multi_buffer = recording.file.buffers.len() > 1;
    let (mut merger, merged_origins) = recording.merge(|cpu| filter.wants_cpu(cpu));
    let origins = merged_origins
        .iter()
        .map(|o| {
            (
                (multi_buffer && !o.buffer.is_empty()).then_some(o.buffer),
                o.cpu,
            )
        })
        .collect();
    let buffer_width = if multi_buffer {
        recording
            .file
            .buffers
            .iter()
            .map(|b| {
                if b.name.is_empty() {
                    0
                } else {
                    b.name.len() + 1
                }
            })
            .max()
            .unwrap_or(0)
    } else {
        0
    };
    let layout = LineLayout {
        origins,
        buffer_width,
        json: style == ReportStyle::Json,
    };

    let mut stats = ReportStats::default();
    if style == ReportStyle::Count {
        count(recording, filter, &mut merger, &mut stats, out)?;
    } else {
        render_parallel(recording, filter, &layout, &mut merger, &mut stats, out)?;
    }
    for (origin, stream) in merged_origins.iter().zip(merger.streams()) {
        stats.streams.push((
            origin.buffer.to_string(),
            origin.cpu,
            stream.stats().clone(),
        ));
    }
    out.flush().map_err(ReportError::Write)?;
    Ok(stats)
}

/// The records the filter selects, in merge order, numbered.
fn selected<'a>(
    recording: &'a Recording,
    filter: &'a RecordFilter,
    merger: &'a mut Merger<'_>,
) -> impl Iterator<Item = Selected<'a>> + 'a {
    let mut index = 0u64;
    let mut indents = FunctionIndents::default();
    // Losses seen on records the filter skips wait for the CPU's next printed record.
    let mut pending_loss: Vec<Missed> = Vec::new();
    merger.filter_map(move |merged| {
        let data = merged.record.data;
        let origin = merged.origin as usize;
        if merged.record.missed != Missed::None {
            if pending_loss.len() <= origin {
                pending_loss.resize(origin + 1, Missed::None);
            }
            pending_loss[origin] = pending_loss[origin].and(merged.record.missed);
        }
        if data.len() < 8 {
            return None;
        }
        let type_id = u16::from_le_bytes([data[0], data[1]]);
        let pid = i32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        if !filter.wants(type_id, pid) {
            return None;
        }
        let missed = pending_loss
            .get_mut(origin)
            .map(|m| std::mem::replace(m, Missed::None))
            .unwrap_or(Missed::None);
        let mut selected = Selected {
            index,
            origin: merged.origin,
            ts: merged.record.ts,
            data,
            indent: 0,
            missed,
        };
        index += 1;
        // trace-cmd remembers the comms scheduler events name and uses them for later
        // lines, and indents function calls by the callers seen before them on the
        // CPU; both are worked out in order here so parallel rendering sees the same.
        if let Some(event) = recording.event(type_id)
            && let Printer::Plugin(plugin) = &event.printer
        {
            for (pid, comm) in plugin.comms(&event.fields, data).into_iter().flatten() {
                recording.remember_comm(pid, comm, selected.index);
            }
            if let Some((ip, parent_ip)) = plugin.function_call(&event.fields, data) {
                let name = |addr| recording.symbols.kernel().lookup(addr).map(|(n, _)| n);
                let level = indents.level(origin, name(parent_ip), name(ip));
                selected.indent = level.min(usize::from(u16::MAX)) as u16;
            }
        }
        Some(selected)
    })
}

fn count(
    recording: &Recording,
    filter: &RecordFilter,
    merger: &mut Merger<'_>,
    stats: &mut ReportStats,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    let mut counts: Vec<u64> = vec![0; recording.max_event_id() + 1];
    let mut unknown = 0u64;
    for record in selected(recording, filter, merger) {
        stats.printed += 1;
        let type_id = u16::from_le_bytes([record.data[0], record.data[1]]);
        match counts.get_mut(usize::from(type_id)) {
            Some(n) => *n += 1,
            None => unknown += 1,
        }
    }
    for (id, n) in counts.iter().enumerate() {
        if *n > 0 {
            let name = recording
                .event(id as u16)
                .map(|e| e.name.clone())
                .unwrap_or_else(|| format!("unknown_event_{id}"));
            stats.counts.push((name, *n));
        }
    }
    if unknown > 0 {
        stats.counts.push(("unknown_event".to_string(), unknown));
    }
    stats
        .counts
        .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (name, n) in &stats.counts {
        writeln!(out, "{n:>12} {name}").map_err(ReportError::Write)?;
    }
    Ok(())
}

fn render_parallel(
    recording: &Recording,
    filter: &RecordFilter,
    layout: &LineLayout<'_>,
    merger: &mut Merger<'_>,
    stats: &mut ReportStats,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, 8);
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Vec<Selected<'_>>)>(workers * 2);
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<(u64, Vec<u8>)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let job_rx = &job_rx;
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut scratch = Vec::new();
                loop {
                    let job = job_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((number, batch))) = job else {
                        return;
                    };
                    let mut text = Vec::with_capacity(batch.len() * 128);
                    for record in &batch {
                        render(recording, layout, record, &mut text, &mut scratch);
                    }
                    if done_tx.send((number, text)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let mut writer = InOrder::default();
        let mut batch = Vec::with_capacity(BATCH);
        let mut sent = 0u64;
        for record in selected(recording, filter, merger) {
            stats.printed += 1;
            batch.push(record);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if job_tx.send((sent, full)).is_err() {
                    break;
                }
                sent += 1;
                while let Ok(done) = done_rx.try_recv() {
                    writer.accept(done, out)?;
                }
            }
        }
        if !batch.is_empty() && job_tx.send((sent, batch)).is_ok() {
            sent += 1;
        }
        drop(job_tx);
        while writer.next < sent {
            match done_rx.recv() {
                Ok(done) => writer.accept(done, out)?,
                Err(_) => break,
            }
        }
        Ok(())
    })
}

/// Writes rendered batches in their original order.
#[derive(Default)]
struct InOrder {
    next: u64,
    waiting: BTreeMap<u64, Vec<u8>>,
}

impl InOrder {
    fn accept(
        &mut self,
        (number, text): (u64, Vec<u8>),
        out: &mut dyn Write,
    ) -> Result<(), ReportError> {
        self.waiting.insert(number, text);
        while let Some(text) = self.waiting.remove(&self.next) {
            out.write_all(&text).map_err(ReportError::Write)?;
            self.next += 1;
        }
        Ok(())
    }
}
