//! kea-runscript's benchmark: real kea-dhcp4 / kea-dhcp6 in network namespaces of its own,
//! perfdhcp at full rate, one table per family: exchanges per second (DORA, SARR) of each hook
//! configuration, against no hook and against the spawn ceiling measured in the same run, at an
//! offered rate near each row's capacity and under overload. Speed is reported, never asserted.
//!
//! Run it with `./bench.sh` (builds in release mode first); `--help` for the options.

mod leases;
mod measure;
mod profile;
mod replay;
mod report;
mod rows;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kea_runscript_testbed::{is_root, workspace_root, Family, Kea, KeaConfig, Netns, NetnsOptions};

use measure::{Bed, RunError};
use report::{exchange_name, thousands, Ceiling, RowResult};
use replay::{ReplayResult, ReplayRow, Target};
use rows::{family_num, Leases, BENCH_CLIENT_V4, BENCH_SERVER_V4, REPLAY_ROW_IDS, ROW_IDS};

/// Probe runs per row at most.
const PROBES: u32 = 7;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

const USAGE: &str = "\
usage: bench [options]        (as root; ./bench.sh builds everything in release mode first)

  --reps N          measured runs per row and offered rate, median shown (default 3)
  --secs S          length of each measured run, seconds (default 4)
  --probe-secs S    length of each probe run that finds a row's capacity (default 2)
  --overload R      the overload offered rate, exchanges/s (default 30000)
  --family 4|6|both (default both)
  --rows ID,...     only these rows (default all): none, isc-async, runscript-isc-async, spawn-sync, spawn-async,
                    spawn-sync-committed, spawn-sync-unchecked, worker-async-all, worker-sync-committed,
                    spawn-async-persist, spawn-async-held, nats-sync-committed (a 3-node
                    JetStream cluster; skipped without nats-server and nats-py); the replays: replay-worker,
                    replay-spawn, replay-dora (DHCPv4 only)
  --held N          leases already held for spawn-async-held (default 500000; DHCPv4 holds at
                    most 98,294: the rest of 198.18.0.0/15 is the pool)
  --replay-leases N held leases replayed to the worker, and held by replay-dora (default
                    500000, DHCPv4 at most 98,294; --quick: 5000)
  --replay-spawned N  held leases replayed to the spawned script (default 20000; --quick: 1000)
  --replay-limit S  longest wait for a replay to end, seconds (default 300); a replay
                    with no new lease (worker) or no script run (spawn) for 15 s
                    (--quick: 5 s) is given up as stalled
  --so PATH         kea-runscript library (default target/release/libkea_runscript.so)
  --perf DIR        record each measured run with `perf record` (Kea, its worker and the scripts
                    it spawns) into DIR/<family>-<row>-<matched|overload>-<rep>.data; then
                    scripts/profile.sh DIR prints the top of each profile
  --quick           --reps 1 --secs 2 --probe-secs 1, small replays (to check that it works)

KRS_BENCH_DEBUG=1 prints Kea's packet statistics and perfdhcp's report after each run (replay rows: Kea's
KRS_ lines, its threads' wait channels, the worker's counts).
";

struct Options {
    reps: u32,
    secs: u32,
    probe_secs: u32,
    overload: u32,
    families: Vec<Family>,
    rows: Option<Vec<String>>,
    held: u64,
    replay_leases: u64,
    replay_spawned: u64,
    replay_limit: u64,
    replay_stall: u64,
    so: PathBuf,
    perf: Option<PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        reps: 3,
        secs: 4,
        probe_secs: 2,
        overload: 30_000,
        families: vec![Family::V4, Family::V6],
        rows: None,
        held: 500_000,
        replay_leases: 500_000,
        replay_spawned: 20_000,
        replay_limit: 300,
        replay_stall: 15,
        so: workspace_root().join("target/release/libkea_runscript.so"),
        perf: None,
    };
    let (mut replay_leases, mut replay_spawned, mut quick) = (None, None, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let num = |name: &str, v: String| v.parse::<u64>().map_err(|_| format!("{name}: not a number: {v}"));
        match a.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--reps" => o.reps = num("--reps", val("--reps")?)?.max(1) as u32,
            "--secs" => o.secs = num("--secs", val("--secs")?)?.max(1) as u32,
            "--probe-secs" => o.probe_secs = num("--probe-secs", val("--probe-secs")?)?.max(1) as u32,
            "--overload" => o.overload = num("--overload", val("--overload")?)?.max(1) as u32,
            "--held" => o.held = num("--held", val("--held")?)?,
            "--replay-leases" => replay_leases = Some(num("--replay-leases", val("--replay-leases")?)?),
            "--replay-spawned" => replay_spawned = Some(num("--replay-spawned", val("--replay-spawned")?)?),
            "--replay-limit" => o.replay_limit = num("--replay-limit", val("--replay-limit")?)?.max(1),
            "--so" => o.so = PathBuf::from(val("--so")?),
            "--perf" => o.perf = Some(PathBuf::from(val("--perf")?)),
            "--quick" => {
                o.reps = 1;
                o.secs = 2;
                o.probe_secs = 1;
                o.replay_stall = 5;
                quick = true;
            }
            "--family" => {
                o.families = match val("--family")?.as_str() {
                    "4" => vec![Family::V4],
                    "6" => vec![Family::V6],
                    "both" => vec![Family::V4, Family::V6],
                    f => return Err(format!("--family: 4, 6 or both, not {f}")),
                }
            }
            "--rows" => {
                let ids: Vec<String> = val("--rows")?.split(',').map(|s| s.trim().to_string()).collect();
                let known = |i: &str| ROW_IDS.contains(&i) || REPLAY_ROW_IDS.contains(&i);
                if let Some(bad) = ids.iter().find(|i| !known(i)) {
                    return Err(format!(
                        "--rows: unknown row {bad} (known: {}, {})",
                        ROW_IDS.join(", "),
                        REPLAY_ROW_IDS.join(", ")
                    ));
                }
                o.rows = Some(ids);
            }
            _ => return Err(format!("unknown option {a}")),
        }
    }
    o.replay_leases = replay_leases.unwrap_or(if quick { 5_000 } else { 500_000 }).max(1);
    o.replay_spawned = replay_spawned.unwrap_or(if quick { 1_000 } else { 20_000 }).max(1);
    Ok(o)
}

impl Options {
    fn wants(&self, id: &str) -> bool {
        self.rows.as_ref().is_none_or(|ids| ids.iter().any(|i| i == id))
    }
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Ctrl-C reaches perfdhcp and Kea too (same process group): the run in progress fails,
    // the flag stops the rest, and the namespaces are removed on the way out.
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { libc::signal(sig, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn progress(msg: &str) {
    eprintln!("bench: {msg}");
}

pub(crate) fn interrupted() -> Result<(), String> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err("interrupted; namespaces removed".into())
    } else {
        Ok(())
    }
}

/// Compiles one of `bench/c/*.c` into `dir`.
fn compile(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("c").join(format!("{name}.c"));
    let out = dir.join(name);
    let st = Command::new("cc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .map_err(|e| format!("cc: {e} (install gcc: scripts/install-deps.sh)"))?;
    if !st.success() {
        return Err(format!("cc failed on {}", src.display()));
    }
    Ok(out)
}

/// Spawns per second of the ceiling program, `parallel` at a time for `secs`.
fn spawn_ceiling(bin: &Path, script: &Path, secs: u32, parallel: u32) -> Result<f64, String> {
    let out = Command::new(bin)
        .arg(script)
        .arg(secs.to_string())
        .arg(parallel.to_string())
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace();
    let (Some(n), Some(t)) = (f.next().and_then(|s| s.parse::<f64>().ok()), f.next().and_then(|s| s.parse::<f64>().ok()))
    else {
        return Err(format!("spawn_ceiling: {text}{}", String::from_utf8_lossy(&out.stderr)));
    };
    Ok(n / t)
}

/// The lease file header the installed Kea writes, from a Kea started with no interface.
fn lease_header(ns: &Netns, family: Family) -> Result<String, String> {
    let cfg = KeaConfig::new(family).no_interfaces().persist_leases(0);
    let kea = Kea::start(ns, &cfg).map_err(|e| format!("{} for the lease file header: {e}", family.binary()))?;
    let text = std::fs::read_to_string(kea.lease_file()).map_err(|e| format!("{}: {e}", kea.lease_file().display()))?;
    let dir = kea.dir().to_path_buf();
    drop(kea);
    let _ = std::fs::remove_dir_all(dir);
    text.lines().next().map(str::to_string).ok_or_else(|| "empty lease file".into())
}

fn round_rate(x: f64) -> u32 {
    let x = x.max(20.0);
    let step = if x >= 10_000.0 {
        500.0
    } else if x >= 1000.0 {
        50.0
    } else {
        10.0
    };
    ((x / step).round() * step) as u32
}

fn run(o: &Options) -> Result<(), String> {
    if !is_root() {
        return Err("needs root (network namespaces, raw sockets)".into());
    }
    let so = std::fs::canonicalize(&o.so)
        .map_err(|e| format!("{}: {e} (build it: cargo build --release --workspace)", o.so.display()))?;
    let t0 = Instant::now();

    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).map_err(|e| e.to_string())?;
    ns.add_v4_addresses(BENCH_SERVER_V4, BENCH_CLIENT_V4).map_err(|e| e.to_string())?;
    let dir = ns.subdir("bench").map_err(|e| e.to_string())?;
    let script = dir.join("noop.sh");
    kea_runscript_testbed::util::write_executable(&script, "#!/bin/sh\nexit 0\n").map_err(|e| e.to_string())?;
    let ceiling_bin = compile(&dir, "spawn_ceiling")?;
    let worker_bin = compile(&dir, "worker")?;

    // Rows.
    let mut plan: Vec<RowResult> = Vec::new();
    let mut replays: Vec<(ReplayRow, ReplayResult)> = Vec::new();
    let mut dora: Vec<RowResult> = Vec::new();
    for &f in &o.families {
        for r in rows::rows(f, leases::held_count(f, o.held)) {
            if o.wants(r.id) {
                plan.push(RowResult::new(r));
            }
        }
        for (id, target, n) in [("replay-worker", Target::Worker, o.replay_leases), ("replay-spawn", Target::Spawn, o.replay_spawned)] {
            if o.wants(id) {
                replays.push((ReplayRow { id, family: f, target, leases: leases::held_count(f, n) }, ReplayResult::default()));
            }
        }
        if f == Family::V4 && o.wants("replay-dora") {
            dora.extend(rows::replay_dora_rows(leases::held_count(f, o.replay_leases)).into_iter().map(RowResult::new));
        }
    }
    let runs = plan.len() as u32 * (2 * o.reps * (o.secs + 2) + 3 * (o.probe_secs + 2))
        + 4 * o.reps * o.secs
        + replays.len() as u32 * 40
        + if dora.is_empty() { 0 } else { 2 * o.reps * (o.secs + 8) + 3 * (o.probe_secs + 8) };
    progress(&format!(
        "{} rows, {} replay rows{}, {} runs of {} s per row and rate, about {} min; namespaces {} / {}",
        plan.len(),
        replays.len(),
        if dora.is_empty() { "" } else { ", DORA/s with and without a replay" },
        o.reps,
        o.secs,
        runs / 60 + 1,
        ns.server,
        ns.client
    ));

    // Held leases, written once per family.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut wanted: Vec<(Family, u64)> = Vec::new();
    for r in plan.iter().chain(&dora) {
        if let Leases::PersistHeld(n) = r.row.leases {
            wanted.push((r.row.family, n));
        }
    }
    wanted.extend(replays.iter().map(|(r, _)| (r.family, r.leases)));
    let mut held: BTreeMap<(u8, u64), PathBuf> = BTreeMap::new();
    let mut headers: BTreeMap<u8, String> = BTreeMap::new();
    for (f, n) in wanted {
        let key = (family_num(f), n);
        if held.contains_key(&key) {
            continue;
        }
        let t = Instant::now();
        let header = match headers.get(&key.0) {
            Some(h) => h.clone(),
            None => {
                let h = lease_header(&ns, f)?;
                headers.insert(key.0, h.clone());
                h
            }
        };
        let path = dir.join(format!("held-{n}-{}", f.lease_file()));
        leases::write_lease_file(&path, f, &header, n, now).map_err(|e| e.to_string())?;
        progress(&format!("{}: {} held leases written in {:.1} s", path.display(), thousands(n as f64), t.elapsed().as_secs_f64()));
        held.insert(key, path);
    }
    // The NATS row's broker: a 3-node JetStream cluster with a stream of 3 replicas, in its own
    // namespace joined to the server's (started once: a fresh Kea per run, the same broker).
    let want_nats = plan.iter().any(|r| r.row.hook == rows::Hook::Nats);
    let cluster = if want_nats && kea_runscript_testbed::nats_available() {
        let c = kea_runscript_testbed::NatsCluster::start(3).map_err(|e| e.to_string())?;
        c.create_stream(rows::NATS_STREAM, "kea.>", 3, 120).map_err(|e| e.to_string())?;
        let urls = c.attach(&ns).map_err(|e| e.to_string())?;
        progress(&format!("NATS: 3 nodes in namespace {}, stream {} (3 replicas)", c.ns, rows::NATS_STREAM));
        Some((c, urls))
    } else {
        for r in plan.iter_mut().filter(|r| r.row.hook == rows::Hook::Nats) {
            r.skipped = Some("nats-server or nats-py not installed (scripts/install-deps.sh)".into());
        }
        None
    };
    let nats = cluster.as_ref().map(|(c, u)| (c, u.clone()));
    if let Some(dir) = &o.perf {
        profile::check(dir)?;
    }
    let bed = Bed { ns: &ns, so, script: script.clone(), worker_bin, held, nats, perf: o.perf.clone() };

    // The spawn ceiling, in the same run.
    let mut one = Vec::new();
    let mut two = Vec::new();
    let any_spawn = plan.iter().any(|r| matches!(r.row.hook, rows::Hook::Spawn { .. }))
        || replays.iter().any(|(r, _)| r.target == Target::Spawn);
    if any_spawn {
        for _ in 0..o.reps {
            one.push(spawn_ceiling(&ceiling_bin, &script, o.secs, 1)?);
            two.push(spawn_ceiling(&ceiling_bin, &script, o.secs, 2)?);
            interrupted()?;
        }
    }
    let ceiling = report::median(one).zip(report::median(two)).map(|(one, two)| Ceiling { one, two });
    if let Some(c) = &ceiling {
        progress(&format!("spawn ceiling: {}/s one at a time, {}/s two at a time", thousands(c.one), thousands(c.two)));
    }

    // Probe: each row's capacity, then the matched offered rate ~1.1 × capacity.
    let mut mode_refused: Option<String> = None;
    for r in plan.iter_mut() {
        if r.skipped.is_some() {
            continue;
        }
        if r.row.hook.is_worker() {
            if let Some(why) = &mode_refused {
                r.skipped = Some(why.clone());
                continue;
            }
        }
        probe(&bed, o, r, &mut mode_refused)?;
    }

    // Measured runs, round-robin over the rows (drift in the machine's load spreads evenly).
    for rep in 0..o.reps {
        for r in plan.iter_mut().filter(|r| r.skipped.is_none() && r.errors.is_empty()) {
            for (offered, overload) in [(r.matched_offered, false), (o.overload, true)] {
                interrupted()?;
                let name = format!(
                    "{}-{}-{}-{}",
                    rows::family_num(r.row.family),
                    r.row.id,
                    if overload { "overload" } else { "matched" },
                    rep + 1
                );
                match measure::run(&bed, &r.row, offered, o.secs, Some(&name)) {
                    Ok(s) => {
                        let events = if r.row.hook.is_runscript() {
                            format!(
                                "; hook events {} = {:.1} per exchange, {:.2}% run",
                                thousands(s.expected as f64),
                                s.expected as f64 / (s.raw * o.secs as f64).max(1.0),
                                s.run_fraction() * 100.0
                            )
                        } else {
                            String::new()
                        };
                        progress(&format!(
                            "run {}/{} {:?} {}: offered {}/s → {}/s (perfdhcp {}/s{events})",
                            rep + 1,
                            o.reps,
                            r.row.family,
                            r.row.id,
                            thousands(offered as f64),
                            thousands(s.effective),
                            thousands(s.raw),
                        ));
                        if overload {
                            r.overload.push(s)
                        } else {
                            r.matched.push(s)
                        }
                    }
                    Err(e) => r.errors.push(format!("run at {}/s: {e}", thousands(offered as f64))),
                }
            }
        }
    }

    // The replays of held leases, each once.
    for (row, result) in replays.iter_mut() {
        interrupted()?;
        progress(&format!("replay {:?} {}: {} leases...", row.family, row.id, thousands(row.leases as f64)));
        *result = replay::run(&bed, row, Duration::from_secs(o.replay_limit), Duration::from_secs(o.replay_stall));
        progress(&format!("replay {:?} {}: {}", row.family, row.id, report::replay_summary(row, result)));
    }

    // DORA/s with the worker at the default hook points, without a replay and with one running
    // all along: the probe finds the rate without, both are measured at it, taken in turn.
    if let Some(first) = dora.first_mut() {
        let mut refused = None;
        probe(&bed, o, first, &mut refused)?;
        let offered = first.matched_offered;
        let ok = first.skipped.is_none() && first.errors.is_empty();
        for r in dora.iter_mut() {
            r.matched_offered = offered;
        }
        if ok {
            for rep in 0..o.reps {
                for r in dora.iter_mut() {
                    interrupted()?;
                    let name = format!("4-replay-dora-{}-{}", if r.row.replay { "replay" } else { "no-replay" }, rep + 1);
                    match measure::run(&bed, &r.row, offered, o.secs, Some(&name)) {
                        Ok(s) => {
                            progress(&format!(
                                "run {}/{} {}: offered {}/s → {}/s (perfdhcp {}/s, {:.2}% of the exchanges' events delivered; {} replays started, {} leases replayed)",
                                rep + 1,
                                o.reps,
                                r.row.label(),
                                thousands(offered as f64),
                                thousands(s.effective),
                                thousands(s.raw),
                                s.run_fraction() * 100.0,
                                s.replays,
                                thousands(s.replayed as f64),
                            ));
                            r.matched.push(s);
                        }
                        Err(e) => r.errors.push(format!("run at {}/s: {e}", thousands(offered as f64))),
                    }
                }
            }
        }
    }

    interrupted()?;

    // The report.
    println!();
    println!(
        "kea-runscript benchmark: Kea {}, {} cores, median of {} run(s) of {} s per row and offered rate, a fresh Kea per run",
        kea_version(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        o.reps,
        o.secs
    );
    if let Some(c) = &ceiling {
        println!(
            "spawn ceiling (posix_spawn + reap of a no-op /bin/sh script): {}/s one at a time, {}/s two at a time",
            thousands(c.one),
            thousands(c.two)
        );
    }
    for &f in &o.families {
        let results: Vec<RowResult> = plan.iter().filter(|r| r.row.family == f).cloned().collect();
        if results.is_empty() {
            continue;
        }
        let x = exchange_name(f);
        println!();
        println!(
            "{} ({x} exchanges per second; \"{x}/s\" counts only what the hook kept up with, see docs/benchmark.md)",
            match f {
                Family::V4 => "DHCPv4",
                Family::V6 => "DHCPv6",
            }
        );
        print!("{}", report::table(f, &results, ceiling.as_ref(), o.overload));
        println!(
            "  run: share of Kea's hook events that ran (the rest dropped by a full queue). vs spawn ceiling: c1 = \
             one-at-a-time spawns/s ÷ ev/{x} (sync rows), c2 = two-at-a-time ÷ ev/{x} (async rows)."
        );
        print!("{}", report::notes(&results));
        println!("  targets (computed, never asserted):");
        print!("{}", report::targets(f, &results, ceiling.as_ref()));
    }
    if !replays.is_empty() {
        println!();
        print!("{}", report::replay_table(&replays, ceiling.as_ref()));
    }
    if !dora.is_empty() {
        println!();
        print!("{}", report::dora_table(&dora));
    }
    println!();
    print!("{}", report::SEED_REFERENCE);
    progress(&format!("done in {:.0} s", t0.elapsed().as_secs_f64()));
    Ok(())
}

/// The probe runs of one row: its capacity, and its matched offered rate ~1.1 × capacity.
fn probe(bed: &Bed, o: &Options, r: &mut RowResult, mode_refused: &mut Option<String>) -> Result<(), String> {
    // First under overload; then from 1.1 × that rate (at least 20/s), doubling while the
    // row keeps up (≥ 85% of the offered rate): a row that collapses under overload
    // shows its capacity only when offered less.
    let mut best: f64 = 0.0;
    let mut offered = o.overload;
    for i in 0..PROBES {
        interrupted()?;
        match measure::run(bed, &r.row, offered, o.probe_secs, None) {
            Ok(s) => {
                progress(&format!(
                    "probe {:?} {}: offered {}/s → {}/s (perfdhcp {}/s; Kea started in {:.1} s)",
                    r.row.family,
                    r.row.id,
                    thousands(offered as f64),
                    thousands(s.effective),
                    thousands(s.raw),
                    s.startup.as_secs_f64()
                ));
                best = best.max(s.effective);
                let kept_up = s.effective >= 0.85 * offered as f64;
                if i > 0 && !kept_up {
                    break;
                }
                offered = if i == 0 { round_rate(1.1 * best) } else { round_rate(2.0 * offered as f64) };
                if offered >= o.overload {
                    break;
                }
            }
            Err(RunError::ModeRefused(line)) => {
                let why = "the hook refuses `mode` (worker mode not in this build)".to_string();
                progress(&format!("{}: {why}: {line}", r.row.id));
                *mode_refused = Some(why.clone());
                r.skipped = Some(why);
                break;
            }
            Err(RunError::Other(e)) => {
                r.errors.push(format!("probe at {}/s: {e}", thousands(offered as f64)));
                break;
            }
        }
    }
    r.matched_offered = round_rate(1.1 * best);
    Ok(())
}

fn kea_version() -> String {
    kea_runscript_testbed::kea_version().text.clone()
}
