//! Replays (`lease4_replay`, `lease6_replay`): every lease a client holds, delivered again to each
//! script that selected the hook point, between a `begin` and an `end` event.
//!
//! - Kea's own thread reads the leases, a page at a time, through its IO service
//!   (shim/replay.cc): the lease manager is read the way Kea allows, never from our threads.
//! - This module's thread delivers them, one script after the other, waiting for room in each
//!   script's queue rather than dropping (the packet path never waits: it drops and counts). It
//!   asks for the next page once fewer than half a page wait, so memory stays bounded.
//! - No stale `old`: while a replay runs, each live `add`/`renew`/`del` marks its lease for the
//!   scripts it went to; a replayed lease so marked is not delivered to them (the live event said
//!   more recent things). The mark and the replay's check-and-queue take the same locks, so a
//!   live event is either queued after the `old` or suppresses it.
//! - `end` comes after every run of the replay has ended, with what was delivered and failed.

use crate::environ::Environment;
use crate::event::Event;
use crate::ffi::bridge;
use crate::limits::{REPLAY_PAGE, REPLAY_SHARE};
use crate::log::{log, msg};
use crate::queue::Waited;
use crate::runtime::{Runner, Runtime};
use crate::thread::lock;
use kea_runscript_config::table::{HOOK_POINTS, VARIABLES};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Replays since the process started: each has its own number, across reloads, so that a page
/// posted for an old one is told apart.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// How a replay's background runs of one script ended (they end on the script's own thread).
#[derive(Default)]
pub struct RunTally {
    counts: Mutex<(u64, u64, u64)>,
    ended: Condvar,
}

impl RunTally {
    /// A run was queued (returns true, to be used in an `admit`).
    pub fn started(&self) -> bool {
        lock(&self.counts).0 += 1;
        true
    }

    /// A run ended (`ok`: exit status 0).
    pub fn finished(&self, ok: bool) {
        let mut c = lock(&self.counts);
        c.1 += 1;
        if !ok {
            c.2 += 1;
        }
        self.ended.notify_all();
    }

    /// Wait until every queued run ended, or `cancel`. Returns the failed ones.
    fn wait_all(&self, cancel: &AtomicBool) -> u64 {
        let mut c = lock(&self.counts);
        while c.1 < c.0 && !cancel.load(Ordering::SeqCst) {
            c = self.ended.wait_timeout(c, Duration::from_millis(20)).unwrap_or_else(|p| p.into_inner()).0;
        }
        c.2
    }
}

/// A replay's dealings with one script.
struct ScriptReplay {
    /// Its index among the runtime's scripts.
    index: usize,
    /// Leases a live event told this script about since the replay began.
    touched: Mutex<HashSet<Vec<u8>>>,
    delivered: AtomicU64,
    failed: AtomicU64,
    runs: Arc<RunTally>,
    /// Its `begin` is queued (or run): live events from now on reach it after `begin`, and
    /// mark their leases.
    begun: AtomicBool,
}

/// Leases read and not yet delivered; what the reader does next.
#[derive(Default)]
struct Backlog {
    events: VecDeque<Box<Event>>,
    /// A page read is posted to Kea's IO service and not done.
    reading: bool,
    /// The reader has more pages.
    more: bool,
    error: Option<String>,
    /// When the last page was read, and what it cost Kea's thread.
    read_at: Option<Instant>,
    cost: Duration,
}

pub struct ReplayShared {
    generation: u64,
    hook: u16,
    backlog: Mutex<Backlog>,
    arrived: Condvar,
    cancel: AtomicBool,
    finished: AtomicBool,
    scripts: Vec<ScriptReplay>,
}

/// A running (or just finished) replay, and its thread; dropping it stops the thread.
pub struct Replay {
    shared: Arc<ReplayShared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.shared.cancel.store(true, Ordering::SeqCst);
        self.shared.arrived.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if !self.shared.finished.load(Ordering::SeqCst) {
            let s = &self.shared;
            log(msg::REPLAY_STOPPED, [hook_name(s.hook), &format!("{} leases delivered", s.scripts.iter().map(|t| t.delivered.load(Ordering::Relaxed)).max().unwrap_or(0))]);
        }
    }
}

/// What one script got from the last replay that ended, for the command's answer.
#[derive(Clone)]
pub struct Outcome {
    pub script: String,
    pub delivered: u64,
    pub failed: u64,
}

/// The replay state of a runtime.
#[derive(Default)]
pub struct Replays {
    /// Fast check for the packet path: a replay is running (then `current` has it).
    active: AtomicBool,
    /// Live events while a replay runs: Kea is serving packets, and the replay yields.
    live: AtomicU64,
    current: Mutex<Option<Replay>>,
    last: Mutex<Option<(u16, Vec<Outcome>)>>,
}

fn hook_name(hook: u16) -> &'static str {
    HOOK_POINTS.get(hook as usize).map_or("?", |h| h.name)
}

/// Variable ids the replay reads or writes, by name (from the generated table).
struct Ids {
    lease_event: u16,
    phase: u16,
    address: [u16; 2],
    lease6_type: u16,
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| {
        let id = |name: &str| VARIABLES.iter().position(|v| v.name == name).map_or(u16::MAX, |i| i as u16);
        Ids {
            lease_event: id("KEA_LEASE_EVENT"),
            phase: id("KEA_REPLAY_PHASE"),
            address: [id("KEA_LEASE4_ADDRESS"), id("KEA_LEASE6_ADDRESS")],
            lease6_type: id("KEA_LEASE6_TYPE"),
        }
    })
}

/// The lease an event tells a client holds or gave up (`add`, `renew`, `del`, or a lease event
/// without `KEA_LEASE_EVENT`, as for ISC's names only), as a key: its address, and for DHCPv6
/// its type. `None` for an offer, a replayed lease, or an event without a lease.
fn live_key(event: &Event) -> Option<Vec<u8>> {
    let ids = ids();
    if let Some(word) = event.bytes_of(ids.lease_event) {
        if word == b"offer" || word == b"old" || word.is_empty() {
            return None;
        }
    }
    key(event)
}

fn key(event: &Event) -> Option<Vec<u8>> {
    let ids = ids();
    let (v4, v6) = (event.bytes_of(ids.address[0]), event.bytes_of(ids.address[1]));
    match (v4, v6) {
        (Some(a), _) if !a.is_empty() => Some(a.to_vec()),
        (_, Some(a)) if !a.is_empty() => {
            let mut k = a.to_vec();
            k.push(b'/');
            k.extend_from_slice(event.bytes_of(ids.lease6_type).unwrap_or_default());
            Some(k)
        }
        _ => None,
    }
}

impl Replays {
    /// From the packet path, for a live event going to script `index`: mark its lease, if a
    /// replay runs for that script. Costs one atomic load when none runs.
    pub fn mark_live(&self, index: usize, event: &Event) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        self.live.fetch_add(1, Ordering::Relaxed);
        let shared = match lock(&self.current).as_ref() {
            Some(r) if !r.shared.finished.load(Ordering::SeqCst) => Arc::clone(&r.shared),
            _ => return,
        };
        let Some(script) = shared.scripts.iter().find(|s| s.index == index) else { return };
        // Before its `begin`, a live event reaches the script before `begin` too: a mark-and-sweep
        // script forgets it there, so its `old` must still come.
        if !script.begun.load(Ordering::SeqCst) {
            return;
        }
        let mut keys: Vec<Vec<u8>> = live_key(event).into_iter().collect();
        keys.extend(event.elements().filter_map(live_key));
        if !keys.is_empty() {
            lock(&script.touched).extend(keys);
        }
    }

    /// Stop a running replay (at unload), waiting for its thread.
    pub fn stop(&self) {
        self.active.store(false, Ordering::Release);
        // Out of the lock first: a callout's mark may wait for it while the thread ends.
        let replay = lock(&self.current).take();
        drop(replay);
    }
}

/// The answer to a start: a new replay's number (0: none started), and Kea's command answer.
fn answer(generation: u64, result: i32, text: String, arguments: serde_json::Value) -> bridge::ReplayStart {
    bridge::ReplayStart { generation, result, text, arguments: arguments.to_string() }
}

/// Start a replay of hook point `hook` (Kea's thread: at load, or the command `runscript-replay`).
/// Refused when one runs, or when no script selected `hook`.
pub fn begin(runtime: &Arc<Runtime>, hook: u16, why: &str) -> bridge::ReplayStart {
    let name = hook_name(hook);
    let replays = &runtime.replays;
    let last = || -> serde_json::Value {
        match &*lock(&replays.last) {
            Some((h, outcomes)) if *h == hook => outcomes
                .iter()
                .map(|o| serde_json::json!({"script": o.script, "delivered": o.delivered, "failed": o.failed}))
                .collect(),
            _ => serde_json::Value::Array(Vec::new()),
        }
    };
    let indices: Vec<usize> = runtime.scripts_at(hook).to_vec();
    if indices.is_empty() {
        let text = format!("no script selected {name} (add it to a script's hook-points)");
        return answer(0, 1, text, serde_json::json!({}));
    }
    let mut current = lock(&replays.current);
    if let Some(r) = current.as_ref() {
        if !r.shared.finished.load(Ordering::SeqCst) {
            let delivered = r.shared.scripts.iter().map(|s| s.delivered.load(Ordering::Relaxed)).max().unwrap_or(0);
            let text = format!("a replay of {name} is running ({delivered} leases delivered so far): try again when it ends");
            return answer(0, 1, text, serde_json::json!({"last": last()}));
        }
    }
    // The previous replay's thread has ended (or is about to): join it.
    drop(current.take());
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    let scripts = indices
        .iter()
        .map(|&index| ScriptReplay {
            index,
            touched: Mutex::new(HashSet::new()),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            runs: Arc::new(RunTally::default()),
            begun: AtomicBool::new(false),
        })
        .collect();
    let shared = Arc::new(ReplayShared {
        generation,
        hook,
        // The first page is posted by the caller as soon as this returns.
        backlog: Mutex::new(Backlog { reading: true, more: true, ..Backlog::default() }),
        arrived: Condvar::new(),
        cancel: AtomicBool::new(false),
        finished: AtomicBool::new(false),
        scripts,
    });
    let (theirs, rt) = (Arc::clone(&shared), Arc::clone(runtime));
    let thread = std::thread::Builder::new().name("kea-runscript-r".into()).spawn(move || deliver_all(&rt, &theirs));
    let thread = match thread {
        Ok(t) => t,
        Err(e) => return answer(0, 1, format!("cannot start the replay's thread: {e}"), serde_json::json!({})),
    };
    *current = Some(Replay { shared, thread: Some(thread) });
    replays.active.store(true, Ordering::Release);
    log(msg::REPLAY_STARTED, [name, why]);
    let paths: Vec<String> = indices.iter().map(|&i| runtime.script_path(i)).collect();
    let text = format!("replay of {name} started for {} script(s)", paths.len());
    answer(generation, 0, text, serde_json::json!({"hook-point": name, "scripts": paths, "last": last()}))
}

fn shared_of(runtime: &Runtime, generation: u64) -> Option<Arc<ReplayShared>> {
    let current = lock(&runtime.replays.current);
    let r = current.as_ref()?;
    (r.shared.generation == generation && !r.shared.cancel.load(Ordering::SeqCst)).then(|| Arc::clone(&r.shared))
}

/// Kea's thread, before it reads a page: whether replay `generation` still wants it.
pub fn wants_page(runtime: &Runtime, generation: u64) -> bool {
    shared_of(runtime, generation).is_some()
}

/// Kea's thread: one held lease read.
pub fn push(runtime: &Runtime, generation: u64, event: Box<Event>) {
    if let Some(s) = shared_of(runtime, generation) {
        // Not rung per lease: the page's end rings (a page is read in a few milliseconds).
        lock(&s.backlog).events.push_back(event);
    }
}

/// Kea's thread: a page is read, in `micros` of Kea's thread; `more` if the database may have
/// more, `error` if it failed.
pub fn page_read(runtime: &Runtime, generation: u64, more: bool, error: &str, micros: u64) {
    if let Some(s) = shared_of(runtime, generation) {
        let mut b = lock(&s.backlog);
        b.reading = false;
        b.cost = Duration::from_micros(micros);
        b.read_at = Some(Instant::now());
        b.more = more && error.is_empty();
        if !error.is_empty() {
            log(msg::REPLAY_READ_FAILED, [hook_name(s.hook), error]);
            b.error = Some(error.to_string());
        }
        drop(b);
        s.arrived.notify_all();
    }
}

/// The replay's thread: `begin`, every lease as it is read, `end`.
fn deliver_all(runtime: &Runtime, s: &ReplayShared) {
    let started = Instant::now();
    for script in &s.scripts {
        let begin = bridge::replay_mark_event(s.hook, "begin", 0, 0, false);
        // Background runs may run side by side: a lease's must not start before `begin`'s ended.
        let ran = Arc::new(RunTally::default());
        deliver(runtime, s, script, &begin, None, &ran);
        ran.wait_all(&s.cancel);
    }
    let mut live_seen = runtime.replays.live.load(Ordering::Relaxed);
    loop {
        let (event, ask) = {
            let mut b = lock(&s.backlog);
            loop {
                if s.cancel.load(Ordering::SeqCst) {
                    return;
                }
                // The next page once fewer than half a page wait (also when none does: the
                // scripts may keep up with the reading) and, while Kea serves packets, once
                // Kea's thread has had its share since the last page.
                let mut ask = b.more && !b.reading && b.events.len() < (REPLAY_PAGE as usize) / 2;
                let mut due = None;
                if ask {
                    let live = runtime.replays.live.load(Ordering::Relaxed);
                    if live != live_seen {
                        let pause = b.cost * (100 - REPLAY_SHARE as u32) / REPLAY_SHARE as u32;
                        due = b.read_at.map(|t| t + pause).filter(|&t| t > Instant::now());
                        ask = due.is_none();
                        if ask {
                            live_seen = live;
                        }
                    }
                }
                if ask {
                    b.reading = true;
                }
                let event = b.events.pop_front();
                if ask || event.is_some() || (!b.reading && !b.more) {
                    break (event, ask);
                }
                let wait = due.map_or(Duration::from_millis(50), |t| t.saturating_duration_since(Instant::now()));
                b = s.arrived.wait_timeout(b, wait.min(Duration::from_millis(50))).unwrap_or_else(|p| p.into_inner()).0;
            }
        };
        if ask && !bridge::replay_post_page(s.generation) {
            page_read_failed(s, "Kea's IO service is gone");
        }
        let Some(event) = event else {
            let b = lock(&s.backlog);
            if b.events.is_empty() && !b.reading && !b.more {
                break;
            }
            continue;
        };
        let key = key(&event);
        for script in &s.scripts {
            if deliver(runtime, s, script, &event, key.as_deref(), &script.runs) {
                script.delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let mut outcomes = Vec::new();
    for script in &s.scripts {
        let failed = script.failed.load(Ordering::Relaxed) + script.runs.wait_all(&s.cancel);
        if s.cancel.load(Ordering::SeqCst) {
            return;
        }
        let delivered = script.delivered.load(Ordering::Relaxed);
        let end = bridge::replay_mark_event(s.hook, "end", delivered as i64, failed as i64, true);
        deliver(runtime, s, script, &end, None, &Arc::new(RunTally::default()));
        outcomes.push(Outcome { script: runtime.script_path(script.index), delivered, failed });
    }
    let summary: Vec<String> =
        outcomes.iter().map(|o| format!("{}: {} delivered, {} failed", o.script, o.delivered, o.failed)).collect();
    let error = lock(&s.backlog).error.clone().map(|e| format!(" (reading stopped: {e})")).unwrap_or_default();
    let took = format!("{}; {} ms{error}", summary.join("; "), started.elapsed().as_millis());
    *lock(&runtime.replays.last) = Some((s.hook, outcomes));
    s.finished.store(true, Ordering::SeqCst);
    runtime.replays.active.store(false, Ordering::Release);
    log(msg::REPLAY_DONE, [hook_name(s.hook), &took]);
}

fn page_read_failed(s: &ReplayShared, why: &str) {
    let mut b = lock(&s.backlog);
    b.reading = false;
    b.more = false;
    b.error = Some(why.to_string());
    drop(b);
    log(msg::REPLAY_READ_FAILED, [hook_name(s.hook), why]);
}

/// Deliver `event` to one script, losslessly; a replayed lease (`key`) only if no live event
/// touched it; a background run tells `tally` how it ended. Returns whether it was delivered.
fn deliver(
    runtime: &Runtime,
    s: &ReplayShared,
    script: &ScriptReplay,
    event: &Event,
    key: Option<&[u8]>,
    tally: &Arc<RunTally>,
) -> bool {
    let runner = runtime.runner(script.index);
    let config = runner.script();
    let hook = hook_name(s.hook);
    // `begin` marks the script begun in the same step that queues (or runs) it: under the
    // queue's lock (or the touched set's), as the live marks.
    let begin = event.bytes_of(ids().phase) == Some(b"begin");
    let fresh = || {
        if begin {
            script.begun.store(true, Ordering::SeqCst);
        }
        key.is_none_or(|k| !lock(&script.touched).contains(k))
    };
    // The event's id is given once it is sure to be delivered (a stale lease gets none): its
    // script's sequence has no gap for a lease left out.
    let index = script.index;
    match runner {
        Runner::Spawn(spawn) if config.wait => {
            let touched = lock(&script.touched);
            script.begun.fetch_or(begin, Ordering::SeqCst);
            if key.is_some_and(|k| touched.contains(k)) {
                return false;
            }
            let mut env = event.environment(runtime.view(index), &config.extra_env);
            runtime.stamp_env(index, &mut env);
            if spawn.run_waited(hook, &env) != Some(0) && key.is_some() {
                script.failed.fetch_add(1, Ordering::Relaxed);
            }
            true
        }
        Runner::Spawn(spawn) => {
            let env = event.environment(runtime.view(index), &config.extra_env);
            let admit = |env: &mut Environment| {
                let admitted = fresh();
                if admitted {
                    runtime.stamp_env(index, env);
                }
                admitted
            };
            spawn.submit_waiting(hook, env, tally, admit, &s.cancel) == Waited::Queued
        }
        Runner::Worker(worker) if config.wait => {
            let touched = lock(&script.touched);
            script.begun.fetch_or(begin, Ordering::SeqCst);
            if key.is_some_and(|k| touched.contains(k)) {
                return false;
            }
            let mut line = event.json_line(runtime.view(index));
            runtime.stamp_line(index, &mut line);
            if worker.request(line).is_none() && key.is_some() {
                script.failed.fetch_add(1, Ordering::Relaxed);
            }
            true
        }
        Runner::Worker(worker) => {
            let admit = |line: &mut Vec<u8>| {
                let admitted = fresh();
                if admitted {
                    runtime.stamp_line(index, line);
                }
                admitted
            };
            worker.submit_waiting(event.json_line(runtime.view(index)), admit, &s.cancel) == Waited::Queued
        }
    }
}
