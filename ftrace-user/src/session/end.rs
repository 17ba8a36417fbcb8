//! How a measuring session ends: the traced command exits, the duration passes, a
//! trigger fires, or SIGINT / SIGTERM / SIGHUP arrives (passed on to the command).
//! Catching the signals lets every session clean up through its normal path.

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicI32, Ordering},
    },
    time::Duration,
};

use tokio::signal::unix::{Signal, SignalKind, signal};

use super::{SessionError, command::GatedChild};

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    CommandExited(Option<i32>),
    Duration,
    Signal(&'static str),
    /// The tick asked to stop (an outlier was seen).
    Triggered,
}

/// The signals that end a session, caught from the moment this is created.
pub(super) struct EndSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl EndSignals {
    pub(super) fn install() -> Result<EndSignals, SessionError> {
        let install = |kind, signal_name| {
            signal(kind).map_err(|source| SessionError::Signal {
                signal: signal_name,
                source,
            })
        };
        let signals = EndSignals {
            interrupt: install(SignalKind::interrupt(), "SIGINT")?,
            terminate: install(SignalKind::terminate(), "SIGTERM")?,
            hangup: install(SignalKind::hangup(), "SIGHUP")?,
        };
        note_end_signals().map_err(|source| SessionError::Signal {
            signal: "SIGINT, SIGTERM and SIGHUP",
            source,
        })?;
        Ok(signals)
    }

    /// The end signal that came since the last look, if one did (without waiting:
    /// set-up runs outside the runtime, which would deliver tokio's streams only when
    /// it next runs).
    pub(super) fn pending() -> Option<&'static str> {
        match SEEN.swap(0, Ordering::AcqRel) {
            libc::SIGINT => Some("SIGINT"),
            libc::SIGTERM => Some("SIGTERM"),
            libc::SIGHUP => Some("SIGHUP"),
            _ => None,
        }
    }
}

/// The last end signal seen and not yet looked at (0: none).
static SEEN: AtomicI32 = AtomicI32::new(0);

/// Notes each end signal in [`SEEN`] beside tokio's handler (once per process).
fn note_end_signals() -> std::io::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = REGISTERED.get_or_init(|| {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: the action only stores to an atomic, which is async-signal-safe;
            // the registry keeps tokio's action for the signal running too.
            unsafe {
                signal_hook_registry::register(signal, move || {
                    SEEN.store(signal, Ordering::Release);
                })
            }
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    });
    result.clone().map_err(std::io::Error::other)
}

/// Waits for the end; calls `on_tick` every `tick` (if given) meanwhile, and ends when
/// it returns true ([`StopReason::Triggered`]).
pub(super) async fn wait_until(
    mut command: Option<&mut GatedChild>,
    duration: Option<Duration>,
    signals: &mut EndSignals,
    tick: Option<Duration>,
    mut on_tick: impl FnMut() -> bool,
) -> std::io::Result<StopReason> {
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut ticker = tokio::time::interval(tick.unwrap_or(Duration::from_secs(3600)));
    ticker.tick().await;
    loop {
        tokio::select! {
            status = async {
                match command.as_mut() {
                    Some(child) => child.child.wait().await,
                    None => std::future::pending().await,
                }
            } => return Ok(StopReason::CommandExited(status?.code())),
            _ = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => return Ok(StopReason::Duration),
            _ = signals.interrupt.recv() => return Ok(pass_on(command, "SIGINT", libc::SIGINT)),
            _ = signals.terminate.recv() => return Ok(pass_on(command, "SIGTERM", libc::SIGTERM)),
            _ = signals.hangup.recv() => return Ok(pass_on(command, "SIGHUP", libc::SIGHUP)),
            _ = ticker.tick(), if tick.is_some() => {
                if on_tick() {
                    return Ok(StopReason::Triggered);
                }
            }
        }
    }
}

fn pass_on(command: Option<&mut GatedChild>, name: &'static str, number: i32) -> StopReason {
    if let Some(child) = command {
        child.signal(number);
    }
    StopReason::Signal(name)
}
