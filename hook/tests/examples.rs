//! The shipped examples, run by kea-runscript in real Kea with real clients:
//! `examples/debug.sh` logs every hook point, `examples/routes/routes.sh`
//! keeps the server namespace's routes in step with its leases, the workers
//! of `examples/worker/` log lease events and answer each. Needs root.
//!
//! Kea runs as Debian's unit runs it (user `_kea`, the unit's capabilities, environment and
//! directories: `testbed/src/service.rs`), with the systemd drop-in an example ships where it
//! needs more (`examples/*/systemd/`); each test checks that the scripts ran as that service. The
//! routes example also runs without its drop-in (its failure is in Kea's log, Kea serves on) and,
//! at expiry, as root.

mod common;

use std::fs;
use std::path::PathBuf;

use common::*;

fn example(rel: &str) -> PathBuf {
    let p = workspace_root().join("examples").join(rel);
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// Where the example configurations expect things once installed.
const INSTALLED_LIBRARY: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libkea_runscript.so";
const INSTALLED_EXAMPLES: &str = "/usr/share/kea-runscript/examples/";

/// Debian's unit of `family`'s server, with the drop-in `examples/<drop_in>` when given.
fn service(family: Family, drop_in: Option<&str>) -> Service {
    let svc = Service::debian(family).unwrap();
    match drop_in {
        None => svc,
        Some(rel) => svc.drop_in_file(&example(rel)).unwrap(),
    }
}

/// The drop-in an example ships for `family`'s unit.
fn drop_in(dir: &str, family: Family) -> String {
    let unit = match family {
        Family::V4 => "kea-dhcp4-server",
        Family::V6 => "kea-dhcp6-server",
    };
    format!("{dir}/systemd/{unit}.service.d/kea-runscript-{dir}.conf")
}

/// Starts Kea with an example configuration file as shipped, with only the installation-specific
/// parts pointed at this checkout and this test's namespace: the library, the script, the
/// interface, and the lease/DUID files (kept out of /var/lib/kea). With `svc`, Kea runs as that
/// service, the script wrapped to record its identity (see [`Service::identity_wrapper`]), and
/// the examples' state in the service's state directory (where they keep it installed,
/// `/var/lib/kea`).
fn start_example<'a>(
    ns: &'a Netns,
    family: Family,
    conf: &str,
    script: &str,
    script_path: &std::path::Path,
    svc: Option<&Service>,
) -> Kea<'a> {
    let wrapped;
    let script_path = match svc {
        None => script_path,
        Some(svc) => {
            wrapped = svc.identity_wrapper(ns.dir(), script_path).unwrap();
            &wrapped
        }
    };
    let text = fs::read_to_string(example(conf)).unwrap();
    let subst = |text: String, from: &str, to: &str| {
        assert!(text.contains(from), "{conf} no longer contains {from:?}");
        text.replace(from, to)
    };
    let text = subst(text, INSTALLED_LIBRARY, hook_so().to_str().unwrap());
    let text = subst(text, &format!("{INSTALLED_EXAMPLES}{script}"), script_path.to_str().unwrap());
    let text = subst(text, "\"eth1\"", &format!("\"{}\"", ns.server_if));
    let replays = text.contains("_replay\"");
    let kea = Kea::start_text_as(ns, family, svc, |dirs| {
        // The route examples' state: in the test's directory, or the service's state directory.
        let state = match svc {
            None => ns.dir().join("routes-state"),
            Some(_) => dirs.state.join("routes"),
        };
        let text = text.replace("\"/var/lib/kea/routes\"", &serde_json::to_string(state.to_str().unwrap()).unwrap());
        let text = text.replace("\"persist\": true", "\"persist\": false");
        let data = dirs.state.to_str().unwrap();
        text.replace("\"data-directory\": \"/var/lib/kea\"", &format!("\"data-directory\": {data:?}"))
    })
    .unwrap_or_else(|e| panic!("{conf}: {e}"));
    if let Some(svc) = svc {
        kea.identity().unwrap().check(svc).unwrap_or_else(|e| panic!("Kea: {e}"));
    }
    // The replay of the start ends before any client comes (its end would sweep a route added
    // before its begin).
    if replays {
        kea.wait_log("KRS_REPLAY_DONE", DEFAULT_TIMEOUT).unwrap();
    }
    kea
}

fn bare(ipv6: bool) -> Netns {
    Netns::with_options(NetnsOptions { ipv6, client_v4: false }).unwrap()
}

/// Blocks of the debug log: (hook point, KEA_* lines).
fn debug_blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("== ").and_then(|l| l.strip_suffix(" ==")) {
            out.push((h.to_string(), Vec::new()));
        } else if let Some((_, vars)) = out.last_mut() {
            if line.starts_with("KEA_") {
                vars.push(line.to_string());
            }
        }
    }
    out
}

#[test]
fn debug_example_logs_every_hook_point() {
    let ns = bare(false);
    let svc = service(Family::V4, None);
    let logs = ns.subdir("debug").unwrap();
    svc.hand_over(&logs).unwrap();
    let log = logs.join("debug.log");
    let wrapper = debug_wrapper(ns.dir(), &example("debug.sh"), &log).unwrap();
    let _kea = start_example(&ns, Family::V4, "debug-kea-dhcp4.conf", "debug.sh", &wrapper, Some(&svc));
    let mut dh = Dhclient::v4(&ns).unwrap();
    let lease = dh.obtain().unwrap();
    dh.release().unwrap();
    let addr = lease.address.unwrap();
    // The script writes its block in steps (header, date, variables): wait for the whole of it.
    let complete = |t: &str| debug_blocks(t).iter().any(|(h, v)| h == "lease4_release" && v.len() == expected_vars(h).len());
    wait_until(DEFAULT_TIMEOUT, || fs::read_to_string(&log).ok().filter(|t| complete(t))).expect("lease4_release logged");
    let text = fs::read_to_string(&log).unwrap();
    let blocks = debug_blocks(&text);
    let hooks: Vec<&str> = blocks.iter().map(|(h, _)| h.as_str()).collect();
    for h in ["pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send", "lease4_release"] {
        assert!(hooks.contains(&h), "{h} not logged: {hooks:?}\n{text}");
    }
    // Each block holds exactly the hook point's variables, sorted, with values.
    for (hook, vars) in &blocks {
        let mut names: Vec<&str> = vars.iter().map(|l| l.split('=').next().unwrap()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "env | sort output for {hook}");
        names.sort();
        let mut expected: Vec<&str> = expected_vars(hook).iter().map(|(n, _)| *n).collect();
        expected.sort();
        assert_eq!(names, expected, "variables logged for {hook}");
    }
    let release = blocks.iter().find(|(h, _)| h == "lease4_release").unwrap();
    assert!(release.1.contains(&format!("KEA_LEASE4_ADDRESS={addr}")), "{:?}", release.1);
    // The log has a `date` line after each heading.
    let first = text.lines().nth(1).unwrap_or("");
    assert!(!first.is_empty() && !first.starts_with("KEA_"), "no date line: {text}");
    assert_ran_as(&svc, ns.dir());
}

fn routes(ns: &Netns, v6: bool) -> String {
    let fam = if v6 { "-6" } else { "-4" };
    let out = std::process::Command::new("ip")
        .args(["-n", &ns.server, fam, "route", "show", "proto", "static"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_routes(ns: &Netns, v6: bool, what: &str, cond: impl Fn(&str) -> bool) -> String {
    wait_until(DEFAULT_TIMEOUT, || {
        let r = routes(ns, v6);
        cond(&r).then_some(r)
    })
    .unwrap_or_else(|_| panic!("{what}; routes now:\n{}", routes(ns, v6)))
}

/// With a routes script that Kea waits for (`wait: true`): dhclient gets a lease, the /32 to it
/// is there as soon as the ACK is (the script ran before the ACK left), and is gone after the
/// release.
fn assert_route_v4_from_ack_to_release(ns: &Netns) {
    let mut dh = Dhclient::v4(ns).unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    let r = routes(ns, false);
    assert!(r.contains(&format!("{addr} dev {}", ns.server_if)), "no route to {addr} right after the ACK:\n{r}");
    dh.release().unwrap();
    wait_routes(ns, false, "route removed after the release", |r| !r.contains(&addr));
}

/// The DHCPv6 counterpart: dhclient gets an address and a delegated prefix; the /128 and the
/// route to the prefix via the client's link-local address are there as soon as the REPLY is,
/// and both are gone after the release.
fn assert_routes_v6_from_reply_to_release(ns: &Netns) {
    let client_ll = ns.client_link_local().unwrap();
    let mut dh = Dhclient::v6_pd(ns).unwrap();
    let lease = dh.obtain().unwrap();
    let addr = lease.address.unwrap();
    let prefix = lease.prefix.unwrap();
    let r = routes(ns, true);
    assert!(r.contains(&format!("{addr} dev {}", ns.server_if)), "no /128 for {addr}:\n{r}");
    assert!(r.contains(&format!("{prefix} via {client_ll} dev {}", ns.server_if)), "no route for {prefix}:\n{r}");
    dh.release().unwrap();
    wait_routes(ns, true, "routes removed after the release", |r| !r.contains(&addr) && !r.contains(&prefix));
}

/// Starts `examples/<dir>/kea-dhcp4.conf` (or `-dhcp6`) as shipped, with `examples/<dir>/routes.sh`,
/// as Debian's unit with the example's drop-in (`CAP_NET_ADMIN` added), and checks the routes from
/// the lease to its release, and that the script ran as `_kea` with the drop-in's capabilities.
fn example_routes_from_lease_to_release(dir: &str, family: Family) {
    let script = format!("{dir}/routes.sh");
    let svc = service(family, Some(&drop_in(dir, family)));
    assert!(svc.ambient.iter().any(|c| c == "CAP_NET_ADMIN"), "{dir}'s drop-in grants no CAP_NET_ADMIN: {svc:?}");
    let ns = bare(family == Family::V6);
    let conf = match family {
        Family::V4 => format!("{dir}/kea-dhcp4.conf"),
        Family::V6 => format!("{dir}/kea-dhcp6.conf"),
    };
    let kea = start_example(&ns, family, &conf, &script, &example(&script), Some(&svc));
    match family {
        Family::V4 => assert_route_v4_from_ack_to_release(&ns),
        Family::V6 => assert_routes_v6_from_reply_to_release(&ns),
    }
    assert_ran_as(&svc, ns.dir());
    assert_eq!(kea.log_count("KRS_SCRIPT_STDERR"), 0, "{}", kea.log());
}

/// The routes example under Debian's unit as installed, without its drop-in: `ip route` is refused
/// (no `CAP_NET_ADMIN`), which Kea's log shows through the script's stderr; the client still gets
/// its lease and Kea serves on (a second client too).
#[test]
fn routes_example_without_its_drop_in_fails_in_keas_log_and_kea_serves_on() {
    let svc = service(Family::V4, None);
    assert!(!svc.ambient.iter().any(|c| c == "CAP_NET_ADMIN"), "Debian's unit grants CAP_NET_ADMIN: {svc:?}");
    let ns = bare(false);
    let kea = start_example(&ns, Family::V4, "routes/kea-dhcp4.conf", "routes/routes.sh", &example("routes/routes.sh"), Some(&svc));
    let mut dh = Dhclient::v4(&ns).unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    kea.wait_log("Operation not permitted", DEFAULT_TIMEOUT).unwrap();
    let refused = kea.log_lines("KRS_SCRIPT_STDERR");
    assert!(refused.iter().any(|l| l.contains("Operation not permitted")), "{}", kea.log());
    assert!(!routes(&ns, false).contains(&addr), "a route without CAP_NET_ADMIN:\n{}", routes(&ns, false));
    dh.release().unwrap();
    assert!(kea.exited().is_none(), "Kea exited:\n{}", kea.log());
    let mut again = Dhclient::v4(&ns).unwrap();
    assert!(again.obtain().unwrap().address.is_some(), "Kea no longer serves");
    again.release().unwrap();
    assert_ran_as(&svc, ns.dir());
}

#[test]
fn routes_example_v4() {
    example_routes_from_lease_to_release("routes", Family::V4);
}

#[test]
fn routes_example_v6_address_and_prefix() {
    example_routes_from_lease_to_release("routes", Family::V6);
}

/// As root (as the suite runs Kea elsewhere): the route goes when the lease expires.
#[test]
fn routes_example_expiry_removes_the_route() {
    let ns = bare(false);
    let state = ns.dir().join("routes-state");
    let env = serde_json::json!({ "ROUTES_STATE": state.to_str().unwrap() }).to_string();
    let cfg = KeaConfig::v4().valid_lifetime(4).fast_reclaim().runscript_with(
        &hook_so(),
        &example("routes/routes.sh"),
        true,
        &[("extra-env", &env)],
    );
    let _kea = Kea::start(&ns, &cfg).unwrap();
    let mut u = Udhcpc::new(&ns).unwrap();
    let addr = u.start().unwrap().address.unwrap();
    wait_routes(&ns, false, "route added", |r| r.contains(&addr));
    u.vanish();
    wait_routes(&ns, false, "route removed after expiry", |r| !r.contains(&addr));
}

/// `examples/committed/` as shipped (`leases4_committed`, `lease4_release`, `lease4_expire`):
/// the /32 is there as soon as dhclient has its ACK (the lease was committed, and the script
/// waited for, before Kea answered), and goes away with the release.
#[test]
fn committed_example_v4() {
    example_routes_from_lease_to_release("committed", Family::V4);
}

/// `examples/committed/` in kea-dhcp6 (`leases6_committed`, `lease6_release`, `lease6_expire`):
/// a /128 for the address and a route to the delegated prefix via the client's link-local
/// address as soon as dhclient has its REPLY; both go away with the release.
#[test]
fn committed_example_v6_address_and_prefix() {
    example_routes_from_lease_to_release("committed", Family::V6);
}

/// `examples/worker/kea-dhcp4.conf` as shipped (worker mode, `wait: true`), with `worker.py` or, in
/// its place, `worker.sh`: the worker logs dhclient's lease and its release (its stderr, in Kea's
/// log), and answers every event in time with a valid reply (no `KRS_WORKER_NO_REPLY`), started once.
fn worker_example(script: &str) {
    let ns = bare(false);
    let path = example(&format!("worker/{script}"));
    let svc = service(Family::V4, None);
    let kea = start_example(&ns, Family::V4, "worker/kea-dhcp4.conf", "worker/worker.py", &path, Some(&svc));
    let mut dh = Dhclient::v4(&ns).unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    dh.release().unwrap();
    let logged = |hook: &str| {
        kea.log_lines("KRS_SCRIPT_STDERR").into_iter().any(|l| l.contains(&format!("{hook} {addr} ")))
    };
    wait_until(DEFAULT_TIMEOUT, || (logged("lease4_select") && logged("lease4_release")).then_some(()))
        .unwrap_or_else(|_| panic!("{script}: the lease of {addr} and its release are not in Kea's log:\n{}", kea.log()));
    assert_eq!(kea.log_count("KRS_WORKER_STARTED"), 1, "{}", kea.log());
    for absent in ["KRS_WORKER_NO_REPLY", "KRS_WORKER_EXITED", "KRS_SCRIPT_STDOUT"] {
        assert_eq!(kea.log_count(absent), 0, "{script}: {absent} in Kea's log:\n{}", kea.log());
    }
    assert_ran_as(&svc, ns.dir());
}

#[test]
fn worker_example_python() {
    worker_example("worker.py");
}

#[test]
fn worker_example_shell() {
    worker_example("worker.sh");
}
