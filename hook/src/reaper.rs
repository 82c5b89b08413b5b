//! A thread that collects background scripts (`wait: false`) as they exit, so that none is left a
//! zombie, without touching SIGCHLD: it polls the children's pidfds and an eventfd that wakes it.

use crate::runtime::report;
use crate::spawn::{self, Child};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long `stop()` lets running background scripts finish before leaving them behind.
const STOP_GRACE: Duration = Duration::from_secs(2);

struct Shared {
    incoming: Mutex<Vec<(&'static str, Child)>>,
    wake: OwnedFd,
    stopping: AtomicBool,
}

impl Shared {
    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes to our own eventfd.
        unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

pub struct Reaper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Reaper {
    pub fn start() -> io::Result<Reaper> {
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let shared = Arc::new(Shared {
            incoming: Mutex::new(Vec::new()),
            wake: unsafe { OwnedFd::from_raw_fd(fd) },
            stopping: AtomicBool::new(false),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("kea-runscript-reaper".into()).spawn(move || run(&thread_shared))?;
        Ok(Reaper { shared, thread: Some(thread) })
    }

    /// Hand a background child over; returns at once.
    pub fn adopt(&self, hook: &'static str, child: Child) {
        self.shared.incoming.lock().unwrap_or_else(|p| p.into_inner()).push((hook, child));
        self.shared.wake();
    }

}

impl Drop for Reaper {
    /// Collect what exits within a short grace, then end the thread: by the time the last owner
    /// is gone (at `unload()`), no thread of this library is left running.
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared) {
    let mut children: Vec<(&'static str, Child)> = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        children.append(&mut shared.incoming.lock().unwrap_or_else(|p| p.into_inner()));
        // Children we could not follow (already collected elsewhere) are reported at once.
        children.retain(|(hook, child)| {
            if child.pidfd.is_some() {
                return true;
            }
            report(hook, child, spawn::Outcome::Lost);
            false
        });
        if shared.stopping.load(Ordering::SeqCst) {
            let d = *deadline.get_or_insert_with(|| Instant::now() + STOP_GRACE);
            if children.is_empty() || Instant::now() >= d {
                // Past the grace, running scripts are left to finish on their own.
                return;
            }
        }
        let mut fds = vec![libc::pollfd { fd: shared.wake.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        fds.extend(children.iter().map(|(_, c)| libc::pollfd {
            fd: c.pidfd.as_ref().map_or(-1, |f| f.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        }));
        let timeout = deadline.map_or(-1, |d| d.saturating_duration_since(Instant::now()).as_millis() as i32);
        // SAFETY: `fds` is a valid array of pollfd.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if rc < 0 {
            continue; // EINTR
        }
        if fds[0].revents != 0 {
            let mut counter: u64 = 0;
            // SAFETY: reads 8 bytes from our own non-blocking eventfd.
            unsafe { libc::read(shared.wake.as_raw_fd(), (&mut counter as *mut u64).cast(), 8) };
        }
        let mut index = 0;
        children.retain(|(hook, child)| {
            index += 1;
            if fds[index].revents == 0 {
                return true;
            }
            match spawn::collect(child, false) {
                Some(outcome) => {
                    report(hook, child, outcome);
                    false
                }
                None => true,
            }
        });
    }
}
