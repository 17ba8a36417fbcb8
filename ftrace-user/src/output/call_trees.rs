//! Call trees as `graph` prints them: the trees in ftrace's layout, how many were
//! shown, and where their time went (self and inclusive time per function); an outlier
//! with its tree and the histogram so far.

use std::fmt::Write as _;

use super::{call_graph, histogram};
use crate::{
    deep_dive::{Trees, outlier::FoundOutlier},
    graph::{
        GraphSymbols,
        trees::{CallTree, FunctionTime, function_times},
    },
};

/// Keys of the histogram shown with an outlier.
const OUTLIER_HISTOGRAM_KEYS: usize = 5;

/// A deep dive's trees (those shown), their count, and the time per function.
pub fn deep_dive(
    trees: &Trees<'_>,
    cpus: u32,
    functions: &[String],
    threshold_ns: Option<u64>,
    top: usize,
) -> String {
    let mut out = String::from(call_graph::HEADER);
    out.push_str(&tree_lines(&trees.shown, cpus, &trees.symbols));
    let functions = functions.join(", ");
    let total = trees.total;
    let _ = match threshold_ns {
        Some(limit) => writeln!(
            out,
            "\n# {} of {total} calls of {functions} took over {:.3} us",
            trees.shown.len(),
            limit as f64 / 1000.0
        ),
        None => writeln!(out, "\n# {total} calls of {functions}"),
    };
    out.push_str(&time_per_function(
        &function_times(&trees.shown),
        top,
        &trees.symbols,
    ));
    out
}

/// An outlier: the sample, FUNC's tree within it, its time per function, and the
/// histogram so far.
pub fn outlier(found: &FoundOutlier<'_>, top: usize) -> String {
    let FoundOutlier { spec, key, tid, .. } = found;
    let took_us = found.delta_ns as f64 / 1000.0;
    let threshold_us = found.threshold_ns as f64 / 1000.0;
    let mut out = format!(
        "# outlier: {spec} {key} took {took_us:.3} us (tid {tid}; threshold {threshold_us:.3} us)\n"
    );
    out.push_str(call_graph::HEADER);
    out.push_str(&call_graph::render(
        &found.tree.events,
        found.cpus,
        found.symbols,
    ));
    out.push_str(&time_per_function(
        &function_times([found.tree]),
        top,
        found.symbols,
    ));
    let _ = writeln!(out, "# {} so far:", found.spec);
    out.push_str(&histogram::table(found.histogram, OUTLIER_HISTOGRAM_KEYS));
    out
}

fn tree_lines(trees: &[CallTree], cpus: u32, symbols: &dyn GraphSymbols) -> String {
    let events: Vec<_> = trees
        .iter()
        .flat_map(|t| t.events.iter().cloned())
        .collect();
    call_graph::render(&events, cpus, symbols)
}

/// Where the time of the trees went: self and total time per function (top `top`).
pub fn time_per_function(times: &[FunctionTime], top: usize, symbols: &dyn GraphSymbols) -> String {
    let mut out = String::new();
    if times.is_empty() {
        return out;
    }
    let _ = writeln!(out, "# where the time went (self time, top {top}):");
    let _ = writeln!(
        out,
        "# {:>12} {:>12} {:>8}  function",
        "self us", "total us", "calls"
    );
    for time in times.iter().take(top) {
        let _ = writeln!(
            out,
            "# {:>12.3} {:>12.3} {:>8}  {}",
            time.self_ns as f64 / 1000.0,
            time.total_ns as f64 / 1000.0,
            time.calls,
            symbols.function(time.func)
        );
    }
    out
}
