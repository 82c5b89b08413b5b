//! `leases4_committed` and `leases6_committed` (not default hook points: chosen with
//! `hook-points`): one run per lease Kea committed for the query, with the query's variables,
//! that lease's and `KEA_LEASE_DELETED` (0: the query holds the lease, 1: it gave it up). Real
//! kea-dhcp4/kea-dhcp6 2.2, real clients. Needs root.
//!
//! What Kea 2.2 reports as given up (`deleted_leases4`/`deleted_leases6`, measured here): the
//! leases of a RELEASE (DHCPv4 and DHCPv6, each lease of the message), and in DHCPv4 the old
//! lease of a client that a REQUEST moves to another address (here: a host reservation for its
//! client identifier). A DECLINE's lease comes in `leases4`/`leases6`, in state `declined`.

mod common;

use std::collections::BTreeSet;

use common::*;
use kea_runscript_testbed::serde_json::{json, Value};

fn bare(ipv6: bool) -> Netns {
    Netns::with_options(NetnsOptions { ipv6, client_v4: false }).unwrap()
}

/// `{"script": <recorder>, "wait": true, "hook-points": [..]}`.
fn params(rec: &EventLog, hooks: &[&str]) -> Value {
    json!({"script": rec.script().to_string_lossy(), "wait": true, "hook-points": hooks})
}

/// The variables of a committed-lease run: the query's, the lease's (as the spec gives them
/// there) and KEA_LEASE_DELETED; no subnet, response, fake-allocation or other lease family.
fn check_committed_vars(ev: &Event, v: char) {
    let query = vars_with_prefix(&ev.hook, &format!("KEA_QUERY{v}_"));
    let lease = vars_with_prefix(&ev.hook, &format!("KEA_LEASE{v}_"));
    assert!(!query.is_empty() && !lease.is_empty(), "{} carries the query and the lease", ev.hook);
    for (name, kind) in query.iter().chain(&lease) {
        let value = ev.var(name);
        assert!(value.is_empty() || well_formed(*kind, value), "{name}={value:?} is not a {kind:?}: {ev}");
    }
    let lease_prefix = format!("KEA_LEASE{v}_");
    let leased: BTreeSet<&str> = ev.with_prefix(&lease_prefix).map(|(k, _)| k).collect();
    let expected: BTreeSet<&str> = lease.iter().map(|(n, _)| *n).collect();
    assert_eq!(leased, expected, "lease variables: {ev}");
    for other in
        [format!("KEA_SUBNET{v}"), format!("KEA_RESPONSE{v}_"), "KEA_FAKE_ALLOCATION".into(), "KEA_REMOVE_LEASE".into()]
    {
        assert!(ev.with_prefix(&other).next().is_none(), "{other}* at {}: {ev}", ev.hook);
    }
    let o = if v == '4' { '6' } else { '4' };
    for other in [format!("KEA_QUERY{o}_"), format!("KEA_LEASE{o}_")] {
        assert!(ev.with_prefix(&other).next().is_none(), "{other}* at {}: {ev}", ev.hook);
    }
    assert!(matches!(ev.var("KEA_LEASE_DELETED"), "0" | "1"), "{ev}");
}

/// dhclient: its REQUEST commits one lease, the address it got, held (`KEA_LEASE_DELETED=0`),
/// run before Kea answers; its RELEASE gives that lease up (`1`). One run each, nothing at the
/// DISCOVER.
#[test]
fn leases4_committed_grant_and_release() {
    let ns = bare(false);
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea =
        Kea::start(&ns, &KeaConfig::v4().hook(hook_library(&hook_so(), params(&rec, &["leases4_committed"])))).unwrap();
    let mut dh = Dhclient::v4(&ns).unwrap();
    let lease = dh.obtain().unwrap();
    let addr = lease.address.clone().unwrap();
    // Waited for, and before the ACK left: already recorded.
    let evs = rec.events();
    assert_eq!(summary(&evs), "leases4_committed×1", "after the DORA");
    let ev = &evs[0];
    check_committed_vars(ev, '4');
    assert_eq!(ev.var("KEA_QUERY4_TYPE"), "DHCPREQUEST", "{ev}");
    assert_eq!(ev.var("KEA_QUERY4_HWADDR"), lease.mac, "{ev}");
    assert_eq!(ev.var("KEA_QUERY4_INTERFACE"), ns.server_if, "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_ADDRESS"), addr, "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_HWADDR"), lease.mac, "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_STATE"), "default", "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_SUBNET_ID"), "1", "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_VALID_LIFETIME"), "300", "{ev}");
    assert_eq!(ev.var("KEA_LEASE_DELETED"), "0", "{ev}");

    dh.release().unwrap();
    let evs = rec.wait_for("the RELEASE's committed run", |evs| evs.len() >= 2);
    let evs = if evs.len() == 2 { evs } else { panic!("more than one run for one RELEASE: {}", summary(&evs)) };
    let ev = &evs[1];
    check_committed_vars(ev, '4');
    assert_eq!(ev.var("KEA_QUERY4_TYPE"), "DHCPRELEASE", "{ev}");
    assert_eq!(ev.var("KEA_QUERY4_CIADDR"), addr, "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_ADDRESS"), addr, "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_HWADDR"), lease.mac, "{ev}");
    assert_eq!(ev.var("KEA_LEASE_DELETED"), "1", "{ev}");
}

/// A REQUEST that moves a client to another address commits two leases: the new one held
/// (`0`) and the old one given up (`1`), one run each, both with that REQUEST. The client
/// (MAC M, no client identifier) first gets an address from the pool; then, sending client
/// identifier C for which Kea has a reservation, it is given the reserved address and Kea drops
/// its old lease.
#[test]
fn leases4_committed_replaced_lease_is_given_up() {
    const RESERVED: &str = "192.0.2.150";
    let (mac, client_id) = ("02:00:00:00:0d:01", "01:02:00:00:00:0d:01");
    let ns = bare(false);
    let rec = EventLog::new(ns.dir()).unwrap();
    let reservation = json!({
        "reservations-global": true,
        "reservations-in-subnet": true,
        "reservations": [{"client-id": client_id, "ip-address": RESERVED}],
    });
    let cfg = KeaConfig::v4().hook(hook_library(&hook_so(), params(&rec, &["leases4_committed"]))).extra(reservation);
    let _kea = Kea::start(&ns, &cfg).unwrap();

    let first = dhcp4_client(&ns, &["--mac", mac]).unwrap();
    let old = first.str("address").unwrap().to_string();
    assert_ne!(old, RESERVED);
    let evs = rec.events();
    assert_eq!(summary(&evs), "leases4_committed×1", "after the first DORA");
    assert_eq!((evs[0].var("KEA_LEASE4_ADDRESS"), evs[0].var("KEA_LEASE_DELETED")), (old.as_str(), "0"), "{}", evs[0]);

    let second = dhcp4_client(&ns, &["--mac", mac, "--client-id", client_id]).unwrap();
    assert_eq!(second.str("address"), Some(RESERVED), "{}", second.stdout);
    let evs = rec.events();
    assert_eq!(summary(&evs), "leases4_committed×3", "the second REQUEST: one run per lease");
    for ev in &evs[1..] {
        check_committed_vars(ev, '4');
        assert_eq!(ev.var("KEA_QUERY4_TYPE"), "DHCPREQUEST", "{ev}");
        assert_eq!(ev.var("KEA_QUERY4_HWADDR"), mac, "{ev}");
        assert_eq!(ev.var("KEA_QUERY4_CLIENT_ID"), format!("0x{}", client_id.replace(':', "").to_uppercase()), "{ev}");
    }
    let runs: BTreeSet<(&str, &str, &str)> = evs[1..]
        .iter()
        .map(|e| (e.var("KEA_LEASE4_ADDRESS"), e.var("KEA_LEASE_DELETED"), e.var("KEA_LEASE4_CLIENT_ID")))
        .collect();
    // The old lease was the MAC's, without a client identifier; the new one has it.
    let expected = BTreeSet::from([(RESERVED, "0", client_id), (old.as_str(), "1", "")]);
    assert_eq!(runs, expected, "(address, KEA_LEASE_DELETED, KEA_LEASE4_CLIENT_ID) of the second REQUEST's runs");
}

/// dhclient -6 -N -P: its REQUEST commits two leases, two runs with the same query: the IA_NA
/// address and the IA_PD prefix it got (a /56 of 2001:db8:8000::/48), both held; its RELEASE
/// gives both up, two runs with `KEA_LEASE_DELETED=1`. Nothing at the SOLICIT.
#[test]
fn leases6_committed_address_and_prefix() {
    let ns = bare(true);
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea =
        Kea::start(&ns, &KeaConfig::v6().hook(hook_library(&hook_so(), params(&rec, &["leases6_committed"])))).unwrap();
    let mut dh = Dhclient::v6_pd(&ns).unwrap();
    let lease = dh.obtain().unwrap();
    let addr = lease.address.clone().unwrap();
    let prefix = lease.prefix.clone().unwrap();
    let duid = lease.duid.clone().expect("DUID in dhclient's lease file");
    assert!(in_pd_pool(&prefix), "dhclient got {prefix}");

    let check = |evs: &[Event], query: &str, deleted: &str| {
        assert_eq!(evs.len(), 2, "one {query}, two leases: {}", summary(evs));
        for ev in evs {
            check_committed_vars(ev, '6');
            assert_eq!(ev.var("KEA_QUERY6_TYPE"), query, "{ev}");
            assert_eq!(hexid(ev.var("KEA_QUERY6_DUID")), duid, "{ev}");
            assert_eq!(hexid(ev.var("KEA_LEASE6_CLIENT_DUID")), duid, "{ev}");
            assert_eq!(ev.var("KEA_QUERY6_INTERFACE"), ns.server_if, "{ev}");
            assert_eq!(ev.var("KEA_LEASE6_SUBNET_ID"), "1", "{ev}");
            assert_eq!(ev.var("KEA_LEASE_DELETED"), deleted, "{ev}");
        }
        assert_eq!(evs[0].var("KEA_QUERY6_TRANSACTION_ID"), evs[1].var("KEA_QUERY6_TRANSACTION_ID"), "the same query");
        let na = evs.iter().find(|e| e.var("KEA_LEASE6_TYPE") == "IA_NA").expect("a run for the IA_NA lease");
        assert_eq!(na.var("KEA_LEASE6_ADDRESS"), addr, "{na}");
        assert_eq!(na.var("KEA_LEASE6_DELEGATED_PREFIX"), "", "{na}");
        let pd = evs.iter().find(|e| e.var("KEA_LEASE6_TYPE") == "IA_PD").expect("a run for the IA_PD lease");
        assert_eq!(pd.var("KEA_LEASE6_DELEGATED_PREFIX"), prefix, "{pd}");
        assert_eq!(pd.var("KEA_LEASE6_DELEGATED_PREFIXLEN"), PD_DELEGATED_LEN.to_string(), "{pd}");
        assert_eq!(Some(pd.var("KEA_LEASE6_ADDRESS")), prefix.split('/').next(), "{pd}");
    };
    // Waited for, and before the REPLY left: already recorded.
    let evs = rec.events();
    check(&evs, "REQUEST", "0");

    dh.release().unwrap();
    let evs = rec.wait_for("the RELEASE's two runs", |evs| evs.len() >= 4);
    check(&evs[2..], "RELEASE", "1");
}

/// A DECLINE gives the address up: the client found it in use and will not keep it. The docs
/// (docs/configuration.md) document `KEA_LEASE_DELETED=1` for "a lease the query gave up (released, declined,
/// replaced)". DHCPv4 (the Python client declines the address it was granted) and DHCPv6 (it
/// declines its IA_NA address, keeping its prefix).
#[test]
fn declined_lease_is_committed_in_the_declined_state() {
    let ns = bare(false);
    let rec = EventLog::create(ns.dir(), "v4", "").unwrap();
    let _kea =
        Kea::start(&ns, &KeaConfig::v4().hook(hook_library(&hook_so(), params(&rec, &["leases4_committed"])))).unwrap();
    let r = dhcp4_client(&ns, &["--mac", "02:00:00:00:0d:02", "--then", "decline"]).unwrap();
    let declined4 = r.str("address").unwrap().to_string();
    let evs = rec.wait_for("the DECLINE's committed run", |evs| {
        evs.iter().any(|e| e.get("KEA_QUERY4_TYPE") == Some("DHCPDECLINE"))
    });
    let runs4: Vec<&Event> = evs.iter().filter(|e| e.var("KEA_QUERY4_TYPE") == "DHCPDECLINE").collect();

    let ns6 = bare(true);
    let rec6 = EventLog::create(ns6.dir(), "v6", "").unwrap();
    let _kea6 =
        Kea::start(&ns6, &KeaConfig::v6().hook(hook_library(&hook_so(), params(&rec6, &["leases6_committed"]))))
            .unwrap();
    let r = dhcp6_client(&ns6, &["--pd", "--then", "decline"]).unwrap();
    let declined6 = r.str("address").unwrap().to_string();
    let evs6 = rec6
        .wait_for("the DECLINE's committed run", |evs| evs.iter().any(|e| e.get("KEA_QUERY6_TYPE") == Some("DECLINE")));
    let runs6: Vec<&Event> = evs6.iter().filter(|e| e.var("KEA_QUERY6_TYPE") == "DECLINE").collect();

    assert_eq!(runs4.len(), 1, "DHCPDECLINE: {}", summary(&evs));
    assert_eq!(runs4[0].var("KEA_LEASE4_ADDRESS"), declined4, "{}", runs4[0]);
    assert_eq!(runs6.len(), 1, "DECLINE (the IA_NA address only): {}", summary(&evs6));
    assert_eq!(runs6[0].var("KEA_LEASE6_ADDRESS"), declined6, "{}", runs6[0]);
    // Kea 2.2 commits a declined lease (in `leases4`/`leases6`, so KEA_LEASE_DELETED=0) in the
    // `declined` state: that state, not KEA_LEASE_DELETED, tells a script the client no longer
    // uses the address (docs/configuration.md, "Committed leases").
    let seen = [
        ("DHCPv4", runs4[0].var("KEA_LEASE_DELETED"), runs4[0].var("KEA_LEASE4_STATE")),
        ("DHCPv6", runs6[0].var("KEA_LEASE_DELETED"), runs6[0].var("KEA_LEASE6_STATE")),
    ];
    assert_eq!(seen, [("DHCPv4", "0", "declined"), ("DHCPv6", "0", "declined")], "{}{}", runs4[0], runs6[0]);
    // No client holds it: KEA_LEASE_EVENT says so.
    assert_eq!((runs4[0].var("KEA_LEASE_EVENT"), runs6[0].var("KEA_LEASE_EVENT")), ("del", "del"), "{}{}", runs4[0], runs6[0]);
}
