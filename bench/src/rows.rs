//! The benchmark's rows: what hook each one loads into Kea, how, and the Kea configuration.

use std::path::{Path, PathBuf};

use kea_runscript_config::table::HOOK_POINTS;
use kea_runscript_testbed::serde_json::{json, Value};
use kea_runscript_testbed::{hook_library, isc_run_script_params, Family, KeaConfig, ISC_RUN_SCRIPT};

use crate::leases::V4_HELD_POOL;

/// Addresses of the two ends on the benchmarking range (RFC 2544), and the served subnet.
pub const BENCH_SERVER_V4: &str = "198.18.0.1/15";
pub const BENCH_CLIENT_V4: &str = "198.18.0.2/15";
pub const BENCH_SUBNET_V4: &str = "198.18.0.0/15";
/// 131,061 addresses.
pub const BENCH_POOL_V4: &str = "198.18.0.10 - 198.19.255.254";
/// The served DHCPv6 subnet is the test bed's 2001:db8:1::/64, with a /96 pool.
pub const BENCH_SUBNET_V6: &str = "2001:db8:1::/64";
pub const BENCH_POOL_V6: &str = "2001:db8:1::1:0:0/96";

/// Which hook points a kea-runscript row uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Points {
    /// The seed's default hook points (the `hook-points` parameter left out).
    Default,
    /// `leases4_committed` / `leases6_committed` only.
    Committed,
    /// Every hook point of the family that Kea calls (the defaults and the committed one).
    All,
}

impl Points {
    /// The `hook-points` parameter, `None` for the defaults.
    pub fn names(self, family: Family) -> Option<Vec<&'static str>> {
        let f = family_num(family);
        match self {
            Points::Default => None,
            Points::Committed => Some(vec![match family {
                Family::V4 => "leases4_committed",
                Family::V6 => "leases6_committed",
            }]),
            Points::All => {
                Some(HOOK_POINTS.iter().filter(|h| h.family == f && !h.library).map(|h| h.name).collect())
            }
        }
    }

    /// Hook events per exchange (DORA, SARR with one IA_NA): the defaults fire at receive,
    /// subnet select, lease select and send for each of the two queries; committed once (the
    /// REQUEST's lease: a DISCOVER or SOLICIT commits nothing).
    pub fn events_per_exchange(self) -> u32 {
        match self {
            Points::Default => 8,
            Points::Committed => 1,
            Points::All => 9,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Points::Default => "default hook points",
            Points::Committed => "committed only",
            Points::All => "all hook points",
        }
    }
}

pub fn family_num(family: Family) -> u8 {
    match family {
        Family::V4 => 4,
        Family::V6 => 6,
    }
}

/// A worker row's worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// `bench/c/worker.c`: counts the lines it reads per hook point (answers them with `sync`).
    Counter,
    /// The same, given only [`chosen_variables`] (`"variables": [...]`).
    Chosen,
    /// `exec cat >> FILE`: a worker that costs almost nothing; the lines are counted from the file.
    Cat,
}

/// The chosen variables' row: what a worker feeding lease events elsewhere needs.
pub fn chosen_variables(family: Family) -> Vec<&'static str> {
    match family {
        Family::V4 => vec!["KEA_QUERY4_TYPE", "KEA_QUERY4_HWADDR", "KEA_LEASE4_ADDRESS", "KEA_SUBNET4_ID", "KEA_LEASE4_VALID_LIFETIME", "KEA_EVENT_ID"],
        Family::V6 => vec!["KEA_QUERY6_TYPE", "KEA_QUERY6_DUID", "KEA_LEASE6_ADDRESS", "KEA_SUBNET6_ID", "KEA_LEASE6_VALID_LIFETIME", "KEA_EVENT_ID"],
    }
}

/// The hook a row loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    None,
    /// ISC's `libdhcp_run_script.so`, `sync: false`, the no-op script.
    IscAsync,
    /// kea-runscript loaded with ISC's parameters as they are (`{"name": …, "sync": false}`):
    /// ISC's names and hook points, the no-op script spawned in the background.
    IscForm,
    /// kea-runscript spawning the no-op script at each event.
    Spawn { wait: bool, points: Points },
    /// kea-runscript's worker mode: one long-running worker gets each event as a JSON line.
    Worker { wait: bool, points: Points, program: Program },
    /// The fleet recipe's worker (`examples/nats/worker.py`), `wait: true`, `redeliver: true`,
    /// at the committed hook point: each lease published to a JetStream stream of 3 replicas
    /// (a 3-node cluster of Debian's nats-server), Kea going on once the broker acknowledged it.
    Nats,
}

impl Hook {
    pub fn events_per_exchange(self) -> Option<u32> {
        match self {
            Hook::Spawn { points, .. } | Hook::Worker { points, .. } => Some(points.events_per_exchange()),
            // ISC's hook points: leases*_committed once per exchange (the REQUEST's).
            Hook::IscForm | Hook::Nats => Some(1),
            Hook::None | Hook::IscAsync => None,
        }
    }

    /// Events may be queued (and dropped past the queue's bound) instead of run at once.
    pub fn background(self) -> bool {
        matches!(self, Hook::Spawn { wait: false, .. } | Hook::Worker { wait: false, .. } | Hook::IscForm)
    }

    pub fn is_worker(self) -> bool {
        matches!(self, Hook::Worker { .. })
    }

    pub fn is_runscript(self) -> bool {
        matches!(self, Hook::Spawn { .. } | Hook::Worker { .. } | Hook::IscForm | Hook::Nats)
    }
}

/// The lease database of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leases {
    /// memfile, `persist: false`, empty at start (every row but the two below).
    Memory,
    /// memfile, `persist: true` (lease file, `lfc-interval` 0), empty at start.
    PersistEmpty,
    /// memfile, `persist: true`, this many leases already held (a lease file written before
    /// Kea starts).
    PersistHeld(u64),
}

#[derive(Debug, Clone)]
pub struct Row {
    /// Short name, for `--rows`.
    pub id: &'static str,
    pub family: Family,
    pub hook: Hook,
    pub leases: Leases,
    /// The family's replay hook point (`lease4_replay`, `lease6_replay`) beside the row's own,
    /// and a replay kept running for the whole of each run (`runscript-replay` in a loop over
    /// the control socket): the `replay-dora` rows.
    pub replay: bool,
}

/// Every row id, in table order.
pub const ROW_IDS: &[&str] = &[
    "none",
    "isc-async",
    "runscript-isc-async",
    "spawn-sync",
    "spawn-async",
    "spawn-sync-committed",
    "spawn-sync-committed-queue",
    "spawn-sync-unchecked",
    "worker-async-all",
    "worker-async-all-chosen",
    "worker-cat-async",
    "worker-sync-committed",
    "spawn-async-persist",
    "spawn-async-held",
    "nats-sync-committed",
];

/// The rows of one family; `held` leases for the held-leases row (already capped to what the
/// family can hold).
pub fn rows(family: Family, held: u64) -> Vec<Row> {
    let spawn_async = Hook::Spawn { wait: false, points: Points::Default };
    let list = [
        ("none", Hook::None, Leases::Memory),
        ("isc-async", Hook::IscAsync, Leases::Memory),
        ("runscript-isc-async", Hook::IscForm, Leases::Memory),
        ("spawn-sync", Hook::Spawn { wait: true, points: Points::Default }, Leases::Memory),
        ("spawn-async", spawn_async, Leases::Memory),
        ("spawn-sync-committed", Hook::Spawn { wait: true, points: Points::Committed }, Leases::Memory),
        // The same with Kea's own queue control: a small ring that drops the oldest queries.
        ("spawn-sync-committed-queue", Hook::Spawn { wait: true, points: Points::Committed }, Leases::Memory),
        // spawn-sync without the trust check before each run: what the check costs.
        ("spawn-sync-unchecked", Hook::Spawn { wait: true, points: Points::Default }, Leases::Memory),
        ("worker-async-all", Hook::Worker { wait: false, points: Points::All, program: Program::Counter }, Leases::Memory),
        ("worker-async-all-chosen", Hook::Worker { wait: false, points: Points::All, program: Program::Chosen }, Leases::Memory),
        ("worker-cat-async", Hook::Worker { wait: false, points: Points::Default, program: Program::Cat }, Leases::Memory),
        ("worker-sync-committed", Hook::Worker { wait: true, points: Points::Committed, program: Program::Counter }, Leases::Memory),
        ("spawn-async-persist", spawn_async, Leases::PersistEmpty),
        ("spawn-async-held", spawn_async, Leases::PersistHeld(held)),
        ("nats-sync-committed", Hook::Nats, Leases::Memory),
    ];
    list.into_iter().map(|(id, hook, leases)| Row { id, family, hook, leases, replay: false }).collect()
}

/// The replay rows' ids (`--rows`): replays of held leases at Kea's start to a worker and to a
/// spawned script (DHCPv4 and DHCPv6), and the `replay-dora` pair (DHCPv4): Kea's rate with the
/// worker at the default hook points, without a replay and with one running all along.
pub const REPLAY_ROW_IDS: &[&str] = &["replay-worker", "replay-spawn", "replay-dora"];

/// The `replay-dora` pair: the worker, in the background, at the default hook points, `held`
/// leases held; without a replay, then with one running all along.
pub fn replay_dora_rows(held: u64) -> Vec<Row> {
    let hook = Hook::Worker { wait: false, points: Points::Default, program: Program::Counter };
    [false, true]
        .into_iter()
        .map(|replay| Row { id: "replay-dora", family: Family::V4, hook, leases: Leases::PersistHeld(held), replay })
        .collect()
}

/// The replay hook point of `family`.
pub fn replay_point(family: Family) -> &'static str {
    match family {
        Family::V4 => "lease4_replay",
        Family::V6 => "lease6_replay",
    }
}

/// The names of the family's default hook points (what `hook-points` left out selects).
pub fn default_points(family: Family) -> Vec<&'static str> {
    let f = family_num(family);
    HOOK_POINTS.iter().filter(|h| h.family == f && h.default).map(|h| h.name).collect()
}

impl Row {
    pub fn label(&self) -> String {
        let base = match self.hook {
            Hook::None => "no hook".to_string(),
            Hook::IscAsync => "ISC run_script, async".to_string(),
            Hook::IscForm => "kea-runscript in ISC's form (ISC's parameters), async".to_string(),
            Hook::Spawn { wait, points } => format!("spawn, {}, {}", sync_word(wait), points.describe()),
            Hook::Worker { wait, points, program } => {
                let what = match program {
                    Program::Counter => String::new(),
                    Program::Chosen => format!(", {} variables", chosen_variables(self.family).len()),
                    Program::Cat => ", the worker `cat >> FILE`".to_string(),
                };
                format!("worker, {}, {}{what}", sync_word(wait), points.describe())
            }
            Hook::Nats => "NATS worker (examples/nats), sync, committed only, JetStream R3".to_string(),
        };
        let base = match self.leases {
            Leases::Memory => base,
            Leases::PersistEmpty => format!("{base}, persist, empty"),
            Leases::PersistHeld(n) => format!("{base}, persist, {} held", crate::report::thousands(n as f64)),
        };
        if self.id == "spawn-sync-unchecked" {
            format!("{base}, script trust unchecked")
        } else if self.id == "spawn-sync-committed-queue" {
            format!("{base}, Kea's queue control (ring of {QUEUE_CAPACITY})")
        } else if self.id == "replay-dora" {
            format!("{base}, {}", if self.replay { "replay running all along" } else { "no replay" })
        } else {
            base
        }
    }

    /// The Kea configuration of this row. `script` is the no-op script, `worker` the worker
    /// wrapper (worker rows) or examples/nats/worker.py (the NATS row), `so` kea-runscript,
    /// `server_if` the server's veth; the NATS row's broker URLs are added by [`nats_params`].
    pub fn config(&self, so: &Path, script: &Path, worker: Option<&Path>, server_if: &str) -> KeaConfig {
        let cfg = base_config(self.family, self.leases, server_if);
        match self.hook {
            Hook::None => cfg,
            Hook::IscAsync => cfg.hook(hook_library(Path::new(ISC_RUN_SCRIPT), isc_run_script_params(script, false))),
            // The same parameters as ISC's row: only the library differs.
            Hook::IscForm => cfg.hook(hook_library(so, isc_run_script_params(script, false))),
            Hook::Spawn { wait, points } => {
                let mut p = runscript_params(script, wait, points, self.family, false);
                if self.id == "spawn-sync-unchecked" {
                    p["script-trust"] = json!("unchecked");
                }
                let cfg = if self.id == "spawn-sync-committed-queue" {
                    let ring = match self.family {
                        Family::V4 => "kea-ring4",
                        Family::V6 => "kea-ring6",
                    };
                    cfg.extra(json!({"dhcp-queue-control": {"enable-queue": true, "queue-type": ring, "capacity": QUEUE_CAPACITY}}))
                } else {
                    cfg
                };
                cfg.hook(hook_library(so, p))
            }
            Hook::Worker { wait, points, program } => {
                let w = worker.expect("a worker row has a worker");
                let mut p = runscript_params(w, wait, points, self.family, true);
                if program == Program::Chosen {
                    p["variables"] = json!(chosen_variables(self.family));
                }
                if self.replay {
                    let mut names = points.names(self.family).unwrap_or_else(|| default_points(self.family));
                    names.push(replay_point(self.family));
                    p["hook-points"] = json!(names);
                }
                cfg.hook(hook_library(so, p))
            }
            Hook::Nats => cfg,
        }
    }
}

/// `spawn-sync-committed-queue`: Kea's `dhcp-queue-control` ring (`kea-ring4`/`kea-ring6`) of this
/// many queries: Kea reads its socket into it and drops the oldest, so that the queries it
/// answers are recent ones (about 16 spawns' time, ~15 ms), not ones its clients gave up on.
pub const QUEUE_CAPACITY: u32 = 16;

/// The NATS row's parameters: examples/nats/kea-dhcp4.conf's (worker mode, `wait`,
/// `redeliver`, `timeout-ms` 500) at the committed hook point only, publishing to `urls`.
pub fn nats_params(worker: &Path, family: Family, urls: &str, nats_py: &Path) -> Value {
    let mut p = runscript_params(worker, true, Points::Committed, family, true);
    p["redeliver"] = json!(true);
    p["timeout-ms"] = json!(500);
    p["max-queued"] = json!(100000);
    p["server-name"] = json!("bench");
    p["extra-env"] = json!({"NATS_URL": urls, "NATS_STREAM": NATS_STREAM, "NATS_PY_PATH": nats_py.to_string_lossy()});
    p
}

/// The NATS row's stream (3 replicas, subjects `kea.>`).
pub const NATS_STREAM: &str = "KEA_BENCH";

/// A row's Kea configuration without its hook: the served subnet (DHCPv4 bound to the benchmark
/// address), lifetimes, quiet loggers, the control socket, the lease database.
pub fn base_config(family: Family, leases: Leases, server_if: &str) -> KeaConfig {
    let cfg = match family {
        Family::V4 => {
            let pool = if matches!(leases, Leases::PersistHeld(_)) { V4_HELD_POOL } else { BENCH_POOL_V4 };
            let mut c =
                KeaConfig::v4().served_subnet(json!({"subnet": BENCH_SUBNET_V4, "pools": [{"pool": pool}]}));
            // Bound to the benchmark address only: the veth also has the test bed's
            // 192.0.2.1, and Kea opens a socket per address, so each broadcast query would
            // be received (and answered) twice.
            let addr = BENCH_SERVER_V4.split('/').next().unwrap_or(BENCH_SERVER_V4);
            c.interfaces = Some(vec![format!("{server_if}/{addr}")]);
            c
        }
        Family::V6 => KeaConfig::v6()
            .served_subnet(json!({"subnet": BENCH_SUBNET_V6, "pools": [{"pool": BENCH_POOL_V6}]}))
            .preferred_lifetime(2700),
    };
    // Lifetimes well past any run (no expiry event); Kea's per-lease and per-packet INFO
    // lines off (a busy server's usual setting; they cost every row the same).
    let mut cfg = cfg.valid_lifetime(3600).quiet_logger("leases").quiet_logger("packets").control_socket();
    if leases != Leases::Memory {
        cfg = cfg.persist_leases(0);
    }
    cfg
}

fn sync_word(wait: bool) -> &'static str {
    if wait {
        "sync"
    } else {
        "async"
    }
}

/// `{"script": ..., "wait": ..., ["hook-points": [...]], ["mode": "worker"]}`.
pub fn runscript_params(script: &Path, wait: bool, points: Points, family: Family, worker: bool) -> Value {
    let mut p = json!({"script": script.to_string_lossy(), "wait": wait});
    if let Some(names) = points.names(family) {
        p["hook-points"] = json!(names);
    }
    if worker {
        p["mode"] = json!("worker");
    }
    p
}

/// The worker's wrapper script: `exec <worker> <counts file> sync|async`, or for the `cat`
/// worker `exec cat >> <counts file>` (kea-runscript starts `script` with no argument of ours in
/// worker mode).
pub fn worker_wrapper(dir: &Path, worker_bin: &Path, counts: &Path, wait: bool, program: Program) -> std::io::Result<PathBuf> {
    let path = dir.join(if wait { "worker-sync.sh" } else { "worker-async.sh" });
    let q = kea_runscript_testbed::util::sh_quote;
    let text = match program {
        Program::Cat => format!("#!/bin/sh\nexec cat >> {}\n", q(counts)),
        Program::Counter | Program::Chosen => format!("#!/bin/sh\nexec {} {} {}\n", q(worker_bin), q(counts), sync_word(wait)),
    };
    kea_runscript_testbed::util::write_executable(&path, &text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This build's Kea release (`major.minor`: the release its hook point table is for), as
    /// numbers to compare (as text, "10.0" would come before "2.6").
    fn built_for() -> (u32, u32) {
        let release = kea_runscript_config::table::KEA.version;
        let number = |s: &str| s.parse().unwrap_or_else(|_| panic!("Kea release {release:?}"));
        let (major, minor) = release.split_once('.').unwrap_or_else(|| panic!("Kea release {release:?}"));
        (number(major), number(minor))
    }

    #[test]
    fn hook_point_selections() {
        assert_eq!(Points::Default.names(Family::V4), None);
        assert_eq!(Points::Committed.names(Family::V6), Some(vec!["leases6_committed"]));
        let all4 = Points::All.names(Family::V4).unwrap();
        // 10 on Kea 2.2; Kea 2.6 adds lease4_offer and lease4_server_decline, 3.0 addr6_register.
        assert_eq!(all4.len(), if built_for() >= (2, 6) { 12 } else { 10 }, "{all4:?}");
        assert!(all4.contains(&"leases4_committed") && all4.contains(&"pkt4_receive"));
        assert!(!all4.contains(&"load"));
        let all6 = Points::All.names(Family::V6).unwrap();
        assert_eq!(all6.len(), if built_for() >= (3, 0) { 12 } else { 11 }, "{all6:?}");
    }

    #[test]
    fn row_ids_match_the_rows() {
        let ids: Vec<&str> = rows(Family::V4, 10).iter().map(|r| r.id).collect();
        assert_eq!(ids, ROW_IDS);
    }

    #[test]
    fn configurations() {
        let so = Path::new("/x/libkea_runscript.so");
        let script = Path::new("/x/noop.sh");
        let r = rows(Family::V4, 5).into_iter().find(|r| r.id == "worker-sync-committed").unwrap();
        let v = r.config(so, script, Some(Path::new("/x/w.sh")), "veth0").to_json("veth0", Path::new("/d"));
        let d = &v["Dhcp4"];
        assert_eq!(d["subnet4"][0]["subnet"], BENCH_SUBNET_V4);
        assert_eq!(d["subnet4"][0]["interface"], "veth0");
        assert_eq!(d["interfaces-config"]["interfaces"], json!(["veth0/198.18.0.1"]));
        let p = &d["hooks-libraries"][0]["parameters"];
        assert_eq!(p["mode"], "worker");
        assert_eq!(p["script"], "/x/w.sh");
        assert_eq!(p["wait"], true);
        assert_eq!(p["hook-points"], json!(["leases4_committed"]));
        assert_eq!(d["lease-database"]["persist"], false);
        let held = rows(Family::V4, 5).into_iter().find(|r| r.id == "spawn-async-held").unwrap();
        let v = held.config(so, script, None, "veth0").to_json("veth0", Path::new("/d"));
        assert_eq!(v["Dhcp4"]["lease-database"]["persist"], true);
        assert_eq!(v["Dhcp4"]["lease-database"]["lfc-interval"], 0);
        assert_eq!(v["Dhcp4"]["subnet4"][0]["pools"][0]["pool"], V4_HELD_POOL);
        assert!(v["Dhcp4"]["hooks-libraries"][0]["parameters"].get("hook-points").is_none());
    }
}
