//! Looking at processes through `/proc`: a server's threads, descriptors,
//! children and memory, processes found by their command line, and a
//! sampler that watches such figures while a test drives traffic.
//!
//! Read-only: nothing here signals or otherwise touches a process.

use std::fs;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// One process as `/proc/<pid>/stat` and `cmdline` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: u32,
    pub ppid: u32,
    /// Process group.
    pub pgid: u32,
    /// `R`, `S`, `D`, `Z`, ...
    pub state: char,
    /// The command line, arguments joined by spaces (empty for a zombie).
    pub cmdline: String,
    /// The arguments as they are (NUL-separated in `/proc`).
    pub argv: Vec<String>,
}

impl ProcEntry {
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Reads one process; `None` when it is gone (or unreadable).
pub fn proc_entry(pid: u32) -> Option<ProcEntry> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses,
    // so split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgid = f.next()?.parse().ok()?;
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv: Vec<String> =
        raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    Some(ProcEntry { pid, ppid, pgid, state, cmdline: argv.join(" "), argv })
}

/// Every process of the system (a snapshot; processes come and go meanwhile).
pub fn all_processes() -> Vec<ProcEntry> {
    let Ok(rd) = fs::read_dir("/proc") else { return Vec::new() };
    rd.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()).filter_map(proc_entry).collect()
}

/// Direct children of `pid` (zombies included).
pub fn children(pid: u32) -> Vec<ProcEntry> {
    all_processes().into_iter().filter(|p| p.ppid == pid).collect()
}

/// Processes one of whose arguments equals `arg` exactly (e.g. a script's
/// absolute path: a script run through its `#!` line is `/bin/sh <path> <hook>`).
pub fn processes_with_arg(arg: &str) -> Vec<ProcEntry> {
    all_processes().into_iter().filter(|p| p.argv.iter().any(|a| a == arg)).collect()
}

/// Number of threads of `pid` (`/proc/<pid>/task`).
pub fn thread_count(pid: u32) -> io::Result<usize> {
    Ok(fs::read_dir(format!("/proc/{pid}/task"))?.count())
}

/// Names of the threads of `pid` (their `comm`), sorted.
pub fn thread_names(pid: u32) -> io::Result<Vec<String>> {
    let mut v: Vec<String> = fs::read_dir(format!("/proc/{pid}/task"))?
        .flatten()
        .map(|t| fs::read_to_string(t.path().join("comm")).unwrap_or_default().trim().to_string())
        .collect();
    v.sort();
    Ok(v)
}

/// Number of open file descriptors of `pid` (`/proc/<pid>/fd`).
pub fn fd_count(pid: u32) -> io::Result<usize> {
    Ok(fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// What the open descriptors of `pid` point to (`readlink`), sorted.
pub fn fd_targets(pid: u32) -> io::Result<Vec<String>> {
    let mut v: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))?
        .flatten()
        .map(|e| fs::read_link(e.path()).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| "?".into()))
        .collect();
    v.sort();
    Ok(v)
}

/// Resident set size of `pid` in kB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kb(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no VmRSS for {pid}")))
}

/// Threads, descriptors and children of one process at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcSnapshot {
    pub threads: Vec<String>,
    pub fds: Vec<String>,
    pub children: Vec<ProcEntry>,
    pub rss_kb: u64,
}

impl ProcSnapshot {
    pub fn take(pid: u32) -> io::Result<ProcSnapshot> {
        Ok(ProcSnapshot {
            threads: thread_names(pid)?,
            fds: fd_targets(pid)?,
            children: children(pid),
            rss_kb: rss_kb(pid)?,
        })
    }

    /// Same threads, same descriptors (by target; sockets by kind only,
    /// since a re-opened socket gets a new inode) and same children as
    /// `base`; a description of the differences otherwise.
    pub fn differences_from(&self, base: &ProcSnapshot) -> Option<String> {
        let norm = |v: &[String]| -> Vec<String> {
            let mut v: Vec<String> = v
                .iter()
                .map(|t| match t.split_once(":[") {
                    Some((kind, _)) => format!("{kind}:[…]"),
                    None => t.clone(),
                })
                .collect();
            v.sort();
            v
        };
        let mut d = Vec::new();
        if self.threads != base.threads {
            d.push(format!("threads {:?} (baseline {:?})", self.threads, base.threads));
        }
        if norm(&self.fds) != norm(&base.fds) {
            d.push(format!("descriptors {:?} (baseline {:?})", self.fds, base.fds));
        }
        let pids = |v: &[ProcEntry]| v.iter().map(|p| p.pid).collect::<Vec<_>>();
        if pids(&self.children) != pids(&base.children) {
            d.push(format!("children {:?} (baseline {:?})", self.children, base.children));
        }
        (!d.is_empty()).then(|| d.join("; "))
    }
}

/// Calls a probe every `interval` on a thread of its own until stopped, and
/// keeps what it returned: to watch a figure (a process count, a server's
/// memory) while traffic runs, without sleeping in the test itself.
pub struct Sampler<T: Send + 'static> {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<T>>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Sampler<T> {
    pub fn start(interval: Duration, mut probe: impl FnMut() -> T + Send + 'static) -> Sampler<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (Arc::clone(&stop), Arc::clone(&samples));
        let thread = thread::Builder::new()
            .name("testbed-sampler".into())
            .spawn(move || {
                while !s.load(Ordering::SeqCst) {
                    let x = probe();
                    v.lock().unwrap_or_else(|e| e.into_inner()).push(x);
                    thread::sleep(interval);
                }
            })
            .expect("sampler thread");
        Sampler { stop, samples, thread: Some(thread) }
    }

    /// Number of samples so far.
    pub fn len(&self) -> usize {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops sampling and returns every sample, in order.
    pub fn stop(mut self) -> Vec<T> {
        self.finish();
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn finish(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl<T: Send + 'static> Drop for Sampler<T> {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself() {
        let me = std::process::id();
        let e = proc_entry(me).unwrap();
        assert_eq!(e.pid, me);
        assert!(!e.argv.is_empty());
        assert!(thread_count(me).unwrap() >= 1);
        assert!(fd_count(me).unwrap() >= 3);
        assert!(rss_kb(me).unwrap() > 0);
    }

    #[test]
    fn samples_until_stopped() {
        let s = Sampler::start(Duration::from_millis(1), || 7);
        crate::util::wait_until(Duration::from_secs(5), || (s.len() >= 3).then_some(())).unwrap();
        let v = s.stop();
        assert!(v.len() >= 3 && v.iter().all(|&x| x == 7));
    }
}
