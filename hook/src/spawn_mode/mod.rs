//! Spawn mode (`"mode": "spawn"`, the default): a run of the script per event, the event's values
//! in its environment.
//!
//! - A waited-for run (`wait: true`, and `load`/`unload` always) is started and waited for by
//!   the callout itself, at most its time limit; its output is handed to the script's thread.
//! - A background run is only queued by the callout (bounded: past `max-queued`, and
//!   `max-running` running, the event is dropped and counted); the script's thread
//!   ([`runs`]) starts it, follows it and collects it.

mod runs;

use crate::environ::Environment;
use crate::log::{self, msg};
use crate::process::{self, Deadline, Outcome, Process};
use crate::queue::{BoundedQueue, Waited};
use crate::replay::RunTally;
use crate::stats::{ScriptStats, Stat};
use crate::thread::{lock, Doorbell, LibraryThread, Shared};
use kea_runscript_config::Script;
use runs::{Run, RunsThread};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A background run waiting to be started.
struct Job {
    hook: &'static str,
    env: Environment,
    /// A replayed lease's run: told how it ended.
    tally: Option<Arc<RunTally>>,
}

/// What the callouts and the script's thread share.
struct SpawnShared {
    /// The script this thread serves (path, time limit, bounds).
    script: Script,
    queue: BoundedQueue<Job>,
    /// Background runs started and not yet exited (read by the packet path to admit jobs).
    running: AtomicUsize,
    /// Waited-for runs started and not yet ended.
    waited_running: AtomicUsize,
    /// Every run in progress (both kinds): its pid and when it started, for `runscript-status`.
    in_progress: Mutex<Vec<(libc::pid_t, Instant)>>,
    /// Output streams of waited-for runs, handed over by the callout that started them.
    adopted: Mutex<Vec<Run>>,
    stats: Arc<ScriptStats>,
    bell: Doorbell,
}

impl SpawnShared {
    fn started(&self, pid: libc::pid_t) {
        lock(&self.in_progress).push((pid, Instant::now()));
    }

    fn ended(&self, pid: libc::pid_t) {
        lock(&self.in_progress).retain(|&(p, _)| p != pid);
    }
}

impl Shared for SpawnShared {
    fn bell(&self) -> &Doorbell {
        &self.bell
    }
}

/// One configured script in spawn mode, and its thread.
pub struct SpawnScript {
    thread: LibraryThread<SpawnShared>,
}

impl SpawnScript {
    pub fn start(script: Script, stats: Arc<ScriptStats>) -> io::Result<SpawnScript> {
        let shared = SpawnShared {
            script,
            queue: BoundedQueue::new(),
            running: AtomicUsize::new(0),
            waited_running: AtomicUsize::new(0),
            in_progress: Mutex::new(Vec::new()),
            adopted: Mutex::new(Vec::new()),
            stats,
            bell: Doorbell::new()?,
        };
        let thread = LibraryThread::start("kea-runscript", shared, |shared| RunsThread::new(shared).run())?;
        Ok(SpawnScript { thread })
    }

    /// The script's parameters.
    pub fn script(&self) -> &Script {
        &self.thread.script
    }

    /// Its statistics, the gauges and the queue's drops filled in.
    pub fn statistics(&self) -> crate::stats::Values {
        let s = &*self.thread;
        let mut values = s.stats.snapshot();
        values[Stat::Dropped as usize] = s.queue.dropped() as i64;
        values[Stat::Queued as usize] = s.queue.lock().len() as i64;
        let running = s.running.load(Ordering::Relaxed) + s.waited_running.load(Ordering::Relaxed);
        values[Stat::Running as usize] = running as i64;
        values
    }

    /// Pids and start times of the runs in progress, background and waited-for (for `runscript-status`).
    pub fn running(&self) -> Vec<(libc::pid_t, Instant)> {
        lock(&self.thread.in_progress).clone()
    }

    /// Queue a background run. Returns at once; past the bounds the event is dropped and counted.
    pub fn submit(&self, hook: &'static str, env: Environment, mark: impl FnOnce()) {
        let s = &*self.thread;
        let free = s.script.max_running.saturating_sub(s.running.load(Ordering::Relaxed));
        s.queue.offer(Job { hook, env, tally: None }, s.script.max_queued + free, &s.bell, mark);
    }

    /// From a replay's thread: queue a background run, waiting for room (never dropped), if
    /// `admit(env)` says so under the queue's lock; `tally` hears how it ended.
    pub fn submit_waiting(
        &self,
        hook: &'static str,
        env: Environment,
        tally: &Arc<RunTally>,
        admit: impl FnOnce(&mut Environment) -> bool,
        cancel: &AtomicBool,
    ) -> Waited {
        let s = &*self.thread;
        let limit = || s.script.max_queued + s.script.max_running.saturating_sub(s.running.load(Ordering::Relaxed));
        let job = Job { hook, env, tally: Some(Arc::clone(tally)) };
        s.queue.offer_waiting(job, limit, &s.bell, |job| admit(&mut job.env) && tally.started(), cancel)
    }

    /// Run the script now and wait for it, at most its time limit (then SIGTERM, SIGKILL, and a
    /// last grace). Returns its exit status, if it exited.
    pub fn run_waited(&self, hook: &'static str, env: &Environment) -> Option<i32> {
        let config = self.script();
        let stats = &self.thread.stats;
        if let Err(fault) = process::still_trusted(config) {
            stats.count(Stat::SpawnFailures);
            stats.error(msg::SCRIPT_UNTRUSTED, [hook, &fault]);
            return None;
        }
        let child = match process::spawn_run(&config.script, hook, env) {
            Ok(child) => child,
            Err(e) => {
                stats.count(Stat::SpawnFailures);
                stats.error(msg::SPAWN_FAILED, [hook, &e.to_string()]);
                return None;
            }
        };
        stats.count(Stat::Runs);
        self.thread.waited_running.fetch_add(1, Ordering::Relaxed);
        self.thread.started(child.process.pid);
        let process = child.process;
        let watch: Option<OwnedFd> = process.pidfd.as_ref().and_then(|fd| fd.as_fd().try_clone_to_owned().ok());
        self.adopt_output(hook, Process::watcher(process.pid, watch, process.follow), [child.stdout, child.stderr]);

        let mut deadline = Deadline::new(config.timeout);
        let outcome = loop {
            if let Some(outcome) = process::wait_until(&process, deadline.due()) {
                break outcome;
            }
            let pid = process.pid;
            if !deadline.step(pid, Instant::now(), |stage, elapsed| log::run_deadline(stats, hook, pid, stage, elapsed)) {
                break Outcome::Lost;
            }
        };
        self.thread.waited_running.fetch_sub(1, Ordering::Relaxed);
        self.thread.ended(process.pid);
        log::run_ended(stats, hook, process.pid, &outcome);
        match outcome {
            Outcome::Exited(code) => Some(code),
            _ => None,
        }
    }

    /// Hand over the output of a waited-for run; `watch` (a duplicate of its pidfd) tells when it exited.
    fn adopt_output(&self, hook: &'static str, watch: Process, streams: [OwnedFd; 2]) {
        let run = Run::new(hook, watch, false, streams, None, None);
        lock(&self.thread.adopted).push(run);
        self.thread.bell.ring();
    }
}
