//! A recording's function_graph, ready to print: its graph events (other events as
//! comments), the roots and depth the recording left to the reader applied, and the
//! kernel symbols and comms the text needs.

use super::{
    GraphEvent,
    events::{GraphEventsError, KallsymsGraphSymbols, graph_events},
    select::{self, GraphSelection},
};
use crate::{store::hytrace_kind, trace::Recording};

/// The recording's graph events and the symbols to print them.
pub fn load(
    recording: &Recording,
) -> Result<(KallsymsGraphSymbols<'_>, Vec<GraphEvent>), GraphEventsError> {
    let symbols = &recording.symbols;
    let events = graph_events(recording, |format, data| {
        let mut payload = Vec::new();
        format.render_payload(data, symbols, 0, &mut payload);
        format!("{}: {}", format.name, String::from_utf8_lossy(&payload))
    })?;
    let comms = Box::new(|pid: i32| recording.comm_at(pid, u64::MAX).into_owned());
    let kernel = KallsymsGraphSymbols::new(symbols.kernel(), comms);
    let events = match stored_selection(recording) {
        Some(selection) => select::apply(&selection, events, |func| {
            symbols
                .kernel()
                .lookup(func)
                .map(|(name, _)| name.to_string())
                .unwrap_or_default()
        }),
        None => events,
    };
    Ok((kernel, events))
}

/// [`load`], or no events where the recording holds none yet (a gated flight
/// recorder before FUNC has run).
pub fn load_or_empty(
    recording: &Recording,
) -> Result<(KallsymsGraphSymbols<'_>, Vec<GraphEvent>), GraphEventsError> {
    match load(recording) {
        Err(GraphEventsError::NoGraphEvents) => Ok((
            KallsymsGraphSymbols::new(recording.symbols.kernel(), Box::new(|_| String::new())),
            Vec::new(),
        )),
        other => other,
    }
}

/// The graph roots and depth the recording left to the reader, if any.
fn stored_selection(recording: &Recording) -> Option<GraphSelection> {
    let data = recording
        .file
        .meta
        .hytrace_option(hytrace_kind::GRAPH_SELECTION)?;
    GraphSelection::parse(&String::from_utf8_lossy(data))
}
