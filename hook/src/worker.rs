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
//!   does not ignore SIGPIPE (its default action ends the process). This thread blocks SIGPIPE in
//!   its own signal mask and takes a pending one with `sigtimedwait` after `EPIPE`; no signal
//!   disposition of Kea's is changed, no other thread's mask is touched, and the worker starts with
//!   an empty mask (`spawn`).
//! - stderr, and stdout without `wait`, go to Kea's log like a spawned script's output (the
//!   per-second budget; no per-run cap: a worker is one long run).
//! - At unload: what the pipe takes at once is written, the rest discarded; stdin is closed; the
//!   worker gets 1 s to exit, then SIGTERM to its process group, 1 s later SIGKILL; it is collected.

use crate::environ::Environment;
use crate::ffi::bridge::{log, LogMsg};
use crate::output::{self, LineSplitter, RateLimit};
use crate::poll;
use crate::spawn::{self, Child, Deadline, Outcome, Process};
use kea_runscript_config::{Action, Script};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Restart delay after the first exit; it doubles at each exit that follows a short run.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A worker that ran at least this long is restarted after [`FIRST_BACKOFF`] again.
pub const STABLE_RUN: Duration = Duration::from_secs(10);
/// At unload, how long the worker may take to exit once its stdin is closed (then SIGTERM).
const STOP_GRACE: Duration = Duration::from_secs(1);
/// Drop and no-reply reports: at most one per this interval.
const REPORT_EVERY: Duration = Duration::from_secs(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

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

/// Background lines are written to the worker in batches of at most this many bytes (a pipe's
/// default capacity).
const BATCH: usize = 64 * 1024;

/// How long background lines gather before they are written (see [`WorkerHandle::submit`]).
const BATCH_WAIT: Duration = Duration::from_millis(1);

struct Job {
    /// One event's line, or (background events) several lines written at once.
    line: Vec<u8>,
    request: Option<Arc<Request>>,
}

struct Shared {
    script: Script,
    /// The script's path, naming the worker in the log.
    name: String,
    /// Lines not yet written, in order. `up` changes only under this lock.
    queue: Mutex<VecDeque<Job>>,
    /// A worker is running with its stdin open (waited-for events are queued only then).
    up: AtomicBool,
    /// With `wait`: the line in flight belongs to an event whose callout gave up. Set and cleared
    /// under that request's slot lock.
    owing_late: AtomicBool,
    dropped: AtomicU64,
    timed_out: AtomicU64,
    garbled: AtomicU64,
    unavailable: AtomicU64,
    /// Wakes the thread (queued work, handed-over output, a stop).
    bell: poll::Doorbell,
    stopping: AtomicBool,
}

/// One configured worker: its process, and the thread that feeds it, reads it and restarts it.
pub struct WorkerHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// argv after the script's path: `worker`, and `wait` when the worker must answer each line.
pub fn arguments(wait: bool) -> &'static [&'static str] {
    if wait {
        &["worker", "wait"]
    } else {
        &["worker"]
    }
}

impl WorkerHandle {
    /// Start the worker (at load: a worker that cannot even be started fails the load) and its
    /// thread. `env` is its whole environment (`extra-env`, `pass-env`).
    pub fn start(script: Script, env: Environment) -> io::Result<WorkerHandle> {
        let bell = poll::Doorbell::new()?;
        let child = spawn::spawn_worker(&script.script, arguments(script.wait), &env)?;
        let name = script.script.to_string_lossy().into_owned();
        log(LogMsg::WorkerStarted, &name, &format!("pid {}", child.process.pid));
        let shared = Arc::new(Shared {
            script,
            name,
            queue: Mutex::new(VecDeque::new()),
            up: AtomicBool::new(true),
            owing_late: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            garbled: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            bell,
            stopping: AtomicBool::new(false),
        });
        let pid = child.process.pid;
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kea-runscript-w".into())
            .spawn(move || Feeder::new(&thread_shared, env, child).run());
        match thread {
            Ok(thread) => Ok(WorkerHandle { shared, thread: Some(thread) }),
            Err(e) => {
                // The child went down with the closure; end it and do not leave a zombie.
                spawn::kill_group(pid, libc::SIGKILL);
                let mut status = 0;
                // SAFETY: our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                Err(e)
            }
        }
    }

    pub fn script(&self) -> &Script {
        &self.shared.script
    }

    /// Queue an event's line (without `wait`). Returns at once; past `max-queued` lines waiting
    /// for the worker (at least 1), the event is dropped and counted.
    pub fn submit(&self, line: Vec<u8>) {
        let s = &*self.shared;
        poll::offer(&s.queue, Job { line, request: None }, s.script.max_queued.max(1), &s.dropped, &s.bell);
    }

    /// Send an event's line and wait (at most `timeout-ms`) for the worker's reply. `None`: go on
    /// as if there were no hook (no valid reply: timeout, garbled, worker not running or still
    /// owing a late reply; counted and reported by the thread).
    pub fn request(&self, line: Vec<u8>) -> Option<Action> {
        let s = &*self.shared;
        let deadline = Instant::now() + s.script.timeout;
        let request = Arc::new(Request::default());
        let queued = {
            let mut queue = lock(&s.queue);
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

impl Drop for WorkerHandle {
    /// At unload: close the worker's stdin, end it if it does not exit, collect it, end the thread.
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.bell.ring();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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

struct Stream {
    fd: OwnedFd,
    stderr: bool,
    lines: LineSplitter,
}

/// The worker process as the thread follows it.
struct Running {
    process: Process,
    started: Instant,
    /// `None` once closed (at unload, or when the worker closed its end).
    stdin: Option<OwnedFd>,
    streams: Vec<Stream>,
    /// At unload: the steps that end it.
    stop: Option<Deadline>,
}

impl Running {
    fn new(child: Child) -> Running {
        let streams = vec![
            Stream { fd: child.stdout, stderr: false, lines: LineSplitter::default() },
            Stream { fd: child.stderr, stderr: true, lines: LineSplitter::default() },
        ];
        Running { process: child.process, started: Instant::now(), stdin: child.stdin, streams, stop: None }
    }

    /// Read what a stream has now (bounded per call); the complete lines, and whether it is still open.
    fn read(&mut self, index: usize) -> (Vec<(Vec<u8>, bool)>, bool) {
        let mut lines = Vec::new();
        let mut buf = [0u8; 16384];
        let stream = &mut self.streams[index];
        for _ in 0..16 {
            // SAFETY: reads into our buffer from our own non-blocking descriptor.
            let n = unsafe { libc::read(stream.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                stream.lines.finish(&mut |l, cut| lines.push((l.to_vec(), cut)));
                return (lines, false);
            }
            if n < 0 {
                let e = io::Error::last_os_error().raw_os_error();
                let open = e == Some(libc::EAGAIN) || e == Some(libc::EINTR);
                if !open {
                    stream.lines.finish(&mut |l, cut| lines.push((l.to_vec(), cut)));
                }
                return (lines, open);
            }
            stream.lines.feed(&buf[..n as usize], &mut |l, cut| lines.push((l.to_vec(), cut)));
        }
        (lines, true)
    }
}

/// The thread's state.
struct Feeder<'a> {
    shared: &'a Shared,
    env: Environment,
    worker: Option<Running>,
    /// The line being written, and how much of it is.
    writing: Option<(Job, usize)>,
    /// With `wait`: the request whose line was written and whose reply has not been read.
    owed: Option<Arc<Request>>,
    restart_at: Option<Instant>,
    backoff: Duration,
    restarts: u64,
    budget: RateLimit,
    stopping: bool,
    /// Counts already reported: dropped, timed out, garbled, unavailable.
    reported: [u64; 4],
    next_report: Instant,
    last_garbled: Option<String>,
}

impl<'a> Feeder<'a> {
    fn new(shared: &'a Shared, env: Environment, child: Child) -> Self {
        Feeder {
            shared,
            env,
            worker: Some(Running::new(child)),
            writing: None,
            owed: None,
            restart_at: None,
            backoff: FIRST_BACKOFF,
            restarts: 0,
            budget: RateLimit::new(),
            stopping: false,
            reported: [0; 4],
            next_report: Instant::now(),
            last_garbled: None,
        }
    }

    fn run(mut self) {
        block_sigpipe();
        loop {
            let now = Instant::now();
            if !self.stopping && self.shared.stopping.load(Ordering::SeqCst) {
                self.begin_stop();
            }
            if self.worker.as_ref().is_some_and(|w| w.process.pidfd.is_none()) {
                self.exited(now); // collected elsewhere before we could follow it
            }
            if self.worker.is_none() && !self.stopping && self.restart_at.is_some_and(|t| now >= t) {
                self.restart(now);
            }
            self.step_stop(now);
            if self.shared.bell.pending() {
                // Background lines: let a burst gather, then write it at once.
                if !self.stopping {
                    std::thread::sleep(BATCH_WAIT);
                }
                self.shared.bell.answer();
            }
            let blocked = self.feed();
            self.report(now);
            if self.stopping && self.worker.is_none() {
                self.next_report = now;
                self.report(now);
                return;
            }
            self.wait_and_handle(blocked);
        }
    }

    /// Write queued lines while the pipe takes them. Returns true when it is full (wait for POLLOUT).
    fn feed(&mut self) -> bool {
        let wait = self.shared.script.wait;
        loop {
            let Some(stdin) = self.worker.as_ref().and_then(|w| w.stdin.as_ref()) else { return false };
            let fd = stdin.as_raw_fd();
            if self.writing.is_none() {
                if wait && self.owed.is_some() {
                    return false; // one event in flight
                }
                let Some(job) = self.next_job() else { return false };
                if let Some(request) = &job.request {
                    let mut slot = lock(&request.slot);
                    if slot.abandoned {
                        continue; // its callout went on without it
                    }
                    slot.written = true;
                }
                self.writing = Some((job, 0));
            }
            let (job, done) = self.writing.as_mut().expect("a line is being written");
            let rest = &job.line[*done..];
            // SAFETY: writes from our buffer to our own non-blocking pipe; SIGPIPE is blocked in
            // this thread (see `block_sigpipe`).
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            if n >= 0 {
                *done += n as usize;
                if *done == job.line.len() {
                    let (job, _) = self.writing.take().expect("a line is being written");
                    self.owed = job.request;
                }
                continue;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN) => return true,
                Some(libc::EINTR) => continue,
                _ => {
                    // EPIPE: the worker closed its stdin (or died). Nothing more can reach it.
                    take_pending_sigpipe();
                    if let Some(w) = self.worker.as_mut() {
                        w.stdin = None;
                    }
                    self.lose_in_flight();
                    return false;
                }
            }
        }
    }

    /// The next line to write: a waited-for event's alone, or as many background lines as are
    /// queued (up to [`BATCH`] bytes) in one write.
    fn next_job(&self) -> Option<Job> {
        let mut queue = lock(&self.shared.queue);
        let mut job = queue.pop_front()?;
        if job.request.is_none() {
            while let Some(next) = queue.front() {
                if next.request.is_some() || job.line.len() + next.line.len() > BATCH {
                    break;
                }
                let next = queue.pop_front().expect("a front element");
                job.line.extend_from_slice(&next.line);
            }
        }
        Some(job)
    }

    /// The worker can take no more lines: the line being written and the owed reply are lost,
    /// waited-for events still queued go on without a reply. Lines of background events stay
    /// queued for the next worker.
    fn lose_in_flight(&mut self) {
        let queued: Vec<Arc<Request>> = {
            let mut queue = lock(&self.shared.queue);
            self.shared.up.store(false, Ordering::SeqCst);
            let (requests, lines): (VecDeque<Job>, VecDeque<Job>) = queue.drain(..).partition(|j| j.request.is_some());
            *queue = lines;
            requests.into_iter().filter_map(|j| j.request).collect()
        };
        let writing = self.writing.take().and_then(|(job, _)| job.request);
        for request in queued.into_iter().chain(writing).chain(self.owed.take()) {
            self.answer(&request, None, false);
        }
        self.shared.owing_late.store(false, Ordering::SeqCst);
    }

    /// Give a waited-for event its answer (`None`: continue). A request whose callout already gave
    /// up only clears the late-reply state. `garbled`: why there is no action (a garbled reply, or
    /// else a worker that can no longer answer), for the report.
    fn answer(&self, request: &Request, action: Option<Action>, garbled: bool) {
        let mut slot = lock(&request.slot);
        if slot.abandoned {
            self.shared.owing_late.store(false, Ordering::SeqCst);
            return;
        }
        if action.is_none() {
            let counter = if garbled { &self.shared.garbled } else { &self.shared.unavailable };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        slot.answer = Some(action);
        request.answered.notify_all();
    }

    fn who(&self) -> String {
        match &self.worker {
            Some(w) => format!("worker (pid {})", w.process.pid),
            None => "worker".into(),
        }
    }

    /// One line the worker wrote.
    fn line(&mut self, stderr: bool, line: &[u8], cut: bool) {
        if !stderr && self.shared.script.wait {
            if let Some(request) = self.owed.take() {
                let action = parse_reply(line, cut);
                if action.is_none() {
                    let mut shown = output::render(line, cut);
                    shown.truncate(80);
                    self.last_garbled = Some(shown);
                }
                self.answer(&request, action, true);
                return;
            }
            // A line no event waits for: shown like any output.
        }
        if !self.budget.allow(Instant::now()) {
            return;
        }
        let msg = if stderr { LogMsg::ScriptStderr } else { LogMsg::ScriptStdout };
        log(msg, &self.who(), &output::render(line, cut));
    }

    fn read_stream(&mut self, index: usize) {
        let Some(w) = self.worker.as_mut() else { return };
        let stderr = w.streams[index].stderr;
        let (lines, open) = w.read(index);
        if !open {
            w.streams.remove(index);
        }
        for (l, cut) in lines {
            self.line(stderr, &l, cut);
        }
    }

    /// The worker ended: collect it, log it, and (unless unloading) schedule its restart.
    fn exited(&mut self, now: Instant) {
        for index in (0..self.worker.as_ref().map_or(0, |w| w.streams.len())).rev() {
            self.read_stream(index); // what it wrote last
        }
        let who = self.who();
        let Some(w) = self.worker.take() else { return };
        let outcome = spawn::collect(&w.process, false).unwrap_or(Outcome::Lost);
        self.lose_in_flight();
        let how = match outcome {
            Outcome::Exited(code) => format!("exit status {code}"),
            Outcome::Signaled(sig) => format!("killed by signal {sig}"),
            Outcome::Lost => "exit status collected elsewhere in Kea".into(),
        };
        let ran = now.duration_since(w.started);
        let name = &self.shared.name;
        if self.stopping {
            log(LogMsg::WorkerStopped, name, &format!("{who}: {how}"));
            return;
        }
        if ran >= STABLE_RUN {
            self.backoff = FIRST_BACKOFF;
        }
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.restart_at = Some(now + delay);
        let detail = format!("{who}: {how} after {} ms; restart in {} ms", ran.as_millis(), delay.as_millis());
        log(LogMsg::WorkerExited, name, &detail);
    }

    fn restart(&mut self, now: Instant) {
        self.restart_at = None;
        let s = self.shared;
        match spawn::spawn_worker(&s.script.script, arguments(s.script.wait), &self.env) {
            Ok(child) => {
                self.restarts += 1;
                let detail = format!("pid {}, restart {} since load", child.process.pid, self.restarts);
                self.worker = Some(Running::new(child));
                // Under the queue lock: a waited-for event is queued only while a worker runs.
                let _queue = lock(&s.queue);
                s.up.store(true, Ordering::SeqCst);
                log(LogMsg::WorkerRestarted, &s.name, &detail);
            }
            Err(e) => {
                let delay = self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                self.restart_at = Some(now + delay);
                log(LogMsg::SpawnFailed, "worker", &format!("{e}; next try in {} ms", delay.as_millis()));
            }
        }
    }

    /// Unload: write what the pipe takes now, discard the rest, close stdin, start the grace.
    fn begin_stop(&mut self) {
        self.stopping = true;
        self.feed();
        let discarded = {
            let mut queue = lock(&self.shared.queue);
            self.shared.up.store(false, Ordering::SeqCst);
            std::mem::take(&mut *queue)
        };
        let mut lines = 0;
        for job in discarded.into_iter().chain(self.writing.take().map(|(job, _)| job)) {
            match job.request {
                Some(request) => self.answer(&request, None, false),
                None => lines += 1,
            }
        }
        if lines > 0 {
            log(LogMsg::UnloadDiscarded, &lines.to_string(), "");
        }
        if let Some(w) = self.worker.as_mut() {
            w.stdin = None; // end of file: the worker's signal to finish
            w.stop = Some(Deadline::new(STOP_GRACE));
        }
    }

    /// At unload, the steps that end a worker that does not exit: SIGTERM, SIGKILL, give up.
    fn step_stop(&mut self, now: Instant) {
        let who = self.who();
        let Some(w) = self.worker.as_mut() else { return };
        let Some(deadline) = w.stop.as_mut() else { return };
        let name = &self.shared.name;
        let alive = deadline.step(w.process.pid, now, |stage, elapsed| {
            let step = match stage {
                1 => "still running 1 s after its stdin was closed: SIGTERM sent to its process group",
                2 => "outlived SIGTERM by 1 s: SIGKILL sent to its process group",
                _ => "outlived SIGKILL: no longer followed",
            };
            log(LogMsg::WorkerStopped, name, &format!("{who}: {step} ({} ms)", elapsed.as_millis()));
        });
        if !alive {
            self.worker = None;
        }
    }

    fn report(&mut self, now: Instant) {
        if now < self.next_report {
            return;
        }
        let s = self.shared;
        let counts = [&s.dropped, &s.timed_out, &s.garbled, &s.unavailable].map(|c| c.load(Ordering::Relaxed));
        let new: Vec<u64> = counts.iter().zip(self.reported).map(|(c, r)| c - r).collect();
        let mut reported = false;
        if new[0] > 0 {
            log(LogMsg::WorkerQueueFull, &s.name, &format!("{} dropped ({} since load)", new[0], counts[0]));
            reported = true;
        }
        if new[1..].iter().any(|&n| n > 0) {
            let mut parts = Vec::new();
            if new[1] > 0 {
                parts.push(format!("{} timed out (timeout-ms {})", new[1], s.script.timeout.as_millis()));
            }
            if new[2] > 0 {
                let last = self.last_garbled.take().unwrap_or_default();
                parts.push(format!("{} garbled (last: {last:?}; a reply is continue, skip or drop)", new[2]));
            }
            if new[3] > 0 {
                parts.push(format!("{} while no worker was running or it still owed a late reply", new[3]));
            }
            log(LogMsg::WorkerNoReply, &s.name, &parts.join(", "));
            reported = true;
        }
        self.reported = counts;
        if reported {
            self.next_report = now + REPORT_EVERY;
        }
        if self.budget.report_due().is_some_and(|due| now >= due) {
            log(LogMsg::OutputSuppressed, &self.who(), &self.budget.refused.to_string());
            self.budget.refused = 0;
        }
    }

    fn pending_reports(&self) -> bool {
        let s = self.shared;
        [&s.dropped, &s.timed_out, &s.garbled, &s.unavailable]
            .iter()
            .zip(self.reported)
            .any(|(c, r)| c.load(Ordering::Relaxed) > r)
    }

    /// When the loop must run again without any descriptor being ready.
    fn next_wakeup(&self) -> Option<Instant> {
        let stop = self.worker.as_ref().and_then(|w| w.stop.as_ref()).and_then(Deadline::due);
        let report = self.pending_reports().then_some(self.next_report);
        [self.restart_at, stop, report, self.budget.report_due()].into_iter().flatten().min()
    }

    fn wait_and_handle(&mut self, blocked: bool) {
        const WAKE: usize = 0;
        const PIDFD: usize = 1;
        const STDIN: usize = 2;
        const STREAM: usize = 3; // + index
        let mut fds = vec![self.shared.bell.watch()];
        let mut what = vec![WAKE];
        if let Some(w) = &self.worker {
            if let Some(fd) = &w.process.pidfd {
                fds.push(poll::watch(fd.as_raw_fd(), libc::POLLIN));
                what.push(PIDFD);
            }
            if let (true, Some(fd)) = (blocked, &w.stdin) {
                fds.push(poll::watch(fd.as_raw_fd(), libc::POLLOUT));
                what.push(STDIN);
            }
            for (i, stream) in w.streams.iter().enumerate() {
                fds.push(poll::watch(stream.fd.as_raw_fd(), libc::POLLIN));
                what.push(STREAM + i);
            }
        }
        if !poll::wait(&mut fds, self.next_wakeup()) {
            return; // timeout or EINTR: the loop re-evaluates
        }
        // Streams first, from the last (removing one shifts the indices after it), then the exit.
        let mut exited = false;
        for k in (1..fds.len()).rev() {
            if fds[k].revents == 0 {
                continue;
            }
            match what[k] {
                PIDFD => exited = true,
                STDIN => {} // writable, or its reader is gone: the next `feed` finds out
                index => self.read_stream(index - STREAM),
            }
        }
        if exited {
            self.exited(Instant::now());
        }
    }
}

/// Block SIGPIPE in the calling thread only (the worker thread), so that a write to a pipe whose
/// reader is gone fails with EPIPE instead of ending Kea.
fn block_sigpipe() {
    // SAFETY: a sigset_t filled by sigemptyset/sigaddset; pthread_sigmask on the calling thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Take the SIGPIPE an EPIPE write left pending on this thread (it is blocked here), so that it
/// is not delivered later.
fn take_pending_sigpipe() {
    // SAFETY: as in `block_sigpipe`; a zero timeout never waits.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) == libc::SIGPIPE {}
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

    #[test]
    fn a_blocked_sigpipe_becomes_epipe_and_is_taken() {
        // In a thread of its own, like the worker thread: the test harness's threads keep theirs.
        std::thread::spawn(|| {
            block_sigpipe();
            let mut fds = [0; 2];
            assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
            unsafe { libc::close(fds[0]) };
            let n = unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
            assert_eq!((n, io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EPIPE)));
            let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
            unsafe { libc::sigpending(&mut pending) };
            assert_eq!(unsafe { libc::sigismember(&pending, libc::SIGPIPE) }, 1, "SIGPIPE pending");
            take_pending_sigpipe();
            unsafe { libc::sigpending(&mut pending) };
            assert_eq!(unsafe { libc::sigismember(&pending, libc::SIGPIPE) }, 0, "SIGPIPE taken");
            unsafe { libc::close(fds[1]) };
        })
        .join()
        .unwrap();
    }
}
