//! A flight recorder: a second private instance running function_graph in overwrite
//! mode, read only when asked (every CPU's buffer drained into a trace file while
//! recording goes on: stopping it, even briefly, would lose the entries of calls that
//! begin meanwhile), so the moments before a trigger are kept at the cost of the tracer
//! alone.
//! Reading empties the kernel's buffers, so the pages of earlier snapshots are kept
//! (as much as one ring buffer holds per CPU) and put before the new ones: a call that
//! began before one snapshot and ended after it is whole in the next.

use std::{
    io::{Read, Write},
    sync::Arc,
};

use super::{
    RecordError, TracerOptions, configure_tracer, create_spool,
    graph_gate::{self, GraphGate},
    meta, page_size, spool_name, write_file,
};
use crate::{
    capture::{CaptureError, CpuCapture, CpuProgress, StopSignal},
    decode::PageLayout,
    graph::select::GraphSelection,
    private_files::PrivateDir,
    store::{TraceOption, hytrace_kind},
    tracefs::{EventId, Instance, Tracefs, TracefsError},
};

pub struct FlightRecorder {
    tracefs: Tracefs,
    /// (Dropped before the gate, whose probes its triggers use.)
    instance: Instance,
    /// Recording only while FUNC runs, where the instance cannot filter the graph.
    gate: Option<GraphGate>,
    selection: Option<GraphSelection>,
    cpus: Vec<u32>,
    /// Pages read by earlier snapshots, per CPU (in `cpus` order), oldest first.
    history: Vec<Vec<u8>>,
    /// The most history kept per CPU, in bytes.
    history_bytes: usize,
}

impl FlightRecorder {
    /// Starts recording `tracer` for `pids` (and their children) into a ring buffer of
    /// `buffer_kb` per CPU that keeps the newest events.
    pub fn start(
        tracer: &TracerOptions,
        pids: &[u32],
        buffer_kb: u64,
    ) -> Result<FlightRecorder, RecordError> {
        let tracefs = Tracefs::open()?;
        let mut instance =
            Instance::create(&tracefs, &format!("hytrace-{}-flight", std::process::id()))?;
        instance.set_tracing_on(false)?;
        instance.set_buffer_size_kb(buffer_kb)?;
        instance.set_clock("mono")?;
        if instance.has_option("overwrite") {
            instance.set_option("overwrite", true)?;
        }
        let selection = configure_tracer(&instance, tracer)?;
        if !pids.is_empty() {
            instance.set_ftrace_pids(pids, true)?;
        } else if selection.as_ref().is_some_and(|s| !s.roots.is_empty()) {
            return Err(TracefsError::Missing {
                what: "set_graph_function in tracefs instances".into(),
                detail: "the flight recorder then needs a process to follow: give a COMMAND \\
                         or -P PID"
                    .into(),
            }
            .into());
        }
        let cpus = tracefs.online_cpus()?;
        let roots = selection
            .as_ref()
            .map(|s| s.roots.clone())
            .unwrap_or_default();
        let gate = if !pids.is_empty() && graph_gate::can_gate(&tracefs, &roots) {
            match GraphGate::install(&tracefs, &mut instance, &roots, pids) {
                Ok(gate) => Some(gate),
                Err(error) => {
                    crate::notes::note(format!(
                        "cannot record only while {} runs ({error}); recording everything \
                         the followed threads call",
                        roots.join(", ")
                    ));
                    None
                }
            }
        } else {
            None
        };
        // Gated: FUNC's entry turns tracing on.
        instance.set_tracing_on(gate.is_none())?;
        Ok(FlightRecorder {
            tracefs,
            instance,
            gate,
            selection,
            history: vec![Vec::new(); cpus.len()],
            history_bytes: (buffer_kb as usize).saturating_mul(1024),
            cpus,
        })
    }

    /// Writes what the buffers hold (after what earlier snapshots read) to the trace
    /// file `name` in `work` (replacing an earlier one of that name), with `options`
    /// beside the recorder's own.
    pub fn snapshot(
        &mut self,
        work: &PrivateDir,
        name: &str,
        options: Vec<TraceOption>,
    ) -> Result<(), RecordError> {
        let page_size = page_size();
        // Told to stop from the start: each reader drains its CPU's buffer and ends.
        let stop = Arc::new(StopSignal::raised().map_err(CaptureError::StopSignal)?);
        let mut readers = Vec::new();
        for &cpu in &self.cpus {
            work.remove(&spool_name(cpu))?;
            readers.push(CpuCapture::start(
                cpu,
                &self.instance.trace_pipe_raw_path(cpu),
                create_spool(work, cpu)?,
                page_size,
                PageLayout::LP64,
                stop.clone(),
                Arc::new(CpuProgress::default()),
            )?);
        }
        let mut captured = Vec::new();
        for reader in readers {
            captured.push(reader.join()?);
        }
        let mut stats = Vec::new();
        for &cpu in &self.cpus {
            stats.push(self.instance.per_cpu_stats(cpu)?);
        }
        // The gate's return probes are recorded too: their formats go in the file.
        let gate_events: Vec<(EventId, Option<String>)> = self
            .gate
            .iter()
            .flat_map(|gate| gate.recorded_events().iter().map(|e| (e.clone(), None)))
            .collect();
        let mut meta = meta::gather(
            &self.tracefs,
            &gate_events,
            "mono",
            &self.cpus,
            &stats,
            None,
            page_size as u32,
        )?;
        if let Some(selection) = &self.selection {
            meta.options.push(TraceOption::Hytrace {
                kind: hytrace_kind::GRAPH_SELECTION,
                data: selection.to_text().into_bytes(),
            });
        }
        meta.options.extend(options);
        for (cpu, history) in captured.iter().zip(&mut self.history) {
            let name = spool_name(cpu.cpu);
            let io = |source| RecordError::Output {
                path: cpu.spool.clone(),
                source,
            };
            work.open(&name)?.read_to_end(history).map_err(io)?;
            keep_newest_pages(history, self.history_bytes, page_size);
            work.remove(&name)?;
            work.create(&name)?.write_all(history).map_err(io)?;
        }
        work.remove(name)?;
        write_file(work, name, &meta, &captured)?;
        for &cpu in &self.cpus {
            work.remove(&spool_name(cpu))?;
        }
        Ok(())
    }

    /// Stops and removes the instance, then the gate's probes.
    pub fn stop(self) -> Result<(), RecordError> {
        self.instance.remove()?;
        drop(self.gate);
        Ok(())
    }
}

/// Drops whole pages from the front of `pages` until at most `max_bytes` remain.
fn keep_newest_pages(pages: &mut Vec<u8>, max_bytes: usize, page_size: usize) {
    if pages.len() <= max_bytes || page_size == 0 {
        return;
    }
    let excess = pages.len() - max_bytes;
    let drop_bytes = excess.div_ceil(page_size) * page_size;
    pages.drain(..drop_bytes.min(pages.len()));
}

#[cfg(test)]
mod tests {
    use super::keep_newest_pages;

    #[test]
    fn history_keeps_the_newest_whole_pages() {
        let mut pages: Vec<u8> = (0..10u8).flat_map(|p| [p; 4]).collect();
        keep_newest_pages(&mut pages, 40, 4);
        assert_eq!(pages.len(), 40);
        keep_newest_pages(&mut pages, 10, 4);
        assert_eq!(pages, vec![8, 8, 8, 8, 9, 9, 9, 9]);
        keep_newest_pages(&mut pages, 0, 4);
        assert!(pages.is_empty());
    }
}
