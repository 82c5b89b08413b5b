//! The replay rows: held leases replayed at Kea's start (`lease4_replay`, `lease6_replay`) to a
//! worker and to a spawned no-op script. A lease file is written before Kea starts (memfile,
//! `persist: true`, `lfc-interval` 0); the replay's speed, whether every lease was delivered,
//! and Kea's memory before, during and after it.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use kea_runscript_testbed::procs::{children, rss_kb, Sampler};
use kea_runscript_testbed::serde_json::{json, Value};
use kea_runscript_testbed::{hook_library, Family, Kea, KeaConfig};

use crate::measure::{self, Bed};
use crate::rows::{base_config, replay_point, worker_wrapper, Leases};

/// Where the replay goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `"mode": "worker"`, `"wait": false`: bench/c/worker.c counts the lines it reads.
    Worker,
    /// `"wait": false`, `"max-running": 2`: the no-op `/bin/sh` script, one run per lease.
    Spawn,
}

#[derive(Debug, Clone)]
pub struct ReplayRow {
    pub id: &'static str,
    pub family: Family,
    pub target: Target,
    /// Held leases in the lease file (all replayed).
    pub leases: u64,
}

impl ReplayRow {
    pub fn label(&self) -> String {
        let to = match self.target {
            Target::Worker => "to a worker, async",
            Target::Spawn => "spawned, async, max-running 2",
        };
        format!("{}, {} leases, {to}", replay_point(self.family), crate::report::thousands(self.leases as f64))
    }

    fn params(&self, script: &Path, points: &[&str]) -> Value {
        let mut p = json!({"script": script.to_string_lossy(), "wait": false, "hook-points": points});
        match self.target {
            Target::Worker => p["mode"] = json!("worker"),
            Target::Spawn => p["max-running"] = json!(2),
        }
        p
    }
}

/// What one replay run measured.
#[derive(Debug, Clone, Default)]
pub struct ReplayResult {
    /// Kea's `KRS_REPLAY_DONE`: leases delivered, failed runs, milliseconds from the replay's
    /// start (at Kea's configuration) to its end.
    pub delivered: Option<u64>,
    pub failed: Option<u64>,
    pub kea_ms: Option<u64>,
    /// Worker: the replayed leases (`KEA_REPLAY_PHASE=lease` lines) it read.
    pub worker_lines: Option<u64>,
    /// Our clock: from Kea logging that it started (`DHCPx_STARTED`) to the `end` (read by the
    /// worker; for a spawned script, `KRS_REPLAY_DONE` seen in the log).
    pub own: Option<Duration>,
    /// Kea loading the lease file and starting.
    pub startup: Duration,
    /// VmRSS of Kea, kB: the same Kea with no replay (its hook at `leases*_committed`, idle)
    /// once started; this Kea as it logged that it started; the most while the replay ran;
    /// 0.5 s after it ended.
    pub rss_no_replay: Option<u64>,
    pub rss_before: Option<u64>,
    pub rss_peak: Option<u64>,
    pub rss_after: Option<u64>,
    /// The replay had not ended within the time limit.
    pub timed_out: bool,
    /// No replayed lease came (worker), no script ran (spawn), for the stall time, and no `end`:
    /// the replay was given up.
    pub stalled: bool,
    pub error: Option<String>,
}

impl ReplayResult {
    /// Leases per second by Kea's clock (the replay's own `KRS_REPLAY_DONE` time).
    pub fn rate(&self) -> Option<f64> {
        let (d, ms) = (self.delivered?, self.kea_ms?);
        Some(d as f64 * 1000.0 / (ms.max(1) as f64))
    }
    /// Leases per second by ours (Kea started → `end`).
    pub fn own_rate(&self, leases: u64) -> Option<f64> {
        self.own.map(|t| leases as f64 / t.as_secs_f64().max(1e-3))
    }
    /// Kea's memory before the replay: the lower of the same Kea without one and this one as
    /// it logged that it started.
    pub fn rss_base(&self) -> Option<u64> {
        match (self.rss_no_replay, self.rss_before) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Every lease delivered: Kea's count, and the worker's lines, equal the leases written;
    /// no run failed.
    pub fn all_delivered(&self, leases: u64) -> bool {
        self.delivered == Some(leases)
            && self.failed == Some(0)
            && self.worker_lines.is_none_or(|w| w == leases)
            && !self.timed_out
    }
}

/// `KRS_REPLAY_DONE <hook>: replay ended: <script>: N delivered, F failed; <ms> ms`: (N, F, ms).
pub fn parse_done(log: &str) -> Option<(u64, u64, u64)> {
    let line = log.lines().find(|l| l.contains("KRS_REPLAY_DONE"))?;
    let num_before = |needle: &str| -> Option<u64> {
        let i = line.find(needle)?;
        let head = line[..i].trim_end();
        let start = head.rfind(|c: char| !c.is_ascii_digit()).map_or(0, |j| j + 1);
        head[start..].parse().ok()
    };
    Some((num_before(" delivered")?, num_before(" failed")?, num_before(" ms")?))
}

/// `KRS_REPLAY_STOPPED <hook>: replay stopped: N leases delivered` (Kea stopped during it): N.
pub fn parse_stopped(log: &str) -> Option<u64> {
    let line = log.lines().find(|l| l.contains("KRS_REPLAY_STOPPED"))?;
    let i = line.find(" leases delivered")?;
    let head = &line[..i];
    let start = head.rfind(|c: char| !c.is_ascii_digit())? + 1;
    head[start..].parse().ok()
}

fn config(bed: &Bed, row: &ReplayRow, script: &Path, replay: bool) -> KeaConfig {
    let point = if replay {
        replay_point(row.family)
    } else {
        match row.family {
            Family::V4 => "leases4_committed",
            Family::V6 => "leases6_committed",
        }
    };
    base_config(row.family, Leases::PersistHeld(row.leases), &bed.ns.server_if)
        .hook(hook_library(&bed.so, row.params(script, &[point])))
}

fn start<'a>(bed: &'a Bed, row: &ReplayRow, cfg: &KeaConfig, leases: &Path) -> Result<Kea<'a>, String> {
    let mut copy_err = None;
    let kea = Kea::start_text(bed.ns, row.family, |kdir| {
        if let Err(e) = fs::copy(leases, kdir.join(row.family.lease_file())) {
            copy_err = Some(e);
        }
        cfg.render(&bed.ns.server_if, kdir)
    });
    if let Some(e) = copy_err {
        return Err(format!("copying the held leases: {e}"));
    }
    kea.map_err(|e| e.to_string().lines().filter(|l| l.contains("ERROR") || l.contains("FATAL")).take(4).collect::<Vec<_>>().join("\n"))
}

/// Stops Kea; its log (with what it logged at unload).
fn finish(kea: Kea) -> String {
    let dir = kea.dir().to_path_buf();
    kea.stop();
    let log = kea.log();
    drop(kea);
    let _ = fs::remove_dir_all(dir);
    log
}

/// Runs `row` once: the same Kea without a replay first (its memory), then with one; waits at
/// most `limit` for the replay to end, and gives a worker replay up when no lease came for
/// `stall`.
pub fn run(bed: &Bed, row: &ReplayRow, limit: Duration, stall: Duration) -> ReplayResult {
    let mut r = ReplayResult::default();
    if let Err(e) = run_into(bed, row, limit, stall, &mut r) {
        r.error = Some(e);
    }
    r
}

fn run_into(bed: &Bed, row: &ReplayRow, limit: Duration, stall: Duration, r: &mut ReplayResult) -> Result<(), String> {
    let leases = bed.held_file(row.family, row.leases).ok_or_else(|| format!("no lease file of {} leases", row.leases))?;
    let dir = bed.ns.subdir("replays").map_err(|e| e.to_string())?;
    let counts = dir.join("worker-counts");
    let _ = fs::remove_file(&counts);
    let script = match row.target {
        Target::Worker => worker_wrapper(&dir, &bed.worker_bin, &counts, false, crate::rows::Program::Counter).map_err(|e| e.to_string())?,
        Target::Spawn => bed.script.clone(),
    };

    // The same Kea, no replay: its memory once it has settled.
    let plain = start(bed, row, &config(bed, row, &script, false), &leases)?;
    std::thread::sleep(Duration::from_millis(500));
    r.rss_no_replay = rss_kb(plain.pid()).ok();
    let _ = finish(plain);
    let _ = fs::remove_file(&counts);

    let t = Instant::now();
    let kea = start(bed, row, &config(bed, row, &script, true), &leases)?;
    let started = Instant::now();
    let started_ns = measure::mono_ns();
    r.startup = started - t;
    let pid = kea.pid();
    r.rss_before = rss_kb(pid).ok();
    let sampler = Sampler::start(Duration::from_millis(10), move || rss_kb(pid).ok());
    let deadline = started + limit;
    let mut progress: (u64, Instant) = (0, started);
    let mut waited = Duration::ZERO;
    loop {
        if crate::interrupted().is_err() {
            return Err("interrupted".into());
        }
        let now = Instant::now();
        match row.target {
            Target::Worker => {
                if let Some(c) = measure::read_counts(&counts) {
                    if c.end_ns > 0 {
                        r.own = Some(Duration::from_nanos(c.end_ns.saturating_sub(started_ns)));
                        break;
                    }
                    let n = c.phases.get("lease").copied().unwrap_or(0);
                    if n != progress.0 {
                        progress = (n, now);
                    } else if now.duration_since(progress.1) >= stall {
                        r.stalled = true;
                        r.timed_out = true;
                        waited = progress.1 - started;
                        break;
                    }
                }
            }
            Target::Spawn => {
                if kea.log().contains("KRS_REPLAY_DONE") {
                    r.own = Some(now - started);
                    break;
                }
                // Progress: a script run (a child of Kea) seen.
                if !children(pid).is_empty() {
                    progress = (progress.0 + 1, now);
                } else if now.duration_since(progress.1) >= stall {
                    r.stalled = true;
                    r.timed_out = true;
                    waited = progress.1 - started;
                    break;
                }
            }
        }
        if now >= deadline {
            r.timed_out = true;
            waited = now - started;
            break;
        }
        if let Some(st) = kea.exited() {
            return Err(format!("Kea exited ({st}) during the replay"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Our polling may see the end a little late: the log's line comes once the last run ended.
    let _ = kea.wait_log("KRS_REPLAY_DONE", if r.timed_out { Duration::from_millis(1) } else { Duration::from_secs(10) });
    std::thread::sleep(Duration::from_millis(500));
    r.rss_after = rss_kb(pid).ok();
    let samples = sampler.stop();
    r.rss_peak = samples.into_iter().flatten().chain(r.rss_before).chain(r.rss_after).max();
    if std::env::var_os("KRS_BENCH_DEBUG").is_some() {
        let log = kea.log();
        let krs: Vec<&str> = log.lines().filter(|l| l.contains("KRS_") || l.contains("ERROR") || l.contains("WARN")).collect();
        eprintln!("bench: debug: Kea's log, KRS_ / WARN / ERROR lines:\n{}", krs.join("\n"));
        if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                let p = t.path();
                let comm = fs::read_to_string(p.join("comm")).unwrap_or_default();
                let wchan = fs::read_to_string(p.join("wchan")).unwrap_or_default();
                eprintln!("bench: debug: thread {} {}: {wchan}", t.file_name().to_string_lossy(), comm.trim());
            }
        }
        if let Some(c) = measure::read_counts(&counts) {
            eprintln!("bench: debug: worker counts: {} events, phases {:?}", c.total, c.phases);
        }
    }
    let log = finish(kea);
    if let Some((d, f, ms)) = parse_done(&log) {
        r.delivered = Some(d);
        r.failed = Some(f);
        r.kea_ms = Some(ms);
    } else if let Some(d) = parse_stopped(&log) {
        // Given up: what it had delivered when Kea stopped, over the time it was given.
        r.delivered = Some(d);
        r.kea_ms = Some(waited.as_millis() as u64);
    }
    if row.target == Target::Worker {
        // Final counts: the worker saves them at end of input (Kea stopped).
        let c = measure::read_counts(&counts).ok_or("the worker wrote no counts")?;
        r.worker_lines = Some(c.phases.get("lease").copied().unwrap_or(0));
        if r.timed_out && r.delivered.is_none() {
            r.delivered = r.worker_lines;
            r.kea_ms = Some(waited.as_millis() as u64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_done_line() {
        let log = "2026-12-01 12:00:00.123 INFO  [kea-dhcp6.kea-runscript/42.140] KRS_REPLAY_DONE lease6_replay: replay ended: /tmp/x/worker-async.sh: 500000 delivered, 0 failed; 8123 ms\n";
        assert_eq!(parse_done(log), Some((500_000, 0, 8123)));
        assert_eq!(parse_done("nothing"), None);
        let stopped = "x INFO  [kea-dhcp4.kea-runscript/1.2] KRS_REPLAY_STOPPED lease4_replay: replay stopped: 1500 leases delivered\n";
        assert_eq!(parse_stopped(stopped), Some(1500));
        let r = ReplayResult { delivered: Some(1000), failed: Some(0), kea_ms: Some(500), worker_lines: Some(1000), ..Default::default() };
        assert_eq!(r.rate(), Some(2000.0));
        assert!(r.all_delivered(1000));
        assert!(!r.all_delivered(1001));
    }
}
