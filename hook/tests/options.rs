//! Named option variables under real traffic: each is asserted with the
//! value the client (or relay) sent, at every hook point carrying its query,
//! and empty where the message did not carry it. DHCPv4: the Python client,
//! dhclient and perfdhcp (option 82 with sub-options). DHCPv6: the Python
//! client, ISC dhcrelay between client and server (a third namespace), and
//! the Python client's own two-level relay encapsulation. Needs root.

mod common;

use std::collections::BTreeSet;

use common::*;

/// `0x` + upper-case hex, as Kea's `toHexString` (the `hex` type).
fn hex(bytes: &[u8]) -> String {
    format!("0x{}", bytes.iter().map(|b| format!("{b:02X}")).collect::<String>())
}

/// The payload bytes of a hex string like `0102ab`.
fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A domain name in DNS wire format (fully qualified: ends with the root label).
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A DHCPv4 client FQDN option (81) payload: flags, RCODE1, RCODE2, name.
fn fqdn4_payload(flags: u8, name: &str) -> Vec<u8> {
    let mut v = vec![flags, 0, 0];
    v.extend(wire_name(name));
    v
}

fn hexstr(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hook points of a family (`HOOKS4`, `HOOKS6`) that carry the query (their variables
/// include `KEA_QUERY<family>_TYPE`), but the decline: no client here declines.
fn query_hooks(hooks: &[&'static str]) -> Vec<&'static str> {
    let carries_query =
        |h: &str| expected_vars(h).iter().any(|(n, _)| n.starts_with("KEA_QUERY") && n.ends_with("_TYPE"));
    hooks.iter().copied().filter(|h| !h.ends_with("_decline") && carries_query(h)).collect()
}

/// Asserts that every hook point of `hooks` was seen.
fn assert_hooks_seen(evs: &[Event], hooks: &[&str]) {
    let seen: BTreeSet<&str> = evs.iter().map(|e| e.hook.as_str()).collect();
    for h in hooks {
        assert!(seen.contains(h), "no {h} event; seen: {seen:?}");
    }
}

/// Asserts `var=value` on an event, naming the event.
fn is(ev: &Event, var: &str, value: &str) {
    assert_eq!(ev.var(var), value, "{var} at {}:\n{ev}", ev.hook);
}

// ------------------------------------------------------------------ DHCPv4

/// Asserts the named DHCPv4 option variables of one event: those in `want`
/// with their value, every other one empty.
fn named4(ev: &Event, want: &[(&str, String)]) {
    for name in NAMED4_OPTIONS {
        let expected = want.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("");
        is(ev, name, expected);
    }
}

/// The Python client: client identifier, parameter request list, user class
/// and a client FQDN (S and E flags) in DISCOVER and REQUEST (the renewing
/// one too); its RELEASE carries the client identifier only.
#[test]
fn dhcp4_client_identifier_prl_user_class_fqdn() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), rec.script(), true)).unwrap();
    let client_id = "01020000000501";
    let user_class = "096b72732d636c617373"; // RFC 3004: length 9, "krs-class"
    let fqdn = fqdn4_payload(0x05, "krs-fqdn4.example.org."); // S | E
    let r = dhcp4_client(
        &ns,
        &[
            "--mac",
            "02:00:00:00:05:01",
            "--client-id",
            client_id,
            "--prl",
            "1,3,6,15,119,252",
            "--user-class",
            user_class,
            "--option",
            &format!("81:{}", hexstr(&fqdn)),
            "--then",
            "renew,release",
        ],
    )
    .unwrap();
    let addr = r.str("address").unwrap().to_string();
    let evs = rec.wait_for("the release of the lease", |evs| {
        evs.iter().any(|e| e.hook == "lease4_release" && e.get("KEA_LEASE4_ADDRESS") == Some(addr.as_str()))
    });
    assert_hooks_seen(&evs, &query_hooks(HOOKS4));
    assert_contract(&evs, &[]);
    let full = [
        ("KEA_QUERY4_CLIENT_ID", hex(&unhex(client_id))),
        ("KEA_QUERY4_PRL", "1,3,6,15,119,252".to_string()),
        ("KEA_QUERY4_USER_CLASS", hex(&unhex(user_class))),
        ("KEA_QUERY4_FQDN", "krs-fqdn4.example.org.".to_string()),
        ("KEA_QUERY4_FQDN_FLAGS", "5".to_string()),
    ];
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY4_TYPE")) {
        match ev.var("KEA_QUERY4_TYPE") {
            "DHCPDISCOVER" | "DHCPREQUEST" => named4(ev, &full),
            "DHCPRELEASE" => named4(ev, &full[..1]),
            t => panic!("unexpected {t}: {ev}"),
        }
    }
}

/// dhclient, a real client, configured (Debian's dhclient has no `-H`):
/// `send host-name` sends option 12, the `request` statement the parameter
/// request list (in DISCOVER and REQUEST only); a second dhclient sends a
/// client FQDN (`send fqdn.*`: S and E flags). dhclient `send`s both in its
/// RELEASE too.
#[test]
fn dhclient_hostname_prl_and_fqdn() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), rec.script(), true)).unwrap();

    let mut dh = Dhclient::v4(&ns).unwrap();
    dh.add_config(
        "send host-name \"krs-dhclient\";\n\
         request subnet-mask, routers, domain-name-servers, domain-name;",
    )
    .unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    dh.release().unwrap();
    let evs = rec.wait_for("lease4_release of the first dhclient", |evs| {
        evs.iter().any(|e| e.hook == "lease4_release" && e.get("KEA_LEASE4_ADDRESS") == Some(addr.as_str()))
    });
    assert_hooks_seen(&evs, &["pkt4_receive", "pkt4_send", "subnet4_select", "lease4_select", "lease4_release"]);
    assert_contract(&evs, &[]);
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY4_TYPE")) {
        match ev.var("KEA_QUERY4_TYPE") {
            "DHCPDISCOVER" | "DHCPREQUEST" => {
                named4(ev, &[("KEA_QUERY4_HOSTNAME", "krs-dhclient".into()), ("KEA_QUERY4_PRL", "1,3,6,15".into())])
            }
            "DHCPRELEASE" => named4(ev, &[("KEA_QUERY4_HOSTNAME", "krs-dhclient".into())]),
            t => panic!("unexpected {t}: {ev}"),
        }
    }
    let first = evs.len();

    let mut dh = Dhclient::v4(&ns).unwrap();
    dh.add_config(
        "request subnet-mask, routers;\n\
         send fqdn.fqdn \"krs-dh.example.org.\";\n\
         send fqdn.encoded on;\n\
         send fqdn.server-update on;\n\
         send fqdn.no-client-update off;",
    )
    .unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    dh.release().unwrap();
    let evs = rec.wait_for("lease4_release of the second dhclient", |evs| {
        evs[first..].iter().any(|e| e.hook == "lease4_release" && e.get("KEA_LEASE4_ADDRESS") == Some(addr.as_str()))
    });
    let evs = &evs[first..];
    assert_contract(evs, &[]);
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY4_TYPE")) {
        match ev.var("KEA_QUERY4_TYPE") {
            "DHCPDISCOVER" | "DHCPREQUEST" => named4(
                ev,
                &[
                    ("KEA_QUERY4_FQDN", "krs-dh.example.org.".into()),
                    ("KEA_QUERY4_FQDN_FLAGS", "5".into()),
                    ("KEA_QUERY4_PRL", "1,3".into()),
                ],
            ),
            "DHCPRELEASE" => {
                named4(ev, &[("KEA_QUERY4_FQDN", "krs-dh.example.org.".into()), ("KEA_QUERY4_FQDN_FLAGS", "5".into())])
            }
            t => panic!("unexpected {t}: {ev}"),
        }
    }
}

/// perfdhcp as a relay (giaddr): option 82 with circuit id, remote id, link
/// selection, subscriber id, vendor-specific information and relay id, plus
/// host name, client FQDN (E and N flags) and user class; perfdhcp's own
/// client identifier (01 + MAC) and parameter request list.
#[test]
fn perfdhcp_relay_agent_sub_options_and_client_options() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: true }).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), rec.script(), true)).unwrap();
    let circuit = "aabbccdd";
    let remote = "eeff";
    let link_selection = [192u8, 0, 2, 66]; // inside the served subnet: Kea selects it
    let subscriber = hexstr(b"krs-sub");
    let vendor = "0000118b03010203"; // enterprise 4491, 3 bytes of data
    let relay_id = "00030001020000000009"; // a DUID-LL
    let mut rai = String::new();
    for (code, value) in [
        (1u8, circuit.to_string()),
        (2, remote.to_string()),
        (5, hexstr(&link_selection)),
        (6, subscriber.clone()),
        (9, vendor.to_string()),
        (12, relay_id.to_string()),
    ] {
        rai.push_str(&format!("{code:02x}{:02x}{value}", value.len() / 2));
    }
    let fqdn = fqdn4_payload(0x0c, "krs-perf.example.org."); // E | N
    let user_class = "046b727331"; // length 4, "krs1"
    let mut p = Perfdhcp::v4()
        .option(&format!("82,{rai}"))
        .option(&format!("12,{}", hexstr(b"krs-perf")))
        .option(&format!("81,{}", hexstr(&fqdn)))
        .option(&format!("77,{user_class}"));
    p.clients = 2;
    p.period = 2;
    p.renew_rate = 0;
    p.release_rate = 0;
    p.run(&ns).unwrap();
    let evs = rec.wait_for_hooks(&["pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send"]);
    assert_contract(&evs, &[]);
    let mut n = 0;
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY4_TYPE")) {
        n += 1;
        is(ev, "KEA_QUERY4_RAI", &hex(&unhex(&rai)));
        is(ev, "KEA_QUERY4_RAI_CIRCUIT_ID", &hex(&unhex(circuit)));
        is(ev, "KEA_QUERY4_RAI_REMOTE_ID", &hex(&unhex(remote)));
        let mac = ev.var("KEA_QUERY4_HWADDR").replace(':', "");
        named4(
            ev,
            &[
                ("KEA_QUERY4_RAI_LINK_SELECTION", "192.0.2.66".into()),
                ("KEA_QUERY4_RAI_SUBSCRIBER_ID", hex(b"krs-sub")),
                ("KEA_QUERY4_RAI_VENDOR", hex(&unhex(vendor))),
                ("KEA_QUERY4_RAI_RELAY_ID", hex(&unhex(relay_id))),
                ("KEA_QUERY4_HOSTNAME", "krs-perf".into()),
                ("KEA_QUERY4_FQDN", "krs-perf.example.org.".into()),
                ("KEA_QUERY4_FQDN_FLAGS", "12".into()),
                ("KEA_QUERY4_USER_CLASS", hex(&unhex(user_class))),
                // perfdhcp's own: client identifier type 1 + MAC, and its
                // request list (subnet mask, broadcast address, time offset,
                // routers, domain name, name servers, host name).
                ("KEA_QUERY4_CLIENT_ID", format!("0x01{}", mac.to_ascii_uppercase())),
                ("KEA_QUERY4_PRL", "1,28,2,3,15,6,12".into()),
            ],
        );
        if ev.vars.contains_key("KEA_SUBNET4") {
            // The link selection sub-option chose the subnet.
            is(ev, "KEA_SUBNET4", SUBNET_V4);
        }
    }
    assert!(n > 0, "no query events");
}

// ------------------------------------------------------------------ DHCPv6

/// The named DHCPv6 variables: the client's options, whether (and how many times) the query
/// was relayed, and the relay's fields and options.
fn v6_named() -> impl Iterator<Item = &'static str> {
    let relay: &[&str] = &["KEA_QUERY6_RELAYED", "KEA_QUERY6_RELAY_HOPS"];
    [NAMED6_OPTIONS, relay, RELAY6_FIELDS, RELAY6_OPTIONS].into_iter().flatten().copied()
}

/// Asserts the named DHCPv6 variables of one event: those in `want` with
/// their value, `KEA_QUERY6_RELAYED`/`_RELAY_HOPS` `0` unless given, every
/// other one empty.
fn named6(ev: &Event, want: &[(&str, String)]) {
    for name in v6_named() {
        let default = match name {
            "KEA_QUERY6_RELAYED" | "KEA_QUERY6_RELAY_HOPS" => "0",
            _ => "",
        };
        let expected = want.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()).unwrap_or(default);
        is(ev, name, expected);
    }
}

/// The enterprise number 4491 and one vendor-class-data "krs-vc", as the
/// Python client encodes `--vendor-class krs-vc` (RFC 8415 21.16).
fn vendor_class_payload() -> Vec<u8> {
    let mut v = 4491u32.to_be_bytes().to_vec();
    v.extend((b"krs-vc".len() as u16).to_be_bytes());
    v.extend(b"krs-vc");
    v
}

const USER_CLASS6: &str = "00096b72732d636c617373"; // length 9, "krs-class"

/// The Python client, directly on the server's link: vendor class, user
/// class and client FQDN (N flag) in SOLICIT, REQUEST, RENEW and REBIND,
/// none in RELEASE; not relayed, so every relay variable is empty.
#[test]
fn dhcp6_client_vendor_class_user_class_fqdn() {
    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &KeaConfig::v6().runscript(&hook_so(), rec.script(), true)).unwrap();
    dhcp6_client(
        &ns,
        &[
            "--vendor-class",
            "krs-vc",
            "--user-class",
            USER_CLASS6,
            "--fqdn",
            "krs-opt6.example.org",
            "--fqdn-flags",
            "4",
            "--then",
            "renew,rebind,release",
        ],
    )
    .unwrap();
    let evs = rec.wait_for("lease6_release", |evs| evs.iter().any(|e| e.hook == "lease6_release"));
    assert_hooks_seen(&evs, &query_hooks(HOOKS6));
    assert_contract(&evs, &[]);
    let full = [
        ("KEA_QUERY6_VENDOR_CLASS", hex(&vendor_class_payload())),
        ("KEA_QUERY6_USER_CLASS", hex(&unhex(USER_CLASS6))),
        ("KEA_QUERY6_FQDN", "krs-opt6.example.org.".to_string()),
        ("KEA_QUERY6_FQDN_FLAGS", "4".to_string()),
    ];
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY6_TYPE")) {
        match ev.var("KEA_QUERY6_TYPE") {
            "SOLICIT" | "REQUEST" | "RENEW" | "REBIND" => named6(ev, &full),
            "RELEASE" => named6(ev, &[]),
            t => panic!("unexpected {t}: {ev}"),
        }
    }
}

/// A real relay: ISC dhcrelay in a third namespace between the client link
/// (2001:db8:2::/64) and the server, adding an interface-id (`-I`, with
/// `#index`) and a subscriber-id (`-s`). Kea selects the subnet behind the
/// relay by its link-address; the client's own options come through.
#[test]
fn dhcrelay_link_peer_hop_count_interface_id_subscriber_id() {
    let ns = Netns::with_relay().unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v6().relay_subnet6().runscript(&hook_so(), rec.script(), true);
    let _kea = Kea::start(&ns, &cfg).unwrap();
    let if_index = 0x1234;
    let relay = Dhcrelay::start6(
        &ns,
        &Dhcrelay6Options { interface_id: Some(if_index), subscriber_id: Some("krs-subscriber".into()) },
    )
    .unwrap();
    let r = dhcp6_client(&ns, &["--vendor-class", "krs-vc", "--then", "renew,release"])
        .unwrap_or_else(|e| panic!("{e}\ndhcrelay:\n{}", relay.log()));
    let addr = r.str("address").unwrap().to_string();
    let client_ll = ns.client_link_local().unwrap();
    assert_eq!(r.str("source"), Some(client_ll.as_str()));
    let evs = rec.wait_for("lease6_release", |evs| evs.iter().any(|e| e.hook == "lease6_release"));
    assert_hooks_seen(
        &evs,
        &["pkt6_receive", "pkt6_send", "subnet6_select", "lease6_select", "lease6_renew", "lease6_release"],
    );
    assert_contract(&evs, &[]);
    let relayed = [
        ("KEA_QUERY6_RELAYED", "1".to_string()),
        ("KEA_QUERY6_RELAY_HOPS", "1".to_string()),
        ("KEA_QUERY6_RELAY_LINK_ADDRESS", RELAY_LINK_V6.to_string()),
        ("KEA_QUERY6_RELAY_PEER_ADDRESS", client_ll.clone()),
        ("KEA_QUERY6_RELAY_HOP_COUNT", "0".to_string()),
        ("KEA_QUERY6_RELAY_INTERFACE_ID", hex(&Dhcrelay::interface_id_bytes(if_index))),
        ("KEA_QUERY6_RELAY_SUBSCRIBER_ID", hex(b"krs-subscriber")),
    ];
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY6_TYPE")) {
        // The query reached Kea from the relay, on the relay agents' port.
        is(ev, "KEA_QUERY6_REMOTE_PORT", "547");
        let mut want = relayed.to_vec();
        match ev.var("KEA_QUERY6_TYPE") {
            "SOLICIT" | "REQUEST" | "RENEW" => want.push(("KEA_QUERY6_VENDOR_CLASS", hex(&vendor_class_payload()))),
            "RELEASE" => {}
            t => panic!("unexpected {t}: {ev}"),
        }
        named6(ev, &want);
        if ev.vars.contains_key("KEA_SUBNET6") {
            is(ev, "KEA_SUBNET6", RELAY_SUBNET_V6);
            is(ev, "KEA_SUBNET6_ID", &RELAY_SUBNET6_ID.to_string());
        }
        if ev.vars.contains_key("KEA_LEASE6_ADDRESS") {
            is(ev, "KEA_LEASE6_ADDRESS", &addr);
        }
    }
    assert!(relay.log().contains("Relaying Solicit from"), "{}", relay.log());
}

/// Two relays, nested (the Python client encapsulates its messages twice,
/// hop-count 0 then 1): the variables are the outermost relay's, the one
/// that sent the query to Kea; Kea itself selects the subnet by the
/// innermost relay's link-address.
#[test]
fn nested_relays_report_the_outermost() {
    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::v6().relay_subnet6().runscript(&hook_so(), rec.script(), true);
    let _kea = Kea::start(&ns, &cfg).unwrap();
    let relay_opts = |who: &str| {
        let mut remote = 4491u32.to_be_bytes().to_vec();
        remote.extend(who.as_bytes());
        [(18u16, format!("{who}-if").into_bytes()), (37, remote), (38, format!("{who}-sub").into_bytes())]
    };
    let spec = |link: &str, peer: Option<&str>, who: &str| {
        let mut s = link.to_string();
        if let Some(p) = peer {
            s.push_str(&format!(",peer={p}"));
        }
        for (code, value) in relay_opts(who) {
            s.push_str(&format!(",{code}:{}", hexstr(&value)));
        }
        s
    };
    let inner = spec(RELAY_LINK_V6, None, "inner");
    let outer = spec("2001:db8:3::1", Some("2001:db8:3::2"), "outer");
    let r = dhcp6_client(&ns, &["--relay", &inner, "--relay", &outer, "--then", "renew,release"]).unwrap();
    assert_eq!(r.json.get("relays").and_then(|v| v.as_u64()), Some(2), "{}", r.stdout);
    let addr = r.str("address").unwrap().to_string();
    assert!(addr.starts_with("2001:db8:2::"), "the subnet behind the inner relay: {addr}");
    let evs = rec.wait_for("lease6_release", |evs| evs.iter().any(|e| e.hook == "lease6_release"));
    assert_hooks_seen(
        &evs,
        &["pkt6_receive", "pkt6_send", "subnet6_select", "lease6_select", "lease6_renew", "lease6_release"],
    );
    assert_contract(&evs, &[]);
    let [iface, remote, sub] = relay_opts("outer");
    let want = [
        ("KEA_QUERY6_RELAYED", "1".to_string()),
        ("KEA_QUERY6_RELAY_HOPS", "2".to_string()),
        ("KEA_QUERY6_RELAY_LINK_ADDRESS", "2001:db8:3::1".to_string()),
        ("KEA_QUERY6_RELAY_PEER_ADDRESS", "2001:db8:3::2".to_string()),
        ("KEA_QUERY6_RELAY_HOP_COUNT", "1".to_string()),
        ("KEA_QUERY6_RELAY_INTERFACE_ID", hex(&iface.1)),
        ("KEA_QUERY6_RELAY_REMOTE_ID", hex(&remote.1)),
        ("KEA_QUERY6_RELAY_SUBSCRIBER_ID", hex(&sub.1)),
    ];
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY6_TYPE")) {
        named6(ev, &want);
        if ev.vars.contains_key("KEA_SUBNET6") {
            is(ev, "KEA_SUBNET6", RELAY_SUBNET_V6);
        }
    }
}
