//! SIGPIPE in the feeding thread: writing to a pipe whose reader is gone raises SIGPIPE in the
//! writing thread, and Kea does not ignore SIGPIPE (its default action ends the process). The
//! feeding thread blocks it in its own signal mask and takes a pending one after `EPIPE`; no
//! signal disposition of Kea's is changed and no other thread's mask is touched.

fn sigpipe() -> libc::sigset_t {
    // SAFETY: a sigset_t filled by sigemptyset/sigaddset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        set
    }
}

/// Block SIGPIPE in the calling thread only (the feeding thread), so that a write to a pipe whose
/// reader is gone fails with EPIPE instead of ending Kea.
pub fn block() {
    let set = sigpipe();
    // SAFETY: pthread_sigmask on the calling thread.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Take the SIGPIPE an EPIPE write left pending on this thread (it is blocked here), so that it
/// is not delivered later.
pub fn take_pending() {
    let set = sigpipe();
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a zero timeout never waits.
    while unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) } == libc::SIGPIPE {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn a_blocked_sigpipe_becomes_epipe_and_is_taken() {
        // In a thread of its own, like the worker thread: the test harness's threads keep theirs.
        std::thread::spawn(|| {
            block();
            let mut fds = [0; 2];
            assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
            unsafe { libc::close(fds[0]) };
            let n = unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
            assert_eq!((n, io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EPIPE)));
            let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
            unsafe { libc::sigpending(&mut pending) };
            assert_eq!(unsafe { libc::sigismember(&pending, libc::SIGPIPE) }, 1, "SIGPIPE pending");
            take_pending();
            unsafe { libc::sigpending(&mut pending) };
            assert_eq!(unsafe { libc::sigismember(&pending, libc::SIGPIPE) }, 0, "SIGPIPE taken");
            unsafe { libc::close(fds[1]) };
        })
        .join()
        .unwrap();
    }
}
