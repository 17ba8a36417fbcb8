//! Copying raw ring-buffer pages out of the kernel while a session records.
//!
//! - [`reader`]: one thread per CPU reading `per_cpu/cpuN/trace_pipe_raw` into a spool
//!   file, counting records and lost events from the page headers as it goes.
//! - [`progress`]: the counters the readers share with the progress line.

pub mod progress;
pub mod reader;

pub use progress::CpuProgress;
pub use reader::{CaptureError, CpuCapture, CpuCaptureResult, SpoolFile};
