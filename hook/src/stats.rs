//! The library's statistics (spec/spec.toml's `[[statistic]]`): counted per script with one
//! relaxed atomic add where the thing happens (the packet path, the library's threads), read
//! together by [`snapshot`](ScriptStats::snapshot) for Kea's statistics manager (shim/stats.cc
//! publishes them on Kea's own thread) and for `runscript-status`.

use crate::log::{log, Message};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

/// A statistic's name (after `runscript[N].`).
pub struct Statistic {
    pub name: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/statistics.rs"));

/// Every statistic's value, indexed by `Stat as usize`.
pub type Values = [i64; STATISTICS.len()];

/// The last warning or error logged about a script, for `runscript-status`.
#[derive(Clone)]
pub struct LastError {
    pub id: &'static str,
    pub text: String,
    pub at: SystemTime,
}

/// One script's counts since load.
pub struct ScriptStats {
    values: [AtomicI64; STATISTICS.len()],
    last_error: Mutex<Option<LastError>>,
    /// When the script was loaded (uptime of `runscript-status`).
    pub loaded: Instant,
}

impl Default for ScriptStats {
    fn default() -> ScriptStats {
        ScriptStats { values: std::array::from_fn(|_| AtomicI64::new(0)), last_error: Mutex::new(None), loaded: Instant::now() }
    }
}

impl ScriptStats {
    pub fn count(&self, stat: Stat) {
        self.add(stat, 1);
    }

    pub fn add(&self, stat: Stat, n: i64) {
        self.values[stat as usize].fetch_add(n, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub fn get(&self, stat: Stat) -> i64 {
        self.values[stat as usize].load(Ordering::Relaxed)
    }

    /// The counts; the caller sets the gauges (and what its runner counts itself).
    pub fn snapshot(&self) -> Values {
        std::array::from_fn(|i| self.values[i].load(Ordering::Relaxed))
    }

    /// Log `message` about this script and keep it as its last error (`id`: the message's id).
    pub fn error<const N: usize>(&self, message: Message<N>, args: [&str; N]) {
        log(message, args);
        let text = args.iter().filter(|a| !a.is_empty()).copied().collect::<Vec<_>>().join(": ");
        let last = LastError { id: message.id(), text, at: SystemTime::now() };
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(last);
    }

    pub fn last_error(&self) -> Option<LastError> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// `name` as Kea's statistics manager names it for script `index` (from 0) or, with `None`, for
/// the sum over the scripts.
pub fn kea_name(index: Option<usize>, stat: &Statistic) -> String {
    match index {
        Some(i) => format!("runscript[{}].{}", i + 1, stat.name),
        None => format!("runscript.{}", stat.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_keas_pattern() {
        assert_eq!(STATISTICS[Stat::Runs as usize].name, "runs");
        assert_eq!(kea_name(Some(0), &STATISTICS[Stat::ExitedNonzero as usize]), "runscript[1].exited-nonzero");
        assert_eq!(kea_name(None, &STATISTICS[Stat::RepliesMissing as usize]), "runscript.replies-missing");
    }

    #[test]
    fn counts_add_up() {
        let s = ScriptStats::default();
        s.count(Stat::Runs);
        s.add(Stat::Runs, 2);
        assert_eq!(s.get(Stat::Runs), 3);
        assert_eq!(s.snapshot()[Stat::Runs as usize], 3);
        assert_eq!(s.snapshot()[Stat::Dropped as usize], 0);
    }
}
