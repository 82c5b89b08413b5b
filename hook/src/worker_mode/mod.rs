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
//! - With `redeliver` (and `wait`), nothing is lost for want of a worker: the line a dead worker
//!   owed a reply to (or was being written) goes back to the front of the queue for the next one;
//!   events arriving while no worker runs, while it owes a late reply or while such lines wait,
//!   are queued (bounded by `max-queued`) with no callout waiting for them ([`Request::detached`]);
//!   their replies are read and discarded. The same bytes are sent again: a consumer deduplicates.
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
use crate::event::{Event, View};
use crate::identity::EventId;
use crate::log::{log, msg};
use crate::process;
use crate::queue::{BoundedQueue, Waited};
use crate::stats::{ScriptStats, Stat};
use crate::thread::{lock, Doorbell, LibraryThread, Shared};
use feeder::Feeder;
use kea_runscript_config::{Action, Naming, Script};
use std::collections::VecDeque;
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

impl Request {
    /// A line no callout waits for (`redeliver`): written all the same, its reply discarded.
    fn detached() -> Request {
        let slot = Slot { abandoned: true, ..Slot::default() };
        Request { slot: Mutex::new(slot), answered: Condvar::new() }
    }

    fn abandoned(&self) -> bool {
        lock(&self.slot).abandoned
    }
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
    /// A background event whose line the feeding thread renders, into `line`, when it takes it.
    unrendered: Option<Unrendered>,
    request: Option<Arc<Request>>,
    /// Queued again after a worker died owing its reply or in the middle of it (`redeliver`):
    /// counted in `redelivered` when written.
    again: bool,
}

impl Job {
    fn new(line: Vec<u8>, request: Option<Arc<Request>>) -> Job {
        Job { line, unrendered: None, request, again: false }
    }

    /// Its line's length, or about what an unrendered event's line will be (to size a batch).
    fn size_hint(&self) -> usize {
        self.line.len() + self.unrendered.as_ref().map_or(0, |u| u.event.data_len() + LINE_NAMES)
    }

    /// Its event's line, appended to `out`.
    fn render_into(&mut self, out: &mut Vec<u8>) {
        if let Some(u) = self.unrendered.take() {
            u.event.push_json_line(View { naming: u.naming, only: u.only.as_deref() }, out);
            if let Some(id) = u.id {
                id.append_to_line(out);
            }
        }
    }
}

/// About what the names, quotes and commas of an event's line take (a batch's size estimate).
const LINE_NAMES: usize = 1024;

/// A background event for a worker: its values, the naming its line is in and its id. Rendered
/// by the feeding thread, not Kea's: a worker at every hook point made Kea's thread spend a
/// quarter of what it added on the JSON lines (the profile in docs/benchmark.md).
pub struct Unrendered {
    pub event: Arc<Event>,
    pub naming: Naming,
    /// `"variables": [...]`: the only variables the worker gets.
    pub only: Option<Arc<[bool]>>,
    pub id: Option<EventId>,
}

/// With `redeliver`: lines no callout waits for are queued (the last job is one), so a new event
/// joins them rather than wait behind them.
fn backlog(queue: &VecDeque<Job>) -> bool {
    queue.back().and_then(|j| j.request.as_ref()).is_some_and(|r| r.abandoned())
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
    /// Lines sent again to a worker after the one before died owing their reply, or while
    /// writing them (`redeliver`), since load.
    pub(crate) redelivered: AtomicU64,
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
            redelivered: AtomicU64::new(0),
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
        values[Stat::Redelivered as usize] = load(&s.redelivered);
        values
    }

    /// The worker's pid and start (none while it is down), and when its next start is due.
    pub fn process(&self) -> (Option<(libc::pid_t, Instant)>, Option<Instant>) {
        (*lock(&self.thread.process), *lock(&self.thread.restart_due))
    }

    /// Queue an event (without `wait`), its line rendered by the feeding thread. Returns at
    /// once; past `max-queued` lines waiting for the worker (at least 1), the event is dropped and
    /// counted.
    pub fn submit(&self, event: Unrendered, mark: impl FnOnce()) {
        let s = &*self.thread;
        let job = Job { line: Vec::new(), unrendered: Some(event), request: None, again: false };
        s.queue.offer(job, s.script.max_queued.max(1), &s.bell, mark);
    }

    /// From a replay's thread: queue a line (without `wait`), waiting for room (never dropped),
    /// if `admit(line)` says so under the queue's lock.
    pub fn submit_waiting(&self, line: Vec<u8>, admit: impl FnOnce(&mut Vec<u8>) -> bool, cancel: &AtomicBool) -> Waited {
        let s = &*self.thread;
        s.queue.offer_waiting(Job::new(line, None), || s.script.max_queued, &s.bell, |job| admit(&mut job.line), cancel)
    }

    /// Send an event's line and wait (at most `timeout-ms`) for the worker's reply. `None`: go on
    /// as if there were no hook (no valid reply: timeout, garbled, worker not running or still
    /// owing a late reply; counted and reported by the thread). With `redeliver`, such an event's
    /// line is queued all the same, with no one waiting for it (past `max-queued`, dropped).
    pub fn request(&self, line: Vec<u8>) -> Option<Action> {
        let s = &*self.thread;
        let deadline = Instant::now() + s.script.timeout;
        let request = Arc::new(Request::default());
        let redeliver = s.script.redeliver;
        let (queued, refused) = {
            let mut queue = s.queue.lock();
            let ready = s.up.load(Ordering::SeqCst)
                && !s.owing_late.load(Ordering::SeqCst)
                && !(redeliver && backlog(&queue));
            let mut refused = false;
            if ready {
                queue.push_back(Job::new(line, Some(Arc::clone(&request))));
            } else if redeliver && !s.bell.stopping() {
                // (At unload nothing more is written: the line would only be discarded.)
                refused = queue.len() >= s.script.max_queued.max(1);
                if !refused {
                    queue.push_back(Job::new(line, Some(Arc::new(Request::detached()))));
                }
            }
            (ready, refused)
        };
        if refused {
            s.queue.refuse();
        }
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

    /// A worker (shell) in a directory of its own, started as at load with these parameters;
    /// `body` sees `$d`, the directory, where it appends each line it reads to `lines`.
    fn worker(name: &str, params: &str, body: &str) -> (Worker, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("krs-worker-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.sh");
        std::fs::write(&path, format!("#!/bin/sh\nd='{}'\n{body}\n", dir.display())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let json = format!(r#"{{"script": "{}", "mode": "worker", "wait": true, {params}}}"#, path.display());
        let script = kea_runscript_config::parse_in(&json, 4, None).unwrap().scripts.remove(0);
        let env = Environment::from(&[std::ffi::CString::new("PATH=/usr/bin:/bin").unwrap()][..]);
        (Worker::start(script, env, Arc::default()).unwrap(), dir)
    }

    /// Records a line, then answers it.
    const ANSWER: &str = r#"while IFS= read -r line; do printf '%s\n' "$line" >> "$d/lines"; echo continue; done"#;

    fn lines(dir: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("lines")).unwrap_or_default().lines().map(String::from).collect()
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let end = Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    fn line(n: u32) -> Vec<u8> {
        format!("{{\"n\":\"{n}\"}}\n").into_bytes()
    }

    /// Once the worker is up with nothing queued or owed, a waited-for event `n` is answered.
    fn answered_once_idle(w: &Worker, n: u32) -> u32 {
        let s = &*w.thread;
        let idle = || s.up.load(Ordering::SeqCst) && !s.owing_late.load(Ordering::SeqCst) && s.queue.lock().is_empty();
        wait_for("the worker to take every queued line", idle);
        assert_eq!(w.request(line(n)), Some(Action::Continue), "event {n}");
        n
    }

    /// The first worker reads a line and dies without answering: that line is written again, first,
    /// to the next worker, then the events that came while none ran (their callouts did not wait),
    /// in order; past `max-queued`, events are dropped and counted.
    #[test]
    fn redeliver_sends_a_dead_workers_owed_line_again_then_what_came_meanwhile() {
        let first = r#"if [ ! -e "$d/died" ]; then IFS= read -r line; printf '%s\n' "$line" >> "$d/lines"; : > "$d/died"; kill -9 $$; fi"#;
        let (w, dir) = worker("owed", r#""redeliver": true, "timeout-ms": 5000, "max-queued": 3"#, &format!("{first}\n{ANSWER}"));
        let t0 = Instant::now();
        assert_eq!(w.request(line(1)), None, "the worker died owing the reply");
        assert!(t0.elapsed() < std::time::Duration::from_secs(4), "the callout waited for the timeout");
        // While the worker is restarted (100 ms): queued, the callout goes on at once.
        for n in 2..=5 {
            let t = Instant::now();
            assert_eq!(w.request(line(n)), None);
            assert!(t.elapsed() < std::time::Duration::from_millis(50), "event {n} waited");
        }
        assert_eq!(w.thread.queue.dropped(), 2, "max-queued 3: line 1 again, 2 and 3; 4 and 5 dropped");
        let answered = answered_once_idle(&w, 6);
        let got = lines(&dir);
        let n = |s: &str| s.to_string();
        assert_eq!(got[..4], [n(r#"{"n":"1"}"#), n(r#"{"n":"1"}"#), n(r#"{"n":"2"}"#), n(r#"{"n":"3"}"#)], "{got:?}");
        assert!(got.ends_with(&[String::from_utf8(line(answered)).unwrap().trim_end().to_string()]), "{got:?}");
        assert_eq!(w.statistics()[Stat::Redelivered as usize], 1, "one line sent again");
        drop(w);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A line longer than the pipe holds is partly written when the worker dies: the next worker
    /// gets all of it, the same bytes, and it counts as sent again.
    #[test]
    fn redeliver_sends_a_partly_written_line_whole_to_the_next_worker() {
        let first = r#"if [ ! -e "$d/died" ]; then : > "$d/died"; echo $$ > "$d/pid"; exec sleep 1000; fi"#;
        let (w, dir) = worker("partial", r#""redeliver": true, "timeout-ms": 10000"#, &format!("{first}\n{ANSWER}"));
        wait_for("the first worker's pid", || dir.join("pid").exists());
        let pid: i32 = std::fs::read_to_string(dir.join("pid")).unwrap().trim().parse().unwrap();
        let value = "x".repeat(100 * 1024);
        let big = format!("{{\"n\":\"{value}\"}}\n").into_bytes();
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| w.request(big.clone()));
            // The pipe holds part of the line (what a 64 KiB pipe takes): then the worker dies.
            let pipe = std::fs::File::open(format!("/proc/{pid}/fd/0")).unwrap();
            let buffered = || {
                let mut n: libc::c_int = 0;
                // SAFETY: FIONREAD into an int, on a descriptor we opened.
                unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&pipe), libc::FIONREAD, &mut n) };
                n as usize
            };
            wait_for("part of the line in the pipe", || buffered() > 0);
            assert!(buffered() < big.len(), "the whole line fit in the pipe");
            drop(pipe);
            // SAFETY: kill our own child by its pid.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
            assert_eq!(waiting.join().unwrap(), None, "the worker died owing the reply");
        });
        answered_once_idle(&w, 2);
        let got = lines(&dir);
        assert_eq!(got.len(), 2, "the big line once, then event 2");
        assert!(got[0].as_bytes() == &big[..big.len() - 1], "not the same bytes: {} of {}", got[0].len(), big.len() - 1);
        assert_eq!(w.statistics()[Stat::Redelivered as usize], 1);
        drop(w);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A worker that stalls past `timeout-ms`: with `redeliver` the events that came during the
    /// stall (their callouts went on at once) are written after it, in order, their replies not
    /// taken for later events; without, they never reach the worker (as before).
    #[test]
    fn redeliver_queues_the_events_of_a_stall_and_writes_them_after_it() {
        let stall = r#"while IFS= read -r line; do printf '%s\n' "$line" >> "$d/lines"; while [ ! -e "$d/go" ]; do sleep 0.01; done; echo continue; done"#;
        for redeliver in [true, false] {
            let name = format!("stall-{redeliver}");
            let (w, dir) = worker(&name, &format!(r#""redeliver": {redeliver}, "timeout-ms": 100"#), stall);
            assert_eq!(w.request(line(1)), None, "timed out");
            for n in 2..=4 {
                let t = Instant::now();
                assert_eq!(w.request(line(n)), None);
                assert!(t.elapsed() < std::time::Duration::from_millis(50), "event {n} waited");
            }
            std::fs::write(dir.join("go"), "").unwrap();
            let answered = answered_once_idle(&w, 5);
            let got: Vec<String> = lines(&dir);
            let numbers: Vec<u32> = got
                .iter()
                .map(|l| l.trim_start_matches(r#"{"n":""#).trim_end_matches(r#""}"#).parse().unwrap())
                .collect();
            if redeliver {
                assert_eq!(numbers[..4], [1, 2, 3, 4], "{got:?}");
                assert_eq!(w.statistics()[Stat::Redelivered as usize], 0, "nothing was sent twice");
            } else {
                assert_eq!(numbers[0], 1);
                assert!(!numbers.iter().any(|n| (2..=4).contains(n)), "without redeliver the stall's events are lost: {got:?}");
            }
            assert_eq!(numbers.last(), Some(&answered), "{got:?}");
            let mut sorted = numbers.clone();
            sorted.sort();
            assert_eq!(sorted, numbers, "in order, each once");
            sorted.dedup();
            assert_eq!(sorted, numbers, "in order, each once");
            drop(w);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
