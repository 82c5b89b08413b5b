//! What differs between Kea releases, against the real Kea under test (2.2, 2.6 or 3.0: see
//! `scripts/test-matrix.sh`): the hook points a release added are served where they exist and
//! refused at load, naming them, where they do not.

mod common;

use common::*;
use kea_runscript_testbed::serde_json::{json, Value};

fn bare() -> Netns {
    Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap()
}

fn params(rec: &EventLog, hooks: &[&str]) -> Value {
    json!({"script": rec.script().to_string_lossy(), "wait": true, "hook-points": hooks})
}

/// `lease4_offer` (Kea 2.6 on): one run per DISCOVER, with the query, the offered lease and the
/// offer lifetime (and the DHCPOFFER itself from 3.0); on 2.2 the load fails naming it.
#[test]
fn lease4_offer_where_kea_has_it() {
    let ns = bare();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v4().hook(hook_library(&hook_so(), params(&rec, &["lease4_offer", "lease4_select"])));
    if !kea_at_least(2, 6) {
        let log = Kea::expect_load_failure(&ns, &cfg).expect("Kea 2.2 refuses lease4_offer");
        assert!(log.contains("unknown hook point \"lease4_offer\""), "{log}");
        return;
    }
    let _kea = Kea::start(&ns, &cfg).unwrap();
    let mac = "02:00:00:00:0f:01";
    let got = dhcp4_client(&ns, &["--mac", mac]).unwrap();
    let address = got.str("address").unwrap().to_string();
    let evs = rec.events();
    let offers: Vec<&Event> = of(&evs, "lease4_offer").collect();
    assert_eq!(offers.len(), 1, "one DISCOVER, one offered lease: {}", summary(&evs));
    let ev = offers[0];
    assert_eq!(ev.var("KEA_QUERY4_TYPE"), "DHCPDISCOVER", "{ev}");
    assert_eq!(ev.var("KEA_QUERY4_HWADDR"), mac, "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_ADDRESS"), address, "the offered address is the one granted: {ev}");
    assert_eq!(ev.var("KEA_LEASE4_HWADDR"), mac, "{ev}");
    assert_eq!(ev.var("KEA_OFFER_LIFETIME"), "0", "no offer-lifetime configured: {ev}");
    assert!(ev.with_prefix("KEA_LEASE_DELETED").next().is_none(), "{ev}");
    if kea_at_least(3, 0) {
        assert_eq!(ev.var("KEA_RESPONSE4_TYPE"), "DHCPOFFER", "3.0 passes the offer: {ev}");
        assert_eq!(ev.var("KEA_RESPONSE4_YIADDR"), address, "{ev}");
    } else {
        assert!(ev.with_prefix("KEA_RESPONSE4_").next().is_none(), "2.6 passes no response: {ev}");
    }
    // The offer comes before the REQUEST's lease4_select (the DISCOVER's, a fake allocation,
    // comes before the offer).
    let order: Vec<&str> = evs.iter().map(|e| e.hook.as_str()).collect();
    let offer = order.iter().position(|h| *h == "lease4_offer").unwrap();
    let granted = evs.iter().position(|e| e.hook == "lease4_select" && e.var("KEA_FAKE_ALLOCATION") == "0");
    assert!(granted.is_none_or(|g| offer < g), "{order:?}");
}

/// `addr6_register` (Kea 3.0 on) is accepted where Kea has it and refused, naming it, before.
#[test]
fn addr6_register_where_kea_has_it() {
    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v6().hook(hook_library(&hook_so(), params(&rec, &["addr6_register"])));
    if kea_at_least(3, 0) {
        let kea = Kea::start(&ns, &cfg).unwrap();
        assert!(kea.log().contains("KRS_LOADED"), "{}", kea.log());
    } else {
        let log = Kea::expect_load_failure(&ns, &cfg).expect("Kea before 3.0 refuses addr6_register");
        assert!(log.contains("unknown hook point \"addr6_register\""), "{log}");
    }
}
