//! One measured run: a fresh Kea with the row's configuration, perfdhcp for a fixed period at a
//! fixed offered rate, then what the hook did with the events Kea gave it.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kea_runscript_config::table::{HookPoint, HOOK_POINTS};
use kea_runscript_testbed::procs::children;
use kea_runscript_testbed::{hook_library, Family, Kea, NatsCluster, Netns, Perfdhcp};

use crate::rows::{Program, Hook, Leases, Points, Row};

/// Simulated clients: each DORA/SARR comes from a client of this many (MAC / DUID), drawn at
/// random by perfdhcp, so nearly every exchange is a new client getting a new lease.
const CLIENTS: u32 = 10_000_000;
/// A background queue is drained once nothing happened for this long.
const QUIET: Duration = Duration::from_millis(250);
/// At most this long to drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// What the benchmark needs to run a row.
pub struct Bed<'a> {
    pub ns: &'a Netns,
    pub so: PathBuf,
    pub script: PathBuf,
    pub worker_bin: PathBuf,
    /// Lease files with held leases, per family and count (written once, copied before each
    /// start).
    pub held: BTreeMap<(u8, u64), PathBuf>,
    /// The NATS row's cluster and its URLs from the server namespace (when that row runs).
    pub nats: Option<(&'a NatsCluster, String)>,
    /// `--perf DIR`: each measured run is recorded by `perf` into this directory.
    pub perf: Option<PathBuf>,
}

impl Bed<'_> {
    /// The lease file with `n` held leases of `family`.
    pub fn held_file(&self, family: Family, n: u64) -> Option<PathBuf> {
        self.held.get(&(crate::rows::family_num(family), n)).cloned()
    }
}

/// One run's figures.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub offered: u32,
    /// perfdhcp's rate: exchanges completed per second.
    pub raw: f64,
    /// Hook events Kea produced, from its statistics (hook rows; see [`expected_events`]).
    pub expected: u64,
    /// Events the hook dropped (its background queue was full), from its log.
    pub dropped: u64,
    /// Events the worker received (worker rows).
    pub delivered: Option<u64>,
    /// Per hook point: (received by the worker, expected).
    pub per_hook: BTreeMap<String, (u64, u64)>,
    /// Time the hook still worked through its queue after perfdhcp ended.
    pub drain: Duration,
    /// The run's period.
    pub period: u32,
    /// Exchanges per second with every hook event run (see [`Sample::effective`]).
    pub effective: f64,
    /// Kea ran out of addresses (the run is not valid).
    pub exhausted: bool,
    /// How long Kea took to start (loading held leases, starting a worker).
    pub startup: Duration,
    /// `replay-dora` with a replay: replays started by `runscript-replay` during the run, and
    /// replayed leases the worker received (from Kea's start to its stop).
    pub replays: u64,
    pub replayed: u64,
    /// The longest time during the run in which the replay made no progress (no lease more
    /// delivered, no new replay), as the command's answers told.
    pub replay_gap: Duration,
    /// The `cat` worker: leases Kea granted (`pkt4-ack-sent`, `pkt6-reply-sent`), and the lines
    /// the worker got for them (the lease hook point's lines for a REQUEST).
    pub leases_granted: u64,
    pub leases_delivered: Option<u64>,
}

impl Sample {
    /// Fraction of Kea's hook events that ran (1 when not known or no hook).
    pub fn run_fraction(&self) -> f64 {
        if self.expected == 0 {
            return 1.0;
        }
        let ran = match self.delivered {
            Some(d) => d.min(self.expected),
            None => self.expected.saturating_sub(self.dropped),
        };
        ran as f64 / self.expected as f64
    }

    /// Exchanges per second counting only what the hook kept up with: perfdhcp's rate, times the
    /// fraction of events that ran, times period / (period + time to drain the queue). Equal to
    /// perfdhcp's rate for a row without hook or with a waited-for hook.
    fn compute_effective(&mut self) {
        let p = self.period as f64;
        self.effective = self.raw * self.run_fraction() * p / (p + self.drain.as_secs_f64());
    }
}

/// Kea refused the hook's configuration because of `mode` (worker mode not in this build).
#[derive(Debug)]
pub enum RunError {
    ModeRefused(String),
    Other(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::ModeRefused(l) => write!(f, "the hook refuses `mode`: {l}"),
            RunError::Other(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for RunError {
    fn from(e: io::Error) -> Self {
        RunError::Other(e.to_string())
    }
}

/// `CLOCK_MONOTONIC` in ns (the worker stamps its last event with it).
pub fn mono_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Runs `row` once at `offered` exchanges per second for `period` seconds; with `--perf`, a
/// run given a `profile` name is recorded into `<perf dir>/<profile>.data`.
pub fn run(bed: &Bed, row: &Row, offered: u32, period: u32, profile: Option<&str>) -> Result<Sample, RunError> {
    let dir = bed.ns.subdir("runs")?;
    let counts = dir.join("worker-counts");
    let _ = fs::remove_file(&counts);
    let wrapper = match row.hook {
        Hook::Worker { wait, program, .. } => Some(crate::rows::worker_wrapper(&dir, &bed.worker_bin, &counts, wait, program)?),
        _ => None,
    };
    let mut cfg = row.config(&bed.so, &bed.script, wrapper.as_deref(), &bed.ns.server_if);
    let mut stream_before = 0;
    if row.hook == Hook::Nats {
        let (cluster, urls) = bed.nats.as_ref().ok_or_else(|| RunError::Other("no NATS cluster".into()))?;
        let worker = kea_runscript_testbed::workspace_root().join("examples/nats/worker.py");
        let p = crate::rows::nats_params(&worker, row.family, urls, &kea_runscript_testbed::nats_py_path());
        cfg = cfg.hook(hook_library(&bed.so, p));
        // The last run's worker has gone (Kea collects it at its stop); its connection too.
        kea_runscript_testbed::wait_until(Duration::from_secs(10), || (cluster.clients("kea-runscript").ok()? == 0).then_some(()))
            .map_err(|_| RunError::Other("a worker of the last run is still connected".into()))?;
        stream_before = stream_messages(cluster)?;
    }
    let held = match row.leases {
        Leases::PersistHeld(n) => {
            Some(bed.held_file(row.family, n).ok_or_else(|| RunError::Other(format!("no lease file of {n} leases")))?)
        }
        _ => None,
    };
    let mut copy_err = None;
    let t_start = Instant::now();
    let started = Kea::start_text(bed.ns, row.family, |kdir| {
        if let Some(src) = &held {
            if let Err(e) = fs::copy(src, kdir.join(row.family.lease_file())) {
                copy_err = Some(e);
            }
        }
        cfg.render(&bed.ns.server_if, kdir)
    });
    if let Some(e) = copy_err {
        return Err(RunError::Other(format!("copying the held leases: {e}")));
    }
    let kea = match started {
        Ok(k) => k,
        Err(e) => {
            let text = e.to_string();
            let refused = text.lines().find(|l| l.contains("KRS_LOAD_FAILED") && l.contains("mode"));
            return Err(match refused {
                Some(l) if row.hook.is_worker() => RunError::ModeRefused(l.trim().to_string()),
                _ => RunError::Other(first_lines(&text, 6)),
            });
        }
    };
    let kdir = kea.dir().to_path_buf();
    let startup = t_start.elapsed();
    let record = bed.perf.as_deref().zip(profile).map(|(dir, name)| dir.join(format!("{name}.data")));
    let result = measure(bed, row, &kea, &counts, offered, period, stream_before, record.as_deref());
    drop(kea); // stops Kea (SIGTERM: unload reports what the hook dropped)
    let result = result.and_then(|mut s| {
        let log = fs::read_to_string(kdir.join("kea.log")).unwrap_or_default();
        s.dropped = dropped_events(&log);
        s.exhausted = log.contains("ALLOC_ENGINE_V4_ALLOC_FAIL") || log.contains("ALLOC_ENGINE_V6_ALLOC_FAIL");
        if row.hook.is_worker() {
            let c = worker_counts(&counts, program(row)).ok_or_else(|| RunError::Other("the worker wrote no counts".into()))?;
            if program(row) == Program::Cat {
                s.leases_delivered = Some(c.requests);
            }
            s.delivered = Some(c.total);
            for (h, (got, _)) in s.per_hook.iter_mut() {
                *got = c.hooks.get(h).copied().unwrap_or(0);
            }
            if row.replay {
                // The replay's lines are not the exchanges' events.
                s.delivered = Some(s.per_hook.values().map(|(got, _)| got).sum());
                s.replayed = c.phases.get("lease").copied().unwrap_or(0);
            }
        }
        s.compute_effective();
        s.startup = startup;
        Ok(s)
    });
    let _ = fs::remove_dir_all(&kdir);
    result
}

fn stream_messages(cluster: &NatsCluster) -> Result<u64, RunError> {
    let info = cluster.stream_info(crate::rows::NATS_STREAM)?;
    info["messages"].as_u64().ok_or_else(|| RunError::Other(format!("stream info without messages: {info}")))
}

#[allow(clippy::too_many_arguments)]
fn measure(
    bed: &Bed,
    row: &Row,
    kea: &Kea,
    counts: &Path,
    offered: u32,
    period: u32,
    stream_before: u64,
    record: Option<&Path>,
) -> Result<Sample, RunError> {
    if let (Hook::Nats, Some((cluster, _))) = (row.hook, &bed.nats) {
        // Measured from the worker's connection on: before it, the first events would wait
        // for Python to start.
        kea_runscript_testbed::wait_until(Duration::from_secs(10), || (cluster.clients("kea-runscript").ok()? == 1).then_some(()))
            .map_err(|_| RunError::Other("the NATS worker did not connect".into()))?;
    }
    if row.hook.is_worker() {
        // The worker writes its counts file when it starts.
        kea_runscript_testbed::wait_until(Duration::from_secs(10), || counts.exists().then_some(()))
            .map_err(|_| RunError::Other("the worker did not start".into()))?;
    }
    let perf = Perfdhcp {
        family: row.family,
        rate: offered,
        clients: CLIENTS,
        period,
        renew_rate: 0,
        release_rate: 0,
        options: Vec::new(),
        lease_type: None, // DHCPv6: IA_NA only
        extra: Vec::new(),
        print_leases: false,
    };
    // Started once the worker runs: Kea's threads and its worker's are recorded, and the
    // scripts Kea spawns meanwhile (perf follows new children).
    let recorder = record.map(|file| crate::profile::Recorder::start(kea.pid(), file)).transpose()?;
    let (out, replays) = if row.replay {
        // A replay all along: `runscript-replay` again as soon as the last one ended (Kea
        // refuses it while one runs), every 50 ms.
        let socket = kea.control_socket();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|sc| {
            let looper = sc.spawn(|| {
                let mut started = 0u64;
                let t0 = Instant::now();
                let (mut last, mut last_n, mut gap) = (t0, None, Duration::ZERO);
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    if let Ok(v) = command(&socket, r#"{"command": "runscript-replay"}"#) {
                        // Progress: a new replay, or more delivered by the running one
                        // ("... is running (N leases delivered so far) ...").
                        let n = v.get("text").and_then(|t| t.as_str()).and_then(delivered_so_far);
                        let fresh = v.get("result").and_then(|r| r.as_i64()) == Some(0);
                        if fresh {
                            started += 1;
                        }
                        if fresh || (n.is_some() && n != last_n) {
                            let now = Instant::now();
                            gap = gap.max(now - last);
                            last = now;
                        }
                        last_n = n;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                (started, gap.max(last.elapsed()))
            });
            let out = perf.run(bed.ns);
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            (out, looper.join().unwrap_or_default())
        })
    } else {
        (perf.run(bed.ns), (0, Duration::ZERO))
    };
    let (replays, replay_gap) = replays;
    if let Some(r) = recorder {
        r.stop()?;
    }
    let out = out?;
    let end = Instant::now();
    let end_ns = mono_ns();
    let raw = out.rate().ok_or_else(|| RunError::Other(format!("no rate in perfdhcp's output:\n{}", out.stdout)))?;
    let drain = if row.replay {
        // The replay's own lines keep the worker busy after perfdhcp: no drain is measured
        // (what the worker received of the exchanges' events is counted at Kea's stop).
        Duration::ZERO
    } else if !row.hook.background() {
        Duration::ZERO
    } else if row.hook.is_worker() {
        drain_worker(counts, program(row), end_ns)
    } else {
        drain_children(kea.pid(), end)
    };
    let mut s = Sample { offered, raw, drain, period, replays, replay_gap, ..Default::default() };
    if row.hook.is_worker() && !row.hook.background() {
        wait_counts_stable(counts, program(row));
    }
    if let (Hook::Nats, Some((cluster, _))) = (row.hook, &bed.nats) {
        // Stored in the stream during the run: JetStream keeps one message per event id, so
        // this counts each lease once however often it was published. A lease is stored before
        // its ACK leaves: read until Kea has sent no ACK between two reads around the stream's.
        let acks = || -> Result<u64, RunError> { Ok(granted_leases(row.family, &kea.statistics()?)) };
        let deadline = Instant::now() + Duration::from_secs(5);
        let stored = loop {
            let before = acks()?;
            let stored = stream_messages(cluster)?.saturating_sub(stream_before);
            if (acks()? == before && stored == before) || Instant::now() > deadline {
                break stored;
            }
        };
        s.delivered = Some(stored);
    }
    let stats = kea.statistics()?;
    s.leases_granted = granted_leases(row.family, &stats);
    if std::env::var_os("KRS_BENCH_DEBUG").is_some() {
        let pk: Vec<String> = stats.iter().filter(|(k, _)| k.starts_with("pkt")).map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!("bench: debug: {}\n{}", pk.join(" "), out.stdout);
    }
    if let Leases::PersistHeld(n) = row.leases {
        // Kea counts the leases it loaded: the held ones must all be there.
        let key = match row.family {
            Family::V4 => "subnet[1].assigned-addresses",
            Family::V6 => "subnet[1].assigned-nas",
        };
        let assigned = stats.get(key).copied().unwrap_or(0).max(0) as u64;
        if assigned < n {
            return Err(RunError::Other(format!("Kea holds {assigned} leases ({key}), not the {n} of the lease file")));
        }
    }
    if row.hook.is_runscript() {
        let names = match row.hook {
            Hook::Spawn { points, .. } | Hook::Worker { points, .. } => points.names(row.family),
            Hook::Nats => Points::Committed.names(row.family),
            Hook::IscForm => Some(points_where(row.family, |h| h.isc_default)),
            _ => None,
        };
        let names = names.unwrap_or_else(|| points_where(row.family, |h| h.default));
        for h in names {
            let e = expected_events(h, &stats);
            s.expected += e;
            s.per_hook.insert(h.to_string(), (0, e));
        }
    }
    Ok(s)
}

/// The hook points of `family` that `pick` takes: `h.default` (the `KEA_*` defaults) or
/// `h.isc_default` (what ISC's form runs at).
fn points_where(family: Family, pick: fn(&HookPoint) -> bool) -> Vec<&'static str> {
    let f = crate::rows::family_num(family);
    HOOK_POINTS.iter().filter(|h| h.family == f && pick(h)).map(|h| h.name).collect()
}

/// Events Kea produced at hook point `hook` during a run of DORA / SARR exchanges (no renew,
/// release, decline or expiry happens in one), from its statistics: each received query at
/// `pkt*_receive` and `subnet*_select`, each OFFER/ADVERTISE and ACK/REPLY at `lease*_select`,
/// each response at `pkt*_send`, each ACK/REPLY's lease at `leases*_committed`.
pub fn expected_events(hook: &str, stats: &BTreeMap<String, i64>) -> u64 {
    let g = |k: &str| stats.get(k).copied().unwrap_or(0).max(0) as u64;
    match hook {
        "pkt4_receive" => g("pkt4-received"),
        "subnet4_select" => g("pkt4-discover-received") + g("pkt4-request-received"),
        "lease4_select" => g("pkt4-offer-sent") + g("pkt4-ack-sent"),
        "pkt4_send" => g("pkt4-sent"),
        "leases4_committed" => g("pkt4-ack-sent"),
        "lease4_release" => g("pkt4-release-received"),
        "lease4_decline" => g("pkt4-decline-received"),
        "pkt6_receive" => g("pkt6-received"),
        "subnet6_select" => g("pkt6-solicit-received") + g("pkt6-request-received"),
        "lease6_select" => g("pkt6-advertise-sent") + g("pkt6-reply-sent"),
        "pkt6_send" => g("pkt6-sent"),
        "leases6_committed" => g("pkt6-reply-sent"),
        _ => 0,
    }
}

/// Background spawns: until Kea has had no child for [`QUIET`]; returns how long after `end`
/// the last one was seen.
fn drain_children(kea_pid: u32, end: Instant) -> Duration {
    let mut last_seen = end;
    let deadline = end + DRAIN_LIMIT;
    loop {
        let now = Instant::now();
        if !children(kea_pid).is_empty() {
            last_seen = now;
        } else if now.duration_since(last_seen) >= QUIET || now >= deadline {
            return last_seen.duration_since(end);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Worker: until its event count has not moved for [`QUIET`]; returns how long after `end_ns`
/// it read its last event (the `cat` worker: when its file last grew).
fn drain_worker(counts: &Path, program: Program, end_ns: u64) -> Duration {
    let c = wait_counts_stable(counts, program);
    Duration::from_nanos(c.map(|c| c.last_ns.saturating_sub(end_ns)).unwrap_or(0))
}

fn wait_counts_stable(counts: &Path, program: Program) -> Option<Counts> {
    let start = Instant::now();
    let mut last: Option<(u64, Instant, u64)> = None;
    loop {
        let now = Instant::now();
        // The `cat` worker's file: its size, when it last changed (counted once it is still).
        let c = match program {
            Program::Cat => fs::metadata(counts).ok().map(|m| Counts { total: m.len(), ..Counts::default() }),
            Program::Counter | Program::Chosen => read_counts(counts),
        };
        let total = c.as_ref().map(|c| c.total);
        match (total, last) {
            (Some(t), Some((lt, since, changed_ns))) if t == lt => {
                if now.duration_since(since) >= QUIET || now.duration_since(start) >= DRAIN_LIMIT {
                    return c.map(|c| if program == Program::Cat { Counts { last_ns: changed_ns, ..c } } else { c });
                }
            }
            (Some(t), _) => last = Some((t, now, mono_ns())),
            (None, _) if now.duration_since(start) >= DRAIN_LIMIT => return None,
            (None, _) => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The worker's counts file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub last_ns: u64,
    pub hooks: BTreeMap<String, u64>,
    /// Replays: lines per `KEA_REPLAY_PHASE` (`begin`, `lease`, `end`).
    pub phases: BTreeMap<String, u64>,
    /// When the worker read the last replay `end` line (`CLOCK_MONOTONIC`, ns; 0: none yet).
    pub end_ns: u64,
    /// The `cat` worker: lines of a lease hook point for a REQUEST.
    pub requests: u64,
}

pub fn parse_counts(text: &str) -> Option<Counts> {
    let mut c = Counts::default();
    let mut seen_total = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["events", n] => {
                c.total = n.parse().ok()?;
                seen_total = true;
            }
            ["last_ns", n] => c.last_ns = n.parse().ok()?,
            ["hook", name, n] => {
                c.hooks.insert(name.to_string(), n.parse().ok()?);
            }
            ["phase", name, n] => {
                c.phases.insert(name.to_string(), n.parse().ok()?);
            }
            ["end_ns", n] => c.end_ns = n.parse().ok()?,
            _ => {}
        }
    }
    seen_total.then_some(c)
}

/// The leases Kea granted: its committed ones (`pkt4-ack-sent`, `pkt6-reply-sent`).
fn granted_leases(family: Family, stats: &BTreeMap<String, i64>) -> u64 {
    Points::Committed.names(family).unwrap_or_default().iter().map(|h| expected_events(h, stats)).sum()
}

/// A worker row's worker (asked only of worker rows).
fn program(row: &Row) -> Program {
    match row.hook {
        Hook::Worker { program, .. } => program,
        _ => Program::Counter,
    }
}

/// A worker's counts: its counts file, or the `cat` worker's lines.
fn worker_counts(path: &Path, program: Program) -> Option<Counts> {
    match program {
        Program::Counter | Program::Chosen => read_counts(path),
        Program::Cat => cat_counts(path).ok(),
    }
}

/// The `cat` worker's file, counted: lines per hook point, and the lines of a lease hook point
/// for a REQUEST (`lease4_select`, `lease6_select`: a lease granted).
pub fn cat_counts(path: &Path) -> io::Result<Counts> {
    use std::io::BufRead;
    let mut c = Counts::default();
    for line in io::BufReader::new(fs::File::open(path)?).split(b'\n') {
        let line = line?;
        let hook = line
            .strip_prefix(b"{\"hook\":\"")
            .and_then(|rest| rest.iter().position(|&b| b == b'"').map(|end| &rest[..end]))
            .unwrap_or(b"?");
        let hook = String::from_utf8_lossy(hook).into_owned();
        let request = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
        if (hook == "lease4_select" && request(b"\"KEA_QUERY4_TYPE\":\"DHCPREQUEST\""))
            || (hook == "lease6_select" && request(b"\"KEA_QUERY6_TYPE\":\"REQUEST\""))
        {
            c.requests += 1;
        }
        *c.hooks.entry(hook).or_insert(0) += 1;
        c.total += 1;
    }
    Ok(c)
}

pub fn read_counts(path: &Path) -> Option<Counts> {
    parse_counts(&fs::read_to_string(path).ok()?)
}

/// Events the hook dropped: the last `KRS_QUEUE_FULL` (spawn) or `KRS_WORKER_QUEUE_FULL`
/// (worker) report's "(N since load)" total; 0 when it reported none.
pub fn dropped_events(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("KRS_QUEUE_FULL") || l.contains("KRS_WORKER_QUEUE_FULL"))
        .filter_map(|l| {
            let i = l.rfind(" since load")?;
            let head = &l[..i];
            let start = head.rfind(|c: char| !c.is_ascii_digit())? + 1;
            head[start..].parse::<u64>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// N in `runscript-replay`'s refusal "a replay of ... is running (N leases delivered so far) ...".
fn delivered_so_far(text: &str) -> Option<u64> {
    let i = text.find(" leases delivered so far")?;
    let head = &text[..i];
    let start = head.rfind(|c: char| !c.is_ascii_digit())? + 1;
    head[start..].parse().ok()
}

/// One command over Kea's control socket `socket`; its answer (the first, if a list).
pub fn command(socket: &Path, json: &str) -> io::Result<kea_runscript_testbed::serde_json::Value> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(json.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let v: kea_runscript_testbed::serde_json::Value =
        kea_runscript_testbed::serde_json::from_slice(&buf).map_err(io::Error::other)?;
    Ok(match v {
        kea_runscript_testbed::serde_json::Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        v => v,
    })
}

fn first_lines(text: &str, n: usize) -> String {
    let interesting: Vec<&str> =
        text.lines().filter(|l| l.contains("ERROR") || l.contains("FATAL") || l.contains("exited")).take(n).collect();
    if interesting.is_empty() {
        text.lines().take(n).collect::<Vec<_>>().join("\n")
    } else {
        interesting.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_full_totals() {
        let log = "x WARN [kea-dhcp4.kea-runscript/1] KRS_QUEUE_FULL 120 background events dropped: max-running scripts were running and max-queued events waiting (120 since load)\n\
                   y WARN [kea-dhcp4.kea-runscript/1] KRS_QUEUE_FULL 30 background events dropped: ... (150 since load)\n";
        assert_eq!(dropped_events(log), 150);
        let w = "z WARN [kea-dhcp4.kea-runscript/1] KRS_WORKER_QUEUE_FULL worker /x/w.sh: events dropped, it reads its stdin too slowly and max-queued events were waiting: 7 dropped (9 since load)\n";
        assert_eq!(dropped_events(w), 9);
        assert_eq!(dropped_events("nothing"), 0);
    }

    #[test]
    fn replay_refusal() {
        let t = "a replay of lease4_replay is running (1234 leases delivered so far): try again when it ends";
        assert_eq!(delivered_so_far(t), Some(1234));
        assert_eq!(delivered_so_far("replay of lease4_replay started for 1 script(s)"), None);
    }

    #[test]
    fn worker_counts() {
        let c = parse_counts("events 12\nlast_ns 99\nhook pkt4_receive 8\nhook lease4_select 4\nphase lease 3\nend_ns 7\n").unwrap();
        assert_eq!(c.total, 12);
        assert_eq!(c.phases["lease"], 3);
        assert_eq!(c.end_ns, 7);
        assert_eq!(c.last_ns, 99);
        assert_eq!(c.hooks["lease4_select"], 4);
        assert!(parse_counts("").is_none());
    }

    #[test]
    fn effective_rate() {
        let mut s = Sample { raw: 1000.0, expected: 800, dropped: 400, period: 4, ..Default::default() };
        s.drain = Duration::from_secs(1);
        s.compute_effective();
        assert!((s.effective - 1000.0 * 0.5 * 0.8).abs() < 1e-6);
        let mut w = Sample { raw: 1000.0, expected: 800, delivered: Some(900), period: 4, ..Default::default() };
        w.compute_effective();
        assert!((w.effective - 1000.0).abs() < 1e-6);
        let stats: BTreeMap<String, i64> =
            [("pkt4-received", 10), ("pkt4-discover-received", 6), ("pkt4-request-received", 4), ("pkt4-ack-sent", 4)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        assert_eq!(expected_events("subnet4_select", &stats), 10);
        assert_eq!(expected_events("leases4_committed", &stats), 4);
        assert_eq!(expected_events("lease4_expire", &stats), 0);
    }
}
