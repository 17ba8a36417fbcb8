//! The rare failures the latency programs report through aya-log (a table full, a key
//! beyond its table, a stack not captured; see ftrace-ebpf's diagnostics.rs), printed
//! on stderr with `-v`. Off by default: the programs are then loaded with
//! AYA_LOG_LEVEL 0, which skips the records in the kernel, and a one-page log ring.

use std::sync::atomic::{AtomicBool, Ordering};

use aya::{Ebpf, EbpfLoader};
use aya_log::EbpfLogger;

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// The programs' log ring (aya-log's AYA_LOGS) and level global.
const LOG_RING: &str = "AYA_LOGS";
/// Bytes of the log ring with `-v`: thousands of records, and the programs log at each
/// doubling of a failure's count only.
const LOG_RING_BYTES: u32 = 1 << 17;

/// Turns the reports on for the programs loaded from now on (`-v`).
pub fn enable() {
    VERBOSE.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Sets the log level and ring size of an object about to be loaded: warnings and a
/// full ring where `reporting` and `-v`, nothing and one page elsewhere.
pub fn configure(loader: &mut EbpfLoader<'_>, reporting: bool) {
    let on = reporting && enabled();
    // The loader keeps a reference until it loads: statics.
    static WARNINGS: u8 = aya_log::Level::Warn as u8;
    static NONE: u8 = 0;
    loader.override_global(aya_log::LEVEL, if on { &WARNINGS } else { &NONE }, false);
    loader.map_max_entries(LOG_RING, if on { LOG_RING_BYTES } else { 4096 });
}

/// Prints each record as `hytrace: eBPF (SPEC): MESSAGE`.
pub struct SpecLogger {
    spec: String,
}

impl log::Log for SpecLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        eprintln!("hytrace: eBPF ({}): {}", self.spec, record.args());
    }

    fn flush(&self) {}
}

/// The reader of one loaded object's records.
pub struct Diagnostics(EbpfLogger<SpecLogger>);

impl Diagnostics {
    /// Starts reading the records of `ebpf` (loaded for `spec`) where `-v` asked for
    /// them; None otherwise, or where the object has no log ring.
    pub fn start(ebpf: &mut Ebpf, spec: &str) -> Option<Diagnostics> {
        if !enabled() {
            return None;
        }
        let logger = SpecLogger {
            spec: spec.to_string(),
        };
        EbpfLogger::init_with_logger(ebpf, logger)
            .ok()
            .map(Diagnostics)
    }

    /// Prints the records written since the last call.
    pub fn print_new(&mut self) {
        self.0.flush();
    }
}
