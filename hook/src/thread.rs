//! A library thread's life (one per configured script, in either mode): started with what it
//! shares with Kea's threads, woken through its [`Doorbell`], waiting in `poll` on its descriptors
//! until one is ready or its next deadline, told to stop and joined when its owner is dropped.

use std::io;
use std::ops::Deref;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

/// Lock `m`, also after a thread panicked holding it: the library goes on rather than panic in
/// Kea's threads (a panic never crosses the FFI boundary, but it would lose the event).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a library thread shares with the rest of the library: its doorbell among the rest.
pub trait Shared: Send + Sync + 'static {
    fn bell(&self) -> &Doorbell;
}

/// A library thread and what it shares; dropping it tells the thread to stop, wakes it and waits
/// for it to end (the thread ends what it started first).
pub struct LibraryThread<S: Shared> {
    shared: Arc<S>,
    thread: Option<JoinHandle<()>>,
}

impl<S: Shared> LibraryThread<S> {
    /// Start thread `name` running `body` on `shared`.
    pub fn start(name: &str, shared: S, body: impl FnOnce(&S) + Send + 'static) -> io::Result<LibraryThread<S>> {
        let shared = Arc::new(shared);
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || body(&theirs))?;
        Ok(LibraryThread { shared, thread: Some(thread) })
    }
}

impl<S: Shared> Deref for LibraryThread<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.shared
    }
}

impl<S: Shared> Drop for LibraryThread<S> {
    fn drop(&mut self) {
        self.shared.bell().stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

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
/// takes the queue); and how its owner tells it to stop (`stop`).
pub struct Doorbell {
    fd: OwnedFd,
    pending: AtomicBool,
    stopping: AtomicBool,
}

impl Doorbell {
    pub fn new() -> io::Result<Doorbell> {
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor that nothing else owns.
        Ok(Doorbell {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            pending: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        })
    }

    /// Tell the thread to stop (at unload), and wake it.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.ring();
    }

    /// Whether the thread was told to stop.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
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
