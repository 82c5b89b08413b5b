//! How the library's threads (one per script, one per worker) wait: `poll` on their descriptors,
//! the first being the thread's wake-up eventfd, until one is ready or the next deadline.

use std::os::fd::RawFd;
use std::time::Instant;

/// A descriptor to watch for `events` (`libc::POLLIN`, `libc::POLLOUT`).
pub fn watch(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd { fd, events, revents: 0 }
}

/// Wait until a descriptor of `fds` is ready or `deadline` passes; `fds[0]` is the thread's
/// wake-up eventfd, drained here when it fired. Returns whether anything is ready (false on a
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
