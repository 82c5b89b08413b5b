//! Worker mode (`"mode": "worker"`): one long-running process per configured script, started at
//! load, fed each event as one line of JSON on its stdin, restarted with a backoff when it ends.
//!
//! - The packet path never writes to the worker: a callout queues the line (bounded by
//!   `max-queued`; past it the event is dropped and counted) and, with `wait`, waits at most
//!   `timeout-ms` for the reply. Only this module's thread writes, and never blocks doing so: a
//!   worker that stops reading fills its pipe, then the queue, never a Kea thread.
//! - With `wait`, one event is in flight at a time: the next line is written once the reply to the
//!   previous one has been read, so a reply always belongs to the last line written, whichever of
//!   Kea's threads is waiting for it. An event whose callout gave up (timeout) still owes its reply:
//!   until the worker sends it, events go on at once instead of queueing behind it, and the late
//!   reply is discarded, not given to another event.
//! - SIGPIPE: writing to a pipe whose reader is gone raises SIGPIPE in the writing thread, and Kea
//!   does not ignore SIGPIPE (its default action ends the process). The feeding thread blocks SIGPIPE in
//!   its own signal mask and takes a pending one with `sigtimedwait` after `EPIPE`; no signal
//!   disposition of Kea's is changed, no other thread's mask is touched, and the worker starts with
//!   an empty mask (`spawn`).
//! - stderr, and stdout without `wait`, go to Kea's log like a spawned script's output (the
//!   per-second budget; no per-run cap: a worker is one long run).
//! - At unload: what the pipe takes at once is written, the rest discarded; stdin is closed; the
//!   worker gets `STOP_GRACE` to exit, then SIGTERM to its process group, `KILL_GRACE` later
//!   SIGKILL; it is collected.
//!
//! Here: the handle the callouts use, and a waited-for event's request slot; [`feeder`]: the
//! thread that writes, reads and restarts; [`sigpipe`]: SIGPIPE in that thread.

mod feeder;
mod sigpipe;

use crate::environ::Environment;
use crate::log::{log, msg};
use crate::process;
use crate::queue::{BoundedQueue, Waited};
use crate::stats::{ScriptStats, Stat};
use crate::thread::{lock, Doorbell, LibraryThread, Shared};
use feeder::Feeder;
use kea_runscript_config::{Action, Script};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// A waited-for event's side of its line: the callout waits on it, the thread answers it.
#[derive(Default)]
struct Request {
    slot: Mutex<Slot>,
    answered: Condvar,
}

#[derive(Default)]
struct Slot {
    /// The thread took the line to write it (from then on a reply is owed).
    written: bool,
    /// The callout stopped waiting (timeout).
    abandoned: bool,
    /// The thread's answer: `Some(action)` for a valid reply, `None` to continue.
    answer: Option<Option<Action>>,
}

struct Job {
    /// One event's line, or (background events) several lines written at once.
    line: Vec<u8>,
    request: Option<Arc<Request>>,
}

/// What the callouts and the feeding thread share.
struct WorkerShared {
    script: Script,
    /// The script's path, naming the worker in the log.
    name: String,
    /// Lines not yet written, in order. `up` changes only under this lock.
    queue: BoundedQueue<Job>,
    /// A worker is running with its stdin open (waited-for events are queued only then).
    up: AtomicBool,
    /// With `wait`: the line in flight belongs to an event whose callout gave up. Set and cleared
    /// under that request's slot lock.
    owing_late: AtomicBool,
    timed_out: AtomicU64,
    garbled: AtomicU64,
    unavailable: AtomicU64,
    /// The running worker's pid and when it started (none while it is down), for `runscript-status`.
    process: Mutex<Option<(libc::pid_t, Instant)>>,
    /// When the next start is due while the worker is down.
    restart_due: Mutex<Option<Instant>>,
    stats: Arc<ScriptStats>,
    /// Wakes the thread (queued work, a reply given up, a stop).
    bell: Doorbell,
}

impl Shared for WorkerShared {
    fn bell(&self) -> &Doorbell {
        &self.bell
    }
}

/// One configured worker: its process, and the thread that feeds it, reads it and restarts it.
pub struct Worker {
    thread: LibraryThread<WorkerShared>,
}

/// argv after the script's path: `worker`, and `wait` when the worker must answer each line.
pub fn arguments(wait: bool) -> &'static [&'static str] {
    if wait {
        &["worker", "wait"]
    } else {
        &["worker"]
    }
}

impl Worker {
    /// Start the worker (at load: a worker that cannot even be started fails the load) and its
    /// thread. `env` is its whole environment (`extra-env`, `pass-env`).
    pub fn start(script: Script, env: Environment, stats: Arc<ScriptStats>) -> io::Result<Worker> {
        let bell = Doorbell::new()?;
        let child = process::spawn_worker(&script.script, arguments(script.wait), &env)?;
        let name = script.script.to_string_lossy().into_owned();
        log(msg::WORKER_STARTED, [&name, &format!("pid {}", child.process.pid)]);
        let shared = WorkerShared {
            script,
            name,
            queue: BoundedQueue::new(),
            up: AtomicBool::new(true),
            owing_late: AtomicBool::new(false),
            timed_out: AtomicU64::new(0),
            garbled: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            process: Mutex::new(Some((child.process.pid, Instant::now()))),
            restart_due: Mutex::new(None),
            stats,
            bell,
        };
        let pid = child.process.pid;
        LibraryThread::start("kea-runscript-w", shared, move |shared| Feeder::new(shared, env, child).run())
            .map(|thread| Worker { thread })
            .inspect_err(|_| {
                // The child went down with the closure; end it and do not leave a zombie.
                process::kill_group(pid, libc::SIGKILL);
                let mut status = 0;
                // SAFETY: our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
            })
    }

    pub fn script(&self) -> &Script {
        &self.thread.script
    }

    /// Its statistics, the gauges and what the thread counts itself filled in.
    pub fn statistics(&self) -> crate::stats::Values {
        let s = &*self.thread;
        let mut values = s.stats.snapshot();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as i64;
        values[Stat::Dropped as usize] = s.queue.dropped() as i64;
        values[Stat::Queued as usize] = s.queue.lock().len() as i64;
        values[Stat::Running as usize] = lock(&s.process).is_some() as i64;
        values[Stat::RepliesMissing as usize] = load(&s.timed_out) + load(&s.garbled) + load(&s.unavailable);
        values
    }

    /// The worker's pid and start (none while it is down), and when its next start is due.
    pub fn process(&self) -> (Option<(libc::pid_t, Instant)>, Option<Instant>) {
        (*lock(&self.thread.process), *lock(&self.thread.restart_due))
    }

    /// Queue an event's line (without `wait`). Returns at once; past `max-queued` lines waiting
    /// for the worker (at least 1), the event is dropped and counted.
    pub fn submit(&self, line: Vec<u8>, mark: impl FnOnce()) {
        let s = &*self.thread;
        s.queue.offer(Job { line, request: None }, s.script.max_queued.max(1), &s.bell, mark);
    }

    /// From a replay's thread: queue a line (without `wait`), waiting for room (never dropped),
    /// if `admit(line)` says so under the queue's lock.
    pub fn submit_waiting(&self, line: Vec<u8>, admit: impl FnOnce(&mut Vec<u8>) -> bool, cancel: &AtomicBool) -> Waited {
        let s = &*self.thread;
        s.queue.offer_waiting(Job { line, request: None }, || s.script.max_queued, &s.bell, |job| admit(&mut job.line), cancel)
    }

    /// Send an event's line and wait (at most `timeout-ms`) for the worker's reply. `None`: go on
    /// as if there were no hook (no valid reply: timeout, garbled, worker not running or still
    /// owing a late reply; counted and reported by the thread).
    pub fn request(&self, line: Vec<u8>) -> Option<Action> {
        let s = &*self.thread;
        let deadline = Instant::now() + s.script.timeout;
        let request = Arc::new(Request::default());
        let queued = {
            let mut queue = s.queue.lock();
            let ready = s.up.load(Ordering::SeqCst) && !s.owing_late.load(Ordering::SeqCst);
            if ready {
                queue.push_back(Job { line, request: Some(Arc::clone(&request)) });
            }
            ready
        };
        if !queued {
            s.unavailable.fetch_add(1, Ordering::Relaxed);
            s.bell.ring();
            return None;
        }
        s.bell.ring();
        let mut slot = lock(&request.slot);
        loop {
            if let Some(answer) = slot.answer {
                return answer;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            slot = request.answered.wait_timeout(slot, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        slot.abandoned = true;
        if slot.written {
            s.owing_late.store(true, Ordering::SeqCst);
        }
        drop(slot);
        s.timed_out.fetch_add(1, Ordering::Relaxed);
        s.bell.ring();
        None
    }
}

/// A reply line: `continue`, `skip` or `drop` (surrounding blanks ignored).
pub fn parse_reply(line: &[u8], cut: bool) -> Option<Action> {
    match line.trim_ascii() {
        _ if cut => None,
        b"continue" => Some(Action::Continue),
        b"skip" => Some(Action::Skip),
        b"drop" => Some(Action::Drop),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        assert_eq!(parse_reply(b"continue", false), Some(Action::Continue));
        assert_eq!(parse_reply(b" skip\r", false), Some(Action::Skip));
        assert_eq!(parse_reply(b"drop", false), Some(Action::Drop));
        assert_eq!(parse_reply(b"drop", true), None, "a cut line is no reply");
        for garbled in [&b""[..], b"DROP", b"skip please", b"{\"action\":\"skip\"}"] {
            assert_eq!(parse_reply(garbled, false), None, "{garbled:?}");
        }
    }
}
