//! Where scripts run: `hook-points` (the chosen hook points and no other, with no callout
//! registered where no script runs; the seed's defaults without it; unknown or foreign names
//! refused at load), `scripts` (several scripts, run in list order, each at its own hook points),
//! the library hook points `load` and `unload` (start, shutdown, `config-reload`), and `options`
//! (payloads of options the client sent). Real kea-dhcp4/kea-dhcp6 2.2, real clients. Needs root.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use kea_runscript_testbed::serde_json::{json, Value};
use kea_runscript_testbed::util::sh_quote;

/// Namespaces without a client-side address: real clients get theirs from Kea.
fn bare(ipv6: bool) -> Netns {
    Netns::with_options(NetnsOptions { ipv6, client_v4: false }).unwrap()
}

/// Parameters of one recorder script: `{"script": ..., "wait": ...}` and the members of `more`
/// (a JSON object).
fn params(rec: &EventLog, wait: bool, more: Value) -> Value {
    let mut p = json!({"script": rec.script().to_string_lossy(), "wait": wait});
    p.as_object_mut().unwrap().extend(more.as_object().expect("more: a JSON object").clone());
    p
}

/// Kea's unix control socket at `socket`, as `Dhcp4`/`Dhcp6` members.
fn control_socket(socket: &Path) -> Value {
    json!({"control-socket": {"socket-type": "unix", "socket-name": socket.to_string_lossy()}})
}

/// The hook points Kea's hooks framework registered a callout for, one entry per registration,
/// from its debug log: `HOOKS_CALLOUT_REGISTRATION hooks library with index 1 registering
/// callout for hook 'pkt4_receive'` (the configurations here load no other library).
fn registered(log: &str) -> Vec<String> {
    let mut hooks: Vec<String> = log
        .lines()
        .filter(|l| l.contains("HOOKS_CALLOUT_REGISTRATION"))
        // A control command's handler is a callout too (`$runscript_replay`): not a hook point.
        .filter(|l| !l.contains("for hook '$"))
        // Once per configuration, not per packet: where the statistics' publishing starts.
        .filter(|l| !l.contains("_srv_configured'"))
        .map(|l| {
            let name = l.split("for hook '").nth(1).and_then(|r| r.split('\'').next());
            name.unwrap_or_else(|| panic!("unexpected registration message: {l}")).to_string()
        })
        .collect();
    hooks.sort();
    hooks
}

/// `perf` for 2 s with `clients` clients, neither renewing nor releasing.
fn short(mut perf: Perfdhcp, clients: u32) -> Perfdhcp {
    perf.clients = clients;
    perf.period = 2;
    perf.renew_rate = 0;
    perf.release_rate = 0;
    perf
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn hook_set(evs: &[Event]) -> BTreeSet<&str> {
    evs.iter().map(|e| e.hook.as_str()).collect()
}

// ------------------------------------------------------------------ hook-points

/// `hook-points: ["lease4_select", "lease4_release"]`: a DORA and a RELEASE from dhclient run
/// the script at those two hook points only (offer, grant, release), and Kea registers exactly
/// those two callouts.
#[test]
fn chosen_hook_points_only_v4() {
    let ns = bare(false);
    let rec = EventLog::new(ns.dir()).unwrap();
    let p = params(&rec, true, json!({"hook-points": ["lease4_select", "lease4_release"]}));
    let kea = Kea::start(&ns, &KeaConfig::v4().debug_log().hook(hook_library(&hook_so(), p))).unwrap();
    assert_eq!(
        registered(&kea.log()),
        sorted(&["lease4_select", "lease4_release"]),
        "callouts registered:\n{}",
        kea.log()
    );

    let mut dh = Dhclient::v4(&ns).unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    dh.release().unwrap();
    rec.wait_for("lease4_release of the dhclient lease", |evs| {
        evs.iter().any(|e| e.hook == "lease4_release" && e.get("KEA_LEASE4_ADDRESS") == Some(addr.as_str()))
    });
    let evs = rec.wait_quiet(Duration::from_millis(300));
    assert_eq!(hook_set(&evs), BTreeSet::from(["lease4_select", "lease4_release"]), "{}", summary(&evs));
    for fake in ["1", "0"] {
        let sel = evs.iter().find(|e| e.hook == "lease4_select" && e.get("KEA_FAKE_ALLOCATION") == Some(fake));
        let sel = sel.unwrap_or_else(|| panic!("no lease4_select with KEA_FAKE_ALLOCATION={fake}: {}", summary(&evs)));
        assert_eq!(sel.var("KEA_LEASE4_ADDRESS"), addr, "{sel}");
    }
    let rel = evs.iter().find(|e| e.hook == "lease4_release").unwrap();
    assert_eq!(rel.var("KEA_QUERY4_TYPE"), "DHCPRELEASE", "{rel}");
    assert!(kea.exited().is_none(), "{}", kea.log());
}

/// The same in kea-dhcp6, with an address and a prefix: `lease6_select` and `lease6_release`
/// run for both leases, nothing else runs, two callouts are registered.
#[test]
fn chosen_hook_points_only_v6() {
    let ns = bare(true);
    let rec = EventLog::new(ns.dir()).unwrap();
    let p = params(&rec, true, json!({"hook-points": ["lease6_release", "lease6_select"]}));
    let kea = Kea::start(&ns, &KeaConfig::v6().debug_log().hook(hook_library(&hook_so(), p))).unwrap();
    assert_eq!(
        registered(&kea.log()),
        sorted(&["lease6_select", "lease6_release"]),
        "callouts registered:\n{}",
        kea.log()
    );

    let mut dh = Dhclient::v6_pd(&ns).unwrap();
    let lease = dh.obtain().unwrap();
    dh.release().unwrap();
    let released =
        |evs: &[Event], t: &str| evs.iter().any(|e| e.hook == "lease6_release" && e.get("KEA_LEASE6_TYPE") == Some(t));
    rec.wait_for("lease6_release of the address and of the prefix", |evs| {
        released(evs, "IA_NA") && released(evs, "IA_PD")
    });
    let evs = rec.wait_quiet(Duration::from_millis(300));
    assert_eq!(hook_set(&evs), BTreeSet::from(["lease6_select", "lease6_release"]), "{}", summary(&evs));
    let granted = |t: &str| {
        evs.iter()
            .find(|e| {
                e.hook == "lease6_select"
                    && e.get("KEA_FAKE_ALLOCATION") == Some("0")
                    && e.get("KEA_LEASE6_TYPE") == Some(t)
            })
            .unwrap_or_else(|| panic!("no granted {t} at lease6_select: {}", summary(&evs)))
    };
    assert_eq!(Some(granted("IA_NA").var("KEA_LEASE6_ADDRESS")), lease.address.as_deref());
    assert_eq!(Some(granted("IA_PD").var("KEA_LEASE6_DELEGATED_PREFIX")), lease.prefix.as_deref());
}

/// Without `hook-points`: the seed's hook points (9 in kea-dhcp4, 10 in kea-dhcp6), each
/// registered once, and not `leasesX_committed`, `load` or `unload`: a committed REQUEST and a
/// shutdown run nothing there.
fn default_hook_points(family: Family) {
    let ns = bare(family == Family::V6);
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::new(family).debug_log().hook(hook_library(&hook_so(), params(&rec, true, json!({}))));
    let kea = Kea::start(&ns, &cfg).unwrap();
    let (seed, committed, select) = match family {
        Family::V4 => (HOOKS4, "leases4_committed", "lease4_select"),
        Family::V6 => (HOOKS6, "leases6_committed", "lease6_select"),
    };
    let log = kea.log();
    let reg = registered(&log);
    assert_eq!(reg, sorted(seed), "callouts registered by default:\n{log}");
    assert!(!reg.iter().any(|h| h == committed), "{committed} registered by default");

    let mut dh = match family {
        Family::V4 => Dhclient::v4(&ns).unwrap(),
        Family::V6 => Dhclient::v6(&ns).unwrap(),
    };
    let addr = dh.obtain().unwrap().address.unwrap();
    dh.release().unwrap();
    let released = if family == Family::V4 { "lease4_release" } else { "lease6_release" };
    rec.wait_for("the release", |evs| evs.iter().any(|e| e.hook == released));
    let st = kea.stop();
    assert!(st.is_some_and(|s| s.success()), "{} did not exit cleanly ({st:?}):\n{}", family.binary(), kea.log());
    let evs = rec.events();
    let seen = hook_set(&evs);
    assert!(seen.iter().all(|h| seed.contains(h)), "hook points outside the defaults ran: {}", summary(&evs));
    for h in [select, released, committed, "load", "unload"] {
        let expected = h == select || h == released;
        assert_eq!(seen.contains(h), expected, "{h} ran: {expected} expected: {}", summary(&evs));
    }
    let granted = evs.iter().find(|e| e.hook == select && e.get("KEA_FAKE_ALLOCATION") == Some("0")).unwrap();
    let var = if family == Family::V4 { "KEA_LEASE4_ADDRESS" } else { "KEA_LEASE6_ADDRESS" };
    assert_eq!(granted.var(var), addr, "{granted}");
}

#[test]
fn default_hook_points_v4() {
    default_hook_points(Family::V4);
}

#[test]
fn default_hook_points_v6() {
    default_hook_points(Family::V6);
}

/// An unknown name, or one of the other family's, makes Kea refuse the configuration, with the
/// parameter and the name in its log; the script of a refused configuration never runs, not
/// even at `load`.
#[test]
fn unknown_or_foreign_hook_point_fails_the_load() {
    let ns = bare(false);
    let rec = EventLog::new(ns.dir()).unwrap();
    let s = rec.script().to_string_lossy();
    let cases: Vec<(Family, Value, &str)> = vec![
        (
            Family::V4,
            json!({"script": s, "hook-points": ["load", "lease4_selec"]}),
            r#"parameter 'hook-points': unknown hook point "lease4_selec""#,
        ),
        (
            Family::V4,
            json!({"script": s, "hook-points": ["load", "lease4_select", "lease6_select"]}),
            r#"parameter 'hook-points': "lease6_select" is a DHCPv6 hook point, and this is kea-dhcp4"#,
        ),
        (
            Family::V6,
            json!({"script": s, "hook-points": ["load", "pkt4_receive"]}),
            r#"parameter 'hook-points': "pkt4_receive" is a DHCPv4 hook point, and this is kea-dhcp6"#,
        ),
        (
            Family::V6,
            json!({"script": s, "hook-points": ["load", "leases4_committed"]}),
            r#""leases4_committed" is a DHCPv4 hook point, and this is kea-dhcp6"#,
        ),
        (
            Family::V4,
            json!({"scripts": [{"script": s, "hook-points": ["load"]}, {"script": s, "hook-points": ["pkt4_recieve"]}]}),
            r#"parameter 'scripts[1].hook-points': unknown hook point "pkt4_recieve""#,
        ),
    ];
    for (family, p, expected) in &cases {
        let cfg = KeaConfig::new(*family).hook(hook_library(&hook_so(), p));
        let log = Kea::expect_load_failure(&ns, &cfg).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(log.contains("KRS_LOAD_FAILED"), "{family:?} {p}: no KRS_LOAD_FAILED:\n{log}");
        assert!(log.contains(expected), "{family:?} {p}: {expected:?} not in the log:\n{log}");
    }
    assert!(rec.events().is_empty(), "a refused configuration ran its script: {}", summary(&rec.events()));
}

// ------------------------------------------------------------------ scripts

/// When the recorder wrote its event (the file's modification time), in ns since the epoch.
fn written_ns(ev: &Event) -> u128 {
    let t = std::fs::metadata(&ev.file).and_then(|m| m.modified()).unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

/// Two scripts in `scripts`, both waited for: at the hook point both have (`lease4_select`) the
/// first runs, and has finished, before the second starts; each runs at its own hook points
/// only; Kea registers the union of them.
#[test]
fn several_scripts_run_in_list_order() {
    let ns = bare(false);
    let first = EventLog::create(ns.dir(), "first", "").unwrap();
    let second = EventLog::create(ns.dir(), "second", "").unwrap();
    let p = json!({"scripts": [
        {"script": first.script().to_string_lossy(), "wait": true, "hook-points": ["lease4_select", "pkt4_send"]},
        {"script": second.script().to_string_lossy(), "wait": true, "hook-points": ["pkt4_receive", "lease4_select"]},
    ]});
    let kea = Kea::start(&ns, &KeaConfig::v4().debug_log().hook(hook_library(&hook_so(), p))).unwrap();
    assert_eq!(registered(&kea.log()), sorted(&["lease4_select", "pkt4_receive", "pkt4_send"]), "{}", kea.log());

    let mut dh = Dhclient::v4(&ns).unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    // Waited for: everything of the DORA ran before dhclient had its ACK.
    let a = first.events();
    let b = second.events();
    assert_eq!(hook_set(&a), BTreeSet::from(["lease4_select", "pkt4_send"]), "first script: {}", summary(&a));
    assert_eq!(hook_set(&b), BTreeSet::from(["pkt4_receive", "lease4_select"]), "second script: {}", summary(&b));
    assert!(
        a.iter().any(|e| e.hook == "pkt4_send" && e.get("KEA_RESPONSE4_TYPE") == Some("DHCPACK")),
        "no ACK seen by the first script: {}",
        summary(&a)
    );

    let sel_a: Vec<&Event> = of(&a, "lease4_select").collect();
    let sel_b: Vec<&Event> = of(&b, "lease4_select").collect();
    assert_eq!(sel_a.len(), sel_b.len(), "lease4_select runs: first {}, second {}", summary(&a), summary(&b));
    assert!(sel_a.iter().any(|e| e.var("KEA_FAKE_ALLOCATION") == "0"), "no grant: {}", summary(&a));
    for (x, y) in sel_a.iter().zip(&sel_b) {
        for v in ["KEA_QUERY4_TYPE", "KEA_FAKE_ALLOCATION", "KEA_LEASE4_ADDRESS"] {
            assert_eq!(x.var(v), y.var(v), "the same lease4_select call:\n{x}{y}");
        }
        assert_eq!(x.var("KEA_LEASE4_ADDRESS"), addr, "{x}");
        assert!(
            written_ns(x) <= y.time_ns,
            "the second script started ({}) before the first had written its event ({}):\n{x}{y}",
            y.time_ns,
            written_ns(x)
        );
    }
    // pkt4_receive (second script only) comes before lease4_select of the same query.
    let recv_req =
        of(&b, "pkt4_receive").find(|e| e.var("KEA_QUERY4_TYPE") == "DHCPREQUEST").expect("REQUEST received");
    let grant = sel_a.iter().find(|e| e.var("KEA_FAKE_ALLOCATION") == "0").unwrap();
    assert!(recv_req.time_ns < grant.time_ns, "pkt4_receive after lease4_select:\n{recv_req}{grant}");
}

// ------------------------------------------------------------------ load, unload

/// `kea-dhcpX -v`: the version this Kea reports (e.g. `2.2.0`).
fn kea_version(family: Family) -> String {
    let out = std::process::Command::new(family.binary()).arg("-v").output().unwrap();
    assert!(out.status.success(), "{} -v: {out:?}", family.binary());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A recorder that also appends `HOOK PPID COMM-OF-PPID` to `<dir>/parents` after recording:
/// which process ran it, and whether that process was still alive then.
fn parent_recorder(dir: &Path) -> (EventLog, std::path::PathBuf) {
    let parents = dir.join("parents");
    let extra = format!("echo \"$1 $PPID $(/bin/cat /proc/$PPID/comm)\" >> {}", sh_quote(&parents));
    (EventLog::create(dir, "lib", &extra).unwrap(), parents)
}

/// The lines of `load` and `unload` runs.
fn parent_lines(parents: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(parents).unwrap_or_default();
    text.lines().filter(|l| l.starts_with("load ") || l.starts_with("unload ")).map(str::to_string).collect()
}

fn check_library_event(ev: &Event, family: Family, version: &str) {
    let fam = if family == Family::V4 { "4" } else { "6" };
    assert_eq!(ev.var("KEA_DHCP_FAMILY"), fam, "{ev}");
    assert_eq!(ev.var("KEA_VERSION"), version, "{ev}");
    // KEA_HOOKS_VERSION is major * 10000 + minor * 100 + patch: 20200, 20603, 30004...
    let n: Vec<u32> = version.split(|c: char| !c.is_ascii_digit()).take(3).map(|p| p.parse().unwrap()).collect();
    assert_eq!(ev.var("KEA_HOOKS_VERSION"), (n[0] * 10000 + n[1] * 100 + n[2]).to_string(), "{ev}");
    let mut kea: Vec<&str> = ev.with_prefix("KEA_").map(|(k, _)| k).collect();
    kea.sort_unstable();
    // The library's own (and every event's identity).
    let expected = ["KEA_DHCP_FAMILY", "KEA_EVENT_ID", "KEA_EVENT_TIME", "KEA_HOOKS_VERSION", "KEA_SERVER_NAME", "KEA_VERSION"];
    assert_eq!(kea, expected, "variables at {}: {ev}", ev.hook);
    assert!(ev.extra_args.is_empty(), "{ev}");
}

/// Sends one command to Kea's control socket and returns its answer (Kea closes the connection
/// after answering).
fn kea_command(socket: &Path, command: &str) -> String {
    let mut s = UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    s.set_read_timeout(Some(DEFAULT_TIMEOUT)).unwrap();
    s.write_all(command.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap_or_else(|e| panic!("{command}: no answer: {e}"));
    answer
}

/// kea-dhcp4, `hook-points: ["load", "unload", "lease4_select"]` with `wait: false` (the library
/// hook points are waited for all the same): the load run is over when Kea has started; a
/// `config-reload` runs the old configuration's unload, then the new one's load, before Kea
/// answers the command, and the new parameters are in force; SIGTERM runs unload while Kea is
/// still there (the script's parent is the live kea-dhcp4), and Kea then exits cleanly.
#[test]
fn load_unload_and_config_reload_v4() {
    let ns = bare(false);
    let (rec, parents) = parent_recorder(ns.dir());
    let version = kea_version(Family::V4);
    let socket = ns.dir().join("ctrl.sock");
    let p = params(&rec, false, json!({"hook-points": ["load", "unload", "lease4_select"], "extra-env": {"GEN": "1"}}));
    let cfg = KeaConfig::v4().hook(hook_library(&hook_so(), p)).extra(control_socket(&socket));
    let kea = Kea::start(&ns, &cfg).unwrap();
    let pid = kea.pid();
    let alive = |hook: &str| format!("{hook} {pid} kea-dhcp4");

    let evs = rec.events();
    assert_eq!(summary(&evs), "load×1", "right after start");
    check_library_event(&evs[0], Family::V4, &version);
    assert_eq!(evs[0].get("GEN"), Some("1"), "{}", evs[0]);
    assert_eq!(parent_lines(&parents), [alive("load")]);

    dhcp4_client(&ns, &["--mac", "02:00:00:00:0b:01"]).unwrap();
    let granted = |evs: &[Event], gen: &str| {
        evs.iter().any(|e| {
            e.hook == "lease4_select" && e.get("KEA_FAKE_ALLOCATION") == Some("0") && e.get("GEN") == Some(gen)
        })
    };
    rec.wait_for("a grant under the first configuration", |evs| granted(evs, "1"));

    // The new configuration: the same file with GEN=2.
    let text = std::fs::read_to_string(kea.config_path()).unwrap();
    assert!(text.contains(r#""GEN": "1""#), "{text}");
    std::fs::write(kea.config_path(), text.replace(r#""GEN": "1""#, r#""GEN": "2""#)).unwrap();
    let answer = kea_command(&socket, r#"{"command": "config-reload"}"#);
    assert!(answer.contains(r#""result": 0"#), "config-reload: {answer}\n{}", kea.log());
    let lib: Vec<(String, String)> = rec
        .events()
        .iter()
        .filter(|e| e.hook == "load" || e.hook == "unload")
        .map(|e| (e.hook.clone(), e.get("GEN").unwrap_or("").to_string()))
        .collect();
    let pair = |h: &str, g: &str| (h.to_string(), g.to_string());
    assert_eq!(
        lib,
        [pair("load", "1"), pair("unload", "1"), pair("load", "2")],
        "load/unload runs after config-reload"
    );
    for ev in rec.events().iter().filter(|e| e.hook == "load" || e.hook == "unload") {
        check_library_event(ev, Family::V4, &version);
    }
    assert_eq!(parent_lines(&parents), [alive("load"), alive("unload"), alive("load")]);

    dhcp4_client(&ns, &["--mac", "02:00:00:00:0b:02"]).unwrap();
    rec.wait_for("a grant under the reloaded configuration", |evs| granted(evs, "2"));

    let st = kea.stop();
    assert!(st.is_some_and(|s| s.success()), "kea-dhcp4 did not exit cleanly ({st:?}):\n{}", kea.log());
    // Nothing to wait for: Kea has exited, and its unload waited for the script.
    let evs = rec.events();
    let last = evs.last().unwrap();
    assert_eq!((last.hook.as_str(), last.get("GEN")), ("unload", Some("2")), "{}", summary(&evs));
    check_library_event(last, Family::V4, &version);
    assert_eq!(parent_lines(&parents), [alive("load"), alive("unload"), alive("load"), alive("unload")]);
    assert_eq!(of(&evs, "load").count() + of(&evs, "unload").count(), 4, "{}", summary(&evs));
}

/// A `config-reload` to parameters with an unknown hook point: Kea answers with an error, the
/// log names the parameter and the name; the running library's unload ran (Kea 2.2 unloads it
/// before loading the new one) and the refused configuration's script ran nowhere, not even at
/// `load`; Kea stays up.
#[test]
fn refused_config_reload_v4() {
    let ns = bare(false);
    let rec = EventLog::new(ns.dir()).unwrap();
    let socket = ns.dir().join("ctrl.sock");
    let p = params(&rec, true, json!({"hook-points": ["load", "unload", "lease4_select"]}));
    let cfg = KeaConfig::v4().hook(hook_library(&hook_so(), p)).extra(control_socket(&socket));
    let kea = Kea::start(&ns, &cfg).unwrap();
    assert_eq!(summary(&rec.events()), "load×1");
    let text = std::fs::read_to_string(kea.config_path()).unwrap();
    std::fs::write(kea.config_path(), text.replace(r#""lease4_select""#, r#""lease4_selec""#)).unwrap();
    let answer = kea_command(&socket, r#"{"command": "config-reload"}"#);
    assert!(answer.contains(r#""result": 1"#), "config-reload of a bad configuration: {answer}");
    let log = kea.log();
    assert!(
        log.contains(r#"KRS_LOAD_FAILED kea-runscript refused its configuration: parameter 'hook-points': unknown hook point "lease4_selec""#),
        "{log}"
    );
    assert_eq!(summary(&rec.events()), "load×1, unload×1", "the old library's unload, nothing of the new one");
    assert!(kea.exited().is_none(), "{log}");
    let st = kea.stop();
    assert!(st.is_some_and(|s| s.success()), "{st:?}\n{}", kea.log());
    assert_eq!(summary(&rec.events()), "load×1, unload×1", "no library left to unload at shutdown");
}

/// kea-dhcp6, `wait: true`: load at start (family 6, kea-dhcp6's version), the script at its
/// packet hook point, unload at SIGTERM while kea-dhcp6 is still alive.
#[test]
fn load_and_unload_v6() {
    let ns = bare(true);
    let (rec, parents) = parent_recorder(ns.dir());
    let version = kea_version(Family::V6);
    let p = params(&rec, true, json!({"hook-points": ["unload", "lease6_select", "load"]}));
    let kea = Kea::start(&ns, &KeaConfig::v6().hook(hook_library(&hook_so(), p))).unwrap();
    let pid = kea.pid();
    let evs = rec.events();
    assert_eq!(summary(&evs), "load×1", "right after start");
    check_library_event(&evs[0], Family::V6, &version);
    assert_eq!(parent_lines(&parents), [format!("load {pid} kea-dhcp6")]);

    let mut dh = Dhclient::v6(&ns).unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    let evs = rec.events();
    assert!(
        evs.iter().any(|e| e.hook == "lease6_select" && e.get("KEA_LEASE6_ADDRESS") == Some(addr.as_str())),
        "{}",
        summary(&evs)
    );
    dh.stop().unwrap();

    let st = kea.stop();
    assert!(st.is_some_and(|s| s.success()), "kea-dhcp6 did not exit cleanly ({st:?}):\n{}", kea.log());
    let evs = rec.events();
    assert_eq!(evs.last().map(|e| e.hook.as_str()), Some("unload"), "{}", summary(&evs));
    check_library_event(evs.last().unwrap(), Family::V6, &version);
    assert_eq!(of(&evs, "load").count(), 1, "{}", summary(&evs));
    assert_eq!(of(&evs, "unload").count(), 1, "{}", summary(&evs));
    let lines = parent_lines(&parents);
    assert_eq!(lines.last().map(String::as_str), Some(format!("unload {pid} kea-dhcp6").as_str()), "{lines:?}");
}

// ------------------------------------------------------------------ options

/// `KEA_QUERY4_OPTION<code>` variables of an event, sorted.
fn option_vars<'a>(ev: &'a Event, prefix: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = ev.with_prefix(prefix).collect();
    v.sort();
    v
}

/// Lower-case hex of an IPv4 address, as option 50 carries it.
fn hex4(addr: &str) -> String {
    let a: std::net::Ipv4Addr = addr.parse().unwrap();
    a.octets().iter().map(|b| format!("{b:02x}")).collect()
}

/// `options: [50, 93, 224]`. perfdhcp sends 93 (client system architecture) and 224 (site
/// specific, given in upper case) in DISCOVER and REQUEST, and 50 (the requested address) in its
/// REQUEST: each is `KEA_QUERY4_OPTION<code>`, lower-case hex without `0x`, at every hook point
/// with the query; option 50 is absent from the DISCOVER. The Python client sends neither 93 nor
/// 224: absent. Option 60, already `KEA_QUERY4_OPTION60`, is refused at load.
#[test]
fn options_v4() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: true }).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let p = params(&rec, true, json!({"options": [50, 93, 224]}));
    let kea = Kea::start(&ns, &KeaConfig::v4().hook(hook_library(&hook_so(), p))).unwrap();
    let out = short(Perfdhcp::v4().option("93,0000").option("224,CAFE01"), 2).run(&ns).unwrap();
    assert!(out.leases.iter().any(|l| l.exchange == "REQUEST-ACK"), "perfdhcp got no lease:\n{}", out.stdout);
    rec.wait_for("perfdhcp's grants", |evs| {
        evs.iter().any(|e| e.hook == "pkt4_send" && e.get("KEA_RESPONSE4_TYPE") == Some("DHCPACK"))
    });
    let mac = "02:00:00:00:0c:01";
    dhcp4_client(&ns, &["--mac", mac]).unwrap();
    let evs = rec.wait_for("the Python client's ACK", |evs| {
        evs.iter().any(|e| e.hook == "pkt4_send" && e.get("KEA_QUERY4_HWADDR") == Some(mac))
    });
    assert!(kea.exited().is_none(), "{}", kea.log());

    // Which address each client (MAC) was acknowledged: the one its REQUEST asks for.
    let acked: std::collections::BTreeMap<&str, &str> = of(&evs, "pkt4_send")
        .filter(|e| e.var("KEA_RESPONSE4_TYPE") == "DHCPACK")
        .map(|e| (e.var("KEA_QUERY4_HWADDR"), e.var("KEA_RESPONSE4_YIADDR")))
        .collect();
    let mut kinds = BTreeSet::new();
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY4_TYPE")) {
        let hw = ev.var("KEA_QUERY4_HWADDR");
        let from_perf = hw != mac;
        let t = ev.var("KEA_QUERY4_TYPE");
        // KEA_QUERY4_OPTION60 is a named variable of its own, not one of `options`.
        let got: Vec<(&str, &str)> =
            option_vars(ev, "KEA_QUERY4_OPTION").into_iter().filter(|(k, _)| *k != "KEA_QUERY4_OPTION60").collect();
        let mut want: Vec<(&str, String)> = Vec::new();
        if t == "DHCPREQUEST" {
            let addr = acked.get(hw).unwrap_or_else(|| panic!("{hw} was never acknowledged: {ev}"));
            want.push(("KEA_QUERY4_OPTION50", hex4(addr)));
        }
        if from_perf {
            want.push(("KEA_QUERY4_OPTION224", "cafe01".into()));
            want.push(("KEA_QUERY4_OPTION93", "0000".into()));
        }
        want.sort();
        let got: Vec<(&str, String)> = got.iter().map(|(k, v)| (*k, v.to_string())).collect();
        assert_eq!(
            got,
            want,
            "{} {t} from {}: {ev}",
            ev.hook,
            if from_perf { "perfdhcp" } else { "the Python client" }
        );
        kinds.insert((ev.hook.clone(), t.to_string(), from_perf));
    }
    for hook in ["pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send"] {
        for t in ["DHCPDISCOVER", "DHCPREQUEST"] {
            for from_perf in [true, false] {
                assert!(
                    kinds.contains(&(hook.to_string(), t.to_string(), from_perf)),
                    "no {hook} for {t} (perfdhcp: {from_perf}): {kinds:?}"
                );
            }
        }
    }
    drop(kea);

    let refused = Kea::expect_load_failure(
        &ns,
        &KeaConfig::v4().hook(hook_library(&hook_so(), params(&rec, true, json!({"options": [93, 60]})))),
    )
    .unwrap_or_else(|e| panic!("options [93, 60]: {e}"));
    assert!(
        refused.contains("KRS_LOAD_FAILED")
            && refused.contains("parameter 'options': option 60 is already exported as KEA_QUERY4_OPTION60"),
        "{refused}"
    );
}

/// `options: [8, 15, 65000]` in kea-dhcp6. perfdhcp sends 15 (user class) and 65000 (no
/// definition in Kea) in SOLICIT and REQUEST: `KEA_QUERY6_OPTION15=0003616263`,
/// `KEA_QUERY6_OPTION65000=cafe` at every hook point with the query. Every client sends 8
/// (elapsed time, 2 bytes); the Python client sends neither 15 nor 65000: absent.
#[test]
fn options_v6() {
    let ns = Netns::with_options(NetnsOptions { ipv6: true, client_v4: false }).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let p = params(&rec, true, json!({"options": [8, 15, 65000]}));
    let kea = Kea::start(&ns, &KeaConfig::v6().hook(hook_library(&hook_so(), p))).unwrap();
    let mut perf = short(Perfdhcp::v6().option("15,0003616263").option("65000,CAFE"), 1);
    perf.rate = 2;
    perf.lease_type = Some("address-only".into());
    let out = perf.run(&ns).unwrap();
    assert!(out.leases.iter().any(|l| l.exchange == "REQUEST-REPLY"), "perfdhcp got no lease:\n{}", out.stdout);
    rec.wait_for("perfdhcp's REPLY", |evs| {
        evs.iter().any(|e| e.hook == "pkt6_send" && e.get("KEA_QUERY6_TYPE") == Some("REQUEST"))
    });
    let py = dhcp6_client(&ns, &["--mac", "02:00:00:00:0c:02"]).unwrap();
    let duid = hexid(py.str("duid").unwrap());
    let evs = rec.wait_for("the Python client's REPLY", |evs| {
        evs.iter().any(|e| {
            e.hook == "pkt6_send"
                && e.get("KEA_QUERY6_TYPE") == Some("REQUEST")
                && e.get("KEA_QUERY6_DUID").map(hexid) == Some(duid.clone())
        })
    });
    assert!(kea.exited().is_none(), "{}", kea.log());

    let mut kinds = BTreeSet::new();
    for ev in evs.iter().filter(|e| e.vars.contains_key("KEA_QUERY6_TYPE")) {
        let from_perf = hexid(ev.var("KEA_QUERY6_DUID")) != duid;
        let t = ev.var("KEA_QUERY6_TYPE");
        let opts = option_vars(ev, "KEA_QUERY6_OPTION");
        let names: Vec<&str> = opts.iter().map(|(k, _)| *k).collect();
        if from_perf && (t == "SOLICIT" || t == "REQUEST") {
            assert_eq!(names, ["KEA_QUERY6_OPTION15", "KEA_QUERY6_OPTION65000", "KEA_QUERY6_OPTION8"], "{ev}");
            assert_eq!(ev.var("KEA_QUERY6_OPTION15"), "0003616263", "{ev}");
            assert_eq!(ev.var("KEA_QUERY6_OPTION65000"), "cafe", "{ev}");
        } else if !from_perf {
            assert_eq!(names, ["KEA_QUERY6_OPTION8"], "the Python client sent neither 15 nor 65000: {ev}");
        }
        let elapsed = ev.var("KEA_QUERY6_OPTION8");
        assert!(
            elapsed.len() == 4 && elapsed.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{ev}"
        );
        kinds.insert((ev.hook.clone(), t.to_string(), from_perf));
    }
    for hook in ["pkt6_receive", "subnet6_select", "lease6_select", "pkt6_send"] {
        for t in ["SOLICIT", "REQUEST"] {
            for from_perf in [true, false] {
                assert!(
                    kinds.contains(&(hook.to_string(), t.to_string(), from_perf)),
                    "no {hook} for {t} (perfdhcp: {from_perf}): {kinds:?}"
                );
            }
        }
    }
}

/// `"variables": [...]`: a script with a list gets those variables and no other `KEA_*` one
/// (`KEA_EVENT_ID` only when listed), at each hook point those it carries, with the values a
/// script without a list gets for the same event; a background worker with a list gets lines
/// with only those keys. Real kea-dhcp4, perfdhcp.
#[test]
fn chosen_variables_only_v4() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: true }).unwrap();
    let all = EventLog::create(ns.dir(), "all", "").unwrap();
    let some = EventLog::create(ns.dir(), "some", "").unwrap();
    let lines = ns.dir().join("worker-lines");
    let worker = ns.dir().join("worker.sh");
    kea_runscript_testbed::util::write_executable(&worker, &format!("#!/bin/sh\nexec cat >> {}\n", sh_quote(&lines))).unwrap();
    let points = json!(["lease4_select", "pkt4_send"]);
    let listed = ["KEA_LEASE4_ADDRESS", "KEA_QUERY4_HWADDR", "KEA_EVENT_ID"];
    let scripts = json!({"scripts": [
        params(&all, true, json!({"hook-points": points})),
        params(&some, true, json!({"hook-points": points, "variables": listed})),
        {"script": worker.to_string_lossy(), "mode": "worker", "hook-points": points,
         "variables": ["KEA_QUERY4_HWADDR", "KEA_RESPONSE4_YIADDR"]},
    ]});
    let kea = Kea::start(&ns, &KeaConfig::v4().hook(hook_library(&hook_so(), scripts))).unwrap();
    let out = short(Perfdhcp::v4(), 3).run(&ns).unwrap();
    assert!(out.leases.iter().any(|l| l.exchange == "REQUEST-ACK"), "perfdhcp got no lease:\n{}", out.stdout);
    let full = all.wait_for("the grants", |evs| {
        evs.iter().any(|e| e.hook == "pkt4_send" && e.get("KEA_RESPONSE4_TYPE") == Some("DHCPACK"))
    });
    let n = full.len();
    let chosen = some.wait_for("as many events for the script with a list", |evs| evs.len() >= n);
    assert!(kea.exited().is_none(), "{}", kea.log());

    let kea_names = |e: &Event| e.vars.keys().filter(|k| k.starts_with("KEA_")).cloned().collect::<BTreeSet<String>>();
    for e in &chosen {
        let want: BTreeSet<String> = match e.hook.as_str() {
            "lease4_select" => listed.iter().map(|s| s.to_string()).collect(),
            _ => ["KEA_QUERY4_HWADDR", "KEA_EVENT_ID"].iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(kea_names(e), want, "{e}");
        // The same event as the script without a list saw it: the same values.
        let twin = full.iter().find(|f| {
            f.hook == e.hook && f.get("KEA_QUERY4_HWADDR") == e.get("KEA_QUERY4_HWADDR") && f.get("KEA_LEASE4_ADDRESS") == e.get("KEA_LEASE4_ADDRESS")
        });
        assert!(twin.is_some(), "no event of the script without a list matches {e}");
    }
    assert!(kea_names(&full[0]).len() > 20, "the script without a list gets every variable: {}", full[0]);
    for hook in ["lease4_select", "pkt4_send"] {
        assert_eq!(of(&chosen, hook).count(), of(&full, hook).count(), "{hook}: as many events with a list as without");
    }

    // The worker: background lines with only its two keys and `hook` (no KEA_EVENT_ID: not listed).
    let got = kea_runscript_testbed::wait_until(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&lines).ok()?;
        (text.lines().count() >= n).then_some(text)
    })
    .unwrap_or_else(|_| panic!("the worker got fewer than {n} lines"));
    for line in got.lines() {
        let v: Value = kea_runscript_testbed::serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let want: BTreeSet<&str> = match v["hook"].as_str() {
            Some("pkt4_send") => ["hook", "KEA_QUERY4_HWADDR", "KEA_RESPONSE4_YIADDR"].into(),
            _ => ["hook", "KEA_QUERY4_HWADDR"].into(),
        };
        assert_eq!(keys, want, "{line}");
        assert!(v["KEA_QUERY4_HWADDR"].as_str().is_some_and(|m| m.len() == 17), "{line}");
    }
}
