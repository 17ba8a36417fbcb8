//! A measuring session's frame, shared by `record`, `hist` and `graph`: the end
//! signals caught before anything is set up, the traced command held at its start gate
//! until tracing is on, the start, the wait for the end (command exit, duration,
//! SIGINT / SIGTERM / SIGHUP passed on to the command, or a caller's trigger), and the
//! command left to finish when a trigger ended the session first.
//!
//! - [`command`]: the traced command and its start gate.
//! - [`end`]: the signals that end a session and the wait.
//! - [`private_markers`]: the command's trace_marker writes sent into the instance.

pub mod command;
pub mod end;
pub mod private_markers;

use std::time::{Duration, Instant};

use thiserror::Error;

use command::{CommandError, GatedChild};
use end::EndSignals;
pub use end::StopReason;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("cannot install a handler for {signal}")]
    Signal {
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("cannot wait for the command")]
    Wait(#[source] std::io::Error),
}

/// One measuring session: prepared, started, waited for.
pub struct Session {
    signals: EndSignals,
    command: Option<GatedChild>,
    duration: Option<Duration>,
    started: Option<Instant>,
}

impl Session {
    /// Catches the end signals from here on (so every later step cleans up through the
    /// normal path) and spawns `command`, if any, held at its start gate. The
    /// `duration`, if any, counts from [`Session::start`].
    pub fn prepare(
        command: &[String],
        duration: Option<Duration>,
    ) -> Result<Session, SessionError> {
        let signals = EndSignals::install()?;
        let command = if command.is_empty() {
            None
        } else {
            Some(GatedChild::spawn(command)?)
        };
        Ok(Session {
            signals,
            command,
            duration,
            started: None,
        })
    }

    /// The traced command (waiting at its gate until the start), if any.
    pub fn command(&self) -> Option<&GatedChild> {
        self.command.as_ref()
    }

    /// The traced command's pid, if any.
    pub fn command_pid(&self) -> Option<u32> {
        self.command.as_ref().map(|c| c.pid)
    }

    /// Sends the command's `<tracefs>/trace_marker` and `tracing_on` writes into the
    /// instance at `instance` once it is released; false when there is no command.
    pub fn redirect_markers(&mut self, instance: &std::path::Path) -> bool {
        match self.command.as_mut() {
            Some(child) => {
                child.redirect_markers(instance);
                true
            }
            None => false,
        }
    }

    /// The end signal (SIGINT, SIGTERM, SIGHUP) that came while setting up, if one
    /// did: the caller stops there, and the command, never released, does not run.
    pub fn interrupted(&mut self) -> Option<&'static str> {
        EndSignals::pending()
    }

    /// Releases the command; the duration counts from here.
    pub fn start(&mut self) -> Result<(), SessionError> {
        self.started = Some(Instant::now());
        if let Some(child) = self.command.as_mut() {
            child.release()?;
        }
        Ok(())
    }

    /// Time since [`Session::start`].
    pub fn elapsed(&self) -> Duration {
        self.started.map(|s| s.elapsed()).unwrap_or_default()
    }

    /// Waits for the end, calling `on_tick` every `tick` (if given) meanwhile.
    pub async fn wait(
        &mut self,
        tick: Option<Duration>,
        mut on_tick: impl FnMut(),
    ) -> Result<StopReason, SessionError> {
        self.wait_until(tick, || {
            on_tick();
            false
        })
        .await
    }

    /// [`Session::wait`], also ending when `on_tick` returns true
    /// ([`StopReason::Triggered`]). Called again after a trigger, it waits for what is
    /// left of the duration.
    pub async fn wait_until(
        &mut self,
        tick: Option<Duration>,
        on_tick: impl FnMut() -> bool,
    ) -> Result<StopReason, SessionError> {
        let left = self.duration.map(|d| d.saturating_sub(self.elapsed()));
        end::wait_until(
            self.command.as_mut(),
            left,
            &mut self.signals,
            tick,
            on_tick,
        )
        .await
        .map_err(SessionError::Wait)
    }

    /// Lets the command run to its end (after a trigger ended the session first),
    /// still passing the end signals on to it.
    pub async fn let_command_finish(&mut self) {
        if let Some(child) = self.command.as_mut()
            && child.child.try_wait().ok().flatten().is_none()
        {
            let _ = end::wait_until(Some(child), None, &mut self.signals, None, || false).await;
        }
    }
}
