//! kea-runscript as a drop-in for ISC's own `libdhcp_run_script.so`: the same `hooks-libraries`
//! entry, `{"name": <script>, "sync": <bool>}`, with only `library` changed, must give the script
//! exactly what ISC's hook gives it. Each test drives the same real traffic twice through the
//! same network namespaces, once with ISC's hook (the reference, shipped with Kea) and once with
//! kea-runscript, everything else identical, and compares the two runs per hook point: the same
//! hook points fired as often, argv[1] the hook point and nothing more, per run the same set of
//! variable names (the script's whole environment: nothing extra, nothing missing, no `PATH`)
//! and the same values, except the few that differ from run to run by nature (see [`varies`]).
//! ISC's side is asserted on its own first (every scenario fires what it should there), so a
//! change of Kea or of the traffic is not mistaken for a difference of kea-runscript's.
//!
//! Real kea-dhcp4/kea-dhcp6 (2.2 here, 2.6 and 3.0 in the version matrix), real clients
//! (the Python clients, udhcpc, dhclient, perfdhcp as a DHCPv4 relay). Needs root.
//!
//! `examples/isc-leases/` (a plain /bin/sh script written for ISC's hook, keeping a file of the
//! addresses held) is run here too, under both hooks, on the same traffic.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use kea_runscript_testbed::serde_json::{self, json, Value};

// ------------------------------------------------------------------ the two hooks

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lib {
    /// ISC's `libdhcp_run_script.so`, the reference.
    Isc,
    /// kea-runscript, given ISC's parameters.
    Krs,
}

impl Lib {
    fn path(self) -> PathBuf {
        match self {
            Lib::Isc => PathBuf::from(ISC_RUN_SCRIPT),
            Lib::Krs => hook_so(),
        }
    }
    fn label(self) -> &'static str {
        match self {
            Lib::Isc => "ISC",
            Lib::Krs => "kea-runscript",
        }
    }
}

/// The hook points ISC's run_script serves on the Kea under test (its callouts in
/// `run_script_callouts.cc`; `addr6_register` from Kea 3.0).
fn isc_hook_points(family: Family) -> Vec<&'static str> {
    match family {
        Family::V4 => vec![
            "lease4_renew",
            "lease4_expire",
            "lease4_recover",
            "leases4_committed",
            "lease4_release",
            "lease4_decline",
        ],
        Family::V6 => {
            let mut v = vec![
                "lease6_renew",
                "lease6_rebind",
                "lease6_expire",
                "lease6_recover",
                "leases6_committed",
                "lease6_release",
                "lease6_decline",
            ];
            if kea_at_least(3, 0) {
                v.push("addr6_register");
            }
            v
        }
    }
}

/// Seconds since the epoch (the unit of Kea's `cltt`).
fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// One server of a run: Kea with one hook library and its recorder.
struct Server<'a> {
    kea: Kea<'a>,
    rec: EventLog,
    family: Family,
}

/// What one server's recorder saw in one run, and when the run was.
#[derive(Debug, Clone)]
struct Recorded {
    lib: Lib,
    family: Family,
    events: Vec<Event>,
    /// Start and end of the run (seconds), bounds of every `*_CLTT`.
    t0: u64,
    t1: u64,
}

/// Starts Kea with `base` plus `lib` loaded with ISC's parameters object, `{"name": <a fresh
/// recorder>, "sync": sync}`. `tag` names the recorder's directory.
fn start<'a>(ns: &'a Netns, lib: Lib, sync: bool, tag: &str, base: &KeaConfig, family: Family) -> Server<'a> {
    let rec = EventLog::create(ns.dir(), &format!("{tag}-{}", lib.label()), "").unwrap();
    let cfg = with_hook(base.clone(), lib, isc_run_script_params(rec.script(), sync));
    let kea = Kea::start(ns, &cfg)
        .unwrap_or_else(|e| panic!("{} with ISC's parameters {{\"name\", \"sync\": {sync}}}: {e}", lib.label()));
    Server { kea, rec, family }
}

/// `base` with the hook `lib` loaded with `params`. On Kea 3.0 the test bed points
/// `KEA_HOOK_SCRIPTS_PATH` at the script's directory, for ISC's `name` under either hook.
fn with_hook(base: KeaConfig, lib: Lib, params: Value) -> KeaConfig {
    base.hook(hook_library(&lib.path(), params))
}

/// Ends a run: waits (kea-runscript's run only) until every hook point fired at least as often
/// as in ISC's run, stops the servers and waits until nothing lives in the server namespace
/// any more (every script the servers started has ended and recorded), then reads the events.
/// Waiting for the servers' scripts to end, rather than for a quiet period, is exact: a run
/// spawned before Kea stopped is seen, whatever its duration.
fn finish(ns: &Netns, lib: Lib, t0: u64, servers: Vec<Server>, reference: Option<&[Recorded]>) -> Vec<Recorded> {
    if let Some(reference) = reference {
        for s in &servers {
            let want = counts(&reference.iter().find(|r| r.family == s.family).unwrap().events);
            // A deadline, not a failure: what is missing then is reported by the comparison.
            let _ = s.rec.try_wait_for(Duration::from_secs(10), |evs| {
                let got = counts(evs);
                want.iter().all(|(h, n)| got.get(h).copied().unwrap_or(0) >= *n)
            });
        }
    }
    for s in &servers {
        s.kea.stop();
    }
    wait_until(DEFAULT_TIMEOUT, || ns.server_pids().is_empty().then_some(()))
        .unwrap_or_else(|e| panic!("scripts still running in the server namespace: {e}: {:?}", ns.server_pids()));
    let t1 = now();
    servers
        .into_iter()
        .map(|s| {
            let log = s.kea.log();
            assert!(!log.contains("RUN_SCRIPT_LOAD_ERROR"), "{log}");
            Recorded { lib, family: s.family, events: s.rec.events(), t0, t1 }
        })
        .collect()
}

/// Number of events per hook point.
fn counts(evs: &[Event]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in evs {
        *m.entry(e.hook.clone()).or_insert(0) += 1;
    }
    m
}

// ------------------------------------------------------------------ the comparison

/// The variables whose values differ between two runs of the same traffic whatever the hook,
/// compared by shape only (empty, or an integer) and checked on their own in [`check_varying`]:
///
/// - `QUERY4_TXID`, `QUERY6_TXID`: the transaction id, which every client (the Python clients,
///   udhcpc, perfdhcp) draws at random for each exchange, so anew in each run.
/// - `*_CLTT` (`LEASE4_CLTT`, `LEASES6_AT1_CLTT`, `NEW_LEASE6_CLTT`…): the lease's client last
///   transmission time, Kea's clock in seconds when it heard from the client: the second run is
///   seconds after the first.
/// - `QUERY4_SECS`: the seconds the client says it has been trying (BOOTP `secs`). The Python
///   clients and perfdhcp send 0; busybox udhcpc counts whole seconds of its clock since its
///   DISCOVER, so its REQUEST says 1 when a second boundary falls in between, however quick the
///   exchange (seen with Debian 13's busybox 1.37): 0 or 1 from run to run. Checked to be at
///   most 1.
///
/// Nothing else varies: the two runs share the namespaces (interface names and indexes, MAC and
/// link-local addresses), the clients' MAC addresses, DUIDs and IAIDs are fixed, each run starts
/// a fresh server with an empty lease database and the clients run one after the other, so Kea
/// hands out the same addresses and prefixes in the same order.
fn varies(name: &str) -> bool {
    name.ends_with("_TXID") || name.ends_with("_CLTT") || name == "QUERY4_SECS"
}

/// What is compared of an event: the hook point, the further arguments (none), the variables
/// (those of [`varies`] by shape).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Norm {
    hook: String,
    args: Vec<String>,
    vars: BTreeMap<String, String>,
}

fn normalize(ev: &Event) -> Norm {
    let vars = ev
        .vars
        .iter()
        .map(|(k, v)| {
            let v = if !varies(k) || v.is_empty() {
                v.clone()
            } else if v.parse::<u64>().is_ok() {
                "<integer>".to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    Norm { hook: ev.hook.clone(), args: ev.extra_args.clone(), vars }
}

/// An event's identity for pairing the two runs' events: hook point, query type, the lease
/// addresses it carries (sorted).
fn key(n: &Norm) -> String {
    let qtype = n.vars.get("QUERY4_TYPE").or_else(|| n.vars.get("QUERY6_TYPE")).cloned().unwrap_or_default();
    let addrs: BTreeSet<&str> = n
        .vars
        .iter()
        .filter(|(k, v)| (k.ends_with("_ADDRESS") || k.as_str() == "ADDRESS6") && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    format!(
        "{} [{}{}{}]",
        n.hook,
        qtype,
        if qtype.is_empty() { "" } else { " " },
        addrs.into_iter().collect::<Vec<_>>().join(" ")
    )
}

fn show(v: Option<&String>) -> String {
    match v {
        Some(v) => format!("{v:?}"),
        None => "(absent)".to_string(),
    }
}

/// The differences between the events of ISC's run and kea-runscript's, one line each (empty
/// when they are the same multiset of normalized events).
fn differences(isc: &[Event], krs: &[Event]) -> Vec<String> {
    let mut only_isc: Vec<Norm> = isc.iter().map(normalize).collect();
    let mut only_krs: Vec<Norm> = krs.iter().map(normalize).collect();
    only_isc.sort();
    only_krs.sort();
    // Remove what both have (as multisets).
    let mut both = Vec::new();
    let mut i = 0;
    while i < only_isc.len() {
        if let Some(j) = only_krs.iter().position(|n| *n == only_isc[i]) {
            only_krs.remove(j);
            both.push(only_isc.remove(i));
        } else {
            i += 1;
        }
    }
    // A loaded machine can make a client repeat an exchange (udhcpc renewing once more was
    // seen once): a repeat of a query's event both runs had is the traffic's, not a difference.
    // Events without a query (expire, recover) are Kea's own: a repeat of one still counts.
    let repeated_query = |n: &Norm| {
        both.contains(n) && ["QUERY4_TYPE", "QUERY6_TYPE"].iter().any(|k| n.vars.get(*k).is_some_and(|t| !t.is_empty()))
    };
    only_isc.retain(|n| !repeated_query(n));
    only_krs.retain(|n| !repeated_query(n));
    let mut out = Vec::new();
    // Pair what is left: same key first, then same hook point; the closest of the candidates.
    let same_key = |a: &Norm, b: &Norm| key(a) == key(b);
    let same_hook = |a: &Norm, b: &Norm| a.hook == b.hook;
    for pairing in [&same_key as &dyn Fn(&Norm, &Norm) -> bool, &same_hook] {
        let mut i = 0;
        while i < only_isc.len() {
            let a = &only_isc[i];
            let best = only_krs
                .iter()
                .enumerate()
                .filter(|(_, b)| pairing(a, b))
                .min_by_key(|(_, b)| field_diffs(a, b).len())
                .map(|(j, _)| j);
            match best {
                Some(j) => {
                    let b = only_krs.remove(j);
                    let a = only_isc.remove(i);
                    for d in field_diffs(&a, &b) {
                        out.push(format!("{}: {d}", key(&a)));
                    }
                }
                None => i += 1,
            }
        }
    }
    for a in &only_isc {
        out.push(format!("{}: run by ISC's hook, not by kea-runscript: {:?}", key(a), a.vars));
    }
    for b in &only_krs {
        out.push(format!("{}: run by kea-runscript, not by ISC's hook: {:?}", key(b), b.vars));
    }
    out
}

fn field_diffs(a: &Norm, b: &Norm) -> Vec<String> {
    let mut d = Vec::new();
    if a.args != b.args {
        d.push(format!("further arguments: ISC {:?}, kea-runscript {:?}", a.args, b.args));
    }
    let names: BTreeSet<&String> = a.vars.keys().chain(b.vars.keys()).collect();
    for n in names {
        let (x, y) = (a.vars.get(n), b.vars.get(n));
        if x != y {
            d.push(format!("{n}: ISC {}, kea-runscript {}", show(x), show(y)));
        }
    }
    d
}

/// The values of [`varies`] in one run: integers, `*_CLTT` within the run's time window.
fn check_varying(r: &Recorded) {
    for ev in &r.events {
        for (k, v) in &ev.vars {
            if !varies(k) || v.is_empty() {
                continue;
            }
            let n: u64 = v.parse().unwrap_or_else(|_| panic!("{}: {k}={v:?} is not an integer: {ev}", r.lib.label()));
            if k == "QUERY4_SECS" {
                assert!(n <= 1, "{}: {k}={n}: every exchange here takes less than a second: {ev}", r.lib.label());
            }
            if k.ends_with("_CLTT") {
                // A lease's cltt is when Kea last heard from the client in this run, or, for a
                // lease it expires, when it granted it in this run: within it. (Seconds: one
                // of slack on each side for the truncation.)
                assert!(
                    r.t0 - 1 <= n && n <= r.t1 + 1,
                    "{}: {k}={n} outside the run [{}, {}]: {ev}",
                    r.lib.label(),
                    r.t0,
                    r.t1
                );
            }
        }
    }
}

/// Asserts that kea-runscript's run gave the scripts what ISC's gave them.
fn assert_same(isc: &[Recorded], krs: &[Recorded]) {
    let mut report = Vec::new();
    for r in isc.iter().chain(krs) {
        check_varying(r);
    }
    for i in isc {
        let k = krs.iter().find(|k| k.family == i.family).expect("the same servers in both runs");
        for d in differences(&i.events, &k.events) {
            report.push(format!("{:?}: {d}", i.family));
        }
    }
    assert!(
        report.is_empty(),
        "kea-runscript with ISC's parameters differs from ISC's run_script ({} differences):\n{}",
        report.len(),
        report.join("\n")
    );
}

// ------------------------------------------------------------------ what ISC's hook gives

/// The variables ISC's hook passes at `hook` (the name prefixes of run_script_callouts.cc), and
/// what /bin/sh adds itself (`PWD`, dash exports it).
fn isc_variable(family: Family, hook: &str, name: &str) -> bool {
    if SHELL_VARS.contains(&name) {
        return true;
    }
    let v = match family {
        Family::V4 => '4',
        Family::V6 => '6',
    };
    let prefixes: Vec<String> = match hook {
        h if h.ends_with("_renew") && v == '4' => {
            vec!["QUERY4_".into(), "SUBNET4_".into(), "PKT4_".into(), "LEASE4_".into()]
        }
        h if h.ends_with("_renew") || h.ends_with("_rebind") => {
            vec!["QUERY6_".into(), "LEASE6_".into(), "PKT6_IA_".into()]
        }
        h if h.ends_with("_expire") => vec![format!("LEASE{v}_"), "REMOVE_LEASE".into()],
        h if h.ends_with("_recover") => vec![format!("LEASE{v}_")],
        h if h.ends_with("_committed") => {
            vec![format!("QUERY{v}_"), format!("LEASES{v}_"), format!("DELETED_LEASES{v}_")]
        }
        h if h.ends_with("_release") || h.ends_with("_decline") => vec![format!("QUERY{v}_"), format!("LEASE{v}_")],
        "addr6_register" => vec!["QUERY6_".into(), "ADDRESS6".into(), "OLD_LEASE6_".into(), "NEW_LEASE6_".into()],
        _ => vec![],
    };
    prefixes.iter().any(|p| name.starts_with(p.as_str()))
}

/// What every event of ISC's run must satisfy: a hook point ISC serves, argv = [hook point], only
/// ISC's variables (no `PATH`, nothing of Kea's environment), and every ISC hook point of the
/// family fired.
fn check_isc_run(r: &Recorded) {
    assert_eq!(r.lib, Lib::Isc);
    let served = isc_hook_points(r.family);
    for ev in &r.events {
        assert!(served.contains(&ev.hook.as_str()), "ISC ran its script at {}: {ev}", ev.hook);
        assert!(ev.extra_args.is_empty(), "ISC passes only the hook point: {:?} {ev}", ev.extra_args);
        assert!(ev.get("PATH").is_none(), "ISC passes no PATH: {ev}");
        for name in ev.vars.keys() {
            assert!(isc_variable(r.family, &ev.hook, name), "{name} at {} is not ISC's: {ev}", ev.hook);
        }
    }
    let seen: BTreeSet<&str> = r.events.iter().map(|e| e.hook.as_str()).collect();
    for h in &served {
        assert!(seen.contains(h), "ISC's run never fired {h}: {}", summary(&r.events));
    }
}

/// The events of `hook` whose variable `var` is `value`.
fn with<'a>(evs: &'a [Event], hook: &str, var: &str, value: &str) -> Vec<&'a Event> {
    evs.iter().filter(|e| e.hook == hook && e.get(var) == Some(value)).collect()
}

/// Exactly one event of `hook` with `var` = `value`.
fn one<'a>(evs: &'a [Event], hook: &str, var: &str, value: &str) -> &'a Event {
    let v = with(evs, hook, var, value);
    assert_eq!(v.len(), 1, "{hook} with {var}={value}: {} events; seen {}", v.len(), summary(evs));
    v[0]
}

/// `0x` + upper-case hex, as Kea's `toHexString` (ISC's option values).
fn hex0x(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02X}"));
    }
    s
}

fn hexstr(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ------------------------------------------------------------------ DHCPv4

/// The clients' MAC addresses (each scenario its own; a zero byte among the last four, as the
/// test bed's).
const MAC4_EXPIRE: &str = "02:00:00:c4:00:01";
const MAC4_DECLINE: &str = "02:00:00:c4:00:02";
const MAC4_RENEW: &str = "02:00:00:c4:00:03";
const MAC4_MOVE: &str = "02:00:00:c4:00:04";
/// MAC4_MOVE's client identifier once it moves, and the address reserved for it.
const CLIENT_ID4_MOVE: &str = "01:02:00:00:c4:00:04";
const RESERVED4: &str = "192.0.2.150";
/// The lease lifetime of the clients of the class `krs-short` (MAC4_EXPIRE, MAC6_EXPIRE) and the
/// decline probation period: they end within a few seconds, reclaimed every second.
const SHORT: u32 = 2;
/// Option 82 that perfdhcp, as a relay agent, adds: circuit id (1), remote id (2), subscriber
/// id (6).
const CIRCUIT_ID: &[u8] = b"krs-circuit";
const REMOTE_ID: &[u8] = &[0x02, 0x00, 0x00, 0x00, 0x0a, 0x01];
const SUBSCRIBER_ID: &[u8] = b"krs-sub";

fn option82() -> Vec<u8> {
    let mut v = Vec::new();
    for (code, value) in [(1u8, CIRCUIT_ID), (2, REMOTE_ID), (6, SUBSCRIBER_ID)] {
        v.push(code);
        v.push(value.len() as u8);
        v.extend_from_slice(value);
    }
    v
}

/// The DHCPv4 server: short leases for MAC4_EXPIRE (a client class), a short decline
/// probation, reclaiming every second, and a reservation by client identifier for the move.
fn config4() -> KeaConfig {
    let short = json!({
        "name": "krs-short",
        "test": format!("pkt4.mac == 0x{}", MAC4_EXPIRE.replace(':', "")),
        "valid-lifetime": SHORT, "min-valid-lifetime": SHORT, "max-valid-lifetime": SHORT,
    });
    KeaConfig::v4().fast_reclaim().decline_probation_period(SHORT).extra(json!({
        "client-classes": [short],
        "reservations-global": true,
        "reservations-in-subnet": true,
        "reservations": [{"client-id": CLIENT_ID4_MOVE, "ip-address": RESERVED4}],
    }))
}

/// What the DHCPv4 clients got.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Facts4 {
    expired: String,
    declined: String,
    renewed: String,
    moved_from: String,
    udhcpc: String,
    perfdhcp: String,
}

/// The DHCPv4 traffic, one client after the other:
/// - MAC4_EXPIRE: DORA, then silence: its lease (SHORT s) expires;
/// - MAC4_DECLINE: DORA, DECLINE; after the probation the lease is reclaimed and recovered;
/// - MAC4_RENEW: DORA, renew, release;
/// - MAC4_MOVE: DORA without client identifier, then with one that has a reservation: Kea
///   moves it, one REQUEST committing the new lease and giving up the old one;
/// - udhcpc (the client interface's MAC): DORA, renew (unicast, ciaddr), release;
/// - perfdhcp relaying (giaddr 192.0.2.2) one DORA with option 82.
///
/// Then waits for the expiry and the recovery.
fn traffic4(ns: &Netns, rec: &EventLog) -> Facts4 {
    let expired = dhcp4_client(ns, &["--mac", MAC4_EXPIRE]).unwrap().str("address").unwrap().to_string();
    let declined =
        dhcp4_client(ns, &["--mac", MAC4_DECLINE, "--then", "decline"]).unwrap().str("address").unwrap().to_string();
    let renewed = dhcp4_client(ns, &["--mac", MAC4_RENEW, "--then", "renew,release"])
        .unwrap()
        .str("address")
        .unwrap()
        .to_string();
    let moved_from = dhcp4_client(ns, &["--mac", MAC4_MOVE]).unwrap().str("address").unwrap().to_string();
    let moved = dhcp4_client(ns, &["--mac", MAC4_MOVE, "--client-id", CLIENT_ID4_MOVE]).unwrap();
    assert_eq!(moved.str("address"), Some(RESERVED4), "{}", moved.stdout);
    let mut u = Udhcpc::new(ns).unwrap();
    let udhcpc = u.start().unwrap().address.unwrap();
    // The renewal is unicast from the address and answered to it: wait until udhcpc's script
    // has set it on the interface (which also means udhcpc is back in its loop, bound).
    wait_until(DEFAULT_TIMEOUT, || {
        let out = ns.client_cmd("ip").args(["-o", "-4", "addr", "show", "dev", &ns.client_if]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).contains(&format!("inet {udhcpc}/")).then_some(())
    })
    .expect("udhcpc's address on the client interface");
    u.renew().unwrap();
    u.release().unwrap();
    let perfdhcp = perfdhcp_relay_dora(ns);
    rec.wait_for("the expiry and the recovery", |evs| {
        evs.iter().any(|e| e.hook == "lease4_expire" && e.get("LEASE4_ADDRESS") == Some(expired.as_str()))
            && evs.iter().any(|e| e.hook == "lease4_recover" && e.get("LEASE4_ADDRESS") == Some(declined.as_str()))
    });
    Facts4 { expired, declined, renewed, moved_from, udhcpc, perfdhcp }
}

/// perfdhcp, as a relay agent (its DHCPv4 traffic always carries giaddr, its own address): one
/// client (`-R 1`: always the same MAC), one DORA (`-n 1`), with option 82. Returns the address.
fn perfdhcp_relay_dora(ns: &Netns) -> String {
    let mut p = Perfdhcp::v4().option(&format!("82,{}", hexstr(&option82())));
    p.rate = 1;
    p.clients = 1;
    p.period = 10;
    p.renew_rate = 0;
    p.release_rate = 0;
    p.extra = ["-n", "1", "-n", "1", "-W", "500000"].map(String::from).to_vec();
    let r = p.run(ns).unwrap();
    let l = r.leases.iter().find(|l| l.exchange == "REQUEST-ACK").unwrap_or_else(|| panic!("{}", r.stdout));
    l.address.clone()
}

/// Asserts what each DHCPv4 scenario made ISC's hook run.
fn check_isc4(r: &Recorded, f: &Facts4, ns: &Netns) {
    check_isc_run(r);
    let evs = &r.events;
    let mac = ns.client_mac().unwrap();
    for ev in evs {
        // Only perfdhcp's queries are relayed, and only they carry option 82.
        if let Some(t) = ev.get("QUERY4_TYPE") {
            let relayed = ev.get("QUERY4_HWADDR") != Some(mac.as_str())
                && ![MAC4_EXPIRE, MAC4_DECLINE, MAC4_RENEW, MAC4_MOVE].contains(&ev.var("QUERY4_HWADDR"));
            assert_eq!(ev.var("QUERY4_RELAYED"), if relayed { "true" } else { "false" }, "{t}: {ev}");
            assert_eq!(ev.get("QUERY4_OPTION_82").is_some(), relayed, "{ev}");
        }
    }
    // Expiry: the lease of the class's lifetime, removed (hold-reclaimed-time 0).
    let e = one(evs, "lease4_expire", "LEASE4_ADDRESS", &f.expired);
    assert_eq!((e.var("LEASE4_VALID_LIFETIME"), e.var("REMOVE_LEASE")), (SHORT.to_string().as_str(), "true"), "{e}");
    assert_eq!(e.var("LEASE4_HWADDR"), MAC4_EXPIRE, "{e}");
    // Decline: lease4_decline, committed in the declined state, then reclaimed and recovered.
    let d = one(evs, "lease4_decline", "LEASE4_ADDRESS", &f.declined);
    assert_eq!(d.var("QUERY4_TYPE"), "DHCPDECLINE", "{d}");
    let dc = with(evs, "leases4_committed", "QUERY4_TYPE", "DHCPDECLINE");
    assert_eq!(dc.len(), 1, "{}", summary(evs));
    assert_eq!((dc[0].var("LEASES4_SIZE"), dc[0].var("LEASES4_AT0_ADDRESS")), ("1", f.declined.as_str()), "{}", dc[0]);
    assert_eq!(dc[0].var("LEASES4_AT0_STATE"), "declined", "{}", dc[0]);
    one(evs, "lease4_expire", "LEASE4_ADDRESS", &f.declined);
    one(evs, "lease4_recover", "LEASE4_ADDRESS", &f.declined);
    // Renew: lease4_renew with the client's hardware address and the subnet.
    let rn = with(evs, "lease4_renew", "LEASE4_ADDRESS", &f.renewed);
    assert_eq!(rn.len(), 1, "{}", summary(evs));
    assert_eq!(rn[0].var("PKT4_HWADDR"), MAC4_RENEW, "{}", rn[0]);
    assert_eq!((rn[0].var("SUBNET4_PREFIX"), rn[0].var("SUBNET4_PREFIX_LEN")), ("192.0.2.0", "24"), "{}", rn[0]);
    // Release: lease4_release, and a committed run giving the lease up.
    let rl = one(evs, "lease4_release", "LEASE4_ADDRESS", &f.renewed);
    assert_eq!(rl.var("QUERY4_CIADDR"), f.renewed, "{rl}");
    let rc = one(evs, "leases4_committed", "DELETED_LEASES4_AT0_ADDRESS", &f.renewed);
    assert_eq!((rc.var("QUERY4_TYPE"), rc.var("QUERY4_HWADDR")), ("DHCPRELEASE", MAC4_RENEW), "{rc}");
    assert_eq!((rc.var("LEASES4_SIZE"), rc.var("DELETED_LEASES4_SIZE")), ("0", "1"), "{rc}");
    assert_eq!(rc.var("DELETED_LEASES4_AT0_ADDRESS"), f.renewed, "{rc}");
    // The move: one REQUEST, the new lease held and the old one given up, in one run.
    let mv = with(evs, "leases4_committed", "LEASES4_AT0_ADDRESS", RESERVED4);
    assert_eq!(mv.len(), 1, "{}", summary(evs));
    let mv = mv[0];
    assert_eq!((mv.var("LEASES4_SIZE"), mv.var("DELETED_LEASES4_SIZE")), ("1", "1"), "{mv}");
    assert_eq!(mv.var("DELETED_LEASES4_AT0_ADDRESS"), f.moved_from, "{mv}");
    assert_eq!(mv.var("LEASES4_AT0_CLIENT_ID"), CLIENT_ID4_MOVE, "{mv}");
    // udhcpc: granted, renewed (unicast from its address), released.
    let ur = one(evs, "lease4_renew", "LEASE4_ADDRESS", &f.udhcpc);
    assert_eq!((ur.var("QUERY4_CIADDR"), ur.var("PKT4_HWADDR")), (f.udhcpc.as_str(), mac.as_str()), "{ur}");
    one(evs, "lease4_release", "LEASE4_ADDRESS", &f.udhcpc);
    // perfdhcp: the relay's giaddr and option 82, whole and its circuit-id and remote-id.
    let pc = with(evs, "leases4_committed", "LEASES4_AT0_ADDRESS", &f.perfdhcp);
    assert_eq!(pc.len(), 1, "{}", summary(evs));
    let pc = pc[0];
    assert_eq!((pc.var("QUERY4_GIADDR"), pc.var("QUERY4_RELAYED")), (CLIENT_V4, "true"), "{pc}");
    assert_eq!(pc.var("QUERY4_OPTION_82"), hex0x(&option82()), "{pc}");
    assert_eq!(pc.var("QUERY4_OPTION_82_SUB_OPTION_1"), hex0x(CIRCUIT_ID), "{pc}");
    assert_eq!(pc.var("QUERY4_OPTION_82_SUB_OPTION_2"), hex0x(REMOTE_ID), "{pc}");
    assert!(pc.get("QUERY4_OPTION_82_SUB_OPTION_6").is_none(), "ISC exports sub-options 1 and 2 only: {pc}");
    // One committed run per REQUEST, DECLINE and RELEASE, none at a DISCOVER.
    let committed: Vec<&str> =
        evs.iter().filter(|e| e.hook == "leases4_committed").map(|e| e.var("QUERY4_TYPE")).collect();
    let requests = committed.iter().filter(|t| **t == "DHCPREQUEST").count();
    // 7 DORAs (the four Python clients, MAC4_MOVE twice, udhcpc, perfdhcp) and the renews of
    // MAC4_RENEW and udhcpc.
    assert_eq!(requests, 9, "{committed:?}");
    assert_eq!(committed.len(), 9 + 1 + 2, "the DECLINE and the two RELEASEs too: {committed:?}");
}

/// Runs the DHCPv4 traffic under `lib`; `reference`: ISC's run, for kea-runscript's.
fn serve4(ns: &Netns, lib: Lib, sync: bool, reference: Option<&[Recorded]>) -> (Vec<Recorded>, Facts4) {
    let t0 = now();
    let s = start(ns, lib, sync, "v4", &config4(), Family::V4);
    let facts = traffic4(ns, &s.rec);
    (finish(ns, lib, t0, vec![s], reference), facts)
}

/// DHCPv4, `sync: false`: every scenario, ISC's hook and kea-runscript.
#[test]
fn dhcp4_same_as_isc() {
    let ns = Netns::new().unwrap();
    let (isc, f) = serve4(&ns, Lib::Isc, false, None);
    check_isc4(&isc[0], &f, &ns);
    let (krs, f2) = serve4(&ns, Lib::Krs, false, Some(&isc));
    assert_eq!(f, f2, "the same traffic got the same addresses");
    assert_same(&isc, &krs);
}

// ------------------------------------------------------------------ DHCPv6

const MAC6_EXPIRE: &str = "02:00:00:c6:00:01";
const MAC6_DECLINE: &str = "02:00:00:c6:00:02";
const MAC6_RENEW: &str = "02:00:00:c6:00:03";
const MAC6_RELAYED: &str = "02:00:00:c6:00:04";
/// DUID of the address registration (Kea 3.0), a DUID-LL.
const DUID6_REGISTER: &str = "00030001020000c60005";

/// The Python client's DUID for a MAC: DUID-LL.
fn duid_ll(mac: &str) -> String {
    format!("00030001{}", mac.replace(':', ""))
}

/// The relays the relayed client's messages pass, innermost first: (link-address, peer, options).
/// The inner relay adds an Interface-ID (18) and a Subscriber-ID (38), the outer one all three
/// (18, Remote-ID 37, 38) with other values: ISC's hook takes each option from the relay
/// closest to the client that has it (`RELAY_SEARCH_FROM_CLIENT`).
/// A relay of [`relays6`]: link-address, peer-address (the default when `None`), options.
type Relay = (&'static str, Option<&'static str>, Vec<(u16, Vec<u8>)>);

fn relays6() -> [Relay; 2] {
    let mut remote = 4491u32.to_be_bytes().to_vec();
    remote.extend(b"krs-outer-remote");
    [
        (RELAY_LINK_V6, None, vec![(18, b"krs-inner-if".to_vec()), (38, b"krs-inner-sub".to_vec())]),
        (
            "2001:db8:3::1",
            Some("2001:db8:3::2"),
            vec![(18, b"krs-outer-if".to_vec()), (37, remote), (38, b"krs-outer-sub".to_vec())],
        ),
    ]
}

fn relay_args() -> Vec<String> {
    let mut a = Vec::new();
    for (link, peer, opts) in relays6() {
        let mut s = link.to_string();
        if let Some(p) = peer {
            s.push_str(&format!(",peer={p}"));
        }
        for (code, value) in opts {
            s.push_str(&format!(",{code}:{}", hexstr(&value)));
        }
        a.push("--relay".to_string());
        a.push(s);
    }
    a
}

/// The DHCPv6 server: short leases for MAC6_EXPIRE's DUID (a client class), a short decline
/// probation, reclaiming every second, and the subnet behind the relays.
fn config6() -> KeaConfig {
    let short = json!({
        "name": "krs-short",
        "test": format!("option[1].hex == 0x{}", duid_ll(MAC6_EXPIRE)),
        "valid-lifetime": SHORT, "min-valid-lifetime": SHORT, "max-valid-lifetime": SHORT,
        "preferred-lifetime": 1, "min-preferred-lifetime": 1, "max-preferred-lifetime": 1,
    });
    KeaConfig::v6()
        .fast_reclaim()
        .decline_probation_period(SHORT)
        .relay_subnet6()
        .extra(json!({"client-classes": [short]}))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Facts6 {
    expired: (String, String),
    declined: (String, String),
    renewed: (String, String),
    relayed: String,
    /// The address registered (Kea 3.0).
    registered: Option<String>,
}

fn na_pd(r: &PyReport) -> (String, String) {
    let pd = r.str("prefix").unwrap();
    (r.str("address").unwrap().to_string(), pd.split('/').next().unwrap().to_string())
}

/// The DHCPv6 traffic, one client after the other (each asks for an address and a prefix, IA_NA
/// + IA_PD in one query, except the relayed one, whose subnet has no prefixes):
/// - MAC6_EXPIRE: SARR, then silence: both leases expire;
/// - MAC6_DECLINE: SARR, DECLINE of the address; after the probation it is reclaimed and
///   recovered;
/// - MAC6_RENEW: SARR, RENEW, REBIND, RELEASE;
/// - MAC6_RELAYED: through two relays (the Python client's encapsulation) with options 18, 37,
///   38: SARR, RENEW, RELEASE;
/// - on Kea 3.0, an address registration (ADDR-REG-INFORM) of the client's own address, twice
///   (the second finds the first's lease).
///
/// Then waits for the expiry and the recovery.
fn traffic6(ns: &Netns, rec: &EventLog) -> Facts6 {
    let expired = na_pd(&dhcp6_client(ns, &["--mac", MAC6_EXPIRE, "--pd"]).unwrap());
    let declined = na_pd(&dhcp6_client(ns, &["--mac", MAC6_DECLINE, "--pd", "--then", "decline"]).unwrap());
    let renewed = na_pd(&dhcp6_client(ns, &["--mac", MAC6_RENEW, "--pd", "--then", "renew,rebind,release"]).unwrap());
    let mut args = vec!["--mac".to_string(), MAC6_RELAYED.to_string()];
    args.extend(relay_args());
    args.extend(["--then".to_string(), "renew,release".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let relayed = dhcp6_client(ns, &args).unwrap().str("address").unwrap().to_string();
    let registered = kea_at_least(3, 0).then(|| {
        same_second_ahead();
        register_address(ns, CLIENT_V6, DUID6_REGISTER);
        register_address(ns, CLIENT_V6, DUID6_REGISTER);
        CLIENT_V6.to_string()
    });
    rec.wait_for("the expiries and the recovery", |evs| {
        let expired_n = evs
            .iter()
            .filter(|e| {
                e.hook == "lease6_expire" && [&expired.0, &expired.1].contains(&&e.var("LEASE6_ADDRESS").to_string())
            })
            .count();
        expired_n == 2
            && evs.iter().any(|e| e.hook == "lease6_recover" && e.get("LEASE6_ADDRESS") == Some(declined.0.as_str()))
    });
    Facts6 { expired, declined, renewed, relayed, registered }
}

/// Returns at a moment with at least half a second left in the current wall-clock second, so
/// that the two ADDR-REG-INFORMs (about 50 ms apart) fall in one second. Kea 3.0.4 builds a
/// re-registration's lease afresh (`Dhcpv6Srv`, before `updateLease6`) so its expected
/// `current_cltt_` is the new time; memfile refuses the update (`DHCP6_REGISTERED_LEASE_UPDATE_FAIL`,
/// no ADDR-REG-REPLY) unless that equals the stored lease's cltt, i.e. unless both
/// registrations happen within the same second. This is Kea's clock granularity, not a wait
/// for an event: there is no condition to await.
fn same_second_ahead() {
    let into = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_millis();
    if into > 500 {
        std::thread::sleep(std::time::Duration::from_millis(u64::from(1000 - into)));
    }
}

/// An ADDR-REG-INFORM (RFC 9686, Kea 3.0) from `address` (on the client interface, in the
/// served subnet) registering itself, with client identifier `duid`; waits for Kea's
/// ADDR-REG-REPLY. The Python clients do not send this message: a few lines of Python do.
fn register_address(ns: &Netns, address: &str, duid: &str) {
    const SCRIPT: &str = r#"
import os, socket, struct, sys
iface, src, duid = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
def opt(code, data): return struct.pack("!HH", code, len(data)) + data
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 25, iface.encode())  # SO_BINDTODEVICE
s.bind((src, 546))
s.settimeout(2)
for attempt in range(3):
    xid = os.urandom(3)
    iaaddr = opt(5, socket.inet_pton(socket.AF_INET6, src) + struct.pack("!II", 200, 300))
    msg = bytes([36]) + xid + opt(1, duid) + opt(8, b"\0\0") + iaaddr
    s.sendto(msg, ("ff02::1:2", 547, 0, socket.if_nametoindex(iface)))
    try:
        while True:
            data, _ = s.recvfrom(4096)
            if data[0] == 37 and data[1:4] == xid:
                print("ADDR-REG-REPLY")
                sys.exit(0)
    except socket.timeout:
        pass
sys.exit(2)
"#;
    let out = ns
        .client_cmd("/usr/bin/python3")
        .args(["-c", SCRIPT, &ns.client_if, address, duid])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "no ADDR-REG-REPLY: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether Kea reuses the leases of this query instead of committing them again: Kea 3.0 caches
/// leases by default (`cache-threshold` 0.25), so a RENEW or REBIND within a quarter of the
/// lifetime reuses them, and `leases6_committed` lists only the leases it committed (Kea 2.2
/// and 2.6 do not cache by default).
fn reused(ev: &Event) -> bool {
    kea_at_least(3, 0) && matches!(ev.var("QUERY6_TYPE"), "RENEW" | "REBIND")
}

fn check_isc6(r: &Recorded, f: &Facts6) {
    check_isc_run(r);
    let evs = &r.events;
    let v3 = kea_at_least(3, 0);
    // Expiry: both leases of the class's lifetime.
    for a in [&f.expired.0, &f.expired.1] {
        let e = one(evs, "lease6_expire", "LEASE6_ADDRESS", a);
        assert_eq!(
            (e.var("LEASE6_VALID_LIFETIME"), e.var("REMOVE_LEASE")),
            (SHORT.to_string().as_str(), "true"),
            "{e}"
        );
        assert_eq!(e.var("LEASE6_DUID"), hexcolon(&duid_ll(MAC6_EXPIRE)), "{e}");
    }
    let types: BTreeSet<&str> = [&f.expired.0, &f.expired.1]
        .iter()
        .map(|a| one(evs, "lease6_expire", "LEASE6_ADDRESS", a).var("LEASE6_TYPE"))
        .collect();
    assert_eq!(types, BTreeSet::from(["IA_NA", "IA_PD"]));
    // Several leases per query: the SARR of MAC6_RENEW commits its address and its prefix in
    // one run; its RELEASE gives both up in one run.
    let duid_renew = hexcolon(&duid_ll(MAC6_RENEW));
    let mine: Vec<&Event> = evs
        .iter()
        .filter(|e| e.hook == "leases6_committed" && e.get("QUERY6_CLIENT_ID") == Some(duid_renew.as_str()))
        .collect();
    // (In any order: ISC's hook does not wait for its scripts, the recorder notes when each
    // started.)
    let mut kinds: Vec<&str> = mine.iter().map(|e| e.var("QUERY6_TYPE")).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["REBIND", "RELEASE", "RENEW", "REQUEST"], "one committed run per query");
    for ev in mine.iter().filter(|e| e.var("QUERY6_TYPE") != "RELEASE") {
        if reused(ev) {
            assert_eq!((ev.var("LEASES6_SIZE"), ev.var("DELETED_LEASES6_SIZE")), ("0", "0"), "{ev}");
            continue;
        }
        assert_eq!((ev.var("LEASES6_SIZE"), ev.var("DELETED_LEASES6_SIZE")), ("2", "0"), "{ev}");
        let held: BTreeSet<(&str, &str)> = (0..2)
            .map(|i| (ev.var(&format!("LEASES6_AT{i}_TYPE")), ev.var(&format!("LEASES6_AT{i}_ADDRESS"))))
            .collect();
        assert_eq!(held, BTreeSet::from([("IA_NA", f.renewed.0.as_str()), ("IA_PD", f.renewed.1.as_str())]), "{ev}");
    }
    let rel = mine.iter().find(|e| e.var("QUERY6_TYPE") == "RELEASE").unwrap();
    assert_eq!((rel.var("LEASES6_SIZE"), rel.var("DELETED_LEASES6_SIZE")), ("0", "2"), "{rel}");
    // Renew, rebind, release: one run per lease, with the IA of the query.
    for hook in ["lease6_renew", "lease6_rebind", "lease6_release"] {
        for (a, ia_type) in [(&f.renewed.0, "3"), (&f.renewed.1, "25")] {
            let e = one(evs, hook, "LEASE6_ADDRESS", a);
            if hook != "lease6_release" {
                assert_eq!(e.var("PKT6_IA_IA_TYPE"), ia_type, "{e}");
            }
        }
    }
    // Decline: the address only; then reclaimed and recovered.
    let d = one(evs, "lease6_decline", "LEASE6_ADDRESS", &f.declined.0);
    assert_eq!(d.var("QUERY6_TYPE"), "DECLINE", "{d}");
    assert!(with(evs, "lease6_decline", "LEASE6_ADDRESS", &f.declined.1).is_empty(), "the prefix is kept");
    one(evs, "lease6_expire", "LEASE6_ADDRESS", &f.declined.0);
    one(evs, "lease6_recover", "LEASE6_ADDRESS", &f.declined.0);
    // Relayed through two relays: on Kea 3.0 the relay options, each from the relay closest to
    // the client that has it; before 3.0 none.
    let [(_, _, inner), (_, _, outer)] = relays6();
    let opt = |opts: &[(u16, Vec<u8>)], code: u16| hex0x(&opts.iter().find(|(c, _)| *c == code).unwrap().1);
    let relayed_duid = hexcolon(&duid_ll(MAC6_RELAYED));
    let relayed: Vec<&Event> =
        evs.iter().filter(|e| e.get("QUERY6_CLIENT_ID") == Some(relayed_duid.as_str())).collect();
    let mut relayed_runs: Vec<(&str, &str)> = relayed.iter().map(|e| (e.hook.as_str(), e.var("QUERY6_TYPE"))).collect();
    relayed_runs.sort_unstable();
    assert_eq!(
        relayed_runs,
        [
            ("lease6_release", "RELEASE"),
            ("lease6_renew", "RENEW"),
            ("leases6_committed", "RELEASE"),
            ("leases6_committed", "RENEW"),
            ("leases6_committed", "REQUEST")
        ],
        "the relayed client's runs"
    );
    for e in &relayed {
        if e.hook == "leases6_committed" && reused(e) {
            assert_eq!((e.var("LEASES6_SIZE"), e.var("DELETED_LEASES6_SIZE")), ("0", "0"), "{e}");
            continue;
        }
        let a = e.get("LEASE6_ADDRESS").or(e.get("LEASES6_AT0_ADDRESS")).or(e.get("DELETED_LEASES6_AT0_ADDRESS"));
        assert_eq!(a, Some(f.relayed.as_str()), "{e}");
        assert!(f.relayed.starts_with("2001:db8:2::"), "the subnet behind the relays: {e}");
    }
    for ev in evs.iter().filter(|e| e.get("QUERY6_TYPE").is_some()) {
        let is_relayed = ev.get("QUERY6_CLIENT_ID") == Some(hexcolon(&duid_ll(MAC6_RELAYED)).as_str());
        let want: Vec<(String, String)> = if is_relayed && v3 {
            vec![
                ("QUERY6_OPTION_18".into(), opt(&inner, 18)),
                ("QUERY6_OPTION_37".into(), opt(&outer, 37)),
                ("QUERY6_OPTION_38".into(), opt(&inner, 38)),
            ]
        } else {
            vec![]
        };
        let got: Vec<(String, String)> =
            ev.with_prefix("QUERY6_OPTION_").map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(got, want, "relay options (Kea {}): {ev}", kea_version().text);
        if is_relayed {
            assert_eq!(ev.var("QUERY6_REMOTE_PORT"), "547", "from the relay agents' port: {ev}");
        }
    }
    // Address registration (Kea 3.0): the first without an old lease (its variables absent),
    // the second with the first's.
    if let Some(a) = &f.registered {
        let regs = with(evs, "addr6_register", "ADDRESS6", a);
        assert_eq!(regs.len(), 2, "{}", summary(evs));
        let with_old: Vec<bool> = regs.iter().map(|e| e.get("OLD_LEASE6_ADDRESS").is_some()).collect();
        assert_eq!(with_old.iter().filter(|b| **b).count(), 1, "{regs:?}");
        for e in regs {
            assert_eq!((e.var("NEW_LEASE6_ADDRESS"), e.var("NEW_LEASE6_STATE")), (a.as_str(), "registered"), "{e}");
            assert_eq!(e.var("QUERY6_TYPE"), "ADDR_REG_INFORM", "{e}");
        }
    }
}

/// Colon-separated lower-case hex, as Kea's `DUID::toText`.
fn hexcolon(h: &str) -> String {
    h.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":")
}

fn serve6(ns: &Netns, lib: Lib, sync: bool, reference: Option<&[Recorded]>) -> (Vec<Recorded>, Facts6) {
    let t0 = now();
    let s = start(ns, lib, sync, "v6", &config6(), Family::V6);
    let facts = traffic6(ns, &s.rec);
    (finish(ns, lib, t0, vec![s], reference), facts)
}

/// DHCPv6, `sync: false`: every scenario, ISC's hook and kea-runscript.
#[test]
fn dhcp6_same_as_isc() {
    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap();
    let (isc, f) = serve6(&ns, Lib::Isc, false, None);
    check_isc6(&isc[0], &f);
    let (krs, f2) = serve6(&ns, Lib::Krs, false, Some(&isc));
    assert_eq!(f, f2, "the same traffic got the same addresses");
    assert_same(&isc, &krs);
}

// ------------------------------------------------------------------ sync: true

/// `sync: true` (ISC's hook parses it and runs its script in the background all the same; for
/// kea-runscript it means waiting for the script): DHCPv4 and DHCPv6 servers side by side, a
/// client of each with renew and release (and rebind), the same variables as ISC's.
#[test]
fn sync_true_same_as_isc() {
    let ns = Netns::new().unwrap();
    let run = |lib: Lib, reference: Option<&[Recorded]>| {
        let t0 = now();
        let s4 = start(&ns, lib, true, "sync4", &KeaConfig::v4(), Family::V4);
        let s6 = start(&ns, lib, true, "sync6", &KeaConfig::v6(), Family::V6);
        let a4 = dhcp4_client(&ns, &["--mac", MAC4_RENEW, "--then", "renew,release"]).unwrap();
        let a6 = dhcp6_client(&ns, &["--mac", MAC6_RENEW, "--pd", "--then", "renew,rebind,release"]).unwrap();
        if lib == Lib::Krs {
            // kea-runscript honours `sync: true` (docs/configuration.md): Kea waits for the
            // script before it answers, so what ran before a reply is recorded when the client
            // has its answers. DHCPv4: the two REQUESTs' committed runs and the renewal (a
            // DHCPRELEASE has no answer); DHCPv6: everything, RELEASE included.
            let got4 = counts(&s4.rec.events());
            let early4 = [("leases4_committed", 2), ("lease4_renew", 1)];
            assert!(early4.iter().all(|(h, n)| got4.get(*h).copied().unwrap_or(0) >= *n), "sync: true: {got4:?}");
            let got6 = counts(&s6.rec.events());
            assert_eq!(got6.values().sum::<usize>(), 10, "sync: true: {got6:?}");
        }
        let facts = (a4.str("address").unwrap().to_string(), na_pd(&a6));
        (finish(&ns, lib, t0, vec![s4, s6], reference), facts)
    };
    let (isc, f) = run(Lib::Isc, None);
    let c4 = counts(&isc[0].events);
    let c6 = counts(&isc[1].events);
    assert_eq!(
        c4,
        BTreeMap::from([("leases4_committed".into(), 3), ("lease4_renew".into(), 1), ("lease4_release".into(), 1)]),
    );
    assert_eq!(
        c6,
        BTreeMap::from([
            ("leases6_committed".into(), 4),
            ("lease6_renew".into(), 2),
            ("lease6_rebind".into(), 2),
            ("lease6_release".into(), 2)
        ])
    );
    for r in &isc {
        for ev in &r.events {
            assert!(ev.get("PATH").is_none() && ev.extra_args.is_empty(), "{ev}");
        }
    }
    let (krs, f2) = run(Lib::Krs, Some(&isc));
    assert_eq!(f, f2);
    assert_same(&isc, &krs);
}

// ------------------------------------------------------------------ examples/isc-leases

/// Where the example's script keeps its state file as shipped (the test points it elsewhere).
const SHIPPED_STATE: &str = "/var/lib/kea/isc-leases.state";
/// The script's path in the shipped configuration snippet.
const SHIPPED_SCRIPT: &str = "/usr/share/kea-runscript/examples/isc-leases/isc-leases.sh";

fn example(rel: &str) -> PathBuf {
    let p = workspace_root().join("examples/isc-leases").join(rel);
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// A copy of the example script in `dir` with its state file there: the one line naming the
/// state file rewritten, nothing else. Returns (script, state file).
fn install_example(dir: &Path) -> (PathBuf, PathBuf) {
    fs::create_dir_all(dir).unwrap();
    let text = fs::read_to_string(example("isc-leases.sh")).unwrap();
    let line = format!("STATE={SHIPPED_STATE}\n");
    assert_eq!(text.matches(&line).count(), 1, "isc-leases.sh no longer sets {line:?}");
    let state = dir.join("isc-leases.state");
    let script = dir.join("isc-leases.sh");
    let text = text.replace(&line, &format!("STATE={}\n", state.display()));
    fs::write(&script, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    (script, state)
}

/// The shipped `hooks-libraries` entry (`kea-hooks-libraries.json`, ISC's library) with its
/// script path pointed at `script`, and, for kea-runscript, only `library` changed.
fn example_entry(lib: Lib, script: &Path) -> Value {
    let text = fs::read_to_string(example("kea-hooks-libraries.json")).unwrap();
    let mut entry: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("kea-hooks-libraries.json: {e}"));
    assert_eq!(entry["library"], json!(ISC_RUN_SCRIPT), "the snippet loads ISC's library");
    assert_eq!(entry["parameters"]["name"], json!(SHIPPED_SCRIPT));
    entry["parameters"]["name"] = json!(script.to_str().unwrap());
    entry["library"] = json!(lib.path().to_str().unwrap());
    entry
}

const LEASE_CMDS: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so";

/// The leases Kea holds in the default state (0), as the script writes them: an address, a
/// prefix as `address/length` (ISC's lease_cmds, `lease4-get-all`/`lease6-get-all`).
fn kea_leases(kea: &Kea, family: Family) -> BTreeSet<String> {
    let cmd = match family {
        Family::V4 => r#"{"command": "lease4-get-all"}"#,
        Family::V6 => r#"{"command": "lease6-get-all"}"#,
    };
    let v = kea.command(cmd).unwrap();
    let v = if let Value::Array(a) = &v { a[0].clone() } else { v };
    let leases = v["arguments"]["leases"].as_array().cloned().unwrap_or_default();
    leases
        .iter()
        .filter(|l| l["state"] == json!(0))
        .map(|l| {
            let a = l["ip-address"].as_str().unwrap().to_string();
            match l["type"].as_str() {
                Some("IA_PD") => format!("{a}/{}", l["prefix-len"]),
                _ => a,
            }
        })
        .collect()
}

fn read_state(state: &Path) -> BTreeSet<String> {
    fs::read_to_string(state).unwrap_or_default().lines().map(str::to_string).collect()
}

/// `examples/isc-leases/isc-leases.sh` under ISC's hook and under kea-runscript, loaded by the
/// shipped `hooks-libraries` entry (only `library` changed for kea-runscript), a DHCPv4 and a
/// DHCPv6 server sharing the script and its state file. The traffic: clients that keep their
/// leases (renewing, rebinding), one moved to a reserved address (one committed run adds the
/// new address and drops the old), leases that expire, leases released. Each step that ends a
/// lease follows the script's record of its start (waited for), so that no two runs about one
/// address overlap: ISC's hook runs its scripts in the background, unordered. The state file
/// must end up holding exactly the leases Kea holds (asked with ISC's lease_cmds) and the
/// clients were granted, the same under both hooks.
#[test]
fn isc_leases_example_same_under_both() {
    let ns = Netns::new().unwrap();
    let run = |lib: Lib| -> BTreeSet<String> {
        let (script, state) = install_example(&ns.dir().join(format!("isc-leases-{}", lib.label())));
        let entry = example_entry(lib, &script);
        let base4 = config4().control_socket().hook(hook_library(Path::new(LEASE_CMDS), json!({})));
        let base6 = config6().control_socket().hook(hook_library(Path::new(LEASE_CMDS), json!({})));
        let kea4 = Kea::start(&ns, &base4.hook(entry.clone())).unwrap();
        let kea6 = Kea::start(&ns, &base6.hook(entry)).unwrap();
        let wait_state = |what: &str, cond: &dyn Fn(&BTreeSet<String>) -> bool| {
            wait_until(DEFAULT_TIMEOUT, || cond(&read_state(&state)).then_some(()))
                .unwrap_or_else(|e| panic!("{}: {what}: {e}; state file: {:?}", lib.label(), read_state(&state)));
        };
        // The leases that expire first, so that their expiry overlaps the rest.
        let expiring4 = dhcp4_client(&ns, &["--mac", MAC4_EXPIRE]).unwrap().str("address").unwrap().to_string();
        let expiring6 = na_pd(&dhcp6_client(&ns, &["--mac", MAC6_EXPIRE, "--pd"]).unwrap());
        // DHCPv4.
        let kept4 =
            dhcp4_client(&ns, &["--mac", MAC4_RENEW, "--then", "renew"]).unwrap().str("address").unwrap().to_string();
        let old = dhcp4_client(&ns, &["--mac", MAC4_MOVE]).unwrap().str("address").unwrap().to_string();
        wait_state("the move's first address", &|s| s.contains(&old));
        dhcp4_client(&ns, &["--mac", MAC4_MOVE, "--client-id", CLIENT_ID4_MOVE]).unwrap();
        let mut u = Udhcpc::new(&ns).unwrap();
        let released4 = u.start().unwrap().address.unwrap();
        wait_state("udhcpc's address", &|s| s.contains(&released4));
        u.release().unwrap();
        let mut dh4 = Dhclient::v4(&ns).unwrap();
        let dh4_addr = dh4.obtain().unwrap().address.unwrap();
        // DHCPv6.
        let kept6 = na_pd(&dhcp6_client(&ns, &["--mac", MAC6_RENEW, "--pd", "--then", "renew,rebind"]).unwrap());
        let mut dh6 = Dhclient::v6_pd(&ns).unwrap();
        let l6 = dh6.obtain().unwrap();
        let released6 = [l6.address.clone().unwrap(), l6.prefix.clone().unwrap()];
        wait_state("dhclient -6's address and prefix", &|s| released6.iter().all(|a| s.contains(a)));
        dh6.release().unwrap();
        let pd = |p: &str| format!("{p}/{PD_DELEGATED_LEN}");
        let expected: BTreeSet<String> =
            [kept4.clone(), RESERVED4.to_string(), dh4_addr.clone(), kept6.0.clone(), pd(&kept6.1)]
                .into_iter()
                .collect();
        wait_state("the leases held, and only them", &|s| *s == expected);
        let mut held = kea_leases(&kea4, Family::V4);
        held.extend(kea_leases(&kea6, Family::V6));
        assert_eq!(read_state(&state), held, "{}: the state file holds what Kea holds", lib.label());
        for gone in [&old, &expiring4, &released4, &expiring6.0, &pd(&expiring6.1), &released6[0], &released6[1]] {
            assert!(!held.contains(gone), "{gone} is no longer held: {held:?}");
        }
        // dhclient's daemon (holding its lease) is killed when dh4 is dropped.
        drop(kea4);
        drop(kea6);
        wait_until(DEFAULT_TIMEOUT, || ns.server_pids().is_empty().then_some(())).unwrap();
        let text = fs::read_to_string(&state).unwrap();
        assert!(text.ends_with('\n') && !text.contains("\n\n"), "one line per address: {text:?}");
        read_state(&state)
    };
    let isc = run(Lib::Isc);
    let krs = run(Lib::Krs);
    assert_eq!(isc, krs, "the state file under ISC's hook and under kea-runscript");
}

// ------------------------------------------------------------------ the comparison itself

fn event(hook: &str, vars: &[(&str, &str)]) -> Event {
    let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let raw = vars.iter().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
    Event { hook: hook.into(), extra_args: vec![], time_ns: 0, pid: 0, vars, raw, file: PathBuf::new() }
}

/// The comparison (no Kea): the same events in another order and with other transaction ids
/// and times are the same; a value changed, a variable missing or added (`PATH`), a further
/// argument, an event missing or added are each reported, naming the hook point, the event and
/// the variable.
#[test]
fn comparison_reports_each_difference() {
    let a = |txid: &str, cltt: &str| {
        event(
            "lease4_release",
            &[
                ("QUERY4_TXID", txid),
                ("LEASE4_ADDRESS", "192.0.2.100"),
                ("LEASE4_CLTT", cltt),
                ("QUERY4_TYPE", "DHCPRELEASE"),
            ],
        )
    };
    let b = event("lease4_expire", &[("LEASE4_ADDRESS", "192.0.2.101"), ("REMOVE_LEASE", "true")]);
    let isc = vec![a("1", "1000"), b.clone()];
    assert!(differences(&isc, &[b.clone(), a("77", "1003")]).is_empty());

    let mut changed = b.clone();
    changed.vars.insert("REMOVE_LEASE".into(), "1".into());
    changed.vars.insert("PATH".into(), "/usr/bin".into());
    changed.vars.remove("LEASE4_ADDRESS");
    let d = differences(&isc, &[a("2", "1000"), changed]);
    assert_eq!(
        d,
        [
            "lease4_expire [192.0.2.101]: LEASE4_ADDRESS: ISC \"192.0.2.101\", kea-runscript (absent)",
            "lease4_expire [192.0.2.101]: PATH: ISC (absent), kea-runscript \"/usr/bin\"",
            "lease4_expire [192.0.2.101]: REMOVE_LEASE: ISC \"true\", kea-runscript \"1\"",
        ],
        "{d:#?}"
    );
    let mut args = a("3", "1000");
    args.extra_args = vec!["x".into()];
    let d = differences(&isc, &[args]);
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(d[0].starts_with("lease4_release [DHCPRELEASE 192.0.2.100]: further arguments"), "{d:#?}");
    assert!(d[1].starts_with("lease4_expire [192.0.2.101]: run by ISC's hook, not by kea-runscript"), "{d:#?}");
    let d = differences(&isc, &[a("4", "1000"), b.clone(), b.clone()]);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].starts_with("lease4_expire [192.0.2.101]: run by kea-runscript, not by ISC's hook"), "{d:#?}");
    // A client repeating a query (another transaction) is traffic; Kea's own events are not.
    assert!(differences(&isc, &[a("4", "1000"), a("8", "1001"), b.clone()]).is_empty());
    // A varying field compared by shape: an integer, or empty, or the value itself.
    let d = differences(&[a("5", "")], &[a("6", "1000")]);
    assert_eq!(d, ["lease4_release [DHCPRELEASE 192.0.2.100]: LEASE4_CLTT: ISC \"\", kea-runscript \"<integer>\""]);
}
