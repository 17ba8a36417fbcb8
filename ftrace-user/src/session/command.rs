//! The traced command: started before tracing is switched on, but held at a gate until
//! the session has set its pid filter and turned tracing on, so its first system call is
//! already recorded.
//!
//! The gate is a second copy of hytrace (`/proc/self/exe` with [`GATE_FD_ENV`] set) that
//! blocks reading a pipe and then execs the command; exec keeps the pid, so the pid the
//! session filters on is the command's. (Blocking inside `pre_exec` instead would
//! deadlock: `spawn` waits for the exec to happen.)
//!
//! The release is one byte, optionally followed by the path of an instance whose
//! trace_marker and tracing_on the command must write into
//! ([`super::private_markers`]); the gate sets that up before the exec.

use std::{
    ffi::OsString,
    io::{Read, Write},
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::process::CommandExt,
    },
    process::Command,
};

use thiserror::Error;

/// Environment variable that turns a hytrace process into a command's start gate.
pub const GATE_FD_ENV: &str = "HYTRACE_START_GATE_FD";

#[derive(Debug, Error)]
pub enum CommandError {
    #[error("no command given")]
    Empty,
    #[error("command not found: {program}")]
    NotFound { program: String },
    #[error("cannot create the start gate pipe")]
    Pipe(#[source] std::io::Error),
    #[error("cannot find hytrace's own executable")]
    SelfExe(#[source] std::io::Error),
    #[error("cannot start {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot release {command} from its start gate")]
    Release {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

/// A spawned command waiting at its gate.
pub struct GatedChild {
    pub child: tokio::process::Child,
    pub pid: u32,
    pub command: String,
    gate: Option<std::fs::File>,
    /// The instance the command's marker writes go to (see [`GatedChild::redirect_markers`]).
    markers_into: Option<std::path::PathBuf>,
}

impl GatedChild {
    /// Spawns the gate for `argv`; the command does not run until [`release`].
    ///
    /// [`release`]: GatedChild::release
    pub fn spawn(argv: &[String]) -> Result<GatedChild, CommandError> {
        let program = argv.first().ok_or(CommandError::Empty)?;
        if find_program(program).is_none() {
            return Err(CommandError::NotFound {
                program: program.clone(),
            });
        }
        let (gate_read, gate_write) = pipe().map_err(CommandError::Pipe)?;
        let gate_fd = gate_read.as_raw_fd();
        let me = std::env::current_exe().map_err(CommandError::SelfExe)?;
        let mut command = Command::new(me);
        command.args(argv).env(GATE_FD_ENV, gate_fd.to_string());
        // SAFETY: runs in the forked child before exec; fcntl is async-signal-safe and
        // only clears close-on-exec on the gate descriptor so the gate inherits it.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(gate_fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = tokio::process::Command::from(command)
            .spawn()
            .map_err(|source| CommandError::Spawn {
                command: program.clone(),
                source,
            })?;
        drop(gate_read);
        let pid = child.id().unwrap_or(0);
        Ok(GatedChild {
            child,
            pid,
            command: program.clone(),
            gate: Some(std::fs::File::from(gate_write)),
            markers_into: None,
        })
    }

    /// Makes the command, when released, write `<tracefs>/trace_marker` and
    /// `tracing_on` into the instance at `instance` (a private mount namespace).
    pub fn redirect_markers(&mut self, instance: &std::path::Path) {
        self.markers_into = Some(instance.to_path_buf());
    }

    /// Lets the command exec.
    pub fn release(&mut self) -> Result<(), CommandError> {
        if let Some(mut gate) = self.gate.take() {
            let mut message = vec![1u8];
            if let Some(instance) = &self.markers_into {
                use std::os::unix::ffi::OsStrExt;
                message.extend_from_slice(instance.as_os_str().as_bytes());
            }
            // One write of a few hundred bytes at most: atomic on a pipe.
            gate.write_all(&message)
                .map_err(|source| CommandError::Release {
                    command: self.command.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// Sends a signal to the command (to pass on SIGTERM/SIGHUP/SIGINT).
    pub fn signal(&self, signal: i32) {
        if self.pid != 0 {
            // SAFETY: kill has no memory-safety preconditions; a pid that is gone at
            // worst gets ESRCH, which is ignored.
            unsafe {
                libc::kill(self.pid as libc::pid_t, signal);
            }
        }
    }
}

/// The gate side: called by `main` first thing when [`GATE_FD_ENV`] is set. Waits for
/// the session's go, then execs the command; returns only if the exec fails. Exits with
/// status 125, silently, when the session ends without releasing the command.
pub fn run_gate(fd: OsString, argv: Vec<OsString>) -> std::io::Error {
    // SAFETY: the descriptor number comes from the parent session, which created this
    // pipe end for us alone and made it inheritable; nothing else in this process uses it.
    let mut gate = unsafe {
        let fd: i32 = fd.to_str().and_then(|s| s.parse().ok()).unwrap_or(-1);
        if fd < 0 {
            return std::io::Error::other(format!("bad {GATE_FD_ENV}"));
        }
        std::fs::File::from_raw_fd(fd)
    };
    let mut message = Vec::new();
    // EOF at once means the session is gone before releasing us: do not run the
    // command. The session closes its end right after the release message.
    if let Err(e) = gate.read_to_end(&mut message) {
        return e;
    }
    if message.first() != Some(&1) {
        // The session failed while setting up and says why itself.
        std::process::exit(125);
    }
    drop(gate);
    if message.len() > 1 {
        use std::os::unix::ffi::OsStrExt;
        let instance = std::path::Path::new(std::ffi::OsStr::from_bytes(&message[1..]));
        if let Err(error) = super::private_markers::redirect_into(instance) {
            eprintln!(
                "hytrace: cannot send the command's trace_marker writes into {}: {error}",
                instance.display()
            );
            std::process::exit(126);
        }
    }
    let Some((program, args)) = argv.split_first() else {
        return std::io::Error::other("no command");
    };
    Command::new(program)
        .args(args)
        .env_remove(GATE_FD_ENV)
        .exec()
}

/// PATH lookup as execvp does it, to fail early with a clear message.
fn find_program(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        let path = std::path::PathBuf::from(program);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
