//! The one channel through which library code tells the user something while it works
//! (a warning, a fallback taken, a progress line) instead of printing it: the command
//! decides where notes go. The `hytrace` binary prints them on stderr as they come;
//! without a printer (tests, other users of the library) they are kept for [`take`].

use std::sync::{Mutex, OnceLock};

/// What a note is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note<'a> {
    /// A line for the user (without the `hytrace: ` prefix).
    Line(&'a str),
    /// A progress line that replaces the previous one.
    Progress(&'a str),
    /// The progress line is no longer wanted: clear it.
    ProgressDone,
}

static PRINTER: OnceLock<fn(Note<'_>)> = OnceLock::new();
static KEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Sends every later note to `printer` (the first printer set stays).
pub fn set_printer(printer: fn(Note<'_>)) {
    let _ = PRINTER.set(printer);
}

fn send(note: Note<'_>) {
    match PRINTER.get() {
        Some(printer) => printer(note),
        None => {
            if let Note::Line(text) = note {
                KEPT.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(text.to_string());
            }
        }
    }
}

/// A line for the user.
pub fn note(text: impl AsRef<str>) {
    send(Note::Line(text.as_ref()));
}

/// A warning: something did not work and hytrace went on without it.
pub fn warning(text: impl std::fmt::Display) {
    send(Note::Line(&format!("warning: {text}")));
}

/// A progress line, replacing the previous one.
pub fn progress(line: &str) {
    send(Note::Progress(line));
}

/// Clears the progress line.
pub fn progress_done() {
    send(Note::ProgressDone);
}

/// An error and its sources on one line (`error: source: source…`).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The lines kept while no printer was set, oldest first (and forgets them).
pub fn take() -> Vec<String> {
    std::mem::take(
        &mut *KEPT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// A progress line for a long set-up ("enabling sched:sched_switch (120 of 2305)"):
/// nothing until it has taken [`StepProgress::AFTER`], then at most every
/// [`StepProgress::EVERY`]; cleared when dropped if it was shown.
pub struct StepProgress {
    show: bool,
    started: std::time::Instant,
    last: Option<std::time::Instant>,
}

impl StepProgress {
    /// How long set-up runs before the line appears.
    pub const AFTER: std::time::Duration = std::time::Duration::from_millis(500);
    /// How often the line is redrawn.
    pub const EVERY: std::time::Duration = std::time::Duration::from_millis(100);

    /// A line shown only when `show` (stderr is a terminal).
    pub fn new(show: bool) -> StepProgress {
        StepProgress {
            show,
            started: std::time::Instant::now(),
            last: None,
        }
    }

    /// Step `n` (from 1) of `total`: `what` is being done.
    pub fn step(&mut self, what: impl FnOnce() -> String, n: usize, total: usize) {
        if !self.show {
            return;
        }
        let now = std::time::Instant::now();
        if now.duration_since(self.started) < Self::AFTER
            || self
                .last
                .is_some_and(|last| now.duration_since(last) < Self::EVERY)
        {
            return;
        }
        self.last = Some(now);
        progress(&format!("{} ({n} of {total})", what()));
    }
}

impl Drop for StepProgress {
    fn drop(&mut self) {
        if self.last.is_some() {
            progress_done();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_without_a_printer_and_progress_is_not() {
        take();
        note("a");
        progress("50%");
        warning("b failed");
        progress_done();
        let kept = take();
        assert!(kept.ends_with(&["a".to_string(), "warning: b failed".to_string()]));
        assert!(!kept.iter().any(|l| l.contains('%')));
    }
}
