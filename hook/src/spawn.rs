//! Starting a script and collecting its exit, without harming Kea.
//!
//! - `posix_spawn` (glibc: `clone(CLONE_VM|CLONE_VFORK)`), never `fork()`: the cost does not grow
//!   with Kea's memory, and nothing runs in a copy of Kea's threads.
//! - The environment and argv are built for the child alone (`envp`); Kea's own environment is
//!   never touched. argv is `[script, hook point]`: no client data in argv, no shell.
//! - Only the child's signal mask and dispositions are reset (`POSIX_SPAWN_SETSIGMASK`,
//!   `POSIX_SPAWN_SETSIGDEF`); Kea's own dispositions are never changed.
//! - stdin is /dev/null and descriptors above 2 are closed in the child, so a script can neither
//!   read Kea's stdin nor keep Kea's sockets or lock files open.
//! - Every child is followed through a pidfd and collected with `waitid(P_PIDFD)`, which waits for
//!   that child only. Kea's own `waitpid(-1)` (when it runs its own children) may collect it first:
//!   then the outcome is `Lost`, never a hang.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

extern "C" {
    // glibc ≥ 2.34 (Debian 12 has 2.36); not bound by the libc crate.
    fn posix_spawn_file_actions_addclosefrom_np(actions: *mut libc::posix_spawn_file_actions_t, from: libc::c_int) -> libc::c_int;
}

const P_PIDFD: libc::idtype_t = 3;

/// A running script.
pub struct Child {
    pub pid: libc::pid_t,
    /// `None` when the child had already been collected by someone else before we could follow it.
    pub pidfd: Option<OwnedFd>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signaled(i32),
    /// The exit status was collected elsewhere in the process (Kea's `waitpid(-1)`).
    Lost,
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(rc)) }
}

/// Start `script hook_point` with exactly `env` as its environment.
pub fn spawn(script: &CStr, hook_point: &str, env: &[CString]) -> io::Result<Child> {
    let hook = CString::new(hook_point).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let argv = [script.as_ptr(), hook.as_ptr(), ptr::null()];
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(ptr::null());
    let dev_null = c"/dev/null";

    // SAFETY: the attr/actions objects are initialised before use and destroyed on every path;
    // argv/envp are NULL-terminated arrays of valid C strings that outlive the call.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        check(libc::posix_spawn_file_actions_init(&mut actions))?;
        if let Err(e) = check(libc::posix_spawnattr_init(&mut attr)) {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(e);
        }
        let result: io::Result<libc::pid_t> = (|| {
            check(libc::posix_spawn_file_actions_addopen(&mut actions, 0, dev_null.as_ptr(), libc::O_RDONLY, 0))?;
            check(posix_spawn_file_actions_addclosefrom_np(&mut actions, 3))?;
            let mut empty: libc::sigset_t = std::mem::zeroed();
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigfillset(&mut all);
            check(libc::posix_spawnattr_setsigmask(&mut attr, &empty))?;
            check(libc::posix_spawnattr_setsigdefault(&mut attr, &all))?;
            check(libc::posix_spawnattr_setflags(
                &mut attr,
                (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short,
            ))?;
            let mut pid: libc::pid_t = 0;
            check(libc::posix_spawn(
                &mut pid,
                script.as_ptr(),
                &actions,
                &attr,
                argv.as_ptr() as *const *mut libc::c_char,
                envp.as_ptr() as *const *mut libc::c_char,
            ))?;
            Ok(pid)
        })();
        libc::posix_spawnattr_destroy(&mut attr);
        libc::posix_spawn_file_actions_destroy(&mut actions);
        let pid = result?;
        Ok(Child { pid, pidfd: pidfd_open(pid) })
    }
}

fn pidfd_open(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Collect a child whose pidfd reported readiness (or block until it exits).
pub fn collect(child: &Child, block: bool) -> Option<Outcome> {
    let Some(fd) = &child.pidfd else { return Some(Outcome::Lost) };
    loop {
        // SAFETY: `info` is a plain C struct filled by the kernel.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
        let rc = unsafe { libc::waitid(P_PIDFD, fd.as_raw_fd() as libc::id_t, &mut info, flags) };
        if rc == 0 {
            // SAFETY: after a successful waitid, si_pid/si_status/si_code are set (si_pid 0: not yet).
            let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
            if pid == 0 {
                return None;
            }
            return Some(if info.si_code == libc::CLD_EXITED { Outcome::Exited(status) } else { Outcome::Signaled(status) });
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            _ => return Some(Outcome::Lost),
        }
    }
}

/// Wait for `child` to exit: poll its pidfd (retrying on EINTR), then collect it.
pub fn wait(child: &Child) -> Outcome {
    let Some(fd) = &child.pidfd else { return Outcome::Lost };
    loop {
        let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, -1) };
        if rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if let Some(outcome) = collect(child, false) {
            return outcome;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CString {
        let dir = std::env::temp_dir().join(format!("krs-spawn-{}-{}", std::process::id(), script.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        CString::new(path.to_str().unwrap()).unwrap()
    }

    #[test]
    fn passes_hook_name_and_exact_environment_and_reports_status() {
        let s = sh(r#"[ "$1" = lease4_select ] && [ "$KEA_X" = 'a b;$(x)' ] && [ -z "$HOME" ] && exit 7; exit 1"#);
        let child = spawn(&s, "lease4_select", &[CString::new("KEA_X=a b;$(x)").unwrap()]).unwrap();
        assert_eq!(wait(&child), Outcome::Exited(7));
    }

    #[test]
    fn reports_signals() {
        let s = sh("kill -9 $$");
        let child = spawn(&s, "x", &[]).unwrap();
        assert_eq!(wait(&child), Outcome::Signaled(9));
    }

    #[test]
    fn a_status_collected_elsewhere_is_lost_not_a_hang() {
        let s = sh("exit 3");
        let child = spawn(&s, "x", &[]).unwrap();
        // Play Kea's SIGCHLD handler: collect this very child behind our back.
        let mut status = 0;
        assert_eq!(unsafe { libc::waitpid(child.pid, &mut status, 0) }, child.pid);
        assert_eq!(wait(&child), Outcome::Lost);
    }

    #[test]
    fn stdin_is_dev_null_and_no_descriptor_leaks() {
        let s = sh(r#"read x && exit 1; for fd in 3 4 5 6 7 8 9; do [ -e /proc/self/fd/$fd ] && exit 2; done; exit 0"#);
        let _keep = std::fs::File::open("/etc/hostname").unwrap();
        let child = spawn(&s, "x", &[]).unwrap();
        assert_eq!(wait(&child), Outcome::Exited(0));
    }
}
