//! The library declares itself multi-threading compatible: with Kea's worker threads running the
//! callouts concurrently, every lease Kea grants still reaches the script with its own, complete
//! values, in both `wait` modes.

mod common;

use kea_runscript_testbed::clients::Perfdhcp;
use kea_runscript_testbed::kea::{Kea, KeaConfig};
use kea_runscript_testbed::{hook_so_path, serde_json, EventLog, Netns};
use std::collections::BTreeSet;
use std::time::Duration;

/// Kea's multi-threading, as `Dhcp4` members.
fn mt() -> serde_json::Value {
    serde_json::json!({"multi-threading": {"enable-multi-threading": true, "thread-pool-size": 4, "packet-queue-size": 64}})
}

fn run(wait: bool) {
    let ns = Netns::new().expect("namespaces");
    let rec = EventLog::create(ns.dir(), "mt", "").unwrap();
    let cfg = KeaConfig::v4().runscript(&hook_so_path(), rec.script(), wait).extra(mt());
    let kea = Kea::start(&ns, &cfg).expect("kea-dhcp4 starts");
    kea.wait_log("DHCP4_MULTI_THREADING_INFO enabled: yes", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("multi-threading is not on: {e}\n{}", kea.log()));

    // 4 worker threads, up to 20 exchanges in flight: callouts overlap.
    let perf = Perfdhcp { rate: 20, clients: 40, period: 4, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    let result = perf.run(&ns).expect("perfdhcp runs");
    let granted: BTreeSet<String> = result.leases.iter().map(|l| l.address.clone()).collect();
    assert!(granted.len() >= 8, "perfdhcp got too few leases to exercise concurrency: {}", result.stdout);

    let events = rec.wait_for("a lease4_select (fake 0) for every lease perfdhcp got", |evs| {
        let seen: BTreeSet<&str> = evs
            .iter()
            .filter(|e| e.hook == "lease4_select" && e.var("KEA_FAKE_ALLOCATION") == "0")
            .map(|e| e.var("KEA_LEASE4_ADDRESS"))
            .collect();
        granted.iter().all(|a| seen.contains(a.as_str()))
    });
    if !wait {
        rec.wait_quiet(Duration::from_millis(500));
    }
    for e in events.iter().filter(|e| e.hook == "lease4_select") {
        // Values of one event belong together: the lease is the query's client's.
        assert_eq!(e.var("KEA_LEASE4_HWADDR"), e.var("KEA_QUERY4_HWADDR"), "{e:?}");
        assert_eq!(e.var("KEA_SUBNET4"), "192.0.2.0/24");
        assert!(e.var("KEA_LEASE4_ADDRESS").starts_with("192.0.2."), "{e:?}");
    }
    let log = kea.log();
    assert!(common::kea_errors(&log).is_empty(), "Kea logged errors:\n{log}");
    assert!(kea.exited().is_none(), "Kea died:\n{log}");
}

/// One after the other: two loaded servers at once would only measure this 2-core machine.
#[test]
fn concurrent_callouts_in_both_wait_modes() {
    run(true);
    run(false);
}
