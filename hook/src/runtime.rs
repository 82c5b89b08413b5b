//! The library's state between `load()` and `unload()`, and what a callout does with its event.

use crate::environ::Environment;
use crate::event::Event;
use crate::ffi::bridge::{Namings, NextStep, ReplayStart};
use crate::replay::{self, Replays};
use crate::log::{log, msg, Message};
use crate::spawn_mode::SpawnScript;
use crate::worker_mode::Worker;
use kea_runscript_config::table::{HookPoint, HOOK_POINTS};
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
    fn start(script: Script) -> std::io::Result<Runner> {
        match script.mode {
            Mode::Spawn => SpawnScript::start(script).map(Runner::Spawn),
            Mode::Worker => {
                let env = Environment::from(&script.extra_env[..]);
                Worker::start(script, env).map(Runner::Worker)
            }
        }
    }

    pub fn script(&self) -> &Script {
        match self {
            Runner::Spawn(s) => s.script(),
            Runner::Worker(w) => w.script(),
        }
    }
}

pub struct Runtime {
    /// Each configured script, with the thread that serves it.
    scripts: Vec<Runner>,
    /// For each hook point id, the scripts that run there, in configuration order.
    by_hook: Vec<Vec<usize>>,
    /// For each hook point id, the namings of the scripts there.
    namings: Vec<Namings>,
    /// `options`: codes the callouts export from the query.
    options: Arc<[u16]>,
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
        let mut summary = Vec::new();
        let mut scripts = Vec::new();
        for (index, script) in config.scripts.into_iter().enumerate() {
            for &hook in &script.hooks {
                by_hook[hook as usize].push(index);
                namings[hook as usize] = namings[hook as usize].with(script.naming);
            }
            summary.push(script.describe());
            let what = match script.mode {
                Mode::Spawn => "the library's thread".to_string(),
                Mode::Worker => format!("the worker {}", script.script.to_string_lossy()),
            };
            // On failure, `scripts` (those started so far) is dropped: their threads and workers end.
            let runner = Runner::start(script).map_err(|e| format!("cannot start {what}: {e}"))?;
            scripts.push(runner);
        }
        let runtime = Runtime { scripts, by_hook, namings, options: Arc::from(config.options), replays: Replays::default() };
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

/// A panic-free call for the replay bridge functions (Kea's thread).
fn guarded<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        log(msg::INTERNAL_ERROR, ["panic in a replay", ""]);
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
            Box::new(Event::for_namings(hook, Arc::clone(&r.options), namings))
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
        let Some(hook) = event.hook() else { return NextStep::Continue };
        let Some(scripts) = runtime.by_hook.get(event.hook_id() as usize) else { return NextStep::Continue };
        // Each rendered once per naming, if some script needs it: the environment for runs, the
        // line for workers (both without `extra-env`, which is the script's own).
        let mut env: [Option<Environment>; 2] = [None, None];
        let mut line: [Option<Vec<u8>>; 2] = [None, None];
        let mut next = NextStep::Continue;
        for &index in scripts {
            let runner = &runtime.scripts[index];
            let (naming, extra) = (runner.script().naming, &runner.script().extra_env);
            // At a hook point with `each`, an element's event is for `KEA_*` names, the lists' for ISC's.
            if !hook.isc_lists.is_empty() && event.has_lists() != (naming == Naming::Isc) {
                continue;
            }
            match runner {
                Runner::Spawn(script) => {
                    // One script (the usual case): rendered with its `extra-env` at once.
                    let env = if scripts.len() == 1 {
                        event.environment(naming, extra)
                    } else {
                        env[naming as usize].get_or_insert_with(|| event.environment(naming, &[])).with_extra(extra)
                    };
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
                Runner::Worker(worker) => {
                    let line = line[naming as usize].get_or_insert_with(|| event.json_line(naming)).clone();
                    if worker.script().wait {
                        runtime.replays.mark_live(index, &event);
                        let reply = worker.request(line).unwrap_or(Action::Continue);
                        next = next.max(next_step(reply, hook, msg::WORKER_ACTION, "reply"));
                    } else {
                        worker.submit(line, || runtime.replays.mark_live(index, &event));
                    }
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
