//! The library's state between `load()` and `unload()`, and what a callout does with its event.

use crate::config::{self, Config};
use crate::event::Event;
use crate::ffi::bridge::{log, LogMsg};
use crate::reaper::Reaper;
use crate::spawn::{self, Child, Outcome};
use crate::table::HOOK_POINTS;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

struct Runtime {
    config: Config,
    /// Collects background (`wait: false`) scripts so that none is left a zombie.
    reaper: Reaper,
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
        let config = config::parse(parameters_json)?;
        let hooks = HOOK_POINTS.iter().filter(|h| i32::from(h.family) == family).count();
        let summary = format!(
            "script {}, wait {}, {hooks} DHCPv{family} hook points",
            config.script.to_string_lossy(),
            config.wait
        );
        let reaper = Reaper::start().map_err(|e| format!("cannot start the background reaper: {e}"))?;
        drop(replace(Some(Arc::new(Runtime { config, reaper }))));
        Ok(summary)
    })
    .unwrap_or_else(|_| Err("internal error (panic) while reading the parameters".into()))
}

/// `unload()`, or a `load()` that failed after `configure()`.
pub fn shutdown() {
    // Dropping the runtime stops its reaper (once a callout still running, if any, is done).
    let _ = catch_unwind(|| drop(replace(None)));
}

pub fn new_event(hook: u16) -> Box<Event> {
    Box::new(Event::new(hook))
}

/// Run the script for one hook point. Never panics across the FFI boundary, never blocks on
/// anything but the script itself (and only when `wait` is true).
pub fn dispatch(event: Box<Event>) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let Some(runtime) = current() else { return };
        let hook = event.hook_point();
        let env = event.environment();
        let child = match spawn::spawn(&runtime.config.script, hook, &env) {
            Ok(child) => child,
            Err(e) => return log(LogMsg::SpawnFailed, hook, &e.to_string()),
        };
        if runtime.config.wait {
            report(hook, &child, spawn::wait(&child));
        } else {
            runtime.reaper.adopt(hook, child);
        }
    }));
    if result.is_err() {
        log(LogMsg::InternalError, "panic while running the script", "");
    }
}

/// Log how a script ended, when that is worth telling.
pub fn report(hook: &str, child: &Child, outcome: Outcome) {
    match outcome {
        Outcome::Exited(0) => {}
        Outcome::Exited(code) => log(LogMsg::ScriptExit, hook, &format!("status {code} (pid {})", child.pid)),
        Outcome::Signaled(sig) => log(LogMsg::ScriptSignaled, hook, &format!("signal {sig} (pid {})", child.pid)),
        Outcome::Lost => log(LogMsg::StatusLost, hook, &child.pid.to_string()),
    }
}
