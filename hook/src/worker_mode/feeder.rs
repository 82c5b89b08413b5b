//! Worker mode's feeding thread: writes the queued lines to the worker without ever blocking,
//! reads its replies and its output, restarts it with a backoff when it ends, and ends it at
//! unload.

use super::{arguments, parse_reply, sigpipe, Job, Request, WorkerShared};
use crate::environ::Environment;
use crate::limits::{BATCH, BATCH_WAIT, FIRST_BACKOFF, MAX_BACKOFF, REPORT_EVERY, STABLE_RUN, STOP_GRACE};
use crate::log::{self, log, msg};
use crate::output::{self, RateLimit, Stream};
use crate::process::{self, Child, Deadline, Outcome, Process};
use crate::stats::Stat;
use crate::thread::{self, lock};
use kea_runscript_config::Action;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        let streams = Stream::pair(child.stdout, child.stderr);
        Running { process: child.process, started: Instant::now(), stdin: child.stdin, streams, stop: None }
    }
}

/// The thread's state.
pub(super) struct Feeder<'a> {
    shared: &'a WorkerShared,
    env: Environment,
    worker: Option<Running>,
    /// The line being written, and how much of it is.
    writing: Option<(Job, usize)>,
    /// With `wait`: the line written whose reply has not been read (its job has a request; the
    /// line is kept to be sent again with `redeliver`).
    owed: Option<Job>,
    /// With `redeliver`: lines queued again since the last exit was logged.
    queued_again: u64,
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
    pub(super) fn new(shared: &'a WorkerShared, env: Environment, child: Child) -> Self {
        Feeder {
            shared,
            env,
            worker: Some(Running::new(child)),
            writing: None,
            owed: None,
            queued_again: 0,
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

    pub(super) fn run(mut self) {
        sigpipe::block();
        loop {
            let now = Instant::now();
            if !self.stopping && self.shared.bell.stopping() {
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
        let redeliver = self.shared.script.redeliver;
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
                        if !redeliver {
                            continue; // its callout went on without it
                        }
                        // Written all the same; until its reply comes, new events do not wait.
                        self.shared.owing_late.store(true, Ordering::SeqCst);
                    }
                    slot.written = true;
                }
                self.writing = Some((job, 0));
            }
            let (job, done) = self.writing.as_mut().expect("a line is being written");
            let rest = &job.line[*done..];
            // SAFETY: writes from our buffer to our own non-blocking pipe; SIGPIPE is blocked in
            // this thread (`sigpipe::block`).
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            if n >= 0 {
                *done += n as usize;
                if *done == job.line.len() {
                    let (job, _) = self.writing.take().expect("a line is being written");
                    let lines = job.line.iter().filter(|&&b| b == b'\n').count();
                    self.shared.stats.add(Stat::Runs, lines as i64);
                    if job.again {
                        self.shared.redelivered.fetch_add(1, Ordering::Relaxed);
                    }
                    self.owed = job.request.is_some().then_some(job);
                }
                continue;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN) => return true,
                Some(libc::EINTR) => continue,
                _ => {
                    // EPIPE: the worker closed its stdin (or died). Nothing more can reach it.
                    sigpipe::take_pending();
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
    /// queued (up to [`BATCH`] bytes) in one write. Background events are rendered here, after
    /// the queue's lock is let go.
    fn next_job(&self) -> Option<Job> {
        let mut queue = self.shared.queue.lock();
        let mut job = queue.pop_front()?;
        let mut rest = Vec::new();
        let mut size = job.size_hint();
        if job.request.is_none() {
            while let Some(next) = queue.front() {
                if next.request.is_some() || size + next.size_hint() > BATCH {
                    break;
                }
                size += next.size_hint();
                rest.push(queue.pop_front().expect("a front element"));
            }
        }
        drop(queue);
        self.shared.queue.taken();
        let mut line = std::mem::take(&mut job.line);
        line.reserve(size.saturating_sub(line.len()));
        job.render_into(&mut line);
        for mut next in rest {
            line.extend_from_slice(&next.line);
            next.render_into(&mut line);
        }
        job.line = line;
        Some(job)
    }

    /// The worker can take no more lines: the line being written and the owed reply are lost,
    /// waited-for events still queued go on without a reply. Lines of background events stay
    /// queued for the next worker.
    fn lose_in_flight(&mut self) {
        if self.shared.script.redeliver && !self.stopping {
            return self.requeue_in_flight();
        }
        let queued: Vec<Arc<Request>> = {
            let mut queue = self.shared.queue.lock();
            self.shared.up.store(false, Ordering::SeqCst);
            let (requests, lines): (VecDeque<Job>, VecDeque<Job>) = queue.drain(..).partition(|j| j.request.is_some());
            *queue = lines;
            requests.into_iter().filter_map(|j| j.request).collect()
        };
        let writing = self.writing.take().and_then(|(job, _)| job.request);
        for request in queued.into_iter().chain(writing).chain(self.owed.take().and_then(|j| j.request)) {
            self.answer(&request, None, false);
        }
        self.shared.owing_late.store(false, Ordering::SeqCst);
    }

    /// With `redeliver`, the worker can take no more lines: the line it owed a reply to, or was
    /// being written, goes back to the front of the queue for the next worker (the same bytes:
    /// a consumer deduplicates). Waited-for events go on (continue) as without `redeliver`, their
    /// lines left queued with no one waiting. Past `max-queued`, the newest are dropped.
    fn requeue_in_flight(&mut self) {
        let s = self.shared;
        let in_flight = match (self.owed.take(), self.writing.take()) {
            (Some(job), _) => Some(Job { again: true, ..job }),
            // Not one byte written: it is not sent again, only sent.
            (None, Some((job, done))) => Some(Job { again: job.again || done > 0, ..job }),
            (None, None) => None,
        };
        let mut waiting = Vec::new();
        let mut trimmed = 0;
        {
            let mut queue = s.queue.lock();
            s.up.store(false, Ordering::SeqCst);
            if let Some(job) = in_flight {
                self.queued_again += u64::from(job.again);
                queue.push_front(job);
            }
            for job in queue.iter_mut() {
                if let Some(request) = job.request.take_if(|r| !r.abandoned()) {
                    waiting.push(request);
                    job.request = Some(Arc::new(Request::detached()));
                }
            }
            while queue.len() > s.script.max_queued.max(1) {
                queue.pop_back();
                trimmed += 1;
            }
        }
        for _ in 0..trimmed {
            s.queue.refuse();
        }
        for request in waiting {
            self.answer(&request, None, false);
        }
        s.owing_late.store(false, Ordering::SeqCst);
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
            if let Some(request) = self.owed.take().and_then(|j| j.request) {
                let action = parse_reply(line, cut);
                let reply = match action {
                    Some(Action::Continue) => Some(Stat::RepliesContinue),
                    Some(Action::Skip) => Some(Stat::RepliesSkip),
                    Some(Action::Drop) => Some(Stat::RepliesDrop),
                    None => None,
                };
                if let Some(stat) = reply {
                    self.shared.stats.count(stat);
                }
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
            self.shared.stats.count(Stat::OutputSuppressed);
            return;
        }
        let message = if stderr { msg::SCRIPT_STDERR } else { msg::SCRIPT_STDOUT };
        log(message, [&self.who(), &output::render(line, cut)]);
    }

    fn read_stream(&mut self, index: usize) {
        let Some(w) = self.worker.as_mut() else { return };
        let stream = &mut w.streams[index];
        let stderr = stream.stderr;
        let mut lines = Vec::new();
        if !stream.read(&mut |l, cut| lines.push((l.to_vec(), cut))) {
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
        let outcome = process::collect(&w.process, false).unwrap_or(Outcome::Lost);
        *lock(&self.shared.process) = None;
        match outcome {
            Outcome::Exited(0) | Outcome::Lost => {}
            Outcome::Exited(_) => self.shared.stats.count(Stat::ExitedNonzero),
            Outcome::Signaled(_) => self.shared.stats.count(Stat::Signaled),
        }
        self.lose_in_flight();
        let how = log::worker_outcome(&outcome);
        let ran = now.duration_since(w.started);
        let name = &self.shared.name;
        if self.stopping {
            log(msg::WORKER_STOPPED, [name, &format!("{who}: {how}")]);
            return;
        }
        if ran >= STABLE_RUN {
            self.backoff = FIRST_BACKOFF;
        }
        let delay = self.schedule_restart(now);
        let mut detail = format!("{who}: {how} after {} ms; restart in {} ms", ran.as_millis(), delay.as_millis());
        if self.queued_again > 0 {
            let n = std::mem::take(&mut self.queued_again);
            detail += &format!("; {n} line(s) it had not answered queued again for the next worker (redeliver)");
        }
        self.shared.stats.error(msg::WORKER_EXITED, [&self.shared.name, &detail]);
    }

    /// The next start after the current backoff, which doubles (up to [`MAX_BACKOFF`]).
    fn schedule_restart(&mut self, now: Instant) -> Duration {
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.restart_at = Some(now + delay);
        *lock(&self.shared.restart_due) = self.restart_at;
        delay
    }

    fn restart(&mut self, now: Instant) {
        self.restart_at = None;
        *lock(&self.shared.restart_due) = None;
        let s = self.shared;
        if let Err(fault) = process::still_trusted(&s.script) {
            let delay = self.schedule_restart(now);
            s.stats.count(Stat::SpawnFailures);
            let fault = format!("{fault}; next try in {} ms", delay.as_millis());
            s.stats.error(msg::SCRIPT_UNTRUSTED, ["worker", &fault]);
            return;
        }
        match process::spawn_worker(&s.script.script, arguments(s.script.wait), &self.env) {
            Ok(child) => {
                self.restarts += 1;
                s.stats.count(Stat::WorkerRestarts);
                *lock(&s.process) = Some((child.process.pid, Instant::now()));
                let detail = format!("pid {}, restart {} since load", child.process.pid, self.restarts);
                self.worker = Some(Running::new(child));
                // Under the queue lock: a waited-for event is queued only while a worker runs.
                let _queue = s.queue.lock();
                s.up.store(true, Ordering::SeqCst);
                log(msg::WORKER_RESTARTED, [&s.name, &detail]);
            }
            Err(e) => {
                let delay = self.schedule_restart(now);
                s.stats.count(Stat::SpawnFailures);
                s.stats.error(msg::SPAWN_FAILED, ["worker", &format!("{e}; next try in {} ms", delay.as_millis())]);
            }
        }
    }

    /// Unload: write what the pipe takes now, discard the rest, close stdin, start the grace.
    fn begin_stop(&mut self) {
        self.stopping = true;
        self.feed();
        let discarded = {
            let mut queue = self.shared.queue.lock();
            self.shared.up.store(false, Ordering::SeqCst);
            std::mem::take(&mut *queue)
        };
        let mut lines = 0;
        let redeliver = self.shared.script.redeliver;
        for job in discarded.into_iter().chain(self.writing.take().map(|(job, _)| job)) {
            match job.request {
                // With `redeliver`, a line no one waits for was still to be written: discarded.
                Some(request) if !(redeliver && request.abandoned()) => self.answer(&request, None, false),
                _ => lines += 1,
            }
        }
        if lines > 0 {
            log(msg::UNLOAD_DISCARDED, [&lines.to_string()]);
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
        let alive = deadline.step(w.process.pid, now, |stage, elapsed| log::worker_stop_step(name, &who, stage, elapsed));
        if !alive {
            self.worker = None;
        }
    }

    fn report(&mut self, now: Instant) {
        if now < self.next_report {
            return;
        }
        let s = self.shared;
        let counts = self.counts();
        let new: Vec<u64> = counts.iter().zip(self.reported).map(|(c, r)| c - r).collect();
        let mut reported = false;
        if new[0] > 0 {
            s.stats.error(msg::WORKER_QUEUE_FULL, [&s.name, &format!("{} dropped ({} since load)", new[0], counts[0])]);
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
                let queued = if s.script.redeliver { " (their lines queued for it: redeliver)" } else { "" };
                parts.push(format!("{} while no worker was running or it still owed a late reply{queued}", new[3]));
            }
            s.stats.error(msg::WORKER_NO_REPLY, [&s.name, &parts.join(", ")]);
            reported = true;
        }
        self.reported = counts;
        if reported {
            self.next_report = now + REPORT_EVERY;
        }
        if self.budget.report_due().is_some_and(|due| now >= due) {
            log(msg::OUTPUT_SUPPRESSED, [&self.who(), &self.budget.refused.to_string()]);
            self.budget.refused = 0;
        }
    }

    /// Events dropped, timed out, garbled, unavailable, since load.
    fn counts(&self) -> [u64; 4] {
        let s = self.shared;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        [s.queue.dropped(), load(&s.timed_out), load(&s.garbled), load(&s.unavailable)]
    }

    fn pending_reports(&self) -> bool {
        self.counts().iter().zip(self.reported).any(|(&c, r)| c > r)
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
                fds.push(thread::watch(fd.as_raw_fd(), libc::POLLIN));
                what.push(PIDFD);
            }
            if let (true, Some(fd)) = (blocked, &w.stdin) {
                fds.push(thread::watch(fd.as_raw_fd(), libc::POLLOUT));
                what.push(STDIN);
            }
            for (i, stream) in w.streams.iter().enumerate() {
                fds.push(thread::watch(stream.fd().as_raw_fd(), libc::POLLIN));
                what.push(STREAM + i);
            }
        }
        if !thread::wait(&mut fds, self.next_wakeup()) {
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
