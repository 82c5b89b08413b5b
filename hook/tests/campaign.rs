//! The hostile-packet campaign (`testbed/clients/campaign.py`, scapy): malformed and adversarial
//! DHCPv4 and DHCPv6 packets in bulk (truncated and over-long options, broken option 82,
//! options of 0 and 255 bytes, hundreds of options, odd hardware types and lengths, relay chains
//! 32 deep, repeated IAs, seeded mutations of a recorded real exchange) to a real Kea running the
//! hook at every hook point of its family, with a spawned recorder and a worker at once. Every
//! event that reached either is checked against the generated table: only the hook point's
//! names (plus `extra-env`, `pass-env` and the exported options), each value of its documented
//! shape; every run is accounted for (Kea's `runscript[N].runs`). Kea must not crash or hang,
//! and serves a normal client afterwards. Needs root.
//!
//! The suite runs a short campaign per family (`CAMPAIGN_SEED` picks the seed, printed either
//! way); `scripts/campaign.sh --packets N --seed S` runs the long one (the ignored test
//! `long_campaign`).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use kea_runscript_config::table::{HOOK_POINTS, VARIABLES};
use kea_runscript_testbed::serde_json::{self, json, Map, Value};
use kea_runscript_testbed::util::{sh_quote, write_executable};

/// `extra-env` of the campaign's Kea: must reach every spawned run, exactly.
const EXTRA: (&str, &str) = ("CAMPAIGN_SITE", "paris rive gauche");
/// Checked problems kept for the report (all are counted).
const KEEP: usize = 20;

fn family_no(f: Family) -> u8 {
    if f == Family::V4 {
        4
    } else {
        6
    }
}

/// Every hook point the server of `f` has, `load` and `unload` included.
fn all_hook_points(f: Family) -> Vec<&'static str> {
    HOOK_POINTS.iter().filter(|h| h.in_family(family_no(f))).map(|h| h.name).collect()
}

/// The option codes exported with `options`: the hostile ones a campaign sends, but those the
/// spec already exports under that name (60), which the library refuses.
fn exported_codes(f: Family) -> Vec<u16> {
    let (prefix, codes): (&str, &[u16]) = if f == Family::V4 {
        ("KEA_QUERY4_OPTION", &[12, 55, 60, 61, 77, 81, 82])
    } else {
        ("KEA_QUERY6_OPTION", &[1, 3, 15, 16, 18, 25, 39])
    };
    let isc = if f == Family::V4 { "QUERY4_OPTION_" } else { "QUERY6_OPTION_" };
    codes
        .iter()
        .copied()
        .filter(|c| !VARIABLES.iter().any(|v| v.name == format!("{prefix}{c}") || v.isc == format!("{isc}{c}")))
        .collect()
}

fn query_prefix(f: Family) -> &'static str {
    if f == Family::V4 {
        "KEA_QUERY4_"
    } else {
        "KEA_QUERY6_"
    }
}

/// What a campaign against one server found.
#[derive(Debug, Default)]
struct Figures {
    sent: u64,
    kinds: BTreeMap<String, u64>,
    spawn_runs: u64,
    worker_lines: u64,
    dropped: i64,
    malformed: u64,
    problems: Vec<String>,
    /// Each kind of problem (hook point and check, without the value) and how often.
    problem_kinds: BTreeMap<String, u64>,
    crashes: u64,
    hangs: u64,
    received: i64,
    parse_failed: i64,
    replies: i64,
    served_after: bool,
    by_hook: BTreeMap<String, u64>,
    /// `KRS_CALLOUT_FAILED` in Kea's log (a callout failed outside any one value's read: that
    /// packet's event at that hook point was lost), by callout and reason: there must be none.
    callout_failures: BTreeMap<String, u64>,
}

impl Figures {
    fn kinds_of(&mut self, hook: &str, ps: &[String]) {
        for p in ps {
            let k = p.split_once('=').map_or(p.as_str(), |(n, _)| n);
            *self.problem_kinds.entry(format!("{hook}: {k}")).or_default() += 1;
        }
    }

    fn problem(&mut self, p: String) {
        self.malformed += 1;
        if self.problems.len() < KEEP {
            self.problems.push(p);
        }
    }
}

/// The checks of one event, spawned (`env` the whole environment) or a worker's line (`line`
/// its members but `hook`): only allowed names, each well formed. Returns the problems.
struct Checker {
    family: Family,
    hooks: Vec<&'static str>,
    exported: Vec<String>,
}

impl Checker {
    fn new(family: Family) -> Checker {
        let prefix = if family == Family::V4 { "KEA_QUERY4_OPTION" } else { "KEA_QUERY6_OPTION" };
        Checker {
            family,
            hooks: all_hook_points(family),
            exported: exported_codes(family).iter().map(|c| format!("{prefix}{c}")).collect(),
        }
    }

    /// `vars`: name → exact bytes; `spawned`: from a script's environment (else a worker's line).
    fn check(&self, hook: &str, vars: &BTreeMap<String, Vec<u8>>, spawned: bool) -> Vec<String> {
        let mut p = Vec::new();
        if !self.hooks.contains(&hook) {
            p.push(format!("hook point {hook:?} is not one of the server's"));
            return p;
        }
        let expected = expected_vars(hook);
        // A replay's `begin` and `end` events carry no lease (docs/reference.md, the replay
        // hook points): only the replay's own and the event's identity are set.
        let phase = vars.get("KEA_REPLAY_PHASE").map(Vec::as_slice);
        let no_lease = hook.ends_with("_replay") && matches!(phase, Some(b"begin") | Some(b"end"));
        let has_query = expected.iter().any(|(n, _)| n.starts_with(query_prefix(self.family)));
        for (name, value) in vars {
            let valid_name = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            if !valid_name {
                p.push(format!("bad variable name {name:?}"));
                continue;
            }
            if expected.iter().any(|(n, _)| n == name) {
                continue;
            }
            if has_query && self.exported.contains(name) {
                let ok = value.len() % 2 == 0 && value.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
                if !ok {
                    p.push(format!("{name}={:?} is not lower-case hex", String::from_utf8_lossy(value)));
                }
                continue;
            }
            if spawned && name == EXTRA.0 {
                if value != EXTRA.1.as_bytes() {
                    p.push(format!("{name}={:?}, configured {:?}", String::from_utf8_lossy(value), EXTRA.1));
                }
                continue;
            }
            if spawned && (SHELL_VARS.contains(&name.as_str()) || PASSED_BY_DEFAULT.contains(&name.as_str())) {
                continue;
            }
            p.push(format!("forged or unexpected variable {name}"));
        }
        if spawned && !vars.contains_key(EXTRA.0) {
            p.push(format!("{} missing", EXTRA.0));
        }
        for (name, kind) in expected {
            let Some(v) = vars.get(name) else {
                p.push(format!("{name} missing"));
                continue;
            };
            if v.is_empty() {
                let replay_own = name.starts_with("KEA_REPLAY_") || name.starts_with("KEA_EVENT_") || name == "KEA_SERVER_NAME";
                if !may_be_empty(name) && !(no_lease && !replay_own) {
                    p.push(format!("{name} is empty"));
                }
                continue;
            }
            if v.contains(&0) {
                p.push(format!("{name} holds a NUL"));
            }
            let text = String::from_utf8_lossy(v);
            if kind != Kind::Str && !well_formed(kind, &text) {
                p.push(format!("{name}={text:?} is not a well-formed {kind:?}"));
            }
        }
        p
    }
}

/// Replaces `rec`'s recorder with one in the same format that costs two programs a run (`env`,
/// `mv`) instead of four: the campaign's runs are many. It names its event by the pid and
/// `KEA_EVENT_ID`, unique per event; its start time is not recorded (0).
fn light_recorder(rec: &EventLog) {
    let events = rec.dir();
    let staging = events.parent().unwrap().join("staging");
    let body = format!(
        "#!/bin/sh\n\
         s={st}/ev.$$\n\
         {{ printf '0\\n%s\\n%s\\n' \"$$\" \"$#\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done; /usr/bin/env -0; }} > \"$s\" || exit 98\n\
         exec /bin/mv \"$s\" {ev}/\"ev.$$.$KEA_EVENT_ID\"\n",
        st = sh_quote(&staging),
        ev = sh_quote(events)
    );
    write_executable(rec.script(), &body).unwrap();
}

/// A shell worker that copies its stdin, the event lines, into the FIFO `fifo`.
fn worker_script(dir: &Path, fifo: &Path) -> PathBuf {
    let p = dir.join("campaign-worker.sh");
    write_executable(&p, &format!("#!/bin/sh\nexec /bin/cat > {}\n", sh_quote(fifo))).unwrap();
    p
}

/// Reads the FIFO's lines into `tx` until the line `END` (written by the test once Kea has
/// stopped). Opened read-write, it never reads end-of-file when a worker exits and another
/// starts.
fn read_fifo(fifo: PathBuf, tx: mpsc::Sender<Vec<u8>>) {
    let f = fs::OpenOptions::new().read(true).write(true).open(&fifo).unwrap();
    let mut r = BufReader::with_capacity(1 << 20, f);
    loop {
        let mut line = Vec::new();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == b"END\n" || tx.send(line).is_err() {
            return;
        }
    }
}

/// One worker line: a JSON object of strings with `hook`; its problems.
fn check_line(c: &Checker, line: &[u8], fig: &mut Figures) {
    fig.worker_lines += 1;
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => return fig.problem(format!("worker line not UTF-8 ({e}): {:?}", String::from_utf8_lossy(line))),
    };
    let Some(body) = text.strip_suffix('\n') else { return fig.problem(format!("worker line without newline: {text:?}")) };
    if body.contains('\n') {
        return fig.problem(format!("multi-line worker line: {text:?}"));
    }
    let m: Map<String, Value> = match serde_json::from_str(body) {
        Ok(m) => m,
        Err(e) => return fig.problem(format!("worker line is not a JSON object ({e}): {body}")),
    };
    let Some(hook) = m.get("hook").and_then(Value::as_str) else { return fig.problem(format!("no hook: {body}")) };
    let mut vars = BTreeMap::new();
    for (k, v) in &m {
        if k == "hook" {
            continue;
        }
        match v.as_str() {
            // JSON carries the bytes Kea had as U+0000..U+00FF escapes or UTF-8 text: check the text.
            Some(s) => {
                vars.insert(k.clone(), s.as_bytes().to_vec());
            }
            None => fig.problem(format!("{k} is not a string: {body}")),
        }
    }
    *fig.by_hook.entry(format!("worker:{hook}")).or_default() += 1;
    let p = c.check(hook, &vars, false);
    if !p.is_empty() {
        fig.kinds_of(&format!("worker {hook}"), &p);
        fig.problem(format!("worker {hook}: {}: {body}", p.join("; ")));
    }
}

fn check_event(c: &Checker, ev: &Event, fig: &mut Figures) {
    fig.spawn_runs += 1;
    *fig.by_hook.entry(format!("spawn:{}", ev.hook)).or_default() += 1;
    let mut p = c.check(&ev.hook, &ev.raw, true);
    if !ev.extra_args.is_empty() {
        p.push(format!("extra arguments {:?}", ev.extra_args));
    }
    if !p.is_empty() {
        fig.kinds_of(&format!("spawned {}", ev.hook), &p);
        fig.problem(format!("spawned {}: {}\n{ev}", ev.hook, p.join("; ")));
    }
}

fn stat(s: &BTreeMap<String, i64>, name: &str) -> i64 {
    s.get(name).copied().unwrap_or(0)
}

/// A campaign of `packets` packets (`first`..) of `seed` against a fresh Kea of `family`.
fn campaign(family: Family, seed: u64, first: u64, packets: u64) -> Figures {
    let ns = if family == Family::V4 {
        Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap()
    } else {
        Netns::new().unwrap()
    };
    let rec = EventLog::create(ns.dir(), "campaign-recorder", "").unwrap();
    light_recorder(&rec);
    let fifo = ns.dir().join("worker.fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo {}", fifo.display());
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || read_fifo(fifo, tx)
    });
    let worker = worker_script(ns.dir(), &fifo);
    let hooks = all_hook_points(family);
    let params = json!({
        "scripts": [
            // Runs past these many waiting are dropped and counted: the packet path never waits.
            {"script": rec.script(), "hook-points": hooks, "max-queued": 512, "max-running": 4},
            {"script": worker, "mode": "worker", "hook-points": hooks, "max-queued": 20000},
        ],
        "options": exported_codes(family),
        "extra-env": {EXTRA.0: EXTRA.1},
    });
    let mut cfg = KeaConfig::new(family)
        .valid_lifetime(8)
        .fast_reclaim()
        .decline_probation_period(3)
        .control_socket()
        .quiet_logger("leases")
        .quiet_logger("packets")
        .quiet_logger("bad-packets")
        // Every hostname character let through: the hook must see the worst.
        .extra(json!({"hostname-char-set": ""}))
        .hook(hook_library(&hook_so(), params));
    if family == Family::V6 {
        cfg = cfg.preferred_lifetime(6).timers(3, 5);
    }
    let kea = Kea::start(&ns, &cfg).unwrap();
    let checker = Checker::new(family);
    let mut fig = Figures::default();

    let out_p = ns.dir().join("campaign.stdout");
    let err_p = ns.dir().join("campaign.stderr");
    let script = python_clients_dir().join("campaign.py");
    let mut cmd: Command = ns.client_cmd("/usr/bin/python3");
    cmd.arg(&script)
        .args(["--iface", &ns.client_if, "--family", &family_no(family).to_string()])
        .args(["--seed", &seed.to_string(), "--first", &first.to_string(), "--packets", &packets.to_string()])
        .stdout(Stdio::from(fs::File::create(&out_p).unwrap()))
        .stderr(Stdio::from(fs::File::create(&err_p).unwrap()));
    if family == Family::V6 && kea_4735() {
        cmd.arg("--skip-kea-4735");
    }
    let py = ns.spawn("campaign.py", &mut cmd).unwrap();
    let mut err_seen = 0;
    let mut relay_progress = |final_: bool| {
        let text = fs::read_to_string(&err_p).unwrap_or_default();
        let upto = if final_ { text.len() } else { text.rfind('\n').map_or(0, |i| i + 1) };
        if upto > err_seen {
            for l in text[err_seen..upto].lines() {
                eprintln!("{l}");
            }
            err_seen = upto;
        }
    };
    let take = |fig: &mut Figures| {
        for ev in rec.take_events() {
            check_event(&checker, &ev, fig);
        }
        // Bounded, so that a busy worker cannot keep the probes below from running.
        let t = Instant::now();
        while let Ok(line) = rx.try_recv() {
            check_line(&checker, &line, fig);
            if t.elapsed() > Duration::from_millis(500) {
                break;
            }
        }
    };
    let started = Instant::now();
    let mut last_probe = Instant::now();
    let status = loop {
        take(&mut fig);
        relay_progress(false);
        if let Some(st) = py.try_status() {
            break Some(st);
        }
        if let Some(st) = kea.exited() {
            let stderr = fs::read_to_string(kea.dir().join("stderr")).unwrap_or_default();
            relay_progress(true);
            eprintln!("campaign: Kea exited ({st}) while the campaign ran; stderr:\n{stderr}\nlog:\n{}", log_tail_text(&kea.log(), 40));
            fig.crashes += 1;
            break None;
        }
        // Kea's main thread answers the control socket between packets: an answer within 10 s
        // says it is not stuck.
        if last_probe.elapsed() >= Duration::from_secs(5) {
            if let Err(e) = kea.command_timeout(r#"{"command": "version-get"}"#, Duration::from_secs(10)) {
                eprintln!("campaign: Kea did not answer within 10 s: {e}");
                fig.hangs += 1;
                break None;
            }
            eprintln!(
                "campaign: DHCPv{} {:.0} s: script runs {}, worker lines {}, malformed {}",
                family_no(family),
                started.elapsed().as_secs_f64(),
                fig.spawn_runs,
                fig.worker_lines,
                fig.malformed
            );
            last_probe = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200)); // polling cadence, not a synchronisation
    };
    relay_progress(true);
    if let Some(st) = status {
        assert!(st.success(), "campaign.py failed ({st}):\n{}", fs::read_to_string(&err_p).unwrap_or_default());
        let report: Value = serde_json::from_str(fs::read_to_string(&out_p).unwrap().trim()).unwrap();
        fig.sent = report["sent"].as_u64().unwrap();
        for (k, v) in report["kinds"].as_object().unwrap() {
            fig.kinds.insert(k.clone(), v.as_u64().unwrap());
        }
        // Every run started and every line written reaches the checks: wait until the queues
        // are empty and what was checked equals Kea's own counters.
        let settled = wait_until(Duration::from_secs(120), || {
            take(&mut fig);
            let s = kea.statistics().ok()?;
            let idle = stat(&s, "runscript[1].queued") == 0
                && stat(&s, "runscript[1].running") == 0
                && stat(&s, "runscript[2].queued") == 0;
            (idle && stat(&s, "runscript[1].runs") == fig.spawn_runs as i64
                && stat(&s, "runscript[2].runs") == fig.worker_lines as i64)
                .then_some(s)
        });
        match settled {
            Ok(s) => {
                fig.dropped = stat(&s, "runscript.dropped");
                assert_eq!(stat(&s, "runscript.exited-nonzero"), 0, "a recorder run failed: {s:?}");
            }
            Err(e) => {
                let s = kea.statistics();
                eprintln!(
                    "campaign: runs never settled ({e}): checked {} runs, {} lines; Kea: {s:?}",
                    fig.spawn_runs, fig.worker_lines
                );
                fig.hangs += 1;
            }
        }
    } else {
        py.kill();
    }
    if kea.exited().is_none() && fig.hangs == 0 {
        let s = kea.statistics().unwrap();
        let v = family_no(family);
        fig.received = stat(&s, &format!("pkt{v}-received"));
        fig.parse_failed = stat(&s, &format!("pkt{v}-parse-failed"));
        fig.replies = stat(&s, &format!("pkt{v}-sent"));
        // A normal client is still served (retransmitting while the campaign's leases expire).
        let mac = "02:00:00:ca:fe:01";
        let served = if family == Family::V4 {
            dhcp4_client(&ns, &["--mac", mac, "--timeout", "2", "--retries", "15"])
        } else {
            dhcp6_client(&ns, &["--mac", mac, "--timeout", "2", "--retries", "15"])
        };
        match served {
            Ok(r) => fig.served_after = r.str("address").is_some_and(|a| !a.is_empty()),
            Err(e) => eprintln!("campaign: a normal client was not served after the campaign: {e}"),
        }
        take(&mut fig);
    }
    let log = kea.log();
    for l in log.lines() {
        if let Some((_, why)) = l.split_once(" KRS_CALLOUT_FAILED ") {
            let why = why.replace(", the packet is processed as if the hook were absent", "");
            *fig.callout_failures.entry(why).or_default() += 1;
        }
    }
    let fatal: Vec<&str> = log.lines().filter(|l| l.contains(" FATAL ")).collect();
    assert!(fatal.is_empty(), "Kea logged FATAL:\n{}", fatal.join("\n"));
    if kea.exited().is_some() && fig.crashes == 0 {
        fig.crashes += 1;
    }
    let stopped = kea.stop();
    if fig.crashes == 0 && !stopped.is_some_and(|s| s.success()) {
        eprintln!("campaign: Kea did not stop cleanly: {stopped:?}\n{}", log_tail_text(&log, 30));
        fig.crashes += 1;
    }
    // The worker has ended with Kea: end the reader.
    fs::OpenOptions::new().write(true).open(&fifo).and_then(|mut f| f.write_all(b"END\n")).unwrap();
    reader.join().unwrap();
    while let Ok(line) = rx.try_recv() {
        check_line(&checker, &line, &mut fig);
    }
    fig
}

/// Kea 3.0.0 to 3.0.4 (the newest seen) abort, with or without any hook library, on a DHCPv6
/// relay message of exactly its 34-byte header: `Pkt6::unpackRelayMsg` indexes `data_[34]`, which
/// Debian's build (`_GLIBCXX_ASSERTIONS`) turns into an abort (ISC's Kea issue #4735, fixed after
/// 3.0.4). Found by this campaign; campaign.py does not send that packet to those releases.
fn kea_4735() -> bool {
    let v = kea_runscript_testbed::kea_version();
    (v.major, v.minor) == (3, 0) && v.patch <= 4
}

fn log_tail_text(log: &str, n: usize) -> String {
    let v: Vec<&str> = log.lines().collect();
    v[v.len().saturating_sub(n)..].join("\n")
}

fn report(family: Family, seed: u64, f: &Figures) {
    eprintln!(
        "campaign DHCPv{} seed {seed}: packets sent {}, Kea received {} (parse failures {}), sent {}; \
         Kea crashes {}, hangs {}; script runs {}, worker lines {}, dropped {}; malformed environments {}; \
         normal client served after: {}",
        family_no(family),
        f.sent,
        f.received,
        f.parse_failed,
        f.replies,
        f.crashes,
        f.hangs,
        f.spawn_runs,
        f.worker_lines,
        f.dropped,
        f.malformed,
        f.served_after
    );
    eprintln!("  kinds: {:?}", f.kinds);
    for (why, n) in &f.callout_failures {
        eprintln!("  KRS_CALLOUT_FAILED ×{n}: {why}");
    }
    eprintln!("  events: {:?}", f.by_hook);
    for p in f.problems.iter().take(5) {
        eprintln!("  problem: {p}");
    }
    for (k, n) in &f.problem_kinds {
        eprintln!("  problem ×{n}: {k}");
    }
}

fn assert_clean(family: Family, seed: u64, f: &Figures) {
    report(family, seed, f);
    let again = format!("again with CAMPAIGN_SEED={seed}");
    assert_eq!(f.crashes, 0, "Kea crashed ({again})");
    assert_eq!(f.hangs, 0, "Kea hung ({again})");
    assert_eq!(f.malformed, 0, "malformed environments or lines ({again}):\n{}", f.problems.join("\n"));
    // A value Kea throws reading is left empty (KRS_VALUE_UNREADABLE): no hostile packet hides its event.
    assert!(f.callout_failures.is_empty(), "events lost to KRS_CALLOUT_FAILED ({again}): {:?}", f.callout_failures);
    assert!(f.served_after, "no normal client served after the campaign ({again})");
    assert!(f.spawn_runs > 0 && f.worker_lines > 0, "no event reached the script or the worker ({again})");
    // Kea read the campaign (how much of it depends on the machine's load: a starved Kea's
    // socket buffer overflows, silently).
    assert!(f.received > 0, "Kea received none of the {} packets ({again})", f.sent);
}

fn seed() -> u64 {
    match std::env::var("CAMPAIGN_SEED") {
        Ok(s) => s.parse().unwrap_or_else(|_| panic!("CAMPAIGN_SEED={s:?} is not a number")),
        Err(_) => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64 % (1 << 32),
    }
}

fn packets(default: u64) -> u64 {
    std::env::var("CAMPAIGN_PACKETS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

#[test]
fn hostile_dhcp4_packets_keep_kea_up_and_environments_well_formed() {
    let seed = seed();
    eprintln!("campaign: DHCPv4 seed {seed} (CAMPAIGN_SEED={seed} to repeat)");
    let f = campaign(Family::V4, seed, 0, 1500);
    assert_clean(Family::V4, seed, &f);
}

#[test]
fn hostile_dhcp6_packets_keep_kea_up_and_environments_well_formed() {
    let seed = seed();
    eprintln!("campaign: DHCPv6 seed {seed} (CAMPAIGN_SEED={seed} to repeat)");
    let f = campaign(Family::V6, seed, 0, 1500);
    assert_clean(Family::V6, seed, &f);
}

/// The long campaign (`scripts/campaign.sh`): `CAMPAIGN_PACKETS` (default 1,000,000) split
/// between the families, one after the other.
#[test]
#[ignore]
fn long_campaign() {
    let seed = seed();
    let total = packets(1_000_000);
    eprintln!("campaign: seed {seed}, {total} packets (CAMPAIGN_SEED={seed} to repeat)");
    // Both families at once, each against its own Kea in its own namespaces.
    let all: Vec<(Family, Figures)> = std::thread::scope(|s| {
        let runs: Vec<_> = [Family::V4, Family::V6]
            .into_iter()
            .map(|family| (family, s.spawn(move || campaign(family, seed, 0, total / 2))))
            .collect();
        runs.into_iter().map(|(family, h)| (family, h.join().unwrap())).collect()
    });
    for (family, f) in &all {
        report(*family, seed, f);
    }
    let sum = |g: fn(&Figures) -> u64| all.iter().map(|(_, f)| g(f)).sum::<u64>();
    eprintln!(
        "campaign total: seed {seed}: packets sent {}, Kea crashes {}, hangs {}, script runs {} (+ worker lines {}), \
         malformed environments {}",
        sum(|f| f.sent),
        sum(|f| f.crashes),
        sum(|f| f.hangs),
        sum(|f| f.spawn_runs),
        sum(|f| f.worker_lines),
        sum(|f| f.malformed)
    );
    for (family, f) in &all {
        assert_clean(*family, seed, f);
    }
}
