//! A thread draining a ring buffer of stacks into a [`Gatherer`] while a session runs
//! (the processes whose frames need placing are alive then).

use std::{
    os::fd::AsRawFd,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
};

use aya::maps::{MapData, RingBuf};

use crate::stacks::gather::Gatherer;

/// How long the thread sleeps in poll when the ring is empty.
const POLL_MS: i32 = 50;

/// The draining thread.
pub struct StackRingDrain {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Gatherer>>,
}

impl StackRingDrain {
    /// Starts draining `ring`, handing each record to `add` with `gatherer`.
    pub fn start(
        ring: RingBuf<MapData>,
        gatherer: Gatherer,
        add: fn(&mut Gatherer, &[u8]),
    ) -> Result<StackRingDrain, std::io::Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("hytrace-stacks".into())
            .spawn(move || drain(ring, gatherer, add, &thread_stop))?;
        Ok(StackRingDrain {
            stop,
            thread: Some(thread),
        })
    }

    /// Empties the ring once more and returns the gatherer (None if the thread
    /// panicked).
    pub fn finish(mut self) -> Option<Gatherer> {
        self.stop.store(true, Ordering::Release);
        self.thread.take()?.join().ok()
    }
}

impl Drop for StackRingDrain {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads the ring until told to stop, then empties it once more.
fn drain(
    mut ring: RingBuf<MapData>,
    mut gatherer: Gatherer,
    add: fn(&mut Gatherer, &[u8]),
    stop: &AtomicBool,
) -> Gatherer {
    loop {
        let stopping = stop.load(Ordering::Acquire);
        while let Some(item) = ring.next() {
            add(&mut gatherer, &item);
        }
        if stopping {
            return gatherer;
        }
        let mut poll = libc::pollfd {
            fd: ring.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for a descriptor the ring keeps open.
        unsafe { libc::poll(&mut poll, 1, POLL_MS) };
    }
}
