//! Small helpers shared by the rest of the testbed: scratch directories,
//! awaited conditions with deadlines, processes killed by PID, quoting.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Generous default deadline for awaited conditions (the machine has two
/// cores that several Kea servers, clients and hook scripts share).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How often awaited conditions are polled.
pub const POLL: Duration = Duration::from_millis(25);

/// Polls `cond` until it returns `Some`, or fails once `timeout` has passed.
/// This is the only way the testbed waits: every wait is for a condition.
pub fn wait_until<T>(timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> Result<T, Elapsed> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(Elapsed(timeout));
        }
        thread::sleep(POLL);
    }
}

/// A deadline passed before the awaited condition held.
#[derive(Debug, Clone, Copy)]
pub struct Elapsed(pub Duration);

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "condition not met within {:?}", self.0)
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(e: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}

pub(crate) fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// A scratch directory removed on drop. When dropped during a panic it is
/// kept (and its path printed) so that the logs of a failed test can be read;
/// `KRS_KEEP_TMP=1` keeps it always.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/kea-runscript-testbed/<name>` (emptied if it exists).
    pub fn new(name: &str) -> io::Result<TempDir> {
        let base = std::env::temp_dir().join("kea-runscript-testbed");
        fs::create_dir_all(&base)?;
        remove_stale_dirs(&base);
        let path = base.join(name);
        if path.exists() {
            fs::remove_dir_all(&path)?;
        }
        fs::create_dir(&path)?;
        // Whatever the umask: the hook refuses scripts in directories others can write to.
        for d in [&base, &path] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755))?;
        }
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates (if needed) and returns a subdirectory.
    pub fn subdir(&self, name: &str) -> io::Result<PathBuf> {
        let p = self.path.join(name);
        fs::create_dir_all(&p)?;
        Ok(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if thread::panicking() || std::env::var_os("KRS_KEEP_TMP").is_some_and(|v| v == "1") {
            eprintln!("testbed: kept scratch directory {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Removes scratch directories (`krs<pid>x<n>`) kept by failed runs once
/// their process is gone and they are more than an hour old.
fn remove_stale_dirs(base: &Path) {
    let Ok(rd) = fs::read_dir(base) else { return };
    for ent in rd.flatten() {
        let name = ent.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("krs")).and_then(|n| n.split('x').next()) else {
            continue;
        };
        if pid.is_empty() || Path::new("/proc").join(pid).exists() {
            continue;
        }
        let old = ent
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if old {
            let _ = fs::remove_dir_all(ent.path());
        }
    }
}

/// Writes an executable file (mode 0755).
pub fn write_executable(path: &Path, contents: &str) -> io::Result<()> {
    fs::write(path, contents)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

/// Reads a file as text, or an empty string when it does not exist (yet).
pub fn read_or_empty(path: &Path) -> String {
    match fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    }
}

/// Quotes a string for /bin/sh (single quotes).
pub fn sh_quote(s: impl AsRef<OsStr>) -> String {
    let s = s.as_ref().to_string_lossy();
    let mut out = String::from("'");
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Runs a command to completion and fails unless it exits 0; the error names
/// the command and carries its stderr.
pub fn run_ok(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| other(format!("{cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(other(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out)
}

/// Runs `ip ARGS...`, failing unless it exits 0.
pub fn ip(args: &[&str]) -> io::Result<String> {
    let out = run_ok(Command::new("ip").args(args))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes the child receive SIGKILL when the thread that spawned it ends, so
/// that nothing we start outlives a test process that was itself killed.
/// (The signal follows the spawning *thread*: spawn from the thread that
/// owns the handle, as tests and the demo do.)
pub(crate) fn die_with_parent(cmd: &mut Command) -> &mut Command {
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// A process the testbed started. It is killed by PID (never by name), and
/// only while it has not been reaped, so the PID cannot have been reused.
#[derive(Clone, Debug)]
pub struct Proc {
    inner: Arc<Mutex<ProcInner>>,
    pid: u32,
    name: String,
}

#[derive(Debug)]
struct ProcInner {
    child: Child,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `cmd` (stdin from /dev/null); see [`die_with_parent`].
    pub fn spawn(name: &str, cmd: &mut Command) -> io::Result<Proc> {
        die_with_parent(cmd);
        let child = cmd.stdin(Stdio::null()).spawn().map_err(|e| other(format!("spawning {name} ({cmd:?}): {e}")))?;
        let pid = child.id();
        Ok(Proc { inner: Arc::new(Mutex::new(ProcInner { child, status: None })), pid, name: name.to_string() })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The exit status if the process has ended (reaps it).
    pub fn try_status(&self) -> Option<ExitStatus> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.status.is_none() {
            if let Ok(Some(st)) = g.child.try_wait() {
                g.status = Some(st);
            }
        }
        g.status
    }

    /// Waits for the process to end, at most `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<ExitStatus, Elapsed> {
        wait_until(timeout, || self.try_status())
    }

    /// SIGTERM, then SIGKILL if it has not ended within `grace`; reaps it.
    pub fn terminate(&self, grace: Duration) -> Option<ExitStatus> {
        if let Some(st) = self.try_status() {
            return Some(st);
        }
        self.signal(libc::SIGTERM);
        if let Ok(st) = self.wait_timeout(grace) {
            return Some(st);
        }
        self.kill()
    }

    /// SIGKILL and reap.
    pub fn kill(&self) -> Option<ExitStatus> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.status.is_none() {
            let _ = g.child.kill();
            g.status = g.child.wait().ok();
        }
        g.status
    }

    /// Sends a signal, by PID, while the child is known not to be reaped.
    pub fn signal(&self, sig: libc::c_int) {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.status.is_none() {
            // Not reaped yet (we hold the lock and reaping goes through it):
            // the PID still names our child, even if it is a zombie.
            unsafe {
                libc::kill(self.pid as libc::pid_t, sig);
            }
        }
    }
}

/// Whether `pid` currently exists and lives in the network namespace bound
/// at `/run/netns/<ns>` (compared by inode). Used before signalling a
/// process that is not our direct child (a daemonized dhclient).
pub fn pid_in_netns(pid: u32, ns: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(ns_meta) = fs::metadata(format!("/run/netns/{ns}")) else { return false };
    let Ok(p_meta) = fs::metadata(format!("/proc/{pid}/ns/net")) else { return false };
    ns_meta.ino() == p_meta.ino() && ns_meta.dev() == p_meta.dev()
}

/// Sends `sig` to `pid` only if it lives in our namespace `ns`.
pub fn kill_in_netns(pid: u32, ns: &str, sig: libc::c_int) -> bool {
    if pid <= 1 || !pid_in_netns(pid, ns) {
        return false;
    }
    unsafe { libc::kill(pid as libc::pid_t, sig) == 0 }
}

/// Parses the first line of a pid file.
pub fn read_pidfile(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.lines().next()?.trim().parse().ok()
}
