//! kea-runscript in a real kea-dhcp4, driven by real clients in a network
//! namespace pair: perfdhcp, ISC dhclient, busybox udhcpc and the project's
//! Python client. Needs root.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const OPTION60: &str = "60,6b65612d74657374"; // "kea-test"
/// Option 82 with circuit id aabbccdd and remote id eeff.
const OPTION82: &str = "82,0104aabbccdd0202eeff";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn v4_only() -> Netns {
    Netns::with_options(NetnsOptions { ipv6: false, client_v4: true }).unwrap()
}

/// Namespaces for real clients: the client interface has no address of its
/// own, so the only IPv4 address it gets is the leased one.
fn v4_bare() -> Netns {
    Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap()
}

/// Checks shared by every event carrying a DHCPv4 query from our link.
fn check_query4(ev: &Event, ns: &Netns, ifindex: u32) {
    assert_eq!(ev.var("KEA_QUERY4_INTERFACE"), ns.server_if, "{ev}");
    assert_eq!(ev.int("KEA_QUERY4_IFINDEX"), ifindex as i64, "{ev}");
    assert_eq!(ev.var("KEA_QUERY4_HWADDR_TYPE"), "1", "{ev}");
    assert!(ev.var("KEA_QUERY4_TYPE").starts_with("DHCP"), "{ev}");
}

fn check_subnet4(ev: &Event) {
    assert_eq!(ev.var("KEA_SUBNET4"), SUBNET_V4, "{ev}");
    assert_eq!(ev.var("KEA_SUBNET4_PREFIX"), "192.0.2.0", "{ev}");
    assert_eq!(ev.var("KEA_SUBNET4_PREFIXLEN"), "24", "{ev}");
    assert_eq!(ev.var("KEA_SUBNET4_ID"), "1", "{ev}");
}

fn check_lease4(ev: &Event, valid_lifetime: u32) {
    assert!(in_pool4(ev.var("KEA_LEASE4_ADDRESS")), "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_TYPE"), "V4", "{ev}");
    assert_eq!(ev.int("KEA_LEASE4_VALID_LIFETIME"), valid_lifetime as i64, "{ev}");
    assert_eq!(ev.var("KEA_LEASE4_SUBNET_ID"), "1", "{ev}");
    let cltt = ev.int("KEA_LEASE4_CLIENT_LAST_TRANSMISSION");
    assert!((now() - 600..=now() + 5).contains(&cltt), "cltt {cltt} is not recent: {ev}");
}

/// perfdhcp runs DORA, renews and releases for 8 simulated clients, with
/// option 60 and (as perfdhcp always does for DHCPv4) as a relay: giaddr is
/// the client-side address.
fn perfdhcp_scenario(wait: bool) {
    let ns = v4_only();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v4().valid_lifetime(300).runscript(&hook_so(), rec.script(), wait);
    let kea = Kea::start(&ns, &cfg).unwrap();
    let ifindex = ns.server_ifindex().unwrap();

    let perf = Perfdhcp::v4().option(OPTION60).run(&ns).unwrap();
    let want = |evs: &[Event]| {
        HOOKS4[..6].iter().all(|h| evs.iter().any(|e| e.hook == *h))
            && evs.iter().any(|e| e.hook == "lease4_select" && e.get("KEA_FAKE_ALLOCATION") == Some("1"))
            && evs.iter().any(|e| e.hook == "lease4_select" && e.get("KEA_FAKE_ALLOCATION") == Some("0"))
    };
    rec.wait_for("DORA, renew and release hook points", want);
    // All scripts have run (with wait=false they run concurrently): count
    // only once the recorder is quiet.
    let evs = rec.wait_quiet(Duration::from_millis(500));
    assert!(kea.exited().is_none(), "{}", kea.log());

    assert_contract(&evs, &[]);
    for ev in &evs {
        if ev.vars.contains_key("KEA_QUERY4_TYPE") {
            check_query4(ev, &ns, ifindex);
            assert_eq!(ev.var("KEA_QUERY4_OPTION60"), "kea-test", "{ev}");
            // perfdhcp (DHCPv4) always simulates a relay with giaddr = its address.
            assert_eq!(ev.var("KEA_QUERY4_RELAYED"), "1", "{ev}");
            assert_eq!(ev.var("KEA_QUERY4_RELAY_HOPS"), "1", "{ev}");
            assert_eq!(ev.var("KEA_QUERY4_GIADDR"), CLIENT_V4, "{ev}");
            assert_eq!(ev.var("KEA_QUERY4_RAI"), "", "{ev}");
        }
        if ev.vars.contains_key("KEA_SUBNET4") {
            check_subnet4(ev);
        }
        if ev.vars.contains_key("KEA_LEASE4_ADDRESS") {
            check_lease4(ev, 300);
            assert_eq!(ev.var("KEA_LEASE4_STATE"), "default", "{ev}");
            assert_eq!(ev.var("KEA_LEASE4_IS_EXPIRED"), "0", "{ev}");
            // perfdhcp sends client identifier 01 + MAC.
            assert_eq!(ev.var("KEA_LEASE4_CLIENT_ID"), format!("01:{}", ev.var("KEA_LEASE4_HWADDR")), "{ev}");
        }
        if ev.vars.contains_key("KEA_QUERY4_TYPE") && ev.vars.contains_key("KEA_LEASE4_HWADDR") {
            assert_eq!(ev.var("KEA_LEASE4_HWADDR"), ev.var("KEA_QUERY4_HWADDR"), "{ev}");
        }
    }

    // Message types as Kea names them.
    let received: BTreeSet<&str> = of(&evs, "pkt4_receive").map(|e| e.var("KEA_QUERY4_TYPE")).collect();
    for t in ["DHCPDISCOVER", "DHCPREQUEST", "DHCPRELEASE"] {
        assert!(received.contains(t), "no {t} in {received:?}");
    }

    // Responses: OFFER to DISCOVER, ACK to REQUEST, same client, our interface.
    let mut offered = BTreeSet::new();
    let mut acked = BTreeSet::new();
    for ev in of(&evs, "pkt4_send") {
        assert_eq!(ev.var("KEA_RESPONSE4_INTERFACE"), ns.server_if, "{ev}");
        assert_eq!(ev.int("KEA_RESPONSE4_IFINDEX"), ifindex as i64, "{ev}");
        assert_eq!(ev.var("KEA_RESPONSE4_HWADDR"), ev.var("KEA_QUERY4_HWADDR"), "{ev}");
        assert_eq!(ev.var("KEA_RESPONSE4_GIADDR"), CLIENT_V4, "{ev}");
        let pair = (ev.var("KEA_QUERY4_HWADDR").to_string(), ev.var("KEA_RESPONSE4_YIADDR").to_string());
        match (ev.var("KEA_QUERY4_TYPE"), ev.var("KEA_RESPONSE4_TYPE")) {
            ("DHCPDISCOVER", "DHCPOFFER") => {
                offered.insert(pair);
            }
            ("DHCPREQUEST", "DHCPACK") => {
                acked.insert(pair);
            }
            other => panic!("unexpected exchange {other:?}: {ev}"),
        }
    }

    // lease4_select: the address offered/acknowledged to that very client.
    for ev in of(&evs, "lease4_select") {
        let pair = (ev.var("KEA_QUERY4_HWADDR").to_string(), ev.var("KEA_LEASE4_ADDRESS").to_string());
        match ev.var("KEA_QUERY4_TYPE") {
            "DHCPDISCOVER" => {
                assert_eq!(ev.var("KEA_FAKE_ALLOCATION"), "1", "{ev}");
                assert!(offered.contains(&pair), "{pair:?} never offered: {ev}");
            }
            "DHCPREQUEST" => {
                assert_eq!(ev.var("KEA_FAKE_ALLOCATION"), "0", "{ev}");
                assert!(acked.contains(&pair), "{pair:?} never acknowledged: {ev}");
            }
            t => panic!("lease4_select for {t}"),
        }
    }
    // The leases perfdhcp itself reports match what the hook saw.
    let hook_acked: BTreeSet<&str> = acked.iter().map(|(_, a)| a.as_str()).collect();
    for l in perf.leases.iter().filter(|l| l.exchange == "REQUEST-ACK") {
        assert!(hook_acked.contains(l.address.as_str()), "perfdhcp got {} unseen by the hook", l.address);
    }

    if wait {
        // Kea waits for each script, and handles one query of a client at a time (with
        // multi-threading, the default from Kea 2.6, queries of different clients run side by
        // side): for each client, the ACK that follows a granted lease carries that lease's
        // address, and each query runs pkt4_receive, then subnet4_select, ... pkt4_send.
        let same_client = |a: &Event, b: &Event| a.var("KEA_QUERY4_HWADDR") == b.var("KEA_QUERY4_HWADDR");
        for (i, ev) in evs.iter().enumerate() {
            if ev.hook == "lease4_select" && ev.var("KEA_FAKE_ALLOCATION") == "0" {
                let send = evs[i..]
                    .iter()
                    .find(|e| e.hook == "pkt4_send" && same_client(e, ev))
                    .expect("a pkt4_send after lease4_select");
                assert_eq!(send.var("KEA_RESPONSE4_YIADDR"), ev.var("KEA_LEASE4_ADDRESS"), "{ev}{send}");
            }
            if ev.hook == "subnet4_select" {
                let prev = evs[..i]
                    .iter()
                    .rev()
                    .find(|e| e.hook == "pkt4_receive" && same_client(e, ev))
                    .expect("pkt4_receive first");
                assert_eq!(prev.var("KEA_QUERY4_TYPE"), ev.var("KEA_QUERY4_TYPE"), "{prev}{ev}");
            }
        }
    }

    // Renewals carry the client's current address in ciaddr (REQUEST) and a
    // lease that was granted before.
    let granted: BTreeSet<&str> = acked.iter().map(|(_, a)| a.as_str()).collect();
    for ev in of(&evs, "lease4_renew") {
        assert!(granted.contains(ev.var("KEA_LEASE4_ADDRESS")), "{ev}");
        if ev.var("KEA_QUERY4_TYPE") == "DHCPREQUEST" && ev.var("KEA_QUERY4_CIADDR") != "0.0.0.0" {
            assert_eq!(ev.var("KEA_QUERY4_CIADDR"), ev.var("KEA_LEASE4_ADDRESS"), "{ev}");
        }
    }
    for ev in of(&evs, "lease4_release") {
        assert_eq!(ev.var("KEA_QUERY4_TYPE"), "DHCPRELEASE", "{ev}");
        assert_eq!(ev.var("KEA_QUERY4_CIADDR"), ev.var("KEA_LEASE4_ADDRESS"), "{ev}");
        let pair = (ev.var("KEA_QUERY4_HWADDR").to_string(), ev.var("KEA_LEASE4_ADDRESS").to_string());
        assert!(acked.contains(&pair), "released {pair:?} was never granted: {ev}");
    }
}

#[test]
fn perfdhcp_dora_renew_release_wait() {
    perfdhcp_scenario(true);
}

#[test]
fn perfdhcp_dora_renew_release_nowait() {
    perfdhcp_scenario(false);
}

/// Relay agent information (option 82) reaches the script in hex, as Kea's
/// `toHexString` prints it.
#[test]
fn relay_agent_information() {
    let ns = v4_only();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), rec.script(), true)).unwrap();
    let mut p = Perfdhcp::v4().option(OPTION82);
    p.clients = 2;
    p.period = 2;
    p.renew_rate = 0;
    p.release_rate = 0;
    p.run(&ns).unwrap();
    let evs = rec.wait_for_hooks(&["pkt4_receive", "lease4_select", "pkt4_send"]);
    assert_contract(&evs, &[]);
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY4_RAI")) {
        assert_eq!(ev.var("KEA_QUERY4_RAI"), "0x0104AABBCCDD0202EEFF", "{ev}");
        assert_eq!(ev.var("KEA_QUERY4_RAI_CIRCUIT_ID"), "0xAABBCCDD", "{ev}");
        assert_eq!(ev.var("KEA_QUERY4_RAI_REMOTE_ID"), "0xEEFF", "{ev}");
        assert_eq!(ev.var("KEA_QUERY4_OPTION60"), "", "{ev}");
    }
}

/// A real client: the lease the hook reports is the one dhclient got.
fn dhclient_scenario(wait: bool) {
    let ns = v4_bare();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), rec.script(), wait)).unwrap();
    let ifindex = ns.server_ifindex().unwrap();
    let mut dh = Dhclient::v4(&ns).unwrap();
    let lease = dh.obtain().unwrap();
    let addr = lease.address.clone().unwrap();
    let mac = lease.mac.clone();

    let granted = |e: &Event| e.hook == "lease4_select" && e.get("KEA_FAKE_ALLOCATION") == Some("0");
    let offered = |e: &Event| e.hook == "lease4_select" && e.get("KEA_FAKE_ALLOCATION") == Some("1");
    // Background runs end in any order: the offer's run may end after the ACK's.
    let evs = rec.wait_for("lease4_select (offered and granted) and the ACK", |evs| {
        evs.iter().any(granted)
            && evs.iter().any(offered)
            && evs.iter().any(|e| e.hook == "pkt4_send" && e.get("KEA_RESPONSE4_TYPE") == Some("DHCPACK"))
    });
    let sel = evs.iter().find(|e| granted(e)).unwrap();
    assert_eq!(sel.var("KEA_LEASE4_ADDRESS"), addr, "{sel}");
    assert_eq!(sel.var("KEA_LEASE4_HWADDR"), mac, "{sel}");
    assert_eq!(sel.var("KEA_QUERY4_HWADDR"), mac, "{sel}");
    assert_eq!(sel.var("KEA_QUERY4_TYPE"), "DHCPREQUEST", "{sel}");
    assert_eq!(sel.var("KEA_QUERY4_RELAYED"), "0", "{sel}");
    assert_eq!(sel.var("KEA_QUERY4_GIADDR"), "0.0.0.0", "{sel}");
    check_query4(sel, &ns, ifindex);
    check_subnet4(sel);
    let ack = evs.iter().find(|e| e.hook == "pkt4_send" && e.get("KEA_RESPONSE4_TYPE") == Some("DHCPACK")).unwrap();
    assert_eq!(ack.var("KEA_RESPONSE4_YIADDR"), addr, "{ack}");
    assert_eq!(ack.var("KEA_RESPONSE4_HWADDR"), mac, "{ack}");
    let offer = evs.iter().find(|e| offered(e));
    assert_eq!(offer.map(|e| e.var("KEA_LEASE4_ADDRESS")), Some(addr.as_str()), "offered address");

    dh.release().unwrap();
    let evs = rec.wait_for("lease4_release of the dhclient lease", |evs| {
        evs.iter().any(|e| e.hook == "lease4_release" && e.get("KEA_LEASE4_ADDRESS") == Some(addr.as_str()))
    });
    let rel = evs.iter().find(|e| e.hook == "lease4_release").unwrap();
    assert_eq!(rel.var("KEA_QUERY4_TYPE"), "DHCPRELEASE", "{rel}");
    assert_eq!(rel.var("KEA_QUERY4_CIADDR"), addr, "{rel}");
    assert_eq!(rel.var("KEA_LEASE4_HWADDR"), mac, "{rel}");
    assert_eq!(rel.var("KEA_QUERY4_HWADDR"), mac, "{rel}");
    let evs = if wait { evs } else { rec.wait_quiet(Duration::from_millis(300)) };
    // dhclient sends no client identifier: KEA_LEASE4_CLIENT_ID is empty.
    assert_contract(&evs, &[]);
    for ev in &evs {
        if let Some(v) = ev.get("KEA_QUERY4_RELAYED") {
            assert_eq!(v, "0", "{ev}");
        }
    }
}

#[test]
fn dhclient_lease_and_release_wait() {
    dhclient_scenario(true);
}

#[test]
fn dhclient_lease_and_release_nowait() {
    dhclient_scenario(false);
}

/// busybox udhcpc: lease, renew (SIGUSR1), release (SIGTERM with -R).
#[test]
fn udhcpc_lease_renew_release() {
    let ns = v4_bare();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), rec.script(), true)).unwrap();
    let mut u = Udhcpc::new(&ns).unwrap();
    let lease = u.start().unwrap();
    let addr = lease.address.clone().unwrap();
    let mac = lease.mac.clone();
    let evs = rec.wait_for("granted lease4_select", |evs| {
        evs.iter().any(|e| e.hook == "lease4_select" && e.get("KEA_FAKE_ALLOCATION") == Some("0"))
    });
    let sel = evs.iter().find(|e| e.hook == "lease4_select" && e.var("KEA_FAKE_ALLOCATION") == "0").unwrap();
    assert_eq!(sel.var("KEA_LEASE4_ADDRESS"), addr, "{sel}");
    assert_eq!(sel.var("KEA_LEASE4_HWADDR"), mac, "{sel}");
    // udhcpc sends client identifier 01 + MAC by default.
    assert_eq!(sel.var("KEA_LEASE4_CLIENT_ID"), format!("01:{mac}"), "{sel}");

    u.renew().unwrap();
    let evs = rec.wait_for("lease4_renew", |evs| evs.iter().any(|e| e.hook == "lease4_renew"));
    let ren = evs.iter().find(|e| e.hook == "lease4_renew").unwrap();
    assert_eq!(ren.var("KEA_LEASE4_ADDRESS"), addr, "{ren}");
    assert_eq!(ren.var("KEA_QUERY4_CIADDR"), addr, "{ren}");
    assert_eq!(ren.var("KEA_QUERY4_TYPE"), "DHCPREQUEST", "{ren}");
    check_subnet4(ren);

    u.release().unwrap();
    let evs = rec.wait_for("lease4_release", |evs| evs.iter().any(|e| e.hook == "lease4_release"));
    let rel = evs.iter().find(|e| e.hook == "lease4_release").unwrap();
    assert_eq!(rel.var("KEA_LEASE4_ADDRESS"), addr, "{rel}");
    assert_eq!(rel.var("KEA_LEASE4_HWADDR"), mac, "{rel}");
    assert_contract(&evs, &[]);
}

/// A client that vanishes: its lease expires and is reclaimed.
fn expiry_scenario(wait: bool) {
    let ns = v4_bare();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v4().valid_lifetime(4).fast_reclaim().runscript(&hook_so(), rec.script(), wait);
    let _kea = Kea::start(&ns, &cfg).unwrap();
    let mut u = Udhcpc::new(&ns).unwrap();
    let lease = u.start().unwrap();
    let addr = lease.address.clone().unwrap();
    u.vanish();
    let evs = rec.wait_for("lease4_expire of the client's lease", |evs| {
        evs.iter().any(|e| e.hook == "lease4_expire" && e.get("KEA_LEASE4_ADDRESS") == Some(addr.as_str()))
    });
    let exp = evs.iter().find(|e| e.hook == "lease4_expire").unwrap();
    assert_eq!(exp.var("KEA_LEASE4_HWADDR"), lease.mac, "{exp}");
    assert_eq!(exp.var("KEA_LEASE4_VALID_LIFETIME"), "4", "{exp}");
    // Kea reclaims a lease once cltt + valid <= now, but Lease::expired() is
    // cltt + valid < now: KEA_LEASE4_IS_EXPIRED may still be 0 in the very
    // second the lease expires. The lease has expired by the script's clock.
    let expires = exp.int("KEA_LEASE4_CLIENT_LAST_TRANSMISSION") + exp.int("KEA_LEASE4_VALID_LIFETIME");
    assert!(expires <= (exp.time_ns / 1_000_000_000) as i64, "not yet expired: {exp}");
    // hold-reclaimed-time 0: the lease is removed.
    assert_eq!(exp.var("KEA_REMOVE_LEASE"), "1", "{exp}");
    assert!(exp.get("KEA_QUERY4_TYPE").is_none(), "no query at lease4_expire: {exp}");
    let evs = rec.wait_quiet(Duration::from_millis(300));
    assert_contract(&evs, &[]);
}

#[test]
fn lease_expires_wait() {
    expiry_scenario(true);
}

#[test]
fn lease_expires_nowait() {
    expiry_scenario(false);
}

/// dhclient declines an address when its script fails on BOUND; after the
/// probation period Kea reclaims it (lease4_expire) and recovers it.
#[test]
fn dhclient_decline_and_recover() {
    let ns = v4_bare();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v4().decline_probation_period(2).fast_reclaim().runscript(&hook_so(), rec.script(), true);
    let _kea = Kea::start(&ns, &cfg).unwrap();
    let mut dh = Dhclient::v4(&ns).unwrap();
    let declined = dh.decline_once().unwrap();
    let mac = ns.client_mac().unwrap();
    let evs = rec.wait_for("lease4_decline, lease4_expire, lease4_recover", |evs| {
        ["lease4_decline", "lease4_expire", "lease4_recover"].iter().all(|h| evs.iter().any(|e| e.hook == *h))
    });
    let dec = evs.iter().find(|e| e.hook == "lease4_decline").unwrap();
    assert_eq!(dec.var("KEA_LEASE4_ADDRESS"), declined, "{dec}");
    assert_eq!(dec.var("KEA_QUERY4_TYPE"), "DHCPDECLINE", "{dec}");
    assert_eq!(dec.var("KEA_QUERY4_HWADDR"), mac, "{dec}");
    assert_eq!(dec.var("KEA_LEASE4_HWADDR"), mac, "{dec}");
    let recov = evs.iter().find(|e| e.hook == "lease4_recover").unwrap();
    assert_eq!(recov.var("KEA_LEASE4_ADDRESS"), declined, "{recov}");
    assert_eq!(recov.var("KEA_LEASE4_STATE"), "declined", "{recov}");
    // Kea clears a declined lease's hardware address after lease4_decline.
    assert_contract(&evs, &["lease4_expire:KEA_LEASE4_HWADDR", "lease4_recover:KEA_LEASE4_HWADDR"]);
}

/// The Python client: DORA, renew, decline; then expire + recover.
#[test]
fn python_client_renew_decline_recover() {
    if !python_client_available("dhcp4_client.py") {
        panic!("testbed/clients/dhcp4_client.py is missing");
    }
    let ns = v4_bare();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v4().decline_probation_period(2).fast_reclaim().runscript(&hook_so(), rec.script(), true);
    let _kea = Kea::start(&ns, &cfg).unwrap();
    let mac = "02:00:00:00:04:01";
    let r = dhcp4_client(
        &ns,
        &[
            "--mac",
            mac,
            "--client-id",
            "01:02:00:00:00:04:01",
            "--hostname",
            "krs-host",
            "--vendor-class",
            "krs-vendor",
            "--then",
            "renew,decline",
        ],
    )
    .unwrap();
    let addr = r.str("address").unwrap().to_string();
    let evs = rec.wait_for("renew, decline, expire and recover", |evs| {
        ["lease4_renew", "lease4_decline", "lease4_expire", "lease4_recover"]
            .iter()
            .all(|h| evs.iter().any(|e| e.hook == *h && e.get("KEA_LEASE4_ADDRESS") == Some(addr.as_str())))
    });
    let sel = evs.iter().find(|e| e.hook == "lease4_select" && e.var("KEA_FAKE_ALLOCATION") == "0").unwrap();
    assert_eq!(sel.var("KEA_LEASE4_ADDRESS"), addr);
    assert_eq!(sel.var("KEA_LEASE4_HWADDR"), mac);
    assert_eq!(sel.var("KEA_LEASE4_CLIENT_ID"), "01:02:00:00:00:04:01", "{sel}");
    assert_eq!(sel.var("KEA_QUERY4_OPTION60"), "krs-vendor", "{sel}");
    assert_eq!(sel.var("KEA_LEASE4_HOSTNAME"), "krs-host", "{sel}");
    let ren = evs.iter().find(|e| e.hook == "lease4_renew").unwrap();
    assert_eq!(ren.var("KEA_LEASE4_HWADDR"), mac, "{ren}");
    let dec = evs.iter().find(|e| e.hook == "lease4_decline").unwrap();
    assert_eq!(dec.var("KEA_QUERY4_TYPE"), "DHCPDECLINE", "{dec}");
    assert_eq!(dec.var("KEA_QUERY4_HWADDR"), mac, "{dec}");
    let exp = evs.iter().find(|e| e.hook == "lease4_expire").unwrap();
    assert_eq!(exp.var("KEA_LEASE4_STATE"), "declined", "{exp}");
    let recov = evs.iter().find(|e| e.hook == "lease4_recover").unwrap();
    assert_eq!(recov.var("KEA_LEASE4_STATE"), "declined", "{recov}");
    // Order: the reclaimer's calls come after the decline.
    let pos = |h: &str| evs.iter().position(|e| e.hook == h).unwrap();
    assert!(pos("lease4_decline") < pos("lease4_expire") && pos("lease4_expire") < pos("lease4_recover"));
    // Kea clears a declined lease's hardware address after lease4_decline.
    assert_contract(&evs, &["lease4_expire:KEA_LEASE4_HWADDR", "lease4_recover:KEA_LEASE4_HWADDR"]);
}

/// The script's environment holds the KEA_* variables, Kea's PATH (`pass-env` default) and
/// `extra-env`, nothing else of Kea's own environment; `pass-env: []` passes nothing.
#[test]
fn environment_is_kea_variables_and_what_is_asked_for() {
    let ns = v4_only();
    let run = |parameters: &str| {
        let rec = EventLog::create(ns.dir(), &format!("rec{}", parameters.len()), "").unwrap();
        let params = format!(r#"{{"script": {:?}, "wait": true{parameters}}}"#, rec.script().to_str().unwrap());
        // Kea's own environment has PATH, HOME, ... and the testbed's KEA_PIDFILE_DIR /
        // KEA_LOCKFILE_DIR: only what the parameters ask for may reach the script.
        let kea = Kea::start(&ns, &KeaConfig::v4().hook(hook_library(&hook_so(), &params))).unwrap();
        let mut p = Perfdhcp::v4();
        p.clients = 1;
        p.period = 2;
        p.run(&ns).unwrap();
        let evs = rec.wait_for_hooks(&["pkt4_receive"]);
        drop(kea);
        evs
    };
    let path = std::env::var("PATH").unwrap();
    for ev in &run("") {
        for k in ev.vars.keys() {
            assert!(k.starts_with("KEA_") || SHELL_VARS.contains(&k.as_str()) || k == "PATH", "{k} leaked: {ev}");
        }
        assert_eq!(ev.get("PATH"), Some(path.as_str()), "Kea's PATH is passed by default: {ev}");
        assert!(ev.get("HOME").is_none(), "{ev}");
        assert!(
            ev.get("KEA_PIDFILE_DIR").is_none() && ev.get("KEA_LOCKFILE_DIR").is_none(),
            "Kea's own KEA_* environment leaked: {ev}"
        );
    }
    for ev in &run(r#", "pass-env": ["HOME"], "extra-env": {"SITE": "paris", "EMPTY": ""}"#) {
        assert_eq!(ev.get("SITE"), Some("paris"), "{ev}");
        assert_eq!(ev.get("EMPTY"), Some(""), "{ev}");
        assert_eq!(ev.get("HOME"), std::env::var("HOME").ok().as_deref(), "{ev}");
        // dash sets a PATH of its own when none is given; Kea's (the test's) must not be it.
        assert_ne!(ev.get("PATH"), Some(path.as_str()), "{ev}");
    }
}
