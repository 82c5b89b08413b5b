//! How the library's threads (one per script, one per worker) wait: `poll` on their descriptors,
//! the first being the thread's wake-up eventfd, until one is ready or the next deadline.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// A descriptor to watch for `events` (`libc::POLLIN`, `libc::POLLOUT`).
pub fn watch(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd { fd, events, revents: 0 }
}

/// Wait until a descriptor of `fds` is ready or `deadline` passes; `fds[0]` is the thread's
/// [`Doorbell`], drained here when it fired. Returns whether anything is ready (false on a
/// timeout or EINTR: the caller's loop looks again).
pub fn wait(fds: &mut [libc::pollfd], deadline: Option<Instant>) -> bool {
    // Rounded up: waking before a deadline would only spin until it.
    let timeout = deadline.map_or(-1, |t| {
        let micros = t.saturating_duration_since(Instant::now()).as_micros();
        micros.div_ceil(1000).min(i32::MAX as u128) as i32
    });
    // SAFETY: `fds` is a valid array of pollfd.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
    if rc <= 0 {
        return false;
    }
    if fds[0].revents != 0 {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes from the thread's own non-blocking eventfd.
        unsafe { libc::read(fds[0].fd, (&mut counter as *mut u64).cast(), 8) };
    }
    true
}

/// How Kea's threads wake one of the library's threads: an eventfd, written at once for urgent
/// work (`ring`), or once per burst for queued work (`ring_once`, answered by the thread before it
/// takes the queue).
pub struct Doorbell {
    fd: OwnedFd,
    pending: AtomicBool,
}

impl Doorbell {
    pub fn new() -> io::Result<Doorbell> {
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor that nothing else owns.
        Ok(Doorbell { fd: unsafe { OwnedFd::from_raw_fd(fd) }, pending: AtomicBool::new(false) })
    }

    /// Wake the thread.
    pub fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes to our own eventfd.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Wake the thread for queued work, unless a wake-up for it is pending already: under load
    /// Kea's threads then make one system call per burst of events, not one per event.
    pub fn ring_once(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            self.ring();
        }
    }

    /// Whether queued work rang since the thread last answered.
    pub fn pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// The thread is about to take the queue: work queued from now on rings again.
    pub fn answer(&self) {
        self.pending.store(false, Ordering::Release);
    }

    /// The eventfd to put first in [`wait`]'s descriptors.
    pub fn watch(&self) -> libc::pollfd {
        watch(self.fd.as_raw_fd(), libc::POLLIN)
    }
}

/// Queue a background job for a library thread, from a Kea thread: past `limit` jobs waiting the
/// job is dropped and counted in `dropped`; either way the thread is rung (once per burst).
pub fn offer<T>(queue: &Mutex<VecDeque<T>>, job: T, limit: usize, dropped: &AtomicU64, bell: &Doorbell) {
    let admitted = {
        let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
        let room = queue.len() < limit;
        if room {
            queue.push_back(job);
        }
        room
    };
    if !admitted {
        dropped.fetch_add(1, Ordering::Relaxed);
    }
    bell.ring_once();
}
