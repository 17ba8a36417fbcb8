//! The signal that tells the readers to drain what is left and end: a flag they check
//! between drains, and an eventfd that ends their poll(2) at once.

use std::{
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    sync::atomic::{AtomicBool, Ordering},
};

/// Shared by a session and its readers.
#[derive(Debug)]
pub struct StopSignal {
    raised: AtomicBool,
    wake: OwnedFd,
}

impl StopSignal {
    /// A signal not yet raised.
    pub fn new() -> std::io::Result<StopSignal> {
        StopSignal::with_state(false)
    }

    /// A signal raised from the start (readers that drain once and end).
    pub fn raised() -> std::io::Result<StopSignal> {
        StopSignal::with_state(true)
    }

    fn with_state(raised: bool) -> std::io::Result<StopSignal> {
        // SAFETY: eventfd takes no pointers; a negative result is an error.
        let fd = unsafe { libc::eventfd(u32::from(raised), libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(StopSignal {
            raised: AtomicBool::new(raised),
            // SAFETY: `fd` was just created and is owned by nothing else.
            wake: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Tells every reader to drain once more and end; wakes those waiting in poll.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes the 8 bytes of `one` to the eventfd this signal owns. The
        // counter cannot overflow from a handful of raises; a failed write leaves the
        // readers to notice the flag at their poll timeout.
        unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// The descriptor that becomes readable once the signal is raised.
    pub fn wake_fd(&self) -> RawFd {
        self.wake.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::StopSignal;

    fn readable(fd: i32) -> bool {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    }

    #[test]
    fn raising_sets_the_flag_and_makes_the_descriptor_readable() {
        let signal = StopSignal::new().unwrap();
        assert!(!signal.is_raised());
        assert!(!readable(signal.wake_fd()));
        signal.raise();
        assert!(signal.is_raised());
        assert!(readable(signal.wake_fd()));
        let already = StopSignal::raised().unwrap();
        assert!(already.is_raised() && readable(already.wake_fd()));
    }
}
