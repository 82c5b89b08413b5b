//! The shipped examples, run by kea-runscript in real Kea with real clients:
//! `examples/debug.sh` logs every hook point, `examples/routes/routes.sh`
//! keeps the server namespace's routes in step with its leases, the workers
//! of `examples/worker/` log lease events and answer each. Needs root.

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

/// Starts Kea with an example configuration file as shipped, with only the installation-specific
/// parts pointed at this checkout and this test's namespace: the library, the script, the
/// interface, and the lease/DUID files (kept out of /var/lib/kea).
fn start_example<'a>(ns: &'a Netns, family: Family, conf: &str, script: &str, script_path: &std::path::Path) -> Kea<'a> {
    let text = fs::read_to_string(example(conf)).unwrap();
    let subst = |text: String, from: &str, to: &str| {
        assert!(text.contains(from), "{conf} no longer contains {from:?}");
        text.replace(from, to)
    };
    let text = subst(text, INSTALLED_LIBRARY, hook_so().to_str().unwrap());
    let text = subst(text, &format!("{INSTALLED_EXAMPLES}{script}"), script_path.to_str().unwrap());
    let text = subst(text, "\"eth1\"", &format!("\"{}\"", ns.server_if));
    // The route examples' state, in the test's directory.
    let state = serde_json::to_string(ns.dir().join("routes-state").to_str().unwrap()).unwrap();
    let text = text.replace("\"/var/lib/kea/routes\"", &state);
    let replays = text.contains("_replay\"");
    let kea = Kea::start_text(ns, family, |dir| {
        let text = text.replace("\"persist\": true", "\"persist\": false");
        text.replace("\"data-directory\": \"/var/lib/kea\"", &format!("\"data-directory\": {:?}", dir.to_str().unwrap()))
    })
    .unwrap_or_else(|e| panic!("{conf}: {e}"));
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
    let log = ns.dir().join("debug.log");
    let wrapper = debug_wrapper(ns.dir(), &example("debug.sh"), &log).unwrap();
    let _kea = start_example(&ns, Family::V4, "debug-kea-dhcp4.conf", "debug.sh", &wrapper);
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
/// and checks the routes from the lease to its release.
fn example_routes_from_lease_to_release(dir: &str, family: Family) {
    let script = format!("{dir}/routes.sh");
    match family {
        Family::V4 => {
            let ns = bare(false);
            let _kea = start_example(&ns, family, &format!("{dir}/kea-dhcp4.conf"), &script, &example(&script));
            assert_route_v4_from_ack_to_release(&ns);
        }
        Family::V6 => {
            let ns = bare(true);
            let _kea = start_example(&ns, family, &format!("{dir}/kea-dhcp6.conf"), &script, &example(&script));
            assert_routes_v6_from_reply_to_release(&ns);
        }
    }
}

#[test]
fn routes_example_v4() {
    example_routes_from_lease_to_release("routes", Family::V4);
}

#[test]
fn routes_example_v6_address_and_prefix() {
    example_routes_from_lease_to_release("routes", Family::V6);
}

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
    let kea = start_example(&ns, Family::V4, "worker/kea-dhcp4.conf", "worker/worker.py", &path);
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
}

#[test]
fn worker_example_python() {
    worker_example("worker.py");
}

#[test]
fn worker_example_shell() {
    worker_example("worker.sh");
}
