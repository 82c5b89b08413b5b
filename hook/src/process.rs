//! Starting and ending the library's processes, for both modes (a spawned script's runs, a
//! worker), without harming Kea.
//!
//! - `posix_spawn` (glibc: `clone(CLONE_VM|CLONE_VFORK)`), never `fork()`: the cost does not grow
//!   with Kea's memory, and nothing runs in a copy of Kea's threads.
//! - The environment and argv are built for the child alone (`envp`); Kea's own environment is
//!   never touched. argv is `[script, hook point]`: no client data in argv, no shell.
//! - Only the child's signal mask and dispositions are reset (`POSIX_SPAWN_SETSIGMASK`,
//!   `POSIX_SPAWN_SETSIGDEF`); Kea's own dispositions are never changed.
//! - stdin is /dev/null (a worker's: a pipe the library writes events to); stdout and stderr are
//!   pipes that the library reads into Kea's log; every other descriptor is closed in the child, so
//!   a script never keeps Kea's sockets or lock files.
//! - The script leads a process group of its own, so a timeout reaches what it started too.
//! - Every child is followed through a pidfd and collected with `waitid(P_PIDFD)`, which waits for
//!   that child only. Kea's own `waitpid(-1)` (when it runs its own children) may collect it first:
//!   then the outcome is `Lost`, never a hang. Where `pidfd_open` does not exist (ENOSYS: Valgrind
//!   3.19, a kernel before 5.3, a seccomp filter), a small thread per child waits for it without
//!   collecting it (`WNOWAIT`) and then closes a pipe, whose read end stands for the pidfd; the
//!   child is then collected by pid.

use crate::environ::Environment;
use crate::limits::KILL_GRACE;
use kea_runscript_config::trust::{self, Fault};
use kea_runscript_config::{Script, Trust};
use std::os::unix::ffi::OsStrExt;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::time::{Duration, Instant};

extern "C" {
    // glibc ≥ 2.34 (Debian 12 has 2.36); not bound by the libc crate.
    fn posix_spawn_file_actions_addclosefrom_np(actions: *mut libc::posix_spawn_file_actions_t, from: libc::c_int) -> libc::c_int;
}

const P_PIDFD: libc::idtype_t = 3;

/// A started script: the process, and the read ends of its stdout and stderr (non-blocking).
pub struct Child {
    pub process: Process,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// A worker's stdin, the write end (non-blocking); `None` for a run (its stdin is /dev/null).
    pub stdin: Option<OwnedFd>,
}

/// A script process, followed through its pidfd.
pub struct Process {
    pub pid: libc::pid_t,
    /// Readable once the process has exited: its pidfd, or the read end of a waiting thread's
    /// pipe ([`Follow::Thread`]). `None` when the child had already been collected by someone
    /// else before we could follow it.
    pub pidfd: Option<OwnedFd>,
    pub follow: Follow,
}

/// How a process's exit is seen and collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// `pidfd` is a pidfd: `waitid(P_PIDFD)`.
    Pidfd,
    /// No pidfd_open here: `pidfd` is a pipe a thread closes when the child exits; `waitid(P_PID)`.
    Thread,
}

impl Process {
    /// Follows `pid`, a child just started.
    fn follow(pid: libc::pid_t) -> Process {
        match pidfd_open(pid) {
            Ok(fd) => Process { pid, pidfd: Some(fd), follow: Follow::Pidfd },
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                Process { pid, pidfd: exit_pipe(pid), follow: Follow::Thread }
            }
            Err(_) => Process { pid, pidfd: None, follow: Follow::Pidfd },
        }
    }

    /// Another view of the same process's exit, for watching only (never collected through it).
    pub fn watcher(pid: libc::pid_t, pidfd: Option<OwnedFd>, follow: Follow) -> Process {
        Process { pid, pidfd, follow }
    }
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

/// A pipe (read end, write end) whose library-side end is non-blocking (the read end for the
/// script's output, the write end for a worker's stdin); both ends close on exec.
fn pipe(ours_is_read_end: bool) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two new descriptors on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let ours = if ours_is_read_end { &r } else { &w };
    // SAFETY: fcntl on a descriptor we own.
    unsafe { libc::fcntl(ours.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    Ok((r, w))
}

/// Send `signal` to the script's process group (the script and what it started).
pub fn kill_group(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: plain syscall; the group is the script's own (POSIX_SPAWN_SETPGROUP).
    unsafe { libc::kill(-pid, signal) };
}

/// load()'s trust check of the script, made again before each start: a script replaced or
/// changed since load so that another user could change it is not run (docs/configuration.md).
/// A few `lstat`s, against `posix_spawn`'s hundreds of microseconds (docs/benchmark.md). A script
/// that cannot be looked up (deleted) is left to `posix_spawn`, which reports it. The error names
/// the script and the fault, as `KRS_SCRIPT_UNTRUSTED` says it.
pub fn still_trusted(script: &Script) -> Result<(), String> {
    if script.trust != Trust::Checked {
        return Ok(());
    }
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(script.script.as_bytes()));
    match trust::check_path(path, trust::effective_uid()) {
        Err(Fault::Untrusted(fault)) => Err(format!("{}: {fault}", script.script.to_string_lossy())),
        // Gone or unreadable: posix_spawn says so (KRS_SPAWN_FAILED), as before the check.
        Ok(()) | Err(Fault::Unreadable(_)) => Ok(()),
    }
}

/// Start a run, `script hook_point`, with exactly `env` as its environment.
pub fn spawn_run(script: &CStr, hook_point: &str, env: &Environment) -> io::Result<Child> {
    start(script, &[hook_point], env, false)
}

/// Start a worker, `script args...`, with exactly `env` as its environment and a pipe as its stdin
/// (`Child::stdin`).
pub fn spawn_worker(script: &CStr, args: &[&str], env: &Environment) -> io::Result<Child> {
    start(script, args, env, true)
}

fn start(script: &CStr, args: &[&str], env: &Environment, stdin_pipe: bool) -> io::Result<Child> {
    let args: Vec<CString> = args
        .iter()
        .map(|a| CString::new(*a))
        .collect::<Result<_, _>>()
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut argv: Vec<*const libc::c_char> = vec![script.as_ptr()];
    argv.extend(args.iter().map(|a| a.as_ptr()));
    argv.push(ptr::null());
    let envp = env.pointers();
    let dev_null = c"/dev/null";
    let (out_r, out_w) = pipe(true)?;
    let (err_r, err_w) = pipe(true)?;
    let stdin = if stdin_pipe { Some(pipe(false)?) } else { None };

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
            match &stdin {
                Some((r, _)) => check(libc::posix_spawn_file_actions_adddup2(&mut actions, r.as_raw_fd(), 0))?,
                None => {
                    check(libc::posix_spawn_file_actions_addopen(&mut actions, 0, dev_null.as_ptr(), libc::O_RDONLY, 0))?
                }
            }
            check(libc::posix_spawn_file_actions_adddup2(&mut actions, out_w.as_raw_fd(), 1))?;
            check(libc::posix_spawn_file_actions_adddup2(&mut actions, err_w.as_raw_fd(), 2))?;
            check(posix_spawn_file_actions_addclosefrom_np(&mut actions, 3))?;
            check(libc::posix_spawnattr_setpgroup(&mut attr, 0))?;
            let mut empty: libc::sigset_t = std::mem::zeroed();
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigfillset(&mut all);
            check(libc::posix_spawnattr_setsigmask(&mut attr, &empty))?;
            check(libc::posix_spawnattr_setsigdefault(&mut attr, &all))?;
            check(libc::posix_spawnattr_setflags(
                &mut attr,
                (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF | libc::POSIX_SPAWN_SETPGROUP)
                    as libc::c_short,
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
        let stdin = stdin.map(|(_, w)| w);
        Ok(Child { process: Process::follow(pid), stdout: out_r, stderr: err_r, stdin })
    }
}

fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The stand-in for a pidfd where there is none: the read end of a pipe whose write end a thread
/// holds until `pid` has exited (seen with `WNOWAIT`, so the child is still ours to collect).
fn exit_pipe(pid: libc::pid_t) -> Option<OwnedFd> {
    let (read, write) = pipe(true).ok()?;
    let waiting = std::thread::Builder::new().name("krs-exitwait".into()).stack_size(64 * 1024).spawn(move || {
        loop {
            // SAFETY: `info` is a plain C struct filled by the kernel.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
            if rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
        drop(write);
    });
    waiting.ok().map(|_| read)
}

/// Collect a process whose pidfd reported readiness (or block until it exits).
pub fn collect(process: &Process, block: bool) -> Option<Outcome> {
    let Some(fd) = &process.pidfd else { return Some(Outcome::Lost) };
    loop {
        // SAFETY: `info` is a plain C struct filled by the kernel.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
        let (idtype, id) = match process.follow {
            Follow::Pidfd => (P_PIDFD, fd.as_raw_fd() as libc::id_t),
            Follow::Thread => (libc::P_PID, process.pid as libc::id_t),
        };
        let rc = unsafe { libc::waitid(idtype, id, &mut info, flags) };
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

/// Wait until `child` exits or `deadline` passes (retrying on EINTR); `None` at the deadline.
/// `deadline: None` waits as long as it takes.
pub fn wait_until(process: &Process, deadline: Option<Instant>) -> Option<Outcome> {
    let Some(fd) = &process.pidfd else { return Some(Outcome::Lost) };
    loop {
        let timeout = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                left.as_millis().clamp(1, i32::MAX as u128) as i32
            }
        };
        let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if rc > 0 {
            if let Some(outcome) = collect(process, false) {
                return Some(outcome);
            }
        }
    }
}

/// Wait for `process` to exit.
#[cfg(test)]
pub fn wait(process: &Process) -> Outcome {
    wait_until(process, None).unwrap_or(Outcome::Lost)
}

/// Where a process is in its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Running,
    /// SIGTERM sent to its process group.
    Terminated,
    /// SIGKILL sent to its process group.
    Killed,
    /// Not even SIGKILL ended it (stuck in the kernel): no longer waited for.
    GaveUp,
}

/// A process's time limit: SIGTERM to its process group at `timeout`, SIGKILL after
/// [`KILL_GRACE`], then, if even that does not end it, give up waiting after another grace. The
/// same steps for a waited-for run, a background one, and a worker at unload.
pub struct Deadline {
    started: Instant,
    timeout: Duration,
    stage: Stage,
    stage_at: Instant,
}

impl Deadline {
    pub fn new(timeout: Duration) -> Deadline {
        let now = Instant::now();
        Deadline { started: now, timeout, stage: Stage::Running, stage_at: now }
    }

    /// When the next step is due; `None` once given up.
    pub fn due(&self) -> Option<Instant> {
        match self.stage {
            Stage::Running => Some(self.started + self.timeout),
            Stage::Terminated | Stage::Killed => Some(self.stage_at + KILL_GRACE),
            Stage::GaveUp => None,
        }
    }

    /// End the process now (at unload), whatever its time limit: the next `step` sends SIGTERM.
    pub fn expire_now(&mut self) {
        if self.stage == Stage::Running {
            self.timeout = Duration::ZERO;
        }
    }

    /// Take the step that is due, if any; `report(stage, elapsed)` logs it. Returns false once
    /// given up.
    pub fn step(&mut self, pid: libc::pid_t, now: Instant, report: impl FnOnce(Stage, Duration)) -> bool {
        if self.due().is_some_and(|d| now >= d) {
            self.stage = match self.stage {
                Stage::Running => Stage::Terminated,
                Stage::Terminated => Stage::Killed,
                Stage::Killed | Stage::GaveUp => Stage::GaveUp,
            };
            self.stage_at = now;
            match self.stage {
                Stage::Terminated => kill_group(pid, libc::SIGTERM),
                Stage::Killed => kill_group(pid, libc::SIGKILL),
                Stage::Running | Stage::GaveUp => {}
            }
            report(self.stage, now.duration_since(self.started));
        }
        self.stage != Stage::GaveUp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CString {
        let dir = std::env::temp_dir().join(format!("krs-process-{}-{}", std::process::id(), script.len()));
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
        let child = spawn_run(&s, "lease4_select", &Environment::from(&[CString::new("KEA_X=a b;$(x)").unwrap()][..])).unwrap();
        assert_eq!(wait(&child.process), Outcome::Exited(7));
    }

    #[test]
    fn reports_signals() {
        let s = sh("kill -9 $$");
        let child = spawn_run(&s, "x", &Environment::default()).unwrap();
        assert_eq!(wait(&child.process), Outcome::Signaled(9));
    }

    #[test]
    fn a_status_collected_elsewhere_is_lost_not_a_hang() {
        let s = sh("exit 3");
        let child = spawn_run(&s, "x", &Environment::default()).unwrap();
        // Play Kea's SIGCHLD handler: collect this very child behind our back.
        let mut status = 0;
        let pid = child.process.pid;
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert_eq!(wait(&child.process), Outcome::Lost);
    }

    /// As where pidfd_open is ENOSYS (Valgrind 3.19): the same child followed by a waiting thread.
    fn without_pidfd(child: &Child) -> Process {
        Process { pid: child.process.pid, pidfd: exit_pipe(child.process.pid), follow: Follow::Thread }
    }

    #[test]
    fn without_pidfd_a_thread_sees_the_exit_and_the_status_is_still_ours() {
        let s = sh("sleep 0.2; exit 5");
        let child = spawn_run(&s, "x", &Environment::default()).unwrap();
        let process = without_pidfd(&child);
        // Not before it exits: the pipe stays open while the child runs.
        assert_eq!(wait_until(&process, Some(Instant::now() + Duration::from_millis(50))), None);
        assert_eq!(wait(&process), Outcome::Exited(5));
        let s = sh("kill -9 $$");
        let child = spawn_run(&s, "x", &Environment::default()).unwrap();
        assert_eq!(wait(&without_pidfd(&child)), Outcome::Signaled(9));
    }

    #[test]
    fn without_pidfd_a_status_collected_elsewhere_is_lost_not_a_hang() {
        let s = sh("sleep 0.1; exit 3");
        let child = spawn_run(&s, "x", &Environment::default()).unwrap();
        let process = without_pidfd(&child);
        let mut status = 0;
        assert_eq!(unsafe { libc::waitpid(process.pid, &mut status, 0) }, process.pid);
        assert_eq!(wait(&process), Outcome::Lost);
    }

    #[test]
    fn stdin_is_dev_null_and_no_descriptor_leaks() {
        let s = sh(r#"read x && exit 1; for fd in 3 4 5 6 7 8 9; do [ -e /proc/self/fd/$fd ] && exit 2; done; exit 0"#);
        let _keep = std::fs::File::open("/etc/hostname").unwrap();
        let child = spawn_run(&s, "x", &Environment::default()).unwrap();
        assert_eq!(wait(&child.process), Outcome::Exited(0));
    }

    fn read_all(fd: &OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
    }

    #[test]
    fn a_worker_reads_its_stdin_pipe_and_gets_its_arguments() {
        let s = sh(r#"[ "$1 $2" = "worker wait" ] || exit 1; read -r x; [ "$x" = hello ] || exit 2; read -r y && exit 3; exit 0"#);
        let mut child = spawn_worker(&s, &["worker", "wait"], &Environment::default()).unwrap();
        let stdin = child.stdin.take().expect("a worker has a stdin pipe");
        let flags = unsafe { libc::fcntl(stdin.as_raw_fd(), libc::F_GETFL) };
        assert!(flags & libc::O_NONBLOCK != 0, "the library's end is non-blocking");
        assert_eq!(unsafe { libc::write(stdin.as_raw_fd(), b"hello\n".as_ptr().cast(), 6) }, 6);
        drop(stdin); // end of file: the worker's second read fails
        assert_eq!(wait(&child.process), Outcome::Exited(0));
    }

    #[test]
    fn stdout_and_stderr_come_back_through_pipes() {
        let s = sh("echo out; echo err >&2");
        let child = spawn_run(&s, "x", &Environment::default()).unwrap();
        assert_eq!(wait(&child.process), Outcome::Exited(0));
        assert_eq!(read_all(&child.stdout), b"out\n");
        assert_eq!(read_all(&child.stderr), b"err\n");
    }

    #[test]
    fn the_script_leads_its_own_process_group_and_a_deadline_bounds_the_wait() {
        let s = sh("sleep 30 & sleep 30");
        let child = spawn_run(&s, "x", &Environment::default()).unwrap();
        let p = &child.process;
        assert_eq!(unsafe { libc::getpgid(p.pid) }, p.pid);
        let start = Instant::now();
        assert_eq!(wait_until(p, Some(Instant::now() + Duration::from_millis(200))), None);
        // The time limit's steps: SIGTERM to the group ends the script and its background sleep.
        let mut deadline = Deadline::new(Duration::ZERO);
        let mut steps = Vec::new();
        assert!(deadline.step(p.pid, Instant::now(), |stage, _| steps.push(stage)));
        assert_eq!(steps, vec![Stage::Terminated]);
        assert_eq!(wait(p), Outcome::Signaled(libc::SIGTERM));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    /// The microbenchmarks' environment: 40 variables, about an event's.
    fn forty_variables() -> Vec<CString> {
        (0..40).map(|i| CString::new(format!("KEA_VAR_{i}=value-{i}")).unwrap()).collect()
    }

    /// The median of batch timings and the fastest.
    fn median(mut batches: Vec<f64>) -> (f64, f64) {
        batches.sort_by(f64::total_cmp);
        (batches[batches.len() / 2], batches[0])
    }

    /// Where a run's time goes beyond `posix_spawn` itself (docs/benchmark.md, "Profiles"): the
    /// spawn ceiling's bare `posix_spawn` + `waitpid` against the hook's `spawn_run` (pipes for
    /// stdout and stderr, /dev/null, `closefrom`, its own process group, signals reset, a
    /// pidfd) + `waitid`, in alternating batches: `cargo test --release -p kea-runscript --lib
    /// spawn_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a microbenchmark: cargo test --release -p kea-runscript --lib spawn_cost -- --ignored --nocapture"]
    fn spawn_cost() {
        let vars = forty_variables();
        let env = Environment::from(&vars[..]);
        let c = sh("exit 0");
        let hook = CString::new("lease4_select").unwrap();
        let argv = [c.as_ptr(), hook.as_ptr(), std::ptr::null()];
        let mut envp: Vec<*const libc::c_char> = vars.iter().map(|v| v.as_ptr()).collect();
        envp.push(std::ptr::null());
        const RUNS: u32 = 100;
        let bare = || {
            let t = Instant::now();
            for _ in 0..RUNS {
                let mut pid = 0;
                // SAFETY: NULL-terminated argv/envp of live C strings; no attributes or actions.
                let rc = unsafe {
                    libc::posix_spawn(&mut pid, c.as_ptr(), std::ptr::null(), std::ptr::null(), argv.as_ptr() as _, envp.as_ptr() as _)
                };
                assert_eq!(rc, 0);
                let mut status = 0;
                // SAFETY: our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
            }
            t.elapsed().as_nanos() as f64 / RUNS as f64
        };
        let ours = || {
            let t = Instant::now();
            for _ in 0..RUNS {
                let child = spawn_run(&c, "lease4_select", &env).unwrap();
                assert_eq!(wait(&child.process), Outcome::Exited(0));
            }
            t.elapsed().as_nanos() as f64 / RUNS as f64
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..21 {
            a.push(bare());
            b.push(ours());
        }
        let ((a, _), (b, _)) = (median(a), median(b));
        println!("bare posix_spawn + waitpid (the spawn ceiling's): median {:.0} µs per run", a / 1e3);
        println!("spawn_run + wait (pipes, /dev/null, closefrom, process group, signals reset, pidfd): median {:.0} µs per run", b / 1e3);
        println!("the hook's spawn against the bare one: {:.1}% of its time ({:+.0} µs)", 100.0 * b / a, (b - a) / 1e3);
    }

    /// What the trust check before each run costs, against the run itself (docs/benchmark.md):
    /// `cargo test --release -p kea-runscript --lib trust_check_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a microbenchmark: cargo test --release -p kea-runscript --lib trust_check_cost -- --ignored --nocapture"]
    fn trust_check_cost() {
        // Five levels under /tmp, as the test bed's scripts (Kea 3.0's: through a link too).
        let base = std::env::temp_dir().join(format!("krs-trust-cost-{}", std::process::id()));
        std::fs::create_dir_all(base.join("a/b/c")).unwrap();
        let script = base.join("a/b/c/hook.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(&script, base.join("link.sh")).unwrap();
        let env = Environment::from(&forty_variables()[..]);
        let c = CString::new(script.to_str().unwrap()).unwrap();
        let checked = |path: &std::path::Path| {
            let batches: Vec<f64> = (0..21)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..20_000 {
                        kea_runscript_config::trust::check(path, 0).unwrap();
                    }
                    t.elapsed().as_nanos() as f64 / 20_000.0
                })
                .collect();
            median(batches)
        };
        let (direct, direct_min) = checked(&script);
        let (linked, linked_min) = checked(&base.join("link.sh"));
        let spawns: Vec<f64> = (0..21)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..100 {
                    let child = spawn_run(&c, "lease4_select", &env).unwrap();
                    assert_eq!(wait(&child.process), Outcome::Exited(0));
                }
                t.elapsed().as_nanos() as f64 / 100.0
            })
            .collect();
        let (spawn, spawn_min) = median(spawns);
        std::fs::remove_dir_all(&base).unwrap();
        println!("trust check, {} (6 lookups): median {direct:.0} ns (fastest batch {direct_min:.0})", script.display());
        println!("trust check through a link: median {linked:.0} ns (fastest batch {linked_min:.0})");
        println!("posix_spawn + reap of `exit 0` (40 variables): median {:.0} µs (fastest batch {:.0})", spawn / 1e3, spawn_min / 1e3);
        println!("check / run: {:.2}% (through a link {:.2}%)", 100.0 * direct / spawn, 100.0 * linked / spawn);
    }
}
