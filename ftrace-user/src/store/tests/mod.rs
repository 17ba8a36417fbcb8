//! Tests of the store against captured fixtures and, when installed,
//! trace-cmd itself.

mod fixtures;
mod robustness;
mod roundtrip;
mod trace_cmd;
mod trace_cmd_files;
