//! The log catalogue's Rust side: the message ids generated from spec/spec.toml (`msg::…`, each
//! typed with its number of arguments, so a call with the wrong number does not compile), and
//! the logging of how a process ended and of each step of its time limit: one place for both
//! modes.

use crate::ffi::bridge::log_message;
use crate::limits::{KILL_GRACE_TEXT, STOP_GRACE_TEXT};
use crate::process::{Outcome, Stage};
use crate::stats::{ScriptStats, Stat};
use std::time::Duration;

/// A message of the catalogue that takes `N` arguments (`%1` … `%N` in its text).
#[derive(Clone, Copy)]
pub struct Message<const N: usize>(u16);

impl<const N: usize> Message<N> {
    pub const fn new(id: u16) -> Self {
        Message(id)
    }

    /// Its id as Kea logs it, e.g. `KRS_SCRIPT_EXIT`.
    pub fn id(self) -> &'static str {
        msg::IDS.get(self.0 as usize).copied().unwrap_or("KRS_?")
    }
}

/// The catalogue: `msg::LOADED`, `msg::SCRIPT_EXIT`, … (ids without `KRS_`).
pub mod msg {
    // Some are logged by the C++ side only (shim/entry.cc).
    #![allow(dead_code)]
    use super::Message;
    include!(concat!(env!("OUT_DIR"), "/messages.rs"));
}

/// Write `message` to Kea's log with its arguments.
pub fn log<const N: usize>(message: Message<N>, args: [&str; N]) {
    let arg = |i: usize| args.get(i).copied().unwrap_or("");
    log_message(message.0, arg(0), arg(1));
}

/// How a run of a spawned script ended, when that is worth telling (a zero exit is not);
/// counted in the script's statistics.
pub fn run_ended(stats: &ScriptStats, hook: &str, pid: libc::pid_t, outcome: &Outcome) {
    match outcome {
        Outcome::Exited(0) => {}
        Outcome::Exited(code) => {
            stats.count(Stat::ExitedNonzero);
            stats.error(msg::SCRIPT_EXIT, [hook, &format!("status {code} (pid {pid})")]);
        }
        Outcome::Signaled(sig) => {
            stats.count(Stat::Signaled);
            stats.error(msg::SCRIPT_SIGNALED, [hook, &format!("signal {sig} (pid {pid})")]);
        }
        Outcome::Lost => stats.error(msg::STATUS_LOST, [hook, &pid.to_string()]),
    }
}

/// A step of a run's time limit ([`crate::process::Deadline::step`]).
pub fn run_deadline(stats: &ScriptStats, hook: &str, pid: libc::pid_t, stage: Stage, elapsed: Duration) {
    let detail = format!("pid {pid}, {} ms after it started", elapsed.as_millis());
    match stage {
        Stage::Running => {}
        Stage::Terminated => {
            stats.count(Stat::Timeouts);
            stats.error(msg::SCRIPT_TIMEOUT, [hook, &detail]);
        }
        Stage::Killed => stats.error(msg::SCRIPT_KILLED, [hook, &detail]),
        Stage::GaveUp => stats.error(msg::STATUS_LOST, [hook, &pid.to_string()]),
    }
}

/// How a worker ended, as its exit and stop messages say it.
pub fn worker_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Exited(code) => format!("exit status {code}"),
        Outcome::Signaled(sig) => format!("killed by signal {sig}"),
        Outcome::Lost => "exit status collected elsewhere in Kea".into(),
    }
}

/// A step of a worker's end at unload: its stdin was closed, then the same steps as a run's
/// time limit.
pub fn worker_stop_step(name: &str, who: &str, stage: Stage, elapsed: Duration) {
    let step = match stage {
        Stage::Running => return,
        Stage::Terminated => format!("still running {STOP_GRACE_TEXT} after its stdin was closed: SIGTERM sent to its process group"),
        Stage::Killed => format!("outlived SIGTERM by {KILL_GRACE_TEXT}: SIGKILL sent to its process group"),
        Stage::GaveUp => "outlived SIGKILL: no longer followed".into(),
    };
    log(msg::WORKER_STOPPED, [name, &format!("{who}: {step} ({} ms)", elapsed.as_millis())]);
}
