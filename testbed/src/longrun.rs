//! What the long-running commands (`soak`, `memcheck`) drive: a Kea server with kea-runscript at
//! every hook point of its family in each way a script runs (spawned and waited for, spawned in
//! the background, a worker that answers, a worker in the background), continuous perfdhcp
//! traffic, `config-reload`s, worker kills, and figures read from `/proc/<pid>`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use crate::clients::Perfdhcp;
use crate::kea::{hook_library, Family, Kea, KeaConfig};
use crate::netns::Netns;
use crate::procs;
use crate::util::{other, read_pidfile, sh_quote, wait_until, write_executable};
use kea_runscript_config::table::HOOK_POINTS;

/// Every hook point of `family` that the installed Kea has, the library's own (`load`, `unload`,
/// the lease replay) included: the generated table, narrowed to that release.
pub fn all_hook_points(family: Family) -> Vec<&'static str> {
    let f = match family {
        Family::V4 => 4,
        Family::V6 => 6,
    };
    HOOK_POINTS.iter().filter(|h| h.in_family(f)).map(|h| h.name).collect()
}

/// The scripts of one server, in `dir`: a no-op spawned script, and a worker that writes its
/// pid to `wait.pid` (answering each line `continue`) or `background.pid` (reading only).
#[derive(Debug, Clone)]
pub struct Scripts {
    pub dir: PathBuf,
    pub spawned: PathBuf,
    pub worker: PathBuf,
}

impl Scripts {
    pub fn write(dir: &Path) -> io::Result<Scripts> {
        Scripts::write_with(dir, false)
    }

    /// Like [`Scripts::write`], the spawned script appending its hook point (argv[1]) to `hooks`.
    pub fn write_recording(dir: &Path) -> io::Result<Scripts> {
        Scripts::write_with(dir, true)
    }

    fn write_with(dir: &Path, record: bool) -> io::Result<Scripts> {
        fs::create_dir_all(dir)?;
        let spawned = dir.join("noop.sh");
        let body = if record {
            format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> {}\n", sh_quote(dir.join("hooks")))
        } else {
            "#!/bin/sh\nexit 0\n".to_string()
        };
        write_executable(&spawned, &body)?;
        let worker = dir.join("worker.sh");
        // Started as `worker.sh worker wait` (answers) or `worker.sh worker` (background).
        write_executable(
            &worker,
            &format!(
                "#!/bin/sh\n\
                 d={}\n\
                 kind=${{2:-background}}\n\
                 echo $$ > \"$d/$kind.pid.new\" && /bin/mv \"$d/$kind.pid.new\" \"$d/$kind.pid\"\n\
                 if [ \"$kind\" = wait ]; then\n\
                 \twhile IFS= read -r line; do echo continue; done\n\
                 else\n\
                 \twhile IFS= read -r line; do :; done\n\
                 fi\n",
                sh_quote(dir)
            ),
        )?;
        Ok(Scripts { dir: dir.to_path_buf(), spawned, worker })
    }

    /// kea-runscript's parameters: the four ways, each at every hook point in `hook_points`.
    pub fn params(&self, hook_points: &[&str], timeout_ms: u32) -> Value {
        let (s, w) = (self.spawned.to_string_lossy(), self.worker.to_string_lossy());
        json!({"scripts": [
            {"script": s, "wait": true, "timeout-ms": timeout_ms, "hook-points": hook_points},
            {"script": s, "wait": false, "timeout-ms": timeout_ms, "hook-points": hook_points},
            {"script": w, "mode": "worker", "wait": true, "timeout-ms": timeout_ms, "hook-points": hook_points},
            {"script": w, "mode": "worker", "wait": false, "timeout-ms": timeout_ms, "hook-points": hook_points},
        ]})
    }

    /// With [`Scripts::write_recording`]: how many times the spawned script ran at each hook point.
    pub fn hooks_reached(&self) -> std::collections::BTreeMap<String, u64> {
        let mut m = std::collections::BTreeMap::new();
        for h in fs::read_to_string(self.dir.join("hooks")).unwrap_or_default().lines() {
            *m.entry(h.to_string()).or_insert(0) += 1;
        }
        m
    }

    /// The pids the two workers wrote last: (answering, background).
    pub fn worker_pids(&self) -> (Option<u32>, Option<u32>) {
        (read_pidfile(&self.dir.join("wait.pid")), read_pidfile(&self.dir.join("background.pid")))
    }
}

/// A configuration for the long runs: kea-runscript (`so`) with [`Scripts::params`] at every hook
/// point, a control socket, leases of `lifetime` seconds reclaimed every second (expiry events),
/// Kea's multi-threading as asked (`None`: Kea's default), lease and packet logs at WARN.
pub fn config(family: Family, so: &Path, scripts: &Scripts, lifetime: u32, mt: Option<bool>, timeout_ms: u32) -> KeaConfig {
    let hp = all_hook_points(family);
    let mut cfg = KeaConfig::new(family)
        .hook(hook_library(so, scripts.params(&hp, timeout_ms)))
        .control_socket()
        .valid_lifetime(lifetime)
        .fast_reclaim()
        .quiet_logger("leases")
        .quiet_logger("packets");
    if family == Family::V6 {
        cfg = cfg.preferred_lifetime(lifetime * 3 / 4);
    }
    if let Some(on) = mt {
        cfg = cfg.extra(json!({"multi-threading": {"enable-multi-threading": on, "thread-pool-size": 2, "packet-queue-size": 16}}));
    }
    cfg
}

/// `config-reload` over the control socket; an error unless Kea answered result 0.
pub fn reload(kea: &Kea, timeout: Duration) -> io::Result<()> {
    let v = kea.command_timeout(r#"{"command": "config-reload"}"#, timeout)?;
    let v1 = if let Value::Array(a) = &v { a.first().cloned().unwrap_or_default() } else { v };
    match v1.get("result").and_then(Value::as_i64) {
        Some(0) => Ok(()),
        _ => Err(other(format!("config-reload: {v1}"))),
    }
}

/// SIGKILLs both workers (by the pids they wrote, each checked to be Kea's child first) and waits
/// until both have been restarted (new pids, Kea's children). Returns the (old, new) pids.
pub fn kill_workers(kea: &Kea, scripts: &Scripts, timeout: Duration) -> io::Result<Vec<(u32, u32)>> {
    let current = || -> io::Result<(u32, u32)> {
        wait_until(timeout, || {
            let (a, b) = scripts.worker_pids();
            let ours = |p: u32| procs::proc_entry(p).is_some_and(|e| e.ppid == kea.pid() && !e.is_zombie());
            match (a, b) {
                (Some(a), Some(b)) if ours(a) && ours(b) => Some((a, b)),
                _ => None,
            }
        })
        .map_err(|e| other(format!("the workers are not both running as Kea's children: {e}")))
    };
    let (a, b) = current()?;
    for p in [a, b] {
        // SAFETY: kill(2) on a pid just checked to be Kea's live child.
        if unsafe { libc::kill(p as libc::pid_t, libc::SIGKILL) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let (na, nb) = wait_until(timeout, || {
        let (x, y) = scripts.worker_pids();
        let ours = |p: u32| procs::proc_entry(p).is_some_and(|e| e.ppid == kea.pid() && !e.is_zombie());
        match (x, y) {
            (Some(x), Some(y)) if x != a && y != b && ours(x) && ours(y) => Some((x, y)),
            _ => None,
        }
    })
    .map_err(|e| other(format!("killed workers {a} and {b} were not both restarted: {e}")))?;
    Ok(vec![(a, na), (b, nb)])
}

/// Kea's figures at one moment, from `/proc/<pid>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Figures {
    pub rss_kb: u64,
    pub threads: usize,
    pub fds: usize,
    /// Live children (workers and running scripts).
    pub children: usize,
    pub zombies: usize,
}

impl Figures {
    pub fn take(pid: u32) -> io::Result<Figures> {
        let ch = procs::children(pid);
        Ok(Figures {
            rss_kb: procs::rss_kb(pid)?,
            threads: procs::thread_count(pid)?,
            fds: procs::fd_count(pid)?,
            zombies: ch.iter().filter(|c| c.is_zombie()).count(),
            children: ch.iter().filter(|c| !c.is_zombie()).count(),
        })
    }
}

/// Counts of a traffic loop.
#[derive(Debug, Default)]
pub struct Tally {
    pub runs: AtomicU64,
    pub failures: AtomicU64,
}

/// Runs `perf` (bounded by its `-p` period) again and again in the client namespace until `stop`.
pub fn traffic(ns: &Netns, perf: &Perfdhcp, stop: &AtomicBool, tally: &Tally) {
    while !stop.load(Ordering::SeqCst) {
        match perf.run(ns) {
            Ok(_) => tally.runs.fetch_add(1, Ordering::SeqCst),
            Err(_) => tally.failures.fetch_add(1, Ordering::SeqCst),
        };
    }
}

/// The statistic that counts the server's completed answers (ACK / REPLY sent).
pub fn answers_statistic(family: Family) -> &'static str {
    match family {
        Family::V4 => "pkt4-ack-sent",
        Family::V6 => "pkt6-reply-sent",
    }
}

/// The Theil–Sen slope of `ys` at `x = 0, 1, 2, ...`: the median of the slopes between every pair
/// of points, which a few outliers (a sample taken during a burst) do not move.
pub fn theil_sen(ys: &[f64]) -> f64 {
    let mut slopes = Vec::new();
    for i in 0..ys.len() {
        for j in i + 1..ys.len() {
            slopes.push((ys[j] - ys[i]) / (j - i) as f64);
        }
    }
    if slopes.is_empty() {
        return 0.0;
    }
    slopes.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = slopes.len();
    if n % 2 == 1 {
        slopes[n / 2]
    } else {
        (slopes[n / 2 - 1] + slopes[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theil_sen_ignores_an_outlier_and_sees_a_trend() {
        assert_eq!(theil_sen(&[5.0, 5.0, 50.0, 5.0, 5.0]), 0.0);
        assert!((theil_sen(&[1.0, 2.0, 3.0, 40.0, 5.0]) - 1.0).abs() < 1e-9);
        assert_eq!(theil_sen(&[7.0]), 0.0);
    }

    #[test]
    fn hook_points_are_the_familys_and_the_librarys() {
        let v4 = all_hook_points(Family::V4);
        let v6 = all_hook_points(Family::V6);
        for h in ["pkt4_receive", "leases4_committed", "lease4_replay", "load", "unload"] {
            assert!(v4.contains(&h), "{h}");
        }
        assert!(v6.contains(&"lease6_rebind") && v6.contains(&"unload") && !v6.contains(&"pkt4_receive"));
    }
}
