//! function_graph recordings printed the way ftrace prints them.
//!
//! - [`layout`]: the CPU, duration and task columns (pure).
//! - [`render`]: graph events into the call-graph text (pure).
//! - [`select`]: the trees under chosen roots, when the kernel could not choose (pure).
//! - [`trees`]: whole call trees, their durations and self time per function (pure).
//! - [`events`]: funcgraph_entry / funcgraph_exit records of a recording into graph
//!   events, with the kernel symbols the text needs.
//! - [`load`]: a recording's graph events with its stored selection applied.

pub mod events;
pub mod layout;
pub mod load;
pub mod render;
pub mod select;
pub mod trees;

pub use render::{GraphEvent, GraphSymbols, HEADER, render};

#[cfg(test)]
mod golden_tests;
