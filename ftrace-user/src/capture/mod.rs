//! Copying raw ring-buffer pages out of the kernel while a session records.
//!
//! - [`reader`]: one thread per CPU reading `per_cpu/cpuN/trace_pipe_raw` into a spool
//!   file, counting records and lost events from the page headers as it goes.
//! - [`progress`]: the counters the readers share with the progress line.
//! - [`spool_writer`]: the thread that writes a reader's pages to its spool file.
//! - [`stop`]: the signal that ends the readers.

pub mod progress;
pub mod reader;
pub mod spool_writer;
pub mod stop;

pub use progress::CpuProgress;
pub use reader::{CaptureError, CpuCapture, CpuCaptureResult, SpoolFile, WATERMARK_PERCENT};
pub use stop::StopSignal;
