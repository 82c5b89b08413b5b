//! Spawn mode's thread (one per configured script). It
//! - starts background runs from the bounded queue, at most `max-running` at once, so the packet
//!   path only queues (it never spawns, never blocks, and never grows without bound);
//! - collects every background run as it exits (no zombie), without touching SIGCHLD: it polls
//!   their pidfds, and enforces their time limit;
//! - reads every run's stdout and stderr (waited-for runs too) into Kea's log, with bounds;
//! - at unload, discards what is queued, ends what still runs, and collects it all.

use super::SpawnShared;
use crate::log::{self, log, msg};
use crate::limits::{LINES_PER_SECOND_TEXT, LINGER, REPORT_EVERY, STOP_GRACE};
use crate::output::{self, RateLimit, Stream, LINES_PER_RUN};
use crate::process::{self, Deadline, Outcome, Process};
use crate::thread::{self, lock};
use std::os::fd::{AsRawFd, OwnedFd};
use crate::replay::RunTally;
use crate::stats::{ScriptStats, Stat};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// A run the thread follows: a background run it started (and collects), or the output of a
/// waited-for run (whose callout collects it).
pub(super) struct Run {
    hook: &'static str,
    process: Process,
    background: bool,
    deadline: Option<Deadline>,
    exited_at: Option<Instant>,
    streams: Vec<Stream>,
    logged: u32,
    suppressed: u64,
    /// A replayed lease's run: told how it ended.
    tally: Option<Arc<RunTally>>,
}

/// One output line of a run to the log, within the per-run and per-second bounds (a line past
/// them is counted, `output-suppressed`).
#[allow(clippy::too_many_arguments)]
fn emit(who: &str, logged: &mut u32, suppressed: &mut u64, stderr: bool, line: &[u8], cut: bool, budget: &mut RateLimit, stats: &ScriptStats) {
    if *logged >= LINES_PER_RUN {
        *suppressed += 1;
        stats.count(Stat::OutputSuppressed);
        return;
    }
    if !budget.allow(Instant::now()) {
        stats.count(Stat::OutputSuppressed);
        return;
    }
    *logged += 1;
    let message = if stderr { msg::SCRIPT_STDERR } else { msg::SCRIPT_STDOUT };
    log(message, [who, &output::render(line, cut)]);
}

impl Run {
    pub(super) fn new(
        hook: &'static str,
        process: Process,
        background: bool,
        streams: [OwnedFd; 2],
        deadline: Option<Deadline>,
        tally: Option<Arc<RunTally>>,
    ) -> Run {
        let exited_at = process.pidfd.is_none().then(Instant::now);
        let [out, err] = streams;
        Run { hook, process, background, deadline, exited_at, streams: Stream::pair(out, err), logged: 0, suppressed: 0, tally }
    }

    fn who(&self) -> String {
        format!("{} (pid {})", self.hook, self.process.pid)
    }

    /// Read what stream `index` has; at its end, close it (the last report once both are closed).
    /// Returns whether it is still open.
    fn read(&mut self, index: usize, budget: &mut RateLimit, stats: &ScriptStats) -> bool {
        let who = self.who();
        let Run { streams, logged, suppressed, .. } = self;
        let stderr = streams[index].stderr;
        let open = streams[index].read(&mut |line, cut| emit(&who, logged, suppressed, stderr, line, cut, budget, stats));
        if !open {
            self.close(index, budget, stats);
        }
        open
    }

    fn close(&mut self, index: usize, budget: &mut RateLimit, stats: &ScriptStats) {
        let who = self.who();
        let stream = self.streams.remove(index);
        let stderr = stream.stderr;
        let Run { logged, suppressed, .. } = self;
        stream.close(&mut |line, cut| emit(&who, logged, suppressed, stderr, line, cut, budget, stats));
        if self.streams.is_empty() && self.suppressed > 0 {
            log(msg::OUTPUT_SUPPRESSED, [&who, &self.suppressed.to_string()]);
        }
    }
}

/// The thread's state.
pub(super) struct RunsThread<'a> {
    shared: &'a SpawnShared,
    runs: Vec<Run>,
    budget: RateLimit,
    stop_started: Option<Instant>,
    /// The unload grace has passed: every background run left has been told to end.
    grace_over: bool,
    dropped_reported: u64,
    next_report: Instant,
}

impl<'a> RunsThread<'a> {
    pub(super) fn new(shared: &'a SpawnShared) -> Self {
        RunsThread {
            shared,
            runs: Vec::new(),
            budget: RateLimit::new(),
            stop_started: None,
            grace_over: false,
            dropped_reported: 0,
            next_report: Instant::now(),
        }
    }

    pub(super) fn run(mut self) {
        loop {
            let now = Instant::now();
            self.runs.append(&mut lock(&self.shared.adopted));
            if self.shared.bell.stopping() && self.stop_started.is_none() {
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
        let discarded = self.shared.queue.take_all().len();
        if discarded > 0 {
            log(msg::UNLOAD_DISCARDED, [&discarded.to_string()]);
        }
    }

    fn start_queued(&mut self) {
        if self.stop_started.is_some() {
            return;
        }
        let s = self.shared;
        while s.running.load(Ordering::Relaxed) < s.script.max_running {
            let Some(job) = s.queue.pop() else { break };
            if let Err(fault) = process::still_trusted(&s.script) {
                s.stats.count(Stat::SpawnFailures);
                s.stats.error(msg::SCRIPT_UNTRUSTED, [job.hook, &fault]);
                if let Some(t) = job.tally {
                    t.finished(false);
                }
                continue;
            }
            match process::spawn_run(&s.script.script, job.hook, &job.env) {
                Ok(child) => {
                    s.stats.count(Stat::Runs);
                    let mut tally = job.tally;
                    if child.process.pidfd.is_some() {
                        s.running.fetch_add(1, Ordering::Relaxed);
                        s.started(child.process.pid);
                    } else {
                        log::run_ended(&s.stats, job.hook, child.process.pid, &Outcome::Lost);
                        if let Some(t) = tally.take() {
                            t.finished(false);
                        }
                    }
                    let deadline = Some(Deadline::new(s.script.timeout));
                    self.runs.push(Run::new(job.hook, child.process, true, [child.stdout, child.stderr], deadline, tally));
                }
                Err(e) => {
                    s.stats.count(Stat::SpawnFailures);
                    s.stats.error(msg::SPAWN_FAILED, [job.hook, &e.to_string()]);
                    if let Some(t) = job.tally {
                        t.finished(false);
                    }
                }
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
            let (hook, pid, stats) = (run.hook, run.process.pid, &self.shared.stats);
            let alive = deadline.step(pid, now, |stage, elapsed| log::run_deadline(stats, hook, pid, stage, elapsed));
            if !alive {
                // Not even SIGKILL ended it: stop following it rather than hang.
                run.exited_at = Some(now);
                self.shared.running.fetch_sub(1, Ordering::Relaxed);
                self.shared.ended(pid);
            }
        }
    }

    fn close_lingering(&mut self, now: Instant) {
        let stopping = self.stop_started.is_some();
        for run in &mut self.runs {
            let Some(exited) = run.exited_at else { continue };
            if stopping || now.duration_since(exited) >= LINGER {
                while !run.streams.is_empty() {
                    // At unload, what is there now first; closed whatever the read says.
                    if stopping && !run.read(0, &mut self.budget, &self.shared.stats) {
                        continue;
                    }
                    run.close(0, &mut self.budget, &self.shared.stats);
                }
            }
        }
    }

    fn report(&mut self, now: Instant) {
        if now < self.next_report {
            return;
        }
        let dropped = self.shared.queue.dropped();
        if dropped > self.dropped_reported {
            self.shared.stats.error(msg::QUEUE_FULL, [&(dropped - self.dropped_reported).to_string(), &dropped.to_string()]);
            self.dropped_reported = dropped;
            self.next_report = now + REPORT_EVERY;
        }
        if self.budget.report_due().is_some_and(|due| now >= due) {
            let who = format!("this script's runs ({LINES_PER_SECOND_TEXT} lines per second)");
            log(msg::OUTPUT_SUPPRESSED, [&who, &self.budget.refused.to_string()]);
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
        if self.shared.queue.dropped() > self.dropped_reported {
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
                    fds.push(thread::watch(fd.as_raw_fd(), libc::POLLIN));
                    what.push((i, None));
                }
            }
            for (j, stream) in run.streams.iter().enumerate() {
                fds.push(thread::watch(stream.fd().as_raw_fd(), libc::POLLIN));
                what.push((i, Some(j)));
            }
        }
        if !thread::wait(&mut fds, self.next_wakeup()) {
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
                    self.runs[i].read(j, &mut self.budget, &self.shared.stats);
                }
                None => self.exited(i),
            }
        }
    }

    fn exited(&mut self, i: usize) {
        let run = &mut self.runs[i];
        run.exited_at = Some(Instant::now());
        if run.background {
            let outcome = process::collect(&run.process, false).unwrap_or(Outcome::Lost);
            self.shared.running.fetch_sub(1, Ordering::Relaxed);
            self.shared.ended(run.process.pid);
            log::run_ended(&self.shared.stats, run.hook, run.process.pid, &outcome);
            if let Some(t) = run.tally.take() {
                t.finished(matches!(outcome, Outcome::Exited(0)));
            }
            // A run ended: a replay waiting for room may go on.
            self.shared.queue.taken();
        }
        // The pidfd (ours, or the duplicate of a waited-for run) is no longer needed.
        run.process.pidfd = None;
    }
}
