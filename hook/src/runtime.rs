//! The library's state between `load()` and `unload()`, and what a callout does with its event.

use crate::environ::Environment;
use crate::event::{read_all, Event, View};
use crate::identity::{EventId, Identity, Stream};
use crate::stats::{self, ScriptStats, Values, STATISTICS};
use crate::thread::lock;
use std::sync::Mutex;
use crate::ffi::bridge::{Namings, NextStep, ReplayStart, StatValue};
use crate::replay::{self, Replays};
use crate::log::{log, msg, Message};
use crate::spawn_mode::SpawnScript;
use crate::worker_mode::{Unrendered, Worker};
use kea_runscript_config::table::{HookPoint, HOOK_POINTS, VARIABLES, VAR_KEA_EVENT_ID};
use kea_runscript_config::{self as config, Action, Mode, Naming, Script};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

/// A configured script and the thread that serves it.
pub enum Runner {
    /// `"mode": "spawn"`: a run per event; the thread runs the background ones.
    Spawn(SpawnScript),
    /// `"mode": "worker"`: one long-running process, fed by the thread.
    Worker(Worker),
}

impl Runner {
    fn start(script: Script, stats: Arc<ScriptStats>) -> std::io::Result<Runner> {
        match script.mode {
            Mode::Spawn => SpawnScript::start(script, stats).map(Runner::Spawn),
            Mode::Worker => {
                let env = Environment::from(&script.extra_env[..]);
                Worker::start(script, env, stats).map(Runner::Worker)
            }
        }
    }

    pub fn script(&self) -> &Script {
        match self {
            Runner::Spawn(s) => s.script(),
            Runner::Worker(w) => w.script(),
        }
    }

    /// Its statistics now (counts since load, gauges).
    pub fn statistics(&self) -> Values {
        match self {
            Runner::Spawn(s) => s.statistics(),
            Runner::Worker(w) => w.statistics(),
        }
    }
}

/// A configured script's own state besides its runner: its statistics and its event ids.
pub struct ScriptState {
    pub stats: Arc<ScriptStats>,
    pub stream: Stream,
    /// `"variables": [...]`: per variable id, whether the script gets it.
    pub only: Option<Arc<[bool]>>,
}

pub struct Runtime {
    /// Each configured script, with the thread that serves it.
    scripts: Vec<Runner>,
    /// For each hook point id, the scripts that run there, in configuration order.
    by_hook: Vec<Vec<usize>>,
    /// For each hook point id, the namings of the scripts there.
    namings: Vec<Namings>,
    /// For each hook point id, per variable id: 1 where a script there gets it.
    reads: Vec<Arc<[u8]>>,
    /// `options`: codes the callouts export from the query.
    options: Arc<[u16]>,
    /// What every event carries (`KEA_SERVER_NAME`).
    pub identity: Identity,
    /// Per script, in configuration order.
    pub states: Vec<ScriptState>,
    /// The statistics' values last given to Kea (per script, then the sums; `None`: never).
    published: Mutex<Vec<Option<i64>>>,
    pub replays: Replays,
}

impl Runtime {
    /// The scripts that run at hook point `hook`.
    pub fn scripts_at(&self, hook: u16) -> &[usize] {
        self.by_hook.get(hook as usize).map_or(&[], |s| &s[..])
    }

    pub fn runner(&self, index: usize) -> &Runner {
        &self.scripts[index]
    }

    pub fn script_path(&self, index: usize) -> String {
        self.scripts[index].script().script.to_string_lossy().into_owned()
    }

    pub fn runners(&self) -> &[Runner] {
        &self.scripts
    }

    /// How script `index` sees an event.
    pub fn view(&self, index: usize) -> View<'_> {
        View { naming: self.scripts[index].script().naming, only: self.states[index].only.as_deref() }
    }

    /// Script `index`'s next event id (`KEA_*` names only: ISC's have none; a `variables` list
    /// without `KEA_EVENT_ID` none either).
    pub fn event_id(&self, index: usize) -> Option<EventId> {
        let view = self.view(index);
        let shown = view.only.is_none_or(|only| only[VAR_KEA_EVENT_ID as usize]);
        (view.naming == Naming::Runscript && shown).then(|| self.states[index].stream.next())
    }

    /// Give script `index`'s event, rendered as `env`, its id.
    pub fn stamp_env(&self, index: usize, env: &mut Environment) {
        if let Some(id) = self.event_id(index) {
            id.append_to_env(env);
        }
    }

    /// The same for a worker's line.
    pub fn stamp_line(&self, index: usize, line: &mut Vec<u8>) {
        if let Some(id) = self.event_id(index) {
            id.append_to_line(line);
        }
    }
}

impl Runtime {
    /// Each script's statistics now, and their sums.
    pub fn statistics(&self) -> (Vec<Values>, Values) {
        let per: Vec<Values> = self.scripts.iter().map(Runner::statistics).collect();
        let mut sum = [0; STATISTICS.len()];
        for values in &per {
            for (total, v) in sum.iter_mut().zip(values) {
                *total += v;
            }
        }
        (per, sum)
    }

    /// The statistics that changed since the last call (every one: `all`), as Kea names them.
    fn statistics_changed(&self, all: bool) -> Vec<StatValue> {
        let (per, sum) = self.statistics();
        let mut published = lock(&self.published);
        let rows = per.iter().enumerate().map(|(i, v)| (Some(i), v)).chain([(None, &sum)]);
        let mut changed = Vec::new();
        for (row, (script, values)) in rows.enumerate() {
            for (i, &value) in values.iter().enumerate() {
                let slot = &mut published[row * STATISTICS.len() + i];
                if all || *slot != Some(value) {
                    *slot = Some(value);
                    changed.push(StatValue { name: stats::kea_name(script, &STATISTICS[i]), value });
                }
            }
        }
        changed
    }
}

/// The loaded runtime, if any (for the status command).
pub fn loaded() -> Option<Arc<Runtime>> {
    current()
}

pub fn statistics_changed(all: bool) -> Vec<StatValue> {
    guarded(Vec::new(), || current().map(|r| r.statistics_changed(all)).unwrap_or_default())
}

pub fn statistics_every_ms() -> i64 {
    crate::limits::STATS_EVERY.as_millis() as i64
}

static RUNTIME: RwLock<Option<Arc<Runtime>>> = RwLock::new(None);

fn current() -> Option<Arc<Runtime>> {
    RUNTIME.read().unwrap_or_else(|p| p.into_inner()).clone()
}

fn replace(new: Option<Arc<Runtime>>) -> Option<Arc<Runtime>> {
    std::mem::replace(&mut *RUNTIME.write().unwrap_or_else(|p| p.into_inner()), new)
}

/// `load()`: validate the parameters and start. Returns a one-line summary for the log.
pub fn configure(parameters_json: &str, family: i32) -> Result<String, String> {
    catch_unwind(|| {
        let family = u8::try_from(family).map_err(|_| format!("unknown DHCP family {family}"))?;
        let scripts_directory = config::scripts_directory(crate::ffi::bridge::script_paths_enforced());
        let config = config::parse_in(parameters_json, family, scripts_directory.as_deref())?;
        let mut by_hook = vec![Vec::new(); HOOK_POINTS.len()];
        let mut namings = vec![Namings::default(); HOOK_POINTS.len()];
        let mut reads = vec![vec![0u8; VARIABLES.len()]; HOOK_POINTS.len()];
        let mut summary = Vec::new();
        let mut scripts = Vec::new();
        let mut states = Vec::new();
        let identity = Identity::new(config.server_name.as_deref());
        for (index, script) in config.scripts.into_iter().enumerate() {
            let only: Option<Arc<[bool]>> = script.variables.as_ref().map(|ids| {
                let mut only = vec![false; VARIABLES.len()];
                ids.iter().for_each(|&id| only[id as usize] = true);
                only.into()
            });
            for &hook in &script.hooks {
                by_hook[hook as usize].push(index);
                namings[hook as usize] = namings[hook as usize].with(script.naming);
                for (read, id) in reads[hook as usize].iter_mut().zip(0..) {
                    *read |= only.as_ref().is_none_or(|only| only[id]) as u8;
                }
            }
            summary.push(script.describe());
            if let Some(today) = script.trust.unchecked() {
                log(msg::SCRIPT_UNCHECKED, [&script.script.to_string_lossy(), today]);
            }
            let what = match script.mode {
                Mode::Spawn => "the library's thread".to_string(),
                Mode::Worker => format!("the worker {}", script.script.to_string_lossy()),
            };
            // On failure, `scripts` (those started so far) is dropped: their threads and workers end.
            let state = ScriptState { stats: Arc::new(ScriptStats::default()), stream: Stream::new(&identity), only };
            let runner = Runner::start(script, Arc::clone(&state.stats)).map_err(|e| format!("cannot start {what}: {e}"))?;
            scripts.push(runner);
            states.push(state);
        }
        let runtime = Runtime {
            scripts,
            by_hook,
            namings,
            reads: reads.into_iter().map(Arc::from).collect(),
            options: Arc::from(config.options),
            published: Mutex::new(vec![None; (states.len() + 1) * STATISTICS.len()]),
            identity,
            states,
            replays: Replays::default(),
        };
        drop(replace(Some(Arc::new(runtime))));
        Ok(format!("DHCPv{family}: {}", summary.join("; ")))
    })
    .unwrap_or_else(|_| Err("internal error (panic) while reading the parameters".into()))
}

/// `unload()`, or a `load()` that failed after `configure()`.
pub fn shutdown() {
    // A replay's thread holds the runtime: stop it first. Dropping the runtime then stops its
    // threads (once a callout still running, if any, is done).
    let _ = catch_unwind(|| {
        if let Some(runtime) = replace(None) {
            runtime.replays.stop();
        }
    });
}

/// A panic-free call for the bridge functions Kea's thread calls (replays, statistics, commands).
pub fn guarded<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        log(msg::INTERNAL_ERROR, ["panic in a replay, the statistics or a command", ""]);
        fallback
    })
}

pub fn replay_begin(hook: u16, why: &str) -> ReplayStart {
    let refused = |text: &str| ReplayStart { generation: 0, result: 1, text: text.into(), arguments: "{}".into() };
    guarded(refused("internal error"), || match current() {
        Some(runtime) => replay::begin(&runtime, hook, why),
        None => refused("kea-runscript is not loaded"),
    })
}

pub fn replay_page_size() -> usize {
    crate::limits::REPLAY_PAGE as usize
}

pub fn replay_wants_page(generation: u64) -> bool {
    guarded(false, || current().is_some_and(|r| replay::wants_page(&r, generation)))
}

pub fn replay_push(generation: u64, event: Box<Event>) {
    guarded((), || {
        if let Some(r) = current() {
            replay::push(&r, generation, event);
        }
    })
}

pub fn replay_page_read(generation: u64, more: bool, error: &str, micros: u64) {
    guarded((), || {
        if let Some(r) = current() {
            replay::page_read(&r, generation, more, error, micros);
        }
    })
}

/// Whether some script runs at this hook point (only then is its callout registered).
pub fn hook_enabled(hook: u16) -> bool {
    current().is_some_and(|r| r.by_hook.get(hook as usize).is_some_and(|s| !s.is_empty()))
}

/// The namings of the scripts at this hook point (none when nothing is loaded): at a hook
/// point with `each`, `kea` asks for an event per element, `isc` for one event with the lists.
pub fn hook_namings(hook: u16) -> Namings {
    current().and_then(|r| r.namings.get(hook as usize).copied()).unwrap_or_default()
}

pub fn new_event(hook: u16) -> Box<Event> {
    match current() {
        Some(r) => {
            let namings = r.namings.get(hook as usize).copied().unwrap_or(Namings::BOTH);
            let reads = r.reads.get(hook as usize).cloned().unwrap_or_else(read_all);
            let mut event = Box::new(Event::for_namings(hook, Arc::clone(&r.options), namings, reads));
            r.identity.stamp_event(&mut event);
            event
        }
        None => Box::new(Event::new(hook, Arc::from(Vec::new()))),
    }
}

/// Run the scripts of one hook point, in configuration order. Never panics across the FFI
/// boundary; blocks only for waited-for scripts (and library hook points), each at most its
/// `timeout-ms` plus two short graces. Returns the strongest next step their exit statuses (or
/// their workers' replies) asked for.
pub fn dispatch(event: Box<Event>) -> NextStep {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let Some(runtime) = current() else { return NextStep::Continue };
        // Shared with the feeding threads of background workers, which render its lines.
        let event: Arc<Event> = Arc::from(event);
        let Some(hook) = event.hook() else { return NextStep::Continue };
        let Some(scripts) = runtime.by_hook.get(event.hook_id() as usize) else { return NextStep::Continue };
        // Each rendered once per naming, if some script needs it: the environment for runs, the
        // line for workers (both without `extra-env`, which is the script's own).
        let mut env: [Option<Environment>; 2] = [None, None];
        let mut line: [Option<Vec<u8>>; 2] = [None, None];
        let mut next = NextStep::Continue;
        for &index in scripts {
            let runner = &runtime.scripts[index];
            let (view, extra) = (runtime.view(index), &runner.script().extra_env);
            let naming = view.naming;
            // Rendered once per naming for the scripts that get every variable; a script with a
            // `variables` list gets its own.
            let shared = view.only.is_none() && scripts.len() > 1;
            // At a hook point with `each`, an element's event is for `KEA_*` names, the lists' for ISC's.
            if !hook.isc_lists.is_empty() && event.has_lists() != (naming == Naming::Isc) {
                continue;
            }
            match runner {
                Runner::Spawn(script) => {
                    // One script (the usual case): rendered with its `extra-env` at once.
                    let mut env = if shared {
                        env[naming as usize].get_or_insert_with(|| event.environment(naming, &[])).with_extra(extra)
                    } else {
                        event.environment(view, extra)
                    };
                    runtime.stamp_env(index, &mut env);
                    // `load` and `unload` are always waited for: an unload script must end before
                    // the library does.
                    if script.script().wait || hook.library {
                        runtime.replays.mark_live(index, &event);
                        if let Some(code) = script.run_waited(hook.name, &env) {
                            let action = script.script().exit_status[code as usize];
                            next = next.max(next_step(action, hook, msg::EXIT_STATUS_ACTION, &format!("exit status {code}")));
                        }
                    } else {
                        script.submit(hook.name, env, || runtime.replays.mark_live(index, &event));
                    }
                }
                Runner::Worker(worker) if worker.script().wait => {
                    let mut line = if shared {
                        line[naming as usize].get_or_insert_with(|| event.json_line(naming)).clone()
                    } else {
                        event.json_line(view)
                    };
                    runtime.stamp_line(index, &mut line);
                    runtime.replays.mark_live(index, &event);
                    let reply = worker.request(line).unwrap_or(Action::Continue);
                    next = next.max(next_step(reply, hook, msg::WORKER_ACTION, "reply"));
                }
                Runner::Worker(worker) => {
                    // Kea's thread only read the values: the feeding thread renders the line.
                    let only = runtime.states[index].only.clone();
                    let job = Unrendered { event: Arc::clone(&event), naming, only, id: runtime.event_id(index) };
                    worker.submit(job, || runtime.replays.mark_live(index, &event));
                }
            }
        }
        next
    }));
    result.unwrap_or_else(|_| {
        log(msg::INTERNAL_ERROR, ["panic while running the script", ""]);
        NextStep::Continue
    })
}

/// Kea's next step for what a script asked (its exit status through `exit-status`, or a worker's
/// reply), where Kea acts on it at this hook point; logged (`message`, at debug level) when not
/// continue.
fn next_step(action: Action, hook: &HookPoint, message: Message<2>, why: &str) -> NextStep {
    let (next, word) = match action {
        Action::Skip if hook.skip => (NextStep::Skip, "skip"),
        Action::Drop if hook.drop => (NextStep::Drop, "drop"),
        _ => return NextStep::Continue,
    };
    log(message, [hook.name, &format!("{why}: {word}")]);
    next
}
