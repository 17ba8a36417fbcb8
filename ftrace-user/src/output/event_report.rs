//! A report printed: the selected records as trace-cmd's text lines or JSON objects
//! (rendered on worker threads, written back in order, so the text is the same as a
//! sequential run), or their counts per event.

use std::{
    collections::BTreeMap,
    io::Write,
    sync::{Mutex, mpsc},
};

use super::{
    event_line::{LineLayout, render},
    event_text::TextColumns,
    hit_audit,
};
use crate::{
    report::{
        RecordFilter, Report, ReportError, ReportStats, ReportStyle, Selected,
        user_stacks::ReportStacks,
    },
    store::{hit_audit::HitAudit, hytrace_kind},
    trace::Recording,
};

/// Records per rendering job.
const BATCH: usize = 16 * 1024;

/// Prints the records `filter` selects to `out`, as `style` says.
pub fn print(
    recording: &Recording,
    filter: &RecordFilter,
    stacks: Option<&ReportStacks>,
    style: ReportStyle,
    out: &mut dyn Write,
) -> Result<ReportStats, ReportError> {
    print_with_time(
        recording,
        filter,
        stacks,
        style,
        TextColumns::default(),
        out,
    )
}

/// [`print`], the text's timestamp column as `time` says.
pub fn print_with_time(
    recording: &Recording,
    filter: &RecordFilter,
    stacks: Option<&ReportStacks>,
    style: ReportStyle,
    time: TextColumns,
    out: &mut dyn Write,
) -> Result<ReportStats, ReportError> {
    let mut report = Report::new(recording, filter).with_stacks(stacks);
    if style == ReportStyle::Text {
        // trace-cmd's text folds a leaf call's entry and return into one line.
        report = report.folding_graph_leaves();
    }
    let mut stats = ReportStats::default();
    if style == ReportStyle::Count {
        stats.counts = report.counts();
        stats.printed = stats.counts.iter().map(|(_, n)| n).sum();
        for (name, n) in &stats.counts {
            writeln!(out, "{n:>12} {name}").map_err(ReportError::Write)?;
        }
        if let Some(audit) = recording
            .file
            .meta
            .hytrace_option(hytrace_kind::HIT_AUDIT)
            .and_then(HitAudit::parse)
        {
            // Counted by short name, as the lines above; SYSTEM:EVENT names it here.
            let decoded = |full: &str| {
                let (system, name) = full.split_once(':').unwrap_or(("", full));
                match recording.event_named(system, name) {
                    Some(event) => stats
                        .counts
                        .iter()
                        .find(|(counted, _)| *counted == event.name)
                        .map_or(0, |(_, n)| *n),
                    None => 0,
                }
            };
            write!(out, "{}", hit_audit::text(&audit, &decoded)).map_err(ReportError::Write)?;
        }
    } else {
        if style == ReportStyle::Text {
            // trace-cmd report's first line.
            writeln!(out, "cpus={}", recording.file.cpu_count).map_err(ReportError::Write)?;
        }
        let layout = line_layout(&report, style == ReportStyle::Json, time);
        stats.printed = render_parallel(&mut report, &layout, out)?;
    }
    stats.streams = report.stream_stats();
    stats.cut = report.cut();
    stats.user_stacks = stacks.map(ReportStacks::counts);
    out.flush().map_err(ReportError::Write)?;
    Ok(stats)
}

/// What every line shares: buffer names (in files with several) and their column.
fn line_layout<'r>(report: &Report<'r>, json: bool, time: TextColumns) -> LineLayout<'r> {
    let buffers = &report.recording.file.buffers;
    let multi_buffer = buffers.len() > 1;
    let origins = report
        .origins()
        .iter()
        .map(|o| {
            (
                (multi_buffer && !o.buffer.is_empty()).then_some(o.buffer),
                o.cpu,
            )
        })
        .collect();
    let buffer_width = if multi_buffer {
        buffers
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
    LineLayout {
        origins,
        buffer_width,
        json,
        user_stacks: report.stacks(),
        time,
    }
}

/// Renders the report's records on worker threads in batches written back in order;
/// returns how many were printed.
fn render_parallel(
    report: &mut Report<'_>,
    layout: &LineLayout<'_>,
    out: &mut dyn Write,
) -> Result<u64, ReportError> {
    let recording = report.recording;
    let mut printed = 0u64;
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
        let mut previous_ts = None;
        for mut record in report.records() {
            printed += 1;
            record.previous_ts = previous_ts;
            previous_ts = Some(record.ts);
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
        Ok(printed)
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
