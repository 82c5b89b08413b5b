//! Multi-threaded Kea (4 worker threads, packet queue 64) under a sustained
//! perfdhcp rate for 10 s, in both `wait` modes: every event is complete and
//! self-consistent (the lease's MAC is the query's, the response goes to the
//! query's client), and the events agree with each other and with perfdhcp
//! (each client always gets the same address, offered, granted, renewed and acknowledged, no
//! address given to two clients). Needs root.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::*;

/// Kea's multi-threading, as `Dhcp4` members.
fn mt() -> serde_json::Value {
    serde_json::json!({"multi-threading": {"enable-multi-threading": true, "thread-pool-size": 4, "packet-queue-size": 64}})
}

/// perfdhcp's client id `01` + MAC (hex, no separators) → `aa:bb:...`.
fn mac_of_perf_client_id(cid: &str) -> Option<String> {
    let h = cid.strip_prefix("01")?;
    (h.len() == 12)
        .then(|| h.as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":"))
}

fn run(wait: bool) -> String {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: true }).unwrap();
    let rec = EventLog::create(ns.dir(), "mt", "").unwrap();
    let cfg = KeaConfig::v4().runscript(&hook_so(), rec.script(), wait).extra(mt());
    let kea = Kea::start(&ns, &cfg).unwrap();
    kea.wait_log("DHCP4_MULTI_THREADING_INFO enabled: yes", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("multi-threading is not on: {e}"));

    let perf = Perfdhcp { rate: 15, clients: 60, period: 10, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    let result = perf.run(&ns).unwrap();
    let acked: Vec<&PerfLease> = result.leases.iter().filter(|l| l.exchange == "REQUEST-ACK").collect();
    assert!(acked.len() >= 50, "only {} DORAs completed in 10 s at 15/s:\n{}", acked.len(), result.stdout);
    let evs = rec.wait_quiet(Duration::from_millis(500));
    assert!(kea.exited().is_none(), "Kea died");

    // Each event on its own: complete, well-formed, one client's values.
    assert_contract(&evs, &[]);
    let mut problems = Vec::new();
    for e in &evs {
        if let (Some(q), Some(l)) = (e.get("KEA_QUERY4_HWADDR"), e.get("KEA_LEASE4_HWADDR")) {
            if q != l {
                problems.push(format!("{}: lease MAC {l} != query MAC {q}", e.hook));
            }
        }
        if let (Some(q), Some(r)) = (e.get("KEA_QUERY4_HWADDR"), e.get("KEA_RESPONSE4_HWADDR")) {
            if q != r {
                problems.push(format!("{}: response MAC {r} != query MAC {q}", e.hook));
            }
        }
        if let Some(t) = e.get("KEA_RESPONSE4_TYPE") {
            let want = match e.var("KEA_QUERY4_TYPE") {
                "DHCPDISCOVER" => "DHCPOFFER",
                "DHCPREQUEST" => "DHCPACK",
                other => other,
            };
            if t != want {
                problems.push(format!("{}: {} answered with {t}", e.hook, e.var("KEA_QUERY4_TYPE")));
            }
        }
        if e.hook == "lease4_select" {
            let fake = e.var("KEA_FAKE_ALLOCATION");
            let ty = e.var("KEA_QUERY4_TYPE");
            if (fake == "1") != (ty == "DHCPDISCOVER") {
                problems.push(format!("lease4_select: KEA_FAKE_ALLOCATION={fake} for a {ty}"));
            }
        }
    }

    // Across events: per client one address, the same in lease4_select
    // (offered and granted) and in the OFFER/ACK; no address for two clients.
    let mut by_mac: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut by_addr: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &evs {
        let addr = match e.hook.as_str() {
            "lease4_select" | "lease4_renew" => e.var("KEA_LEASE4_ADDRESS"),
            "pkt4_send" => e.var("KEA_RESPONSE4_YIADDR"),
            _ => continue,
        };
        let m = e.var("KEA_QUERY4_HWADDR").to_string();
        by_mac.entry(m.clone()).or_default().insert(addr.to_string());
        by_addr.entry(addr.to_string()).or_default().insert(m);
    }
    for (m, a) in &by_mac {
        if a.len() != 1 {
            problems.push(format!("client {m} saw addresses {a:?}"));
        }
    }
    for (a, m) in &by_addr {
        if m.len() != 1 {
            problems.push(format!("address {a} given to {m:?}"));
        }
    }
    // perfdhcp's view agrees.
    for l in &acked {
        let Some(m) = mac_of_perf_client_id(&l.client_id) else {
            problems.push(format!("perfdhcp client id {}", l.client_id));
            continue;
        };
        match by_mac.get(&m) {
            Some(a) if a.contains(&l.address) => {}
            other => problems.push(format!("perfdhcp: {m} got {}; the hook saw {other:?}", l.address)),
        }
    }
    // Every ACK perfdhcp received went through pkt4_send, after a granted
    // lease4_select (a new client) or lease4_renew (a known one).
    let acks_sent = evs.iter().filter(|e| e.hook == "pkt4_send" && e.var("KEA_RESPONSE4_TYPE") == "DHCPACK").count();
    let granted = evs
        .iter()
        .filter(|e| {
            e.var("KEA_QUERY4_TYPE") == "DHCPREQUEST"
                && (e.hook == "lease4_renew" || (e.hook == "lease4_select" && e.var("KEA_FAKE_ALLOCATION") == "0"))
        })
        .count();
    if acks_sent < acked.len() || granted < acks_sent {
        problems.push(format!(
            "{} ACKs received by perfdhcp, {acks_sent} sent, {granted} leases granted or renewed",
            acked.len()
        ));
    }
    let log = kea.log();
    let errors = kea_errors(&log);
    if !errors.is_empty() {
        problems.push(format!("Kea logged errors: {:?}", &errors[..errors.len().min(5)]));
    }
    assert!(
        problems.is_empty(),
        "wait {wait}: {} problem(s):\n{}",
        problems.len(),
        problems[..problems.len().min(40)].join("\n")
    );
    format!("wait {wait}: {} DORAs, {} events, {} clients", acked.len(), evs.len(), by_mac.len())
}

/// One mode after the other: two loaded servers at once would only measure the machine.
#[test]
fn sustained_multithreaded_traffic_keeps_events_consistent() {
    let a = run(true);
    let b = run(false);
    eprintln!("{a}\n{b}");
}
