//! The library's state between `load()` and `unload()`, and what a callout does with its event.

use crate::event::Event;
use crate::ffi::bridge::{log, LogMsg};
use crate::spawn::{self, Deadline, Outcome};
use crate::supervisor::{report_deadline, Limits, Supervisor};
use crate::table::{HookPoint, HOOK_POINTS};
use kea_runscript_config::{self as config, Action, Config};
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};
use std::time::Instant;

struct Runtime {
    config: Config,
    /// Starts background runs, collects scripts, reads their output (see supervisor.rs).
    supervisor: Supervisor,
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
            "script {}, wait {}, timeout-ms {}, {hooks} DHCPv{family} hook points",
            config.script.to_string_lossy(),
            config.wait,
            config.timeout.as_millis()
        );
        let limits =
            Limits { timeout: config.timeout, max_running: config.max_running, max_queued: config.max_queued };
        let supervisor = Supervisor::start(config.script.clone(), limits)
            .map_err(|e| format!("cannot start the library's thread: {e}"))?;
        drop(replace(Some(Arc::new(Runtime { config, supervisor }))));
        Ok(summary)
    })
    .unwrap_or_else(|_| Err("internal error (panic) while reading the parameters".into()))
}

/// `unload()`, or a `load()` that failed after `configure()`.
pub fn shutdown() {
    // Dropping the runtime stops its thread (once a callout still running, if any, is done).
    let _ = catch_unwind(|| drop(replace(None)));
}

pub fn new_event(hook: u16) -> Box<Event> {
    Box::new(Event::new(hook))
}

/// What the callout tells Kea (`CalloutHandle::NextStep`): 0 continue, 1 skip, 2 drop.
pub const CONTINUE: u8 = 0;
pub const SKIP: u8 = 1;
pub const DROP: u8 = 2;

/// Run the script for one hook point. Never panics across the FFI boundary; blocks only with
/// `wait: true`, and then at most `timeout-ms` plus two short graces.
pub fn dispatch(event: Box<Event>) -> u8 {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let Some(runtime) = current() else { return CONTINUE };
        let Some(hook) = event.hook() else { return CONTINUE };
        let env = event.environment();
        if runtime.config.wait {
            run_waited(&runtime, hook, env)
        } else {
            runtime.supervisor.submit(hook.name, env);
            CONTINUE
        }
    }));
    result.unwrap_or_else(|_| {
        log(LogMsg::InternalError, "panic while running the script", "");
        CONTINUE
    })
}

fn run_waited(runtime: &Runtime, hook: &'static HookPoint, env: Vec<std::ffi::CString>) -> u8 {
    let child = match spawn::spawn(&runtime.config.script, hook.name, &env) {
        Ok(child) => child,
        Err(e) => {
            log(LogMsg::SpawnFailed, hook.name, &e.to_string());
            return CONTINUE;
        }
    };
    let process = child.process;
    let watch: Option<OwnedFd> = process.pidfd.as_ref().and_then(|fd| fd.as_fd().try_clone_to_owned().ok());
    runtime.supervisor.adopt_output(hook.name, process.pid, watch, [child.stdout, child.stderr]);

    let mut deadline = Deadline::new(runtime.config.timeout);
    let outcome = loop {
        if let Some(outcome) = spawn::wait_until(&process, deadline.due()) {
            break outcome;
        }
        let pid = process.pid;
        if !deadline.step(pid, Instant::now(), |stage, elapsed| report_deadline(hook.name, pid, stage, elapsed)) {
            break Outcome::Lost;
        }
    };
    report(hook.name, process.pid, &outcome);
    let Outcome::Exited(code) = outcome else { return CONTINUE };
    let next = match runtime.config.exit_status[code as usize] {
        Action::Skip if hook.skip => SKIP,
        Action::Drop if hook.drop => DROP,
        _ => return CONTINUE,
    };
    let detail = format!("exit status {code}: {}", if next == SKIP { "skip" } else { "drop" });
    log(LogMsg::ExitStatusAction, hook.name, &detail);
    next
}

/// Log how a script ended, when that is worth telling.
pub fn report(hook: &str, pid: libc::pid_t, outcome: &Outcome) {
    match outcome {
        Outcome::Exited(0) => {}
        Outcome::Exited(code) => log(LogMsg::ScriptExit, hook, &format!("status {code} (pid {pid})")),
        Outcome::Signaled(sig) => log(LogMsg::ScriptSignaled, hook, &format!("signal {sig} (pid {pid})")),
        Outcome::Lost => log(LogMsg::StatusLost, hook, &pid.to_string()),
    }
}
