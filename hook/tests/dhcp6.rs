//! kea-runscript in a real kea-dhcp6, driven by real clients in a network
//! namespace pair: perfdhcp, ISC dhclient -6 (with prefix delegation) and
//! the project's Python client. Needs root.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const VALID: u32 = 300;
const PREFERRED: u32 = 200;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn v6() -> Netns {
    Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap()
}

fn config(rec: &EventLog, wait: bool) -> KeaConfig {
    KeaConfig::v6().valid_lifetime(VALID).preferred_lifetime(PREFERRED).runscript(&hook_so(), rec.script(), wait)
}

struct Link {
    server_if: String,
    ifindex: i64,
    server_ll: String,
    client_ll: String,
}

impl Link {
    fn of(ns: &Netns) -> Link {
        Link {
            server_if: ns.server_if.clone(),
            ifindex: ns.server_ifindex().unwrap() as i64,
            server_ll: ns.server_link_local().unwrap(),
            client_ll: ns.client_link_local().unwrap(),
        }
    }
}

/// Checks shared by every event carrying a DHCPv6 query from our link.
fn check_query6(ev: &Event, link: &Link) {
    assert_eq!(ev.var("KEA_QUERY6_INTERFACE"), link.server_if, "{ev}");
    assert_eq!(ev.int("KEA_QUERY6_IFINDEX"), link.ifindex, "{ev}");
    // Kea 2.2 never sets the local port of a received DHCPv6 packet
    // (PktFilterInet6::receive): it reads 0.
    let lport = ev.var("KEA_QUERY6_LOCAL_PORT");
    assert!(lport == "0" || lport == "547", "local port {lport}: {ev}");
    assert_eq!(ev.var("KEA_QUERY6_REMOTE_PORT"), "546", "{ev}");
    // dhclient and the Python client send from the link-local address;
    // perfdhcp from the interface's global address when it has one.
    let remote = ev.var("KEA_QUERY6_REMOTE_ADDRESS");
    assert!(remote == link.client_ll || remote == CLIENT_V6, "remote address {remote}: {ev}");
    let local = ev.var("KEA_QUERY6_LOCAL_ADDRESS");
    assert!(local == "ff02::1:2" || local == link.server_ll, "local address {local}: {ev}");
    assert!(!ev.var("KEA_QUERY6_DUID").is_empty(), "{ev}");
}

fn check_subnet6(ev: &Event) {
    assert_eq!(ev.var("KEA_SUBNET6"), SUBNET_V6, "{ev}");
    assert_eq!(ev.var("KEA_SUBNET6_PREFIX"), "2001:db8:1::", "{ev}");
    assert_eq!(ev.var("KEA_SUBNET6_PREFIXLEN"), "64", "{ev}");
    assert_eq!(ev.var("KEA_SUBNET6_ID"), "1", "{ev}");
}

/// Lease checks valid at every hook point that has a query too.
fn check_lease6(ev: &Event, valid: u32, preferred: u32) {
    assert_eq!(hexid(ev.var("KEA_LEASE6_CLIENT_DUID")), hexid(ev.var("KEA_QUERY6_DUID")), "{ev}");
    check_lease6_alone(ev);
    assert_eq!(ev.int("KEA_LEASE6_VALID_LIFETIME"), valid as i64, "{ev}");
    assert_eq!(ev.int("KEA_LEASE6_PREFERRED_LIFETIME"), preferred as i64, "{ev}");
}

fn check_lease6_alone(ev: &Event) {
    assert_eq!(ev.var("KEA_LEASE6_SUBNET_ID"), "1", "{ev}");
    let cltt = ev.int("KEA_LEASE6_CLIENT_LAST_TRANSMISSION");
    assert!((now() - 600..=now() + 5).contains(&cltt), "cltt {cltt}: {ev}");
    match ev.var("KEA_LEASE6_TYPE") {
        "IA_NA" => {
            assert!(in_pool6(ev.var("KEA_LEASE6_ADDRESS")), "{ev}");
            assert_eq!(ev.var("KEA_LEASE6_DELEGATED_PREFIX"), "", "{ev}");
            assert_eq!(ev.var("KEA_LEASE6_DELEGATED_PREFIXLEN"), "", "{ev}");
        }
        "IA_PD" => {
            let p = ev.var("KEA_LEASE6_DELEGATED_PREFIX");
            assert!(in_pd_pool(p), "{p} not a /56 of {PD_POOL}/{PD_POOL_LEN}: {ev}");
            assert_eq!(ev.var("KEA_LEASE6_DELEGATED_PREFIXLEN"), PD_DELEGATED_LEN.to_string(), "{ev}");
            assert_eq!(p.split('/').next(), Some(ev.var("KEA_LEASE6_ADDRESS")), "{ev}");
        }
        t => panic!("unexpected lease type {t}: {ev}"),
    }
}

fn perfdhcp_scenario(wait: bool) {
    let ns = v6();
    let rec = EventLog::new(ns.dir()).unwrap();
    let kea = Kea::start(&ns, &config(&rec, wait)).unwrap();
    let link = Link::of(&ns);

    let perf = Perfdhcp::v6().run(&ns).unwrap();
    let has = |evs: &[Event], hook: &str, ty: &str, fake: Option<&str>| {
        evs.iter().any(|e| {
            e.hook == hook
                && e.get("KEA_LEASE6_TYPE") == Some(ty)
                && (fake.is_none() || e.get("KEA_FAKE_ALLOCATION") == fake)
        })
    };
    rec.wait_for("SARR, renew and release hook points for IA_NA and IA_PD", |evs| {
        ["pkt6_receive", "pkt6_send", "subnet6_select"].iter().all(|h| evs.iter().any(|e| e.hook == *h))
            && ["IA_NA", "IA_PD"].iter().all(|t| {
                has(evs, "lease6_select", t, Some("1"))
                    && has(evs, "lease6_select", t, Some("0"))
                    && has(evs, "lease6_renew", t, None)
                    && has(evs, "lease6_release", t, None)
            })
    });
    let evs = rec.wait_quiet(Duration::from_millis(500));
    assert!(kea.exited().is_none(), "{}", kea.log());
    assert_contract(&evs, &[]);

    for ev in &evs {
        if ev.vars.contains_key("KEA_QUERY6_TYPE") {
            check_query6(ev, &link);
        }
        if ev.vars.contains_key("KEA_SUBNET6") {
            check_subnet6(ev);
        }
        if ev.vars.contains_key("KEA_LEASE6_TYPE") {
            check_lease6(ev, VALID, PREFERRED);
            assert_eq!(ev.var("KEA_LEASE6_STATE"), "default", "{ev}");
            assert_eq!(ev.var("KEA_LEASE6_IS_EXPIRED"), "0", "{ev}");
        }
    }
    let received: BTreeSet<&str> = of(&evs, "pkt6_receive").map(|e| e.var("KEA_QUERY6_TYPE")).collect();
    for t in ["SOLICIT", "REQUEST", "RENEW", "RELEASE"] {
        assert!(received.contains(t), "no {t} in {received:?}");
    }

    // Responses answer their query: same transaction, same client.
    let mut replies: BTreeMap<(String, String), String> = BTreeMap::new();
    for ev in of(&evs, "pkt6_send") {
        let expected = match ev.var("KEA_QUERY6_TYPE") {
            "SOLICIT" => "ADVERTISE",
            _ => "REPLY",
        };
        assert_eq!(ev.var("KEA_RESPONSE6_TYPE"), expected, "{ev}");
        assert_eq!(ev.var("KEA_RESPONSE6_TRANSACTION_ID"), ev.var("KEA_QUERY6_TRANSACTION_ID"), "{ev}");
        assert_eq!(hexid(ev.var("KEA_RESPONSE6_DUID")), hexid(ev.var("KEA_QUERY6_DUID")), "{ev}");
        assert_eq!(ev.var("KEA_RESPONSE6_REMOTE_ADDRESS"), ev.var("KEA_QUERY6_REMOTE_ADDRESS"), "{ev}");
        assert_eq!(ev.var("KEA_RESPONSE6_REMOTE_PORT"), "546", "{ev}");
        assert_eq!(ev.var("KEA_RESPONSE6_LOCAL_PORT"), "547", "{ev}");
        assert_eq!(ev.var("KEA_RESPONSE6_INTERFACE"), link.server_if, "{ev}");
        replies.insert(
            (ev.var("KEA_QUERY6_DUID").to_string(), ev.var("KEA_QUERY6_TRANSACTION_ID").to_string()),
            ev.var("KEA_RESPONSE6_TYPE").to_string(),
        );
    }
    for ev in of(&evs, "lease6_select") {
        let fake = match ev.var("KEA_QUERY6_TYPE") {
            "SOLICIT" => "1",
            "REQUEST" => "0",
            t => panic!("lease6_select for {t}: {ev}"),
        };
        assert_eq!(ev.var("KEA_FAKE_ALLOCATION"), fake, "{ev}");
        let key = (ev.var("KEA_QUERY6_DUID").to_string(), ev.var("KEA_QUERY6_TRANSACTION_ID").to_string());
        assert!(replies.contains_key(&key), "no response to the query of {ev}");
    }
    // What perfdhcp itself was given was seen by the hook.
    let granted: BTreeSet<&str> = of(&evs, "lease6_select")
        .filter(|e| e.var("KEA_FAKE_ALLOCATION") == "0")
        .map(|e| e.var("KEA_LEASE6_ADDRESS"))
        .collect();
    // perfdhcp prints a delegated prefix without its length.
    let granted_pd: BTreeSet<&str> = of(&evs, "lease6_select")
        .filter(|e| e.var("KEA_FAKE_ALLOCATION") == "0" && e.var("KEA_LEASE6_TYPE") == "IA_PD")
        .map(|e| e.var("KEA_LEASE6_DELEGATED_PREFIX").split('/').next().unwrap())
        .collect();
    for l in perf.leases.iter().filter(|l| l.exchange == "REQUEST-REPLY") {
        if !l.address.is_empty() {
            assert!(granted.contains(l.address.as_str()), "perfdhcp got {} unseen by the hook", l.address);
        }
        if !l.prefix.is_empty() {
            let p = l.prefix.split('/').next().unwrap();
            assert!(granted_pd.contains(p), "perfdhcp got prefix {} unseen by the hook", l.prefix);
        }
    }
    for hook in ["lease6_renew", "lease6_release"] {
        for ev in of(&evs, hook) {
            assert!(granted.contains(ev.var("KEA_LEASE6_ADDRESS")), "{hook} of a lease never granted: {ev}");
        }
    }
}

#[test]
fn perfdhcp_sarr_renew_release_wait() {
    perfdhcp_scenario(true);
}

#[test]
fn perfdhcp_sarr_renew_release_nowait() {
    perfdhcp_scenario(false);
}

/// dhclient -6 -N -P: the address and the prefix it got are the leases the
/// hook reports, with the DUID and IAID from its lease file.
fn dhclient_scenario(wait: bool, pd: bool) {
    let ns = v6();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &config(&rec, wait)).unwrap();
    let link = Link::of(&ns);
    let mut dh = if pd { Dhclient::v6_pd(&ns).unwrap() } else { Dhclient::v6(&ns).unwrap() };
    let lease = dh.obtain().unwrap();
    let addr = lease.address.clone().unwrap();
    let duid = lease.duid.clone().expect("DUID in dhclient's lease file");
    let iaid = lease.iaid.expect("IAID in dhclient's lease file");
    let types: &[&str] = if pd { &["IA_NA", "IA_PD"] } else { &["IA_NA"] };
    let granted = |e: &Event, t: &str| {
        e.hook == "lease6_select" && e.get("KEA_FAKE_ALLOCATION") == Some("0") && e.get("KEA_LEASE6_TYPE") == Some(t)
    };
    let evs = rec.wait_for("granted lease6_select", |evs| types.iter().all(|t| evs.iter().any(|e| granted(e, t))));
    let na = evs.iter().find(|e| granted(e, "IA_NA")).unwrap();
    assert_eq!(na.var("KEA_LEASE6_ADDRESS"), addr, "{na}");
    assert_eq!(hexid(na.var("KEA_QUERY6_DUID")), duid, "{na}");
    assert_eq!(hexid(na.var("KEA_LEASE6_CLIENT_DUID")), duid, "{na}");
    assert_eq!(na.int("KEA_LEASE6_IAID"), iaid as i64, "{na}");
    assert_eq!(na.var("KEA_QUERY6_TYPE"), "REQUEST", "{na}");
    check_query6(na, &link);
    check_subnet6(na);
    // dhclient's DUID-LLT carries the MAC: Kea finds the hardware address.
    assert_eq!(na.var("KEA_QUERY6_HWADDR"), lease.mac, "{na}");
    if pd {
        let p = evs.iter().find(|e| granted(e, "IA_PD")).unwrap();
        assert_eq!(Some(p.var("KEA_LEASE6_DELEGATED_PREFIX")), lease.prefix.as_deref(), "{p}");
        assert_eq!(hexid(p.var("KEA_LEASE6_CLIENT_DUID")), duid, "{p}");
    }

    dh.release().unwrap();
    let evs = rec.wait_for("lease6_release of every lease", |evs| {
        types.iter().all(|t| evs.iter().any(|e| e.hook == "lease6_release" && e.get("KEA_LEASE6_TYPE") == Some(t)))
    });
    for rel in of(&evs, "lease6_release") {
        assert_eq!(rel.var("KEA_QUERY6_TYPE"), "RELEASE", "{rel}");
        assert_eq!(hexid(rel.var("KEA_LEASE6_CLIENT_DUID")), duid, "{rel}");
        match rel.var("KEA_LEASE6_TYPE") {
            "IA_NA" => assert_eq!(rel.var("KEA_LEASE6_ADDRESS"), addr, "{rel}"),
            _ => assert_eq!(Some(rel.var("KEA_LEASE6_DELEGATED_PREFIX")), lease.prefix.as_deref(), "{rel}"),
        }
    }
    let evs = if wait { evs } else { rec.wait_quiet(Duration::from_millis(300)) };
    assert_contract(&evs, &[]);
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_LEASE6_TYPE") && e.vars.contains_key("KEA_QUERY6_TYPE")) {
        check_lease6(ev, VALID, PREFERRED);
    }
}

#[test]
fn dhclient_address_and_prefix_wait() {
    dhclient_scenario(true, true);
}

#[test]
fn dhclient_address_nowait() {
    dhclient_scenario(false, false);
}

/// dhclient stops without releasing (`-x`): both leases expire.
#[test]
fn leases_expire() {
    let ns = v6();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v6().valid_lifetime(4).preferred_lifetime(3).fast_reclaim().runscript(
        &hook_so(),
        rec.script(),
        true,
    );
    let _kea = Kea::start(&ns, &cfg).unwrap();
    let mut dh = Dhclient::v6_pd(&ns).unwrap();
    let lease = dh.obtain().unwrap();
    dh.stop().unwrap();
    let addr = lease.address.clone().unwrap();
    let prefix = lease.prefix.clone().unwrap();
    let duid = lease.duid.clone().unwrap();
    let evs = rec.wait_for("lease6_expire for the address and the prefix", |evs| {
        evs.iter().any(|e| e.hook == "lease6_expire" && e.get("KEA_LEASE6_ADDRESS") == Some(addr.as_str()))
            && evs
                .iter()
                .any(|e| e.hook == "lease6_expire" && e.get("KEA_LEASE6_DELEGATED_PREFIX") == Some(prefix.as_str()))
    });
    for exp in of(&evs, "lease6_expire") {
        assert_eq!(hexid(exp.var("KEA_LEASE6_CLIENT_DUID")), duid, "{exp}");
        assert_eq!(exp.var("KEA_REMOVE_LEASE"), "1", "{exp}");
        assert_eq!(exp.var("KEA_LEASE6_VALID_LIFETIME"), "4", "{exp}");
        let expires = exp.int("KEA_LEASE6_CLIENT_LAST_TRANSMISSION") + 4;
        assert!(expires <= (exp.time_ns / 1_000_000_000) as i64, "not yet expired: {exp}");
        check_lease6_alone(exp);
    }
    assert_contract(&evs, &[]);
}

/// The Python client: SARR with IA_NA and IA_PD, renew, rebind, decline (the
/// address), release (the prefix); then the declined address is reclaimed
/// and recovered after its probation period.
#[test]
fn python_client_renew_rebind_decline_recover() {
    if !python_client_available("dhcp6_client.py") {
        panic!("testbed/clients/dhcp6_client.py is missing");
    }
    let ns = v6();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v6()
        .valid_lifetime(VALID)
        .preferred_lifetime(PREFERRED)
        .decline_probation_period(2)
        .fast_reclaim()
        .runscript(&hook_so(), rec.script(), true);
    let _kea = Kea::start(&ns, &cfg).unwrap();
    let link = Link::of(&ns);
    let r = dhcp6_client(&ns, &["--pd", "--iaid", "7", "--fqdn", "krs-host6.example.org", "--then", "renew,rebind,decline,release"]).unwrap();
    let addr = r.str("address").unwrap().to_string();
    let prefix = r.str("prefix").unwrap().to_string();
    let duid = hexid(r.str("duid").unwrap());
    let evs = rec.wait_for("renew, rebind, decline, release, expire, recover", |evs| {
        ["lease6_renew", "lease6_rebind"].iter().all(|h| {
            ["IA_NA", "IA_PD"].iter().all(|t| evs.iter().any(|e| e.hook == *h && e.get("KEA_LEASE6_TYPE") == Some(t)))
        }) && ["lease6_decline", "lease6_release", "lease6_expire", "lease6_recover"]
            .iter()
            .all(|h| evs.iter().any(|e| e.hook == *h))
    });
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY6_TYPE")) {
        check_query6(ev, &link);
        assert_eq!(hexid(ev.var("KEA_QUERY6_DUID")), duid, "{ev}");
    }
    for h in ["lease6_renew", "lease6_rebind"] {
        for ev in of(&evs, h) {
            check_lease6(ev, VALID, PREFERRED);
            assert_eq!(ev.var("KEA_LEASE6_IAID"), "7", "{ev}");
            // Kea keeps the client's FQDN (fully qualified) as the hostname.
            assert_eq!(ev.var("KEA_LEASE6_HOSTNAME"), "krs-host6.example.org.", "{ev}");
            assert_eq!(ev.var("KEA_QUERY6_TYPE"), if h == "lease6_renew" { "RENEW" } else { "REBIND" }, "{ev}");
            match ev.var("KEA_LEASE6_TYPE") {
                "IA_NA" => assert_eq!(ev.var("KEA_LEASE6_ADDRESS"), addr, "{ev}"),
                _ => assert_eq!(ev.var("KEA_LEASE6_DELEGATED_PREFIX"), prefix, "{ev}"),
            }
        }
    }
    let dec = evs.iter().find(|e| e.hook == "lease6_decline").unwrap();
    assert_eq!(dec.var("KEA_QUERY6_TYPE"), "DECLINE", "{dec}");
    assert_eq!(dec.var("KEA_LEASE6_TYPE"), "IA_NA", "{dec}");
    assert_eq!(dec.var("KEA_LEASE6_ADDRESS"), addr, "{dec}");
    let rel = evs.iter().find(|e| e.hook == "lease6_release").unwrap();
    assert_eq!(rel.var("KEA_LEASE6_TYPE"), "IA_PD", "{rel}");
    assert_eq!(rel.var("KEA_LEASE6_DELEGATED_PREFIX"), prefix, "{rel}");
    let exp = evs.iter().find(|e| e.hook == "lease6_expire").unwrap();
    assert_eq!(exp.var("KEA_LEASE6_ADDRESS"), addr, "{exp}");
    assert_eq!(exp.var("KEA_LEASE6_STATE"), "declined", "{exp}");
    let recov = evs.iter().find(|e| e.hook == "lease6_recover").unwrap();
    assert_eq!(recov.var("KEA_LEASE6_ADDRESS"), addr, "{recov}");
    assert_eq!(recov.var("KEA_LEASE6_STATE"), "declined", "{recov}");
    let pos = |h: &str| evs.iter().position(|e| e.hook == h).unwrap();
    assert!(pos("lease6_decline") < pos("lease6_expire") && pos("lease6_expire") < pos("lease6_recover"));
    // Kea's Lease6::decline() clears the DUID, hardware address and IAID
    // after lease6_decline: the reclaimer sees a lease without them.
    assert_contract(
        &evs,
        &[
            "lease6_expire:KEA_LEASE6_HWADDR",
            "lease6_recover:KEA_LEASE6_HWADDR",
            "lease6_expire:KEA_LEASE6_CLIENT_DUID",
            "lease6_recover:KEA_LEASE6_CLIENT_DUID",
        ],
    );
}

/// `KEA_QUERY6_LABEL` and `KEA_RESPONSE6_LABEL` (the library writes them from the DUID and the
/// transaction id) are the labels this Kea itself logs for the same packets (its debug lines
/// `DHCP6_PACKET_RECEIVED`, `DHCP6_QUERY_DATA`, … start with `Pkt6::getLabel()`).
#[test]
fn labels_are_kea_s_own() {
    let ns = v6();
    let rec = EventLog::new(ns.dir()).unwrap();
    let mut p = runscript_params_with(rec.script(), true, &[]);
    p["hook-points"] = kea_runscript_testbed::serde_json::json!(["pkt6_receive", "pkt6_send"]);
    let kea = Kea::start(&ns, &KeaConfig::v6().debug_log().hook(hook_library(&hook_so(), p))).unwrap();
    let mut perf = Perfdhcp::v6();
    perf.clients = 2;
    perf.period = 2;
    perf.renew_rate = 0;
    perf.release_rate = 0;
    perf.run(&ns).unwrap();
    let evs = rec.wait_for("a REPLY sent", |evs| evs.iter().any(|e| e.hook == "pkt6_send" && e.get("KEA_RESPONSE6_TYPE") == Some("REPLY")));
    let log = kea.log();
    let mut seen = 0;
    for ev in &evs {
        for var in ["KEA_QUERY6_LABEL", "KEA_RESPONSE6_LABEL"] {
            let Some(label) = ev.get(var) else { continue };
            assert!(label.starts_with("duid=["), "{var} {label:?}: {ev}");
            assert!(log.contains(&format!("{label}:")) || log.contains(&format!("{label} ")), "{var} {label:?} is not a label Kea logged:\n{}", first_labels(&log));
            seen += 1;
        }
    }
    assert!(seen >= 4, "too few labels checked ({seen}): {}", summary(&evs));
}

/// The first lines of Kea's log that carry a packet label (for a failure's message).
fn first_labels(log: &str) -> String {
    log.lines().filter(|l| l.contains("duid=[")).take(6).collect::<Vec<_>>().join("\n")
}
