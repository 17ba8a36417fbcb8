//! `hytrace graph`'s work: a deep dive into kernel functions. FUNC's function_graph is
//! recorded over one measuring session (into a private temporary file unless kept),
//! read back, and split into FUNC's call trees; [`outlier`] waits for a histogram
//! outlier instead and takes the tree from a flight recorder.
//!
//! - [`outlier`]: the trigger: aggregator, flight recorder, snapshots, tree matching.

pub mod outlier;

use std::time::Duration;

use thiserror::Error;

use crate::{
    graph::{
        GraphEvent,
        events::{GraphEventsError, KallsymsGraphSymbols},
        load,
        trees::{CallTree, split_trees},
    },
    private_files::{OutputFile, PrivateDir, PrivateFileError},
    record::{RecordError, RecordOptions, TracerOptions, record, summary::RecordSummary},
    trace::{Recording, RecordingError},
};

#[derive(Debug, Error)]
pub enum DeepDiveError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    PrivateFile(#[from] PrivateFileError),
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error(transparent)]
    Graph(#[from] GraphEventsError),
}

/// What to graph, and for how long.
#[derive(Debug, Clone)]
pub struct DeepDiveOptions {
    /// FUNC: the functions whose calls are graphed (globs allowed).
    pub functions: Vec<String>,
    pub pids: Vec<u32>,
    pub buffer_kb: u64,
    pub duration: Option<Duration>,
    pub command: Vec<String>,
    /// Where to keep the recording; None: a private temporary file, removed at the end.
    pub output: Option<OutputFile>,
}

/// A finished deep dive: the recording, open for reading.
pub struct DeepDive {
    pub recording: Recording,
    pub summary: RecordSummary,
    /// The temporary directory of a recording not kept (removed when dropped).
    _temporary: Option<PrivateDir>,
}

/// Records FUNC's function_graph as `options` says and opens the recording.
pub async fn record_graph(options: &DeepDiveOptions) -> Result<DeepDive, DeepDiveError> {
    let (output, temporary) = match &options.output {
        Some(output) => (output.clone(), None),
        None => {
            let dir = PrivateDir::temporary("graph")?;
            (OutputFile::private(dir.path_of("graph.dat")), Some(dir))
        }
    };
    let record_options = RecordOptions {
        output: output.clone(),
        events: Vec::new(),
        pids: options.pids.clone(),
        only_command: false,
        children: false,
        kernel_stacks: false,
        user_stacks: None,
        cpumask: None,
        buffer_kb: options.buffer_kb,
        clock: "mono".into(),
        duration: options.duration,
        bpf: false,
        probes: Vec::new(),
        tracer: Some(TracerOptions::function_graph(&options.functions)),
        hists: Vec::new(),
        command: options.command.clone(),
        progress: false,
        markers_into_instance: false,
        record_tgids: false,
    };
    let (summary, _) = record(&record_options).await?;
    Ok(DeepDive {
        recording: Recording::open(&output.path)?,
        summary,
        _temporary: temporary,
    })
}

/// FUNC's call trees in a deep dive, and which of them to show.
pub struct Trees<'a> {
    pub symbols: KallsymsGraphSymbols<'a>,
    /// Every call tree of FUNC, in order.
    pub total: usize,
    /// Those over the threshold (all without one).
    pub shown: Vec<CallTree>,
}

impl DeepDive {
    /// FUNC's call trees, those longer than `threshold_ns` (if given) shown.
    pub fn trees(&self, threshold_ns: Option<u64>) -> Result<Trees<'_>, DeepDiveError> {
        let (symbols, events): (_, Vec<GraphEvent>) = load::load(&self.recording)?;
        let trees = split_trees(&events);
        let total = trees.len();
        let shown = trees
            .into_iter()
            .filter(|t| threshold_ns.is_none_or(|limit| t.duration_ns.is_some_and(|d| d > limit)))
            .collect();
        Ok(Trees {
            symbols,
            total,
            shown,
        })
    }
}
