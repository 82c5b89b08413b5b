//! The recipes of `examples/`, run by kea-runscript in real Kea with real clients and the real
//! system they keep in step, all in the test's network namespaces: `examples/dns/` registers
//! leases in a real Unbound (asked with dig from the client namespace), `examples/firewall/`
//! keeps nftables sets, `examples/routes/` and `examples/committed/` routes. Each is started
//! from its configuration as shipped; after Kea restarts with its leases (memfile, persisted),
//! the replay (`lease4_replay` / `lease6_replay`) puts back what the clients hold, with no client
//! traffic, and sweeps what no client holds. Needs root.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use kea_runscript_testbed::serde_json::{self, Value};

/// Where the example configurations expect things once installed.
const INSTALLED_LIBRARY: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libkea_runscript.so";
const INSTALLED_EXAMPLES: &str = "/usr/share/kea-runscript/examples/";
/// The zone of the DNS example's configurations.
const ZONE: &str = "lan.example";

fn example(rel: &str) -> PathBuf {
    let p = workspace_root().join("examples").join(rel);
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// An example's configuration file and script (paths under `examples/`), and more
/// substitutions (as shipped, for this test), each of which the file must contain.
struct Example {
    family: Family,
    conf: String,
    script: String,
    subst: Vec<(&'static str, String)>,
}

/// Starts Kea with an example configuration as shipped, with only the installation-specific parts
/// pointed at this checkout and this test: the library, the script, the interface, the lease
/// file, DUID file and control socket (in the server's directory), and `ex.subst`. With `leases`,
/// the server starts with a copy of that lease file: a restart that keeps the leases. Returns
/// once the replay of the start has ended (a client served before that replay's `begin` run
/// would be swept by its `end`).
fn start_example<'a>(ns: &'a Netns, ex: &Example, leases: Option<&Path>) -> Kea<'a> {
    let conf = ex.conf.as_str();
    let subst = |text: String, from: &str, to: &str| {
        assert!(text.contains(from), "{conf} no longer contains {from:?}");
        text.replace(from, to)
    };
    let mut text = fs::read_to_string(example(conf)).unwrap();
    text = subst(text, INSTALLED_LIBRARY, hook_so().to_str().unwrap());
    text = subst(text, &format!("{INSTALLED_EXAMPLES}{}", ex.script), example(&ex.script).to_str().unwrap());
    text = subst(text, "\"eth1\"", &format!("\"{}\"", ns.server_if));
    for (from, to) in &ex.subst {
        text = subst(text, from, to);
    }
    let lease_file = ex.family.lease_file();
    let v = if ex.family == Family::V4 { 4 } else { 6 };
    let kea = Kea::start_text(ns, ex.family, |dir| {
        if let Some(from) = leases {
            fs::copy(from, dir.join(lease_file)).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
        }
        let q = |p: PathBuf| serde_json::to_string(p.to_str().unwrap()).unwrap();
        let text = subst(text, "\"persist\": true", &format!("\"persist\": true, \"name\": {}", q(dir.join(lease_file))));
        let text = text.replace("\"data-directory\": \"/var/lib/kea\"", &format!("\"data-directory\": {}", q(dir.into())));
        text.replace(&format!("\"/run/kea/kea{v}-ctrl-socket\""), &q(dir.join(CONTROL_SOCKET)))
    })
    .unwrap_or_else(|e| panic!("{conf}: {e}"));
    replay_done(&kea, 1);
    kea
}

/// `s` as a JSON string.
fn json_str(s: impl AsRef<str>) -> String {
    serde_json::to_string(s.as_ref()).unwrap()
}

/// Stops `kea` and starts the example again with its lease file: the clients' leases are kept,
/// the script's runs for them come from the replay alone.
fn restart_example<'a>(ns: &'a Netns, ex: &Example, kea: Kea<'a>) -> Kea<'a> {
    kea.stop();
    let leases = kea.lease_file();
    assert!(leases.is_file(), "no lease file {}", leases.display());
    start_example(ns, ex, Some(&leases))
}

/// Waits until Kea has logged the end of its `n`th replay since it started (`KRS_REPLAY_DONE`,
/// logged once the `end` run has ended) and returns that line.
fn replay_done(kea: &Kea, n: usize) -> String {
    wait_until(DEFAULT_TIMEOUT, || kea.log_lines("KRS_REPLAY_DONE").into_iter().nth(n - 1))
        .unwrap_or_else(|_| panic!("replay {n} did not end:\n{}", kea.log()))
}

/// The replay's end line says the script got `n` leases and failed on none.
fn assert_delivered(line: &str, n: usize) {
    assert!(line.contains(&format!(": {n} delivered, 0 failed")), "{line}");
}

// ------------------------------------------------------------------------------- DNS

fn dns_example(family: Family, unbound: &Unbound, state: &Path) -> Example {
    Example {
        family,
        conf: format!("dns/kea-dhcp{}.conf", if family == Family::V4 { 4 } else { 6 }),
        script: "dns/dns.sh".into(),
        subst: vec![
            ("\"-c /etc/unbound/unbound.conf\"", json_str(unbound.control_args())),
            ("\"/var/lib/kea/dns\"", json_str(state.to_str().unwrap())),
        ],
    }
}

/// What Unbound answers, asked from the client namespace over IPv6 (the client has
/// 2001:db8:1::2 whether or not it holds a DHCPv4 address).
fn ask(ns: &Netns, name: &str, rtype: &str) -> Vec<String> {
    dig(ns, SERVER_V6, name, rtype).unwrap_or_else(|e| panic!("dig {name} {rtype}: {e}"))
}

fn ask_ptr(ns: &Netns, address: &str) -> Vec<String> {
    dig_ptr(ns, SERVER_V6, address).unwrap_or_else(|e| panic!("dig -x {address}: {e}"))
}

/// Waits until `cond` holds; on timeout panics with `what` and Unbound's records.
fn wait_dns(unbound: &Unbound, what: &str, cond: impl Fn() -> bool) {
    wait_until(DEFAULT_TIMEOUT, || cond().then_some(()))
        .unwrap_or_else(|_| panic!("{what}; Unbound's records:\n{}", unbound.local_data().unwrap_or_default()));
}

/// The current generation of the DNS or routes state (`gen4`/`gen6`), as the script keeps it.
fn generation(state: &Path, v: u8) -> String {
    fs::read_to_string(state.join(format!("gen{v}"))).map(|g| g.trim().to_string()).unwrap_or_else(|_| "0".into())
}

/// The script's output on stderr, in Kea's log: none expected.
fn assert_script_quiet(kea: &Kea) {
    let lines = kea.log_lines("KRS_SCRIPT_STDERR");
    assert!(lines.is_empty(), "the script complained:\n{}", lines.join("\n"));
    assert_eq!(kea_errors(&kea.log()), Vec::<&str>::new());
}

/// dhclient sends a host name: the A record and the PTR record are in Unbound when the ACK is
/// (`wait: true`, `leases4_committed`), both asked over IPv4 and IPv6; the release removes them.
/// The client takes a lease again and goes quiet; Kea stops, Unbound restarts empty, a record of
/// a lease Kea no longer holds is planted in Unbound and in the script's state; Kea starts with
/// its leases: the replay registers the held lease again and sweeps the planted one. Unbound
/// alone restarts empty: the `runscript-replay` command puts the record back.
#[test]
fn dns_v4_lease_release_replay_sweep() {
    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap();
    let mut unbound = Unbound::start(&ns, ZONE).unwrap();
    let state = ns.subdir("dns-state").unwrap();
    let ex = dns_example(Family::V4, &unbound, &state);
    let kea = start_example(&ns, &ex, None);
    let name = format!("krs-dns.{ZONE}.");

    let mut dh = Dhclient::v4(&ns).unwrap();
    dh.add_config("send host-name \"krs-dns\";").unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    assert_eq!(dig(&ns, SERVER_V4, &name, "A").unwrap(), [addr.clone()], "A over IPv4 right after the ACK");
    assert_eq!(ask(&ns, &name, "A"), [addr.clone()], "A over IPv6");
    assert_eq!(ask_ptr(&ns, &addr), [name.clone()], "PTR of {addr}");
    dh.release().unwrap();
    wait_dns(&unbound, "the records removed after the release", || {
        ask(&ns, &name, "A").is_empty() && ask_ptr(&ns, &addr).is_empty()
    });

    let mut dh = Dhclient::v4(&ns).unwrap();
    dh.add_config("send host-name \"krs-dns\";").unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    assert_eq!(ask(&ns, &name, "A"), [addr.clone()]);
    dh.stop().unwrap(); // no release: Kea keeps the lease, and from now on no client traffic
    assert_script_quiet(&kea);

    kea.stop();
    unbound.restart().unwrap();
    assert!(ask(&ns, &name, "A").is_empty(), "Unbound restarted with records");
    let stale = "192.0.2.150";
    let gone = format!("krs-gone.{ZONE}.");
    unbound.control(&["local_data", &format!("{gone} 300 IN A {stale}")]).unwrap();
    unbound.control(&["local_data", &format!("150.2.0.192.in-addr.arpa. 300 IN PTR {gone}")]).unwrap();
    fs::write(state.join("4").join(stale), format!("{} krs-gone\n", generation(&state, 4))).unwrap();
    assert_eq!(ask(&ns, &gone, "A"), [stale], "planted");

    let kea = restart_example(&ns, &ex, kea);
    assert_delivered(&replay_done(&kea, 1), 1);
    assert_eq!(ask(&ns, &name, "A"), [addr.clone()], "the replay registers the held lease");
    assert_eq!(ask_ptr(&ns, &addr), [name.clone()]);
    assert!(ask(&ns, &gone, "A").is_empty(), "the planted record is not swept");
    assert!(ask_ptr(&ns, stale).is_empty(), "the planted PTR record is not swept");
    assert!(!state.join("4").join(stale).exists(), "the swept lease is still in the script's state");
    assert!(state.join("4").join(&addr).exists(), "the held lease is not in the script's state");

    unbound.restart().unwrap();
    assert!(ask(&ns, &name, "A").is_empty(), "Unbound restarted with records");
    kea.command_ok(r#"{"command": "runscript-replay"}"#).unwrap();
    assert_delivered(&replay_done(&kea, 2), 1);
    assert_eq!(ask(&ns, &name, "A"), [addr.clone()], "runscript-replay registers the held lease again");
    assert_eq!(ask_ptr(&ns, &addr), [name.clone()]);
    assert_script_quiet(&kea);
}

/// One host, both families: dhclient -4 sends the host name `krs-dual`, dhclient -6 the FQDN
/// `krs-dual.lan.example.`; the name has its A and its AAAA record, each address its PTR. The
/// DHCPv4 release removes the A record and leaves the AAAA (the script puts back the other
/// family's record of a name it removes). Then the DHCPv6 client goes quiet, kea-dhcp6 stops,
/// Unbound restarts empty, kea-dhcp6 starts with its leases: its replay registers the AAAA again
/// and its sweep (DHCPv6 only) leaves the DHCPv4 side alone; kea-dhcp4's `runscript-replay` the A.
#[test]
fn dns_dual_stack_one_name() {
    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap();
    let mut unbound = Unbound::start(&ns, ZONE).unwrap();
    let state = ns.subdir("dns-state").unwrap();
    let ex4 = dns_example(Family::V4, &unbound, &state);
    let ex6 = dns_example(Family::V6, &unbound, &state);
    let kea4 = start_example(&ns, &ex4, None);
    let kea6 = start_example(&ns, &ex6, None);
    let name = format!("krs-dual.{ZONE}.");

    let mut dh4 = Dhclient::v4(&ns).unwrap();
    dh4.add_config("send host-name \"krs-dual\";").unwrap();
    let mut dh6 = Dhclient::v6(&ns).unwrap();
    dh6.add_config(&format!("send fqdn.fqdn \"krs-dual.{ZONE}.\";\nsend fqdn.server-update on;")).unwrap();
    let a4 = dh4.obtain().unwrap().address.unwrap();
    let a6 = dh6.obtain().unwrap().address.unwrap();
    assert_eq!(ask(&ns, &name, "A"), [a4.clone()]);
    assert_eq!(ask(&ns, &name, "AAAA"), [a6.clone()]);
    assert_eq!(ask_ptr(&ns, &a4), [name.clone()]);
    assert_eq!(ask_ptr(&ns, &a6), [name.clone()]);

    dh4.release().unwrap();
    wait_dns(&unbound, "the A record removed after the DHCPv4 release", || ask(&ns, &name, "A").is_empty());
    assert_eq!(ask(&ns, &name, "AAAA"), [a6.clone()], "the AAAA record went with the A record");
    assert_eq!(ask_ptr(&ns, &a6), [name.clone()]);
    let mut dh4 = Dhclient::v4(&ns).unwrap();
    dh4.add_config("send host-name \"krs-dual\";").unwrap();
    let a4 = dh4.obtain().unwrap().address.unwrap();
    assert_eq!(ask(&ns, &name, "A"), [a4.clone()]);
    assert_eq!(ask(&ns, &name, "AAAA"), [a6.clone()]);
    assert_script_quiet(&kea4);
    assert_script_quiet(&kea6);

    dh6.stop().unwrap();
    kea6.stop();
    unbound.restart().unwrap();
    let kea6 = restart_example(&ns, &ex6, kea6);
    assert_delivered(&replay_done(&kea6, 1), 1);
    assert_eq!(ask(&ns, &name, "AAAA"), [a6.clone()], "kea-dhcp6's replay registers the AAAA record");
    assert_eq!(ask_ptr(&ns, &a6), [name.clone()]);
    assert!(ask(&ns, &name, "A").is_empty(), "an A record without kea-dhcp4's replay");
    assert!(state.join("4").join(&a4).exists(), "kea-dhcp6's sweep touched the DHCPv4 state");
    kea4.command_ok(r#"{"command": "runscript-replay"}"#).unwrap();
    assert_delivered(&replay_done(&kea4, 2), 1);
    assert_eq!(ask(&ns, &name, "A"), [a4.clone()], "kea-dhcp4's runscript-replay registers the A record");
    assert_eq!(ask_ptr(&ns, &a4), [name.clone()]);
    assert_eq!(ask(&ns, &name, "AAAA"), [a6.clone()]);
    assert_script_quiet(&kea4);
    assert_script_quiet(&kea6);
}

/// Host names a client may send that are no DNS label (shell syntax, a newline, a leading
/// hyphen, 64 bytes, a name of the `dhcp-` form another client's address gives), with Kea told
/// to keep every character (`hostname-char-set: ""`): each lease gets the name derived from its
/// address; valid names are lower-cased and cut at their first dot. No command ran, Unbound
/// holds only names of the zone's form, the script said nothing on stderr.
#[test]
fn dns_hostile_host_names_stay_data() {
    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap();
    let unbound = Unbound::start(&ns, ZONE).unwrap();
    let state = ns.subdir("dns-state").unwrap();
    let mut ex = dns_example(Family::V4, &unbound, &state);
    ex.subst.push(("\"valid-lifetime\": 3600,", "\"valid-lifetime\": 3600, \"hostname-char-set\": \"\",".into()));
    let kea = start_example(&ns, &ex, None);
    let marker = ns.dir().join("injected");
    let m = marker.display().to_string();
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (format!("$(touch {m})").into_bytes(), None),
        (format!("x;touch {m};#").into_bytes(), None),
        (format!("`touch {m}`").into_bytes(), None),
        (b"line1\nline2".to_vec(), None),
        (b"-lead".to_vec(), None),
        (vec![b'a'; 64], None),
        (b"dhcp-192-0-2-199".to_vec(), None),
        (b"Krs-Upper".to_vec(), Some("krs-upper")),
        (b"krs-first.other.example".to_vec(), Some("krs-first")),
    ];
    for (n, (sent, want)) in cases.iter().enumerate() {
        let hex: String = sent.iter().map(|b| format!("{b:02x}")).collect();
        let mac = format!("02:00:00:00:07:{:02x}", n + 1);
        let r = dhcp4_client(&ns, &["--mac", &mac, "--option", &format!("12:{hex}")])
            .unwrap_or_else(|e| panic!("{:?}: not served: {e}\n{}", String::from_utf8_lossy(sent), kea.log()));
        let addr = r.str("address").unwrap().to_string();
        let label = match want {
            Some(l) => l.to_string(),
            None => format!("dhcp-{}", addr.replace('.', "-")),
        };
        let name = format!("{label}.{ZONE}.");
        assert_eq!(ask(&ns, &name, "A"), [addr.clone()], "host name {:?}", String::from_utf8_lossy(sent));
        assert_eq!(ask_ptr(&ns, &addr), [name.clone()], "host name {:?}", String::from_utf8_lossy(sent));
    }
    assert!(!marker.exists(), "an injected command ran");
    // Every record in the zone, or in the reverse zone of the served subnet, has a name of the
    // zone's form (Unbound's own default zones aside).
    let data = unbound.local_data().unwrap();
    let zone_form = |name: &str| {
        name.strip_suffix(&format!(".{ZONE}.")).is_some_and(|l| {
            !l.is_empty() && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
    };
    let mut ours = 0;
    for line in data.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(owner), Some(rdata)) = (f.first(), f.last()) else { continue };
        if owner.ends_with(&format!(".{ZONE}.")) {
            assert!(zone_form(owner), "Unbound holds {line:?}");
        } else if owner.ends_with(".2.0.192.in-addr.arpa.") {
            assert!(zone_form(rdata), "Unbound holds {line:?}");
        } else {
            continue;
        }
        ours += 1;
    }
    assert_eq!(ours, 2 * cases.len(), "records in Unbound:\n{data}");
    assert_script_quiet(&kea);
}

/// A client that vanishes (udhcpc killed, no release): when Kea reclaims its expired lease
/// (`lease4_expire`, `KEA_LEASE_EVENT=del`), its records go.
#[test]
fn dns_expiry_removes_the_records() {
    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap();
    let unbound = Unbound::start(&ns, ZONE).unwrap();
    let state = ns.subdir("dns-state").unwrap();
    let mut ex = dns_example(Family::V4, &unbound, &state);
    let reclaim = r#""expired-leases-processing": { "reclaim-timer-wait-time": 1, "hold-reclaimed-time": 0,
        "flush-reclaimed-timer-wait-time": 0 },"#;
    ex.subst.push(("\"valid-lifetime\": 3600,", format!("\"valid-lifetime\": 4, {reclaim}")));
    let kea = start_example(&ns, &ex, None);
    let mut u = Udhcpc::new(&ns).unwrap();
    let addr = u.start().unwrap().address.unwrap();
    let name = format!("dhcp-{}.{ZONE}.", addr.replace('.', "-"));
    assert_eq!(ask(&ns, &name, "A"), [addr.clone()], "udhcpc sends no host name: the address's name");
    u.vanish();
    wait_dns(&unbound, "the records removed after the expiry", || {
        ask(&ns, &name, "A").is_empty() && ask_ptr(&ns, &addr).is_empty()
    });
    assert!(!state.join("4").join(&addr).exists(), "the expired lease is still in the script's state");
    assert_script_quiet(&kea);
}

// -------------------------------------------------------------------------- firewall

fn firewall_example(family: Family, state: &Path) -> Example {
    Example {
        family,
        conf: format!("firewall/kea-dhcp{}.conf", if family == Family::V4 { 4 } else { 6 }),
        script: "firewall/firewall.sh".into(),
        subst: vec![("\"/run/kea/firewall\"", json_str(state.to_str().unwrap()))],
    }
}

/// `nft ARGS` in the server namespace; panics unless it succeeds.
fn nft(ns: &Netns, args: &[&str]) -> String {
    let out = ns.server_cmd("nft").args(args).output().unwrap();
    assert!(out.status.success(), "nft {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Loads `examples/firewall/kea.nft` into the server namespace, its interface the server's veth.
fn load_kea_nft(ns: &Netns) {
    let text = fs::read_to_string(example("firewall/kea.nft")).unwrap();
    assert!(text.contains("\"eth1\""), "kea.nft no longer names eth1");
    let file = ns.dir().join("kea.nft");
    fs::write(&file, text.replace("\"eth1\"", &format!("\"{}\"", ns.server_if))).unwrap();
    nft(ns, &["-f", file.to_str().unwrap()]);
}

/// The elements of `inet kea SET` (`nft -j`): addresses, and prefixes as `address/length`.
fn set_elements(ns: &Netns, set: &str) -> BTreeSet<String> {
    let v: Value = serde_json::from_str(&nft(ns, &["-j", "list", "set", "inet", "kea", set])).unwrap();
    let mut out = BTreeSet::new();
    for item in v["nftables"].as_array().into_iter().flatten() {
        for e in item["set"]["elem"].as_array().into_iter().flatten() {
            match (e.as_str(), &e["prefix"]) {
                (Some(a), _) => out.insert(a.to_string()),
                (None, p) if p.is_object() => out.insert(format!("{}/{}", p["addr"].as_str().unwrap(), p["len"])),
                _ => panic!("unexpected element {e} in {set}"),
            };
        }
    }
    out
}

fn wait_set(ns: &Netns, set: &str, what: &str, want: &BTreeSet<String>) {
    wait_until(DEFAULT_TIMEOUT, || (set_elements(ns, set) == *want).then_some(()))
        .unwrap_or_else(|_| panic!("{what}: {set} holds {:?}, not {want:?}", set_elements(ns, set)));
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `examples/firewall/` with real nft in the server namespace (the table of `kea.nft`): the set
/// holds the leased address (and, in DHCPv6, the delegated prefix) when the ACK/REPLY is there,
/// loses it with the release; the client takes a lease again and goes quiet, Kea stops, the set
/// is emptied but for a planted element no client holds; Kea starts with its leases: the replay
/// puts the lease back and sweeps the planted element.
fn firewall_example_test(family: Family) {
    let ns = Netns::with_options(NetnsOptions { ipv6: family == Family::V6, client_v4: false }).unwrap();
    load_kea_nft(&ns);
    let state = ns.subdir("nft-state").unwrap();
    let ex = firewall_example(family, &state);
    let (set, stale) = match family {
        Family::V4 => ("leased4", "192.0.2.150"),
        Family::V6 => ("leased6", "2001:db8:1::1f0"),
    };
    let client = |ns| match family {
        Family::V4 => Dhclient::v4(ns).unwrap(),
        Family::V6 => Dhclient::v6_pd(ns).unwrap(),
    };
    let held = |l: ClientLease| -> BTreeSet<String> { l.address.into_iter().chain(l.prefix).collect() };
    let kea = start_example(&ns, &ex, None);

    let mut dh = client(&ns);
    let want = held(dh.obtain().unwrap());
    assert_eq!(want.len(), if family == Family::V4 { 1 } else { 2 });
    assert_eq!(set_elements(&ns, set), want, "right after the lease");
    dh.release().unwrap();
    wait_set(&ns, set, "after the release", &BTreeSet::new());

    let mut dh = client(&ns);
    let want = held(dh.obtain().unwrap());
    assert_eq!(set_elements(&ns, set), want);
    dh.stop().unwrap();
    assert_script_quiet(&kea);

    kea.stop();
    nft(&ns, &["flush", "set", "inet", "kea", set]);
    nft(&ns, &["add", "element", "inet", "kea", set, &format!("{{ {stale} }}")]);
    assert_eq!(set_elements(&ns, set), set_of(&[stale]), "planted");
    let kea = restart_example(&ns, &ex, kea);
    assert_delivered(&replay_done(&kea, 1), want.len());
    assert_eq!(set_elements(&ns, set), want, "the replay puts the lease back and sweeps the planted element");
    assert!(!state.join(format!("marks{}", if family == Family::V4 { 4 } else { 6 })).exists(), "marks left");
    assert_script_quiet(&kea);
}

#[test]
fn firewall_v4() {
    firewall_example_test(Family::V4);
}

#[test]
fn firewall_v6_address_and_prefix() {
    firewall_example_test(Family::V6);
}

// ---------------------------------------------------------------------------- routes

/// `ip -4|-6 route show proto static` in the server namespace.
fn routes(ns: &Netns, family: Family) -> String {
    let fam = if family == Family::V4 { "-4" } else { "-6" };
    let out = Command::new("ip").args(["-n", &ns.server, fam, "route", "show", "proto", "static"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip_server(ns: &Netns, args: &[&str]) {
    let out = Command::new("ip").args(["-n", &ns.server]).args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `examples/<dir>/` (routes or committed) and a restart: the client's routes are there after
/// its lease; the client goes quiet, Kea stops, and as after a reboot its routes are gone,
/// while a route of the script's for a lease Kea no longer holds (in the script's state) and an
/// operator's own static route are there. Kea starts with its leases: the replay puts the
/// client's routes back (a delegated prefix via the client's link-local address, which only the
/// script's state knows) and sweeps the stale one; the operator's route stays.
fn routes_replay(dir: &'static str, family: Family) {
    let ns = Netns::with_options(NetnsOptions { ipv6: family == Family::V6, client_v4: false }).unwrap();
    let state = ns.subdir("routes-state").unwrap();
    let v = if family == Family::V4 { 4 } else { 6 };
    let ex = Example {
        family,
        conf: format!("{dir}/kea-dhcp{v}.conf"),
        script: format!("{dir}/routes.sh"),
        subst: vec![("\"/var/lib/kea/routes\"", json_str(state.to_str().unwrap()))],
    };
    let kea = start_example(&ns, &ex, None);
    let iface = ns.server_if.clone();
    let (mut dh, want) = match family {
        Family::V4 => {
            let mut dh = Dhclient::v4(&ns).unwrap();
            let addr = dh.obtain().unwrap().address.unwrap();
            (dh, vec![format!("{addr} dev {iface}")])
        }
        Family::V6 => {
            let ll = ns.client_link_local().unwrap();
            let mut dh = Dhclient::v6_pd(&ns).unwrap();
            let l = dh.obtain().unwrap();
            let (addr, prefix) = (l.address.unwrap(), l.prefix.unwrap());
            (dh, vec![format!("{addr} dev {iface}"), format!("{prefix} via {ll} dev {iface}")])
        }
    };
    let r = routes(&ns, family);
    for w in &want {
        assert!(r.contains(w.as_str()), "no route {w:?} after the lease:\n{r}");
    }
    dh.stop().unwrap();
    assert_script_quiet(&kea);

    kea.stop();
    for w in &want {
        let dest = w.split_whitespace().next().unwrap();
        ip_server(&ns, &[&format!("-{v}"), "route", "del", dest, "proto", "static"]);
    }
    let (stale, own) = match family {
        Family::V4 => ("192.0.2.150/32", "192.0.2.240/28"),
        Family::V6 => ("2001:db8:1::1f0/128", "2001:db8:1:f::/64"),
    };
    for dest in [stale, own] {
        ip_server(&ns, &[&format!("-{v}"), "route", "add", dest, "dev", &iface, "proto", "static"]);
    }
    let key = stale.replace('/', "_");
    fs::write(state.join(v.to_string()).join(key), format!("{} dev {iface}\n", generation(&state, v))).unwrap();
    let kea = restart_example(&ns, &ex, kea);
    assert_delivered(&replay_done(&kea, 1), want.len());
    let r = routes(&ns, family);
    for w in &want {
        assert!(r.contains(w.as_str()), "the replay did not put {w:?} back:\n{r}");
    }
    assert!(!r.contains(stale.split('/').next().unwrap()), "{stale} not swept:\n{r}");
    assert!(r.contains(own), "the sweep removed the operator's route {own}:\n{r}");
    assert!(!state.join(v.to_string()).join(stale.replace('/', "_")).exists(), "{stale} still in the state");
    assert_script_quiet(&kea);
}

#[test]
fn routes_replay_v4() {
    routes_replay("routes", Family::V4);
}

#[test]
fn routes_replay_v6_address_and_prefix() {
    routes_replay("routes", Family::V6);
}

#[test]
fn committed_replay_v4() {
    routes_replay("committed", Family::V4);
}

#[test]
fn committed_replay_v6_address_and_prefix() {
    routes_replay("committed", Family::V6);
}
