//! Lease state that survives restarts: `KEA_LEASE_EVENT` at the lease hook points, and the
//! replays `lease4_replay`/`lease6_replay` (at load, on the command `runscript-replay`), with
//! Kea's memfile and with a real PostgreSQL lease database. Real kea-dhcp4/kea-dhcp6, real
//! clients (perfdhcp, dhclient). Needs root.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::Duration;

use common::*;
use kea_runscript_testbed::serde_json::{json, Value};

fn bare(ipv6: bool) -> Netns {
    Netns::with_options(NetnsOptions { ipv6, client_v4: false }).unwrap()
}

fn params(rec: &EventLog, wait: bool, hooks: &[&str]) -> Value {
    json!({"script": rec.script().to_string_lossy(), "wait": wait, "hook-points": hooks})
}

fn phase(ev: &Event) -> &str {
    ev.get("KEA_REPLAY_PHASE").unwrap_or("")
}

/// A replay's events from `evs` (the hook point's), checked for their shape: one `begin` first,
/// one `end` last, `old` leases between. Returns the leases' events and the `end` event.
fn replay_of<'a>(evs: &'a [Event], hook: &str) -> (Vec<&'a Event>, &'a Event) {
    let evs: Vec<&Event> = evs.iter().filter(|e| e.hook == hook).collect();
    assert!(evs.len() >= 2, "a replay has a begin and an end: {}", summary(&evs.iter().map(|e| (*e).clone()).collect::<Vec<_>>()));
    assert_eq!(phase(evs[0]), "begin", "first: {}", evs[0]);
    let end = evs[evs.len() - 1];
    assert_eq!(phase(end), "end", "last: {end}");
    let leases: Vec<&Event> = evs[1..evs.len() - 1].to_vec();
    for ev in &leases {
        assert_eq!(phase(ev), "lease", "{ev}");
        assert_eq!(ev.var("KEA_LEASE_EVENT"), "old", "{ev}");
        assert!(ev.with_prefix("KEA_QUERY").next().is_none(), "no query at a replay: {ev}");
    }
    for ev in [evs[0], end] {
        assert_eq!(ev.var("KEA_LEASE_EVENT"), "", "{ev}");
    }
    assert_eq!(evs[0].var("KEA_REPLAY_COUNT"), "", "{}", evs[0]);
    let count = end.int("KEA_REPLAY_COUNT") as usize;
    assert_eq!(count, leases.len(), "{end}\n{} events recorded: {}", evs.len(), summary(&evs.iter().map(|e| (*e).clone()).collect::<Vec<_>>()));
    (leases, end)
}

fn ends(rec: &EventLog, hook: &str) -> usize {
    rec.of(hook).iter().filter(|e| phase(e) == "end").count()
}

/// Start Kea with `cfg`, the lease file of `previous` (a stopped server) as its own: a restart.
fn restart<'a>(ns: &'a Netns, cfg: &KeaConfig, previous: &Path) -> Kea<'a> {
    let family = cfg.family;
    Kea::start_text(ns, family, |dir| {
        fs::copy(previous, dir.join(family.lease_file())).expect("copy the lease file");
        cfg.render(&ns.server_if, dir)
    })
    .unwrap()
}

/// The addresses a memfile lease file holds for clients: per address its last row (Kea appends),
/// in state 0 (default) and not expired.
fn held_in_file(file: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(file).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap_or_else(|| panic!("no {name} in {header:?}"));
    let (address, expire, state) = (col("address"), col("expire"), col("state"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut last: BTreeMap<String, bool> = BTreeMap::new();
    for row in lines.map(|l| l.split(',').collect::<Vec<_>>()).filter(|r| r.len() == header.len()) {
        let held = row[state] == "0" && row[expire].parse::<u64>().is_ok_and(|e| e > now);
        last.insert(row[address].to_string(), held);
    }
    last.into_iter().filter(|(_, held)| *held).map(|(a, _)| a).collect()
}

/// The addresses leased (`add`) at lease4_select/lease6_select, with their KEA_LEASE_EVENT words
/// checked: `offer` exactly when Kea only offered.
fn granted(evs: &[Event], v: char) -> BTreeSet<String> {
    let mut held = BTreeSet::new();
    for ev in evs.iter().filter(|e| e.hook == format!("lease{v}_select")) {
        let word = if ev.flag("KEA_FAKE_ALLOCATION") { "offer" } else { "add" };
        assert_eq!(ev.var("KEA_LEASE_EVENT"), word, "{ev}");
        if word == "add" {
            held.insert(ev.var(&format!("KEA_LEASE{v}_ADDRESS")).to_string());
        }
    }
    held
}

/// Kea 2.2/2.6/3.0 with memfile: leases granted to perfdhcp's clients are replayed after a
/// restart, each once, `old`, with the lease's and the subnet's variables, between `begin` and
/// `end` (`KEA_REPLAY_COUNT` = all of them); on `runscript-replay` again, and the command's
/// answer is Kea's usual one.
#[test]
fn replay4_after_restart_and_on_command() {
    let ns = Netns::new().unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v4().persist_leases(0);
    let first = Kea::start(&ns, &cfg.clone().hook(hook_library(&hook_so(), params(&rec, true, &["lease4_select"])))).unwrap();
    let perf = Perfdhcp { rate: 100, clients: 40, period: 2, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    perf.run(&ns).unwrap();
    let held = granted(&rec.events(), '4');
    assert!(held.len() >= 20, "perfdhcp got leases: {}", held.len());
    first.stop();

    let rec2 = EventLog::create(ns.dir(), "replay", "").unwrap();
    let cfg2 = cfg.control_socket().hook(hook_library(&hook_so(), params(&rec2, false, &["lease4_replay"])));
    let kea = restart(&ns, &cfg2, &first.lease_file());
    rec2.wait_for("the replay's end", |evs| evs.iter().any(|e| phase(e) == "end"));
    // Read again: a directory read while files arrive may miss one.
    let evs = rec2.events();
    let (leases, end) = replay_of(&evs, "lease4_replay");
    let replayed: BTreeSet<String> = leases.iter().map(|e| e.var("KEA_LEASE4_ADDRESS").to_string()).collect();
    assert_eq!(replayed.len(), leases.len(), "each lease once");
    // What Kea wrote (the select events may miss a lease a retransmitted REQUEST renewed).
    assert_eq!(replayed, held_in_file(&first.lease_file()), "the replay holds what Kea holds");
    assert!(held.len() * 2 > replayed.len(), "most of them granted here: {held:?} / {replayed:?}");
    assert_eq!(end.var("KEA_REPLAY_FAILED"), "0", "{end}");
    for ev in &leases {
        assert_eq!(ev.var("KEA_LEASE4_STATE"), "default", "{ev}");
        assert_eq!(ev.var("KEA_LEASE4_SUBNET_ID"), "1", "{ev}");
        assert_eq!(ev.var("KEA_SUBNET4"), SUBNET_V4, "{ev}");
        assert!(!ev.var("KEA_LEASE4_HWADDR").is_empty(), "{ev}");
    }
    assert!(kea.log().contains("KRS_REPLAY_DONE"), "{}", kea.log());

    let answer = kea.command(r#"{"command": "runscript-replay"}"#).unwrap();
    assert_eq!(answer["result"], 0, "{answer}");
    assert_eq!(answer["arguments"]["hook-point"], "lease4_replay", "{answer}");
    assert_eq!(answer["arguments"]["last"][0]["delivered"], replayed.len(), "{answer}");
    rec2.wait_for("the second replay's end", |evs| evs.iter().filter(|e| phase(e) == "end").count() == 2);
    assert_eq!(ends(&rec2, "lease4_replay"), 2);
    assert!(kea.exited().is_none());
}

/// DHCPv6 (addresses and prefixes), to a worker: lines, one per held lease, between `begin`
/// and `end`; and a waited-for spawned script beside it gets the same leases (each script
/// replays to itself).
#[test]
fn replay6_to_a_worker_and_a_script() {
    let ns = bare(true);
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v6().persist_leases(0);
    let first = Kea::start(&ns, &cfg.clone().hook(hook_library(&hook_so(), params(&rec, true, &["lease6_select"])))).unwrap();
    let perf = Perfdhcp { rate: 50, clients: 20, period: 2, renew_rate: 0, release_rate: 0, ..Perfdhcp::v6() };
    perf.run(&ns).unwrap();
    let held = granted(&rec.events(), '6');
    assert!(held.len() >= 10, "perfdhcp got leases: {}", held.len());
    first.stop();

    let lines = ns.dir().join("worker-lines");
    let worker = ns.dir().join("worker.sh");
    fs::write(&worker, format!("#!/bin/sh\nwhile IFS= read -r line; do printf '%s\\n' \"$line\" >> '{}'; done\n", lines.display()))
        .unwrap();
    let mut perm = fs::metadata(&worker).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    fs::set_permissions(&worker, perm).unwrap();
    let rec2 = EventLog::create(ns.dir(), "replay", "").unwrap();
    let scripts = json!({"scripts": [
        {"script": worker.to_string_lossy(), "mode": "worker", "wait": false, "hook-points": ["lease6_replay"]},
        {"script": rec2.script().to_string_lossy(), "wait": true, "hook-points": ["lease6_replay"]},
    ]});
    let kea = restart(&ns, &cfg.hook(hook_library(&hook_so(), scripts)), &first.lease_file());
    rec2.wait_for("the replay's end", |evs| evs.iter().any(|e| phase(e) == "end"));
    // Read again: a directory read while files arrive may miss one.
    let evs = rec2.events();
    let (leases, _) = replay_of(&evs, "lease6_replay");
    let keys = |addr: &str, ty: &str| format!("{addr} {ty}");
    let replayed: BTreeSet<String> =
        leases.iter().map(|e| keys(e.var("KEA_LEASE6_ADDRESS"), e.var("KEA_LEASE6_TYPE"))).collect();
    let addresses: BTreeSet<String> = leases.iter().map(|e| e.var("KEA_LEASE6_ADDRESS").to_string()).collect();
    assert_eq!(addresses, held_in_file(&first.lease_file()), "the replay holds what Kea holds");
    assert!(held.len() * 2 > addresses.len(), "most of them granted here: {held:?} / {addresses:?}");
    assert!(replayed.iter().any(|k| k.ends_with("IA_PD")) && replayed.iter().any(|k| k.ends_with("IA_NA")), "{replayed:?}");

    let read = || fs::read_to_string(&lines).unwrap_or_default();
    wait_until(DEFAULT_TIMEOUT, || read().contains(r#""KEA_REPLAY_PHASE":"end""#).then_some(()))
        .unwrap_or_else(|e| panic!("{e}: {}", read()));
    let parsed: Vec<Value> = read().lines().map(|l| kea_runscript_testbed::serde_json::from_str(l).unwrap()).collect();
    assert_eq!(parsed.first().unwrap()["KEA_REPLAY_PHASE"], "begin");
    let worker_leases: Vec<&Value> = parsed.iter().filter(|l| l["KEA_REPLAY_PHASE"] == "lease").collect();
    assert_eq!(worker_leases.len(), leases.len(), "the worker got every lease: {}", read());
    assert_eq!(parsed.last().unwrap()["KEA_REPLAY_COUNT"], leases.len().to_string());
    for l in &worker_leases {
        assert_eq!(l["hook"], "lease6_replay");
        assert_eq!(l["KEA_LEASE_EVENT"], "old");
    }
    assert!(kea.exited().is_none());
}

/// Append `n` held leases in subnet 2 (198.18.0.0/15) to a stopped DHCPv4 server's lease file,
/// in the columns its header names (they differ between Kea releases).
fn add_held_leases4(file: &Path, n: u32) {
    let text = fs::read_to_string(file).unwrap();
    let header: Vec<&str> = text.lines().next().expect("a lease file header").split(',').collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut more = String::new();
    for i in 0..n {
        let row: Vec<String> = header
            .iter()
            .map(|column| match *column {
                "address" => format!("198.18.{}.{}", i / 250, 1 + i % 250),
                "hwaddr" => format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256),
                "valid_lifetime" => "3600".into(),
                "expire" => (now + 3600).to_string(),
                "subnet_id" => "2".into(),
                "fqdn_fwd" | "fqdn_rev" | "state" | "pool_id" => "0".into(),
                _ => String::new(),
            })
            .collect();
        more.push_str(&row.join(","));
        more.push('\n');
    }
    fs::write(file, text + &more).unwrap();
}

/// No stale `old`: while a replay of 1,500 leases runs (to a waited-for script: its runs are in
/// the order the library makes them), perfdhcp's clients, which hold leases of the replay, take
/// and release leases. For every lease no `old` comes after a live event of it; Kea served
/// during the replay; the replay ends.
#[test]
fn no_stale_old_while_clients_take_and_release() {
    let ns = Netns::new().unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let big = json!({"id": 2, "subnet": "198.18.0.0/15", "pools": [{"pool": "198.18.0.1 - 198.18.255.254"}]});
    let cfg = KeaConfig::v4().persist_leases(0).subnet(big);
    let hooks = ["lease4_select", "lease4_release", "lease4_replay"];
    let base = ["-b".to_string(), "mac=02:00:5e:10:00:00".to_string()];
    let first = Kea::start(&ns, &cfg.clone()).unwrap();
    let perf = Perfdhcp { rate: 100, clients: 60, period: 2, renew_rate: 0, release_rate: 0, extra: base.to_vec(), ..Perfdhcp::v4() };
    perf.run(&ns).unwrap();
    first.stop();
    add_held_leases4(&first.lease_file(), 1500);

    let kea = restart(&ns, &cfg.hook(hook_library(&hook_so(), params(&rec, true, &hooks))), &first.lease_file());
    // The same clients again (the same MAC addresses): they get the leases they hold, and release some.
    let perf = Perfdhcp { rate: 50, clients: 60, period: 3, renew_rate: 0, release_rate: 10, extra: base.to_vec(), ..Perfdhcp::v4() };
    perf.run(&ns).unwrap();
    rec.wait_for_timeout("the replay's end", Duration::from_secs(120), |evs| evs.iter().any(|e| phase(e) == "end"));
    // Read again: a directory read while files arrive may miss one.
    let evs = rec.events();
    let (_, end) = replay_of(&evs, "lease4_replay");
    let end_time = end.time_ns;
    let begin_time = evs.iter().find(|e| phase(e) == "begin").unwrap().time_ns;
    let live: Vec<&Event> = evs.iter().filter(|e| e.hook != "lease4_replay").collect();
    let during = live.iter().filter(|e| e.time_ns > begin_time && e.time_ns < end_time).count();
    assert!(during > 0, "Kea served during the replay ({} live events, none in it)", live.len());
    let mut first_live: BTreeMap<String, u128> = BTreeMap::new();
    for ev in &live {
        if ev.get("KEA_LEASE_EVENT") != Some("offer") {
            first_live.entry(ev.var("KEA_LEASE4_ADDRESS").to_string()).or_insert(ev.time_ns);
        }
    }
    let mut replayed_clients = 0;
    for ev in evs.iter().filter(|e| phase(e) == "lease") {
        let addr = ev.var("KEA_LEASE4_ADDRESS");
        if addr.starts_with("192.0.2.") {
            replayed_clients += 1;
        }
        if let Some(&t) = first_live.get(addr) {
            assert!(ev.time_ns < t, "old of {addr} after its live event: {ev}\n{}", kea.log());
        }
    }
    let touched_held = first_live.keys().filter(|a| a.starts_with("192.0.2.")).count();
    assert!(touched_held > 0 && replayed_clients + touched_held > 0, "the clients' leases were live during the replay");
    assert!(kea.exited().is_none());
}

/// KEA_LEASE_EVENT at the live hook points: a client's DORA (offer, add), its renewal (renew),
/// its release (del); the committed leases (add, del).
#[test]
fn lease_event_words4() {
    let ns = bare(false);
    let rec = EventLog::new(ns.dir()).unwrap();
    let hooks = ["lease4_select", "lease4_renew", "lease4_release", "leases4_committed"];
    let _kea = Kea::start(&ns, &KeaConfig::v4().hook(hook_library(&hook_so(), params(&rec, true, &hooks)))).unwrap();
    let mut dh = Dhclient::v4(&ns).unwrap();
    let lease = dh.obtain().unwrap();
    let addr = lease.address.clone().unwrap();
    dh.release().unwrap();
    // The release runs lease4_release, then leases4_committed with the lease deleted.
    let evs = rec.wait_for("the release", |evs| {
        evs.iter().any(|e| e.hook == "leases4_committed" && e.get("KEA_LEASE_DELETED") == Some("1"))
    });
    let words: Vec<(String, String)> =
        evs.iter().map(|e| (e.hook.clone(), e.var("KEA_LEASE_EVENT").to_string())).collect();
    let expect = |hook: &str, word: &str| {
        assert!(words.iter().any(|(h, w)| h == hook && w == word), "{hook} {word} in {words:?}");
    };
    expect("lease4_select", "offer");
    expect("lease4_select", "add");
    expect("leases4_committed", "add");
    expect("lease4_release", "del");
    expect("leases4_committed", "del");
    for ev in &evs {
        assert_eq!(ev.var("KEA_LEASE4_ADDRESS"), addr, "{ev}");
    }
}

/// A slow replay (a script of 20 ms per lease, 1,000 leases) cut by `config-reload`: the replay
/// stops at once (logged), the new configuration's replay starts afresh and ends; Kea serves
/// all along. And `runscript-replay` while a replay runs is refused with a clear answer.
#[test]
fn reload_during_a_replay_and_a_refused_command() {
    let ns = Netns::new().unwrap();
    let big = json!({"id": 2, "subnet": "198.18.0.0/15", "pools": [{"pool": "198.18.0.1 - 198.18.255.254"}]});
    let cfg = KeaConfig::v4().persist_leases(0).subnet(big).control_socket();
    let first = Kea::start(&ns, &cfg.clone()).unwrap();
    first.stop();
    add_held_leases4(&first.lease_file(), 1000);
    let rec = EventLog::create(ns.dir(), "slow", "/bin/sleep 0.02").unwrap();
    let cfg = cfg.hook(hook_library(&hook_so(), params(&rec, false, &["lease4_replay"])));
    let kea = restart(&ns, &cfg, &first.lease_file());
    rec.wait_for("some replayed leases", |evs| evs.iter().filter(|e| phase(e) == "lease").count() >= 20);
    let refused = kea.command(r#"{"command": "runscript-replay"}"#).unwrap();
    assert_eq!(refused["result"], 1, "{refused}");
    assert!(refused["text"].as_str().unwrap().contains("is running"), "{refused}");
    let started = std::time::Instant::now();
    let answer = kea.command(r#"{"command": "config-reload"}"#).unwrap();
    assert_eq!(answer["result"], 0, "{answer}");
    let took = started.elapsed();
    assert!(kea.log().contains("KRS_REPLAY_STOPPED"), "{}", kea.log());
    rec.wait_for_timeout("the new replay's end", Duration::from_secs(120), |evs| evs.iter().any(|e| phase(e) == "end"));
    // Read again: a directory read while files arrive may miss one.
    let evs = rec.events();
    let begins = evs.iter().filter(|e| phase(e) == "begin").count();
    assert_eq!(begins, 2, "the old replay's begin and the new one's");
    let end = evs.iter().find(|e| phase(e) == "end").unwrap();
    assert_eq!(end.int("KEA_REPLAY_COUNT"), 1000, "the new replay delivered all: {end}");
    eprintln!("config-reload during a replay answered in {} ms", took.as_millis());
    assert!(kea.exited().is_none());
}

/// A script that fails on every replayed lease: each run is logged as failed, the replay goes
/// on, `end` comes with the count and `KEA_REPLAY_FAILED` = all of them. And a server with no
/// replay hook point refuses `runscript-replay` clearly.
#[test]
fn failing_script_and_no_replay_selected() {
    let ns = Netns::new().unwrap();
    let big = json!({"id": 2, "subnet": "198.18.0.0/15", "pools": [{"pool": "198.18.0.1 - 198.18.255.254"}]});
    let cfg = KeaConfig::v4().persist_leases(0).subnet(big).control_socket();
    let first = Kea::start(&ns, &cfg.clone()).unwrap();
    let answer = first.command(r#"{"command": "runscript-replay"}"#);
    // Without the library Kea knows no such command; with it and no replay selected, below.
    assert!(answer.is_ok());
    first.stop();
    add_held_leases4(&first.lease_file(), 30);
    let rec = EventLog::create(ns.dir(), "failing", r#"[ "$KEA_REPLAY_PHASE" = lease ] && exit 3; exit 0"#).unwrap();
    let kea = restart(&ns, &cfg.clone().hook(hook_library(&hook_so(), params(&rec, false, &["lease4_replay"]))), &first.lease_file());
    rec.wait_for("the end", |evs| evs.iter().any(|e| phase(e) == "end"));
    // Read again: a directory read while files arrive may miss one.
    let evs = rec.events();
    let (leases, end) = replay_of(&evs, "lease4_replay");
    assert_eq!(leases.len(), 30);
    assert_eq!(end.int("KEA_REPLAY_FAILED"), 30, "{end}");
    kea.stop();

    let rec2 = EventLog::create(ns.dir(), "none", "").unwrap();
    let plain = restart(&ns, &cfg.hook(hook_library(&hook_so(), params(&rec2, false, &["lease4_select"]))), &first.lease_file());
    let refused = plain.command(r#"{"command": "runscript-replay"}"#).unwrap();
    assert_eq!(refused["result"], 1, "{refused}");
    assert!(refused["text"].as_str().unwrap().contains("no script selected lease4_replay"), "{refused}");
}

/// With a real PostgreSQL lease database: the leases perfdhcp's clients got are replayed after
/// a restart; then with the database stopped, `runscript-replay` logs why reading failed and
/// still ends (nothing delivered), and Kea keeps running.
#[test]
fn replay4_with_postgresql() {
    let ns = Netns::new().unwrap();
    let pg = Postgres::start(&ns).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let hooks = ["lease4_select", "lease4_release", "lease4_replay"];
    let cfg = KeaConfig::v4().control_socket().extra(json!({"lease-database": pg.lease_database()}));
    let first = Kea::start(&ns, &cfg.clone().hook(hook_library(&hook_so(), params(&rec, true, &hooks)))).unwrap();
    rec.wait_for("the first replay (empty)", |evs| evs.iter().any(|e| phase(e) == "end"));
    // Read again: a directory read while files arrive may miss one.
    let evs = rec.events();
    assert_eq!(replay_of(&evs, "lease4_replay").0.len(), 0, "an empty database");
    let perf = Perfdhcp { rate: 100, clients: 30, period: 2, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    perf.run(&ns).unwrap();
    let held = granted(&rec.events(), '4');
    first.stop();
    let in_db = pg.psql("SELECT host('0.0.0.0'::inet + address) FROM lease4 WHERE state = 0").unwrap();
    let in_db: BTreeSet<String> = in_db.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
    assert!(!in_db.is_empty() && held.len() * 2 > in_db.len(), "the database holds the granted leases: {held:?} / {in_db:?}");

    let rec2 = EventLog::create(ns.dir(), "again", "").unwrap();
    let kea = Kea::start(&ns, &cfg.hook(hook_library(&hook_so(), params(&rec2, true, &["lease4_replay"])))).unwrap();
    rec2.wait_for("the replay", |evs| evs.iter().any(|e| phase(e) == "end"));
    // Read again: a directory read while files arrive may miss one.
    let evs = rec2.events();
    let (leases, _) = replay_of(&evs, "lease4_replay");
    let replayed: BTreeSet<String> = leases.iter().map(|e| e.var("KEA_LEASE4_ADDRESS").to_string()).collect();
    assert_eq!(replayed, in_db, "the replay holds what the database holds");

    pg.stop();
    let answer = kea.command(r#"{"command": "runscript-replay"}"#).unwrap();
    assert_eq!(answer["result"], 0, "{answer}");
    rec2.wait_for("the failed replay's end", |evs| evs.iter().filter(|e| phase(e) == "end").count() == 2);
    // Read again: a directory read while files arrive may miss one.
    let evs = rec2.events();
    let end = evs.iter().filter(|e| phase(e) == "end").nth(1).unwrap();
    assert_eq!(end.int("KEA_REPLAY_COUNT"), 0, "{end}");
    kea.wait_log("KRS_REPLAY_READ_FAILED", DEFAULT_TIMEOUT).unwrap();
    assert!(kea.exited().is_none(), "{}", kea.log());
}
