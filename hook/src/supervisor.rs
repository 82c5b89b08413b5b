//! A script's background thread (one per configured script). It
//! - starts background runs (`wait: false`) from a bounded queue, at most `max-running` at once,
//!   so the packet path only queues (it never spawns, never blocks, and never grows without bound);
//! - collects every background script as it exits (no zombie), without touching SIGCHLD: it polls
//!   their pidfds, and enforces their time limit;
//! - reads every script's stdout and stderr (waited-for runs too) into Kea's log, with bounds;
//! - at unload, discards what is queued, ends what still runs, and collects it all.

use crate::environ::Environment;
use crate::ffi::bridge::{log, LogMsg};
use crate::output::{self, LineSplitter, RateLimit, LINES_PER_RUN};
use crate::poll;
use crate::runtime::report;
use crate::spawn::{self, Deadline, Process};
use kea_runscript_config::Script;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a script's output is still read after it exited (a daemon it left may hold it open).
const LINGER: Duration = Duration::from_secs(2);
/// At unload, how long running scripts may still finish before they are ended.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// Queue-full reports: at most one per this interval.
const REPORT_EVERY: Duration = Duration::from_secs(1);

struct Job {
    hook: &'static str,
    env: Environment,
}

struct Shared {
    /// The script this thread serves (path, time limit, bounds).
    script: Script,
    queue: Mutex<VecDeque<Job>>,
    /// Background runs started and not yet exited (read by the packet path to admit jobs).
    running: AtomicUsize,
    dropped: AtomicU64,
    /// Output streams of waited-for runs, handed over by the callout that started them.
    adopted: Mutex<Vec<Run>>,
    /// Wakes the thread (queued work, handed-over output, a stop).
    bell: poll::Doorbell,
    stopping: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct Supervisor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Supervisor {
    pub fn start(script: Script) -> io::Result<Supervisor> {
        let bell = poll::Doorbell::new()?;
        let shared = Arc::new(Shared {
            script,
            queue: Mutex::new(VecDeque::new()),
            running: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            adopted: Mutex::new(Vec::new()),
            bell,
            stopping: AtomicBool::new(false),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kea-runscript".into())
            .spawn(move || Worker::new(&thread_shared).run())?;
        Ok(Supervisor { shared, thread: Some(thread) })
    }

    /// The script's parameters.
    pub fn script(&self) -> &Script {
        &self.shared.script
    }

    /// Queue a background run. Returns at once; past the bounds the event is dropped and counted.
    pub fn submit(&self, hook: &'static str, env: Environment) {
        let s = &self.shared;
        let free = s.script.max_running.saturating_sub(s.running.load(Ordering::Relaxed));
        poll::offer(&s.queue, Job { hook, env }, s.script.max_queued + free, &s.dropped, &s.bell);
    }

    /// Hand over the output of a waited-for run; `pidfd` (a duplicate) tells when it exited.
    pub fn adopt_output(&self, hook: &'static str, pid: libc::pid_t, pidfd: Option<OwnedFd>, streams: [OwnedFd; 2]) {
        let run = Run::new(hook, Process { pid, pidfd }, false, streams, None);
        lock(&self.shared.adopted).push(run);
        self.shared.bell.ring();
    }
}

impl Drop for Supervisor {
    /// At unload: discard the queue, end and collect what runs, close every pipe, end the thread.
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.bell.ring();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Stream {
    fd: OwnedFd,
    stderr: bool,
    lines: LineSplitter,
}

/// A script the thread follows: a background run it started (and collects), or the output of
/// a waited-for run (whose callout collects it).
struct Run {
    hook: &'static str,
    process: Process,
    background: bool,
    deadline: Option<Deadline>,
    exited_at: Option<Instant>,
    streams: Vec<Stream>,
    logged: u32,
    suppressed: u64,
}

impl Run {
    fn new(hook: &'static str, process: Process, background: bool, streams: [OwnedFd; 2], deadline: Option<Deadline>) -> Run {
        let exited_at = process.pidfd.is_none().then(Instant::now);
        let [out, err] = streams;
        let streams = vec![
            Stream { fd: out, stderr: false, lines: LineSplitter::default() },
            Stream { fd: err, stderr: true, lines: LineSplitter::default() },
        ];
        Run { hook, process, background, deadline, exited_at, streams, logged: 0, suppressed: 0 }
    }

    fn who(&self) -> String {
        format!("{} (pid {})", self.hook, self.process.pid)
    }

    /// Read what a stream has (bounded per call, so one flooding script cannot starve the rest);
    /// returns false at end of stream.
    fn read(&mut self, index: usize, budget: &mut RateLimit) -> bool {
        let mut buf = [0u8; 16384];
        for _ in 0..16 {
            // SAFETY: reads into our buffer from our own non-blocking descriptor.
            let n = unsafe { libc::read(self.streams[index].fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                return false;
            }
            if n < 0 {
                let e = io::Error::last_os_error().raw_os_error();
                return e == Some(libc::EAGAIN) || e == Some(libc::EINTR);
            }
            let stderr = self.streams[index].stderr;
            let mut lines = std::mem::take(&mut self.streams[index].lines);
            lines.feed(&buf[..n as usize], &mut |line, cut| self.emit(stderr, line, cut, budget));
            self.streams[index].lines = lines;
        }
        true
    }

    /// One output line to the log, within the per-run and per-second bounds.
    fn emit(&mut self, stderr: bool, line: &[u8], cut: bool, budget: &mut RateLimit) {
        if self.logged >= LINES_PER_RUN {
            self.suppressed += 1;
            return;
        }
        if !budget.allow(Instant::now()) {
            return;
        }
        self.logged += 1;
        let msg = if stderr { LogMsg::ScriptStderr } else { LogMsg::ScriptStdout };
        log(msg, &self.who(), &output::render(line, cut));
    }

    fn close_stream(&mut self, index: usize, budget: &mut RateLimit) {
        let mut stream = self.streams.remove(index);
        let stderr = stream.stderr;
        stream.lines.finish(&mut |line, cut| self.emit(stderr, line, cut, budget));
        if self.streams.is_empty() && self.suppressed > 0 {
            log(LogMsg::OutputSuppressed, &self.who(), &self.suppressed.to_string());
        }
    }
}

struct Worker<'a> {
    shared: &'a Shared,
    runs: Vec<Run>,
    budget: RateLimit,
    stop_started: Option<Instant>,
    /// The unload grace has passed: every background run left has been told to end.
    grace_over: bool,
    dropped_reported: u64,
    next_report: Instant,
}

impl<'a> Worker<'a> {
    fn new(shared: &'a Shared) -> Self {
        Worker {
            shared,
            runs: Vec::new(),
            budget: RateLimit::new(),
            stop_started: None,
            grace_over: false,
            dropped_reported: 0,
            next_report: Instant::now(),
        }
    }

    fn run(mut self) {
        loop {
            let now = Instant::now();
            self.runs.append(&mut lock(&self.shared.adopted));
            if self.shared.stopping.load(Ordering::SeqCst) && self.stop_started.is_none() {
                self.begin_stop(now);
            }
            self.shared.bell.answer();
            self.start_queued();
            self.enforce_deadlines(now);
            self.close_lingering(now);
            self.runs.retain(|r| r.exited_at.is_none() || !r.streams.is_empty());
            self.report(now);
            if self.stop_started.is_some() && self.runs.is_empty() {
                return;
            }
            self.wait_and_handle();
        }
    }

    fn begin_stop(&mut self, now: Instant) {
        self.stop_started = Some(now);
        let discarded = std::mem::take(&mut *lock(&self.shared.queue)).len();
        if discarded > 0 {
            log(LogMsg::UnloadDiscarded, &discarded.to_string(), "");
        }
    }

    fn start_queued(&mut self) {
        if self.stop_started.is_some() {
            return;
        }
        let s = self.shared;
        while s.running.load(Ordering::Relaxed) < s.script.max_running {
            let Some(job) = lock(&s.queue).pop_front() else { break };
            match spawn::spawn(&s.script.script, job.hook, &job.env) {
                Ok(child) => {
                    if child.process.pidfd.is_some() {
                        s.running.fetch_add(1, Ordering::Relaxed);
                    } else {
                        report(job.hook, child.process.pid, &spawn::Outcome::Lost);
                    }
                    let deadline = Some(Deadline::new(s.script.timeout));
                    self.runs.push(Run::new(job.hook, child.process, true, [child.stdout, child.stderr], deadline));
                }
                Err(e) => log(LogMsg::SpawnFailed, job.hook, &e.to_string()),
            }
        }
    }

    fn enforce_deadlines(&mut self, now: Instant) {
        if self.stop_started.is_some_and(|s| now.duration_since(s) >= STOP_GRACE) {
            self.grace_over = true;
        }
        for run in self.runs.iter_mut().filter(|r| r.exited_at.is_none()) {
            let Some(deadline) = run.deadline.as_mut() else { continue };
            if self.grace_over {
                deadline.expire_now();
            }
            let (hook, pid) = (run.hook, run.process.pid);
            let alive = deadline.step(pid, now, |stage, elapsed| report_deadline(hook, pid, stage, elapsed));
            if !alive {
                // Not even SIGKILL ended it: stop following it rather than hang.
                run.exited_at = Some(now);
                self.shared.running.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn close_lingering(&mut self, now: Instant) {
        let stopping = self.stop_started.is_some();
        for run in &mut self.runs {
            let Some(exited) = run.exited_at else { continue };
            if stopping || now.duration_since(exited) >= LINGER {
                while !run.streams.is_empty() {
                    if stopping {
                        run.read(0, &mut self.budget);
                    }
                    run.close_stream(0, &mut self.budget);
                }
            }
        }
    }

    fn report(&mut self, now: Instant) {
        if now < self.next_report {
            return;
        }
        let dropped = self.shared.dropped.load(Ordering::Relaxed);
        if dropped > self.dropped_reported {
            log(LogMsg::QueueFull, &(dropped - self.dropped_reported).to_string(), &dropped.to_string());
            self.dropped_reported = dropped;
            self.next_report = now + REPORT_EVERY;
        }
        if self.budget.report_due().is_some_and(|due| now >= due) {
            log(LogMsg::OutputSuppressed, "this script's runs (200 lines per second)", &self.budget.refused.to_string());
            self.budget.refused = 0;
        }
    }

    /// When the loop must run again without any descriptor being ready.
    fn next_wakeup(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for run in &self.runs {
            match run.exited_at {
                None => consider(run.deadline.as_ref().and_then(Deadline::due)),
                Some(exited) if !run.streams.is_empty() => consider(Some(exited + LINGER)),
                Some(_) => {}
            }
        }
        if self.shared.dropped.load(Ordering::Relaxed) > self.dropped_reported {
            consider(Some(self.next_report));
        }
        consider(self.budget.report_due());
        // The end of the unload grace, until it has been acted on (then the deadlines above rule).
        if !self.grace_over {
            consider(self.stop_started.map(|s| s + STOP_GRACE));
        }
        next
    }

    fn wait_and_handle(&mut self) {
        // What each pollfd stands for: (run index, None = its pidfd | Some(stream index)).
        let mut fds = vec![self.shared.bell.watch()];
        let mut what: Vec<(usize, Option<usize>)> = vec![(usize::MAX, None)];
        for (i, run) in self.runs.iter().enumerate() {
            if run.exited_at.is_none() {
                if let Some(fd) = &run.process.pidfd {
                    fds.push(poll::watch(fd.as_raw_fd(), libc::POLLIN));
                    what.push((i, None));
                }
            }
            for (j, stream) in run.streams.iter().enumerate() {
                fds.push(poll::watch(stream.fd.as_raw_fd(), libc::POLLIN));
                what.push((i, Some(j)));
            }
        }
        if !poll::wait(&mut fds, self.next_wakeup()) {
            return; // timeout or EINTR: the loop re-evaluates
        }
        // Streams first, from the last (closing one shifts the indices after it), then exits.
        for k in (1..fds.len()).rev() {
            let (i, stream) = what[k];
            if fds[k].revents == 0 {
                continue;
            }
            match stream {
                Some(j) => {
                    if !self.runs[i].read(j, &mut self.budget) {
                        self.runs[i].close_stream(j, &mut self.budget);
                    }
                }
                None => self.exited(i),
            }
        }
    }

    fn exited(&mut self, i: usize) {
        let run = &mut self.runs[i];
        run.exited_at = Some(Instant::now());
        if run.background {
            let outcome = spawn::collect(&run.process, false).unwrap_or(spawn::Outcome::Lost);
            self.shared.running.fetch_sub(1, Ordering::Relaxed);
            report(run.hook, run.process.pid, &outcome);
        }
        // The pidfd (ours, or the duplicate of a waited-for run) is no longer needed.
        run.process.pidfd = None;
    }
}

/// Log a time-limit step (see [`Deadline::step`]).
pub fn report_deadline(hook: &str, pid: libc::pid_t, stage: u8, elapsed: Duration) {
    let detail = format!("pid {pid}, {} ms after it started", elapsed.as_millis());
    match stage {
        1 => log(LogMsg::ScriptTimeout, hook, &detail),
        2 => log(LogMsg::ScriptKilled, hook, &detail),
        _ => log(LogMsg::StatusLost, hook, &pid.to_string()),
    }
}
