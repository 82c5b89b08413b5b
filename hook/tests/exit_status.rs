//! `exit-status` (with `wait: true`) lets the script's exit status set Kea's
//! next step: `drop` at pkt4_receive drops the query, `skip` at lease4_select
//! leaves the client without an address; `continue`, unmapped statuses and
//! unsupported (hook point, status) pairs change nothing. And the new
//! parameters' bounds: a bad value makes Kea refuse the configuration, and the
//! pre-flight command `kea-runscript-check` says the same. Real kea-dhcp4,
//! real client. Needs root.

mod faultkit;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use faultkit::*;

/// A client that must not get a lease: the Python client gives up (timeout,
/// exit 2) or is refused (NAK, exit 3).
fn not_served(ns: &Netns, mac: &str) -> String {
    match dora(ns, mac, &["--timeout", "1.5", "--retries", "2"]) {
        Ok((r, _)) => panic!("client {mac} got {:?} although its query should have gone nowhere", r.str("address")),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("exit status: 2") || e.contains("exit status: 3"), "client failed otherwise: {e}");
            e
        }
    }
}

/// Recorder that exits `status` at `hook` for chaddr `mac`, 0 otherwise.
fn exiting_recorder(ns: &Netns, hook: &str, mac: &str, status: u8) -> EventLog {
    EventLog::create(
        ns.dir(),
        "exiting",
        &format!("[ \"$1\" = {hook} ] && [ \"$KEA_QUERY4_HWADDR\" = {mac} ] && exit {status}\nexit 0"),
    )
    .unwrap()
}

/// Starts Kea (debug log) with an [`exiting_recorder`] (exit `status` at `hook` for `victim`)
/// and `exit-status` mapping 3 to `skip` and 4 to `drop`; checks that `victim` is
/// [`not_served`]. Returns Kea and the events recorded by then.
fn start_and_refuse<'a>(ns: &'a Netns, hook: &str, victim: &str, status: u8) -> (Kea<'a>, Vec<Event>) {
    let rec = exiting_recorder(ns, hook, victim, status);
    let cfg = KeaConfig::v4().debug_log().runscript_with(
        &hook_so(),
        rec.script(),
        true,
        &[("exit-status", r#"{"3": "skip", "4": "drop"}"#)],
    );
    let kea = Kea::start(ns, &cfg).unwrap();
    not_served(ns, victim);
    (kea, rec.events())
}

#[test]
fn drop_at_pkt4_receive() {
    let ns = v4_bare();
    let victim = mac(0xd01);
    let (kea, evs) = start_and_refuse(&ns, "pkt4_receive", &victim, 4);
    let mine: Vec<&Event> = evs.iter().filter(|e| e.get("KEA_QUERY4_HWADDR") == Some(victim.as_str())).collect();
    assert!(!mine.is_empty(), "the script never saw the dropped client");
    assert!(mine.iter().all(|e| e.hook == "pkt4_receive"), "Kea went on with a dropped query: {}", summary(&evs));
    wait_msg(&kea, "DHCP4_HOOK_PACKET_RCVD_SKIP", 1, Duration::from_secs(5));
    let action = wait_msg(&kea, "KRS_EXIT_STATUS_ACTION", 1, Duration::from_secs(5));
    assert!(action.iter().all(|l| severity(l).starts_with("DEBUG")), "{action:#?}");
    assert!(action.iter().any(|l| has_word(l, "pkt4_receive")), "{action:#?}");
    // Other clients are served.
    served_within(&ns, &kea, &mac(0xd02), Duration::from_secs(10));
}

#[test]
fn skip_at_lease4_select() {
    let ns = v4_bare();
    let victim = mac(0xd11);
    let (kea, evs) = start_and_refuse(&ns, "lease4_select", &victim, 3);
    let mine = |hook: &str| -> Vec<&Event> {
        evs.iter().filter(|e| e.hook == hook && e.get("KEA_QUERY4_HWADDR") == Some(victim.as_str())).collect()
    };
    assert!(!mine("lease4_select").is_empty(), "{}", summary(&evs));
    let with_address: Vec<&str> = mine("pkt4_send")
        .iter()
        .filter(|e| matches!(e.var("KEA_RESPONSE4_TYPE"), "DHCPOFFER" | "DHCPACK"))
        .map(|e| e.var("KEA_RESPONSE4_YIADDR"))
        .filter(|a| *a != "0.0.0.0")
        .collect();
    assert!(with_address.is_empty(), "the skipped client was offered {with_address:?}");
    let action = wait_msg(&kea, "KRS_EXIT_STATUS_ACTION", 1, Duration::from_secs(5));
    assert!(action.iter().any(|l| has_word(l, "lease4_select")), "{action:#?}");
    served_within(&ns, &kea, &mac(0xd12), Duration::from_secs(10));
}

/// `continue`, a status not in the map, and `drop` where Kea has no such
/// next step (lease4_select: Kea only knows skip there) change nothing.
#[test]
fn continue_unmapped_and_unsupported_change_nothing() {
    let ns = v4_bare();
    let script = sh_script(
        ns.dir(),
        "mixed.sh",
        "case \"$KEA_QUERY4_HWADDR\" in\n\
         02:00:00:00:0d:21) exit 3;;\n\
         02:00:00:00:0d:22) exit 5;;\n\
         02:00:00:00:0d:23) [ \"$1\" = lease4_select ] && exit 4;;\n\
         esac\nexit 0",
    );
    let cfg = KeaConfig::v4().runscript_with(
        &hook_so(),
        &script,
        true,
        &[("exit-status", r#"{"3": "continue", "4": "drop"}"#)],
    );
    let kea = Kea::start(&ns, &cfg).unwrap();
    for m in ["02:00:00:00:0d:21", "02:00:00:00:0d:22", "02:00:00:00:0d:23"] {
        served_within(&ns, &kea, m, Duration::from_secs(10));
    }
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

// ------------------------------------------------------- parameter bounds

/// `kea-runscript-check`, built by `cargo build -p kea-runscript-config`,
/// next to the test executable (like the hook).
fn check_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KEA_RUNSCRIPT_CHECK") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    for anc in exe.ancestors().skip(1).take(3) {
        let cand = anc.join("kea-runscript-check");
        if cand.is_file() {
            return cand;
        }
    }
    panic!(
        "kea-runscript-check not found next to {}: build it with `cargo build -p kea-runscript-config`",
        exe.display()
    );
}

/// The reason in a `KRS_LOAD_FAILED` line: what follows "configuration: ".
fn load_failure_reason(log: &str) -> String {
    let line =
        log.lines().find(|l| l.contains("KRS_LOAD_FAILED")).unwrap_or_else(|| panic!("no KRS_LOAD_FAILED:\n{log}"));
    let t = msg_text(line, "KRS_LOAD_FAILED");
    t.split_once("configuration: ").map(|(_, r)| r).unwrap_or(t).trim().to_string()
}

/// Writes `cfg` as Kea would read it and runs the pre-flight check on it.
fn run_check(ns: &Netns, cfg: &KeaConfig, n: usize) -> std::process::Output {
    let path = ns.dir().join(format!("check-{n}.json"));
    let text = cfg.clone().no_interfaces().render(&ns.server_if, ns.dir());
    std::fs::write(&path, &text).unwrap();
    // The scripts directory Kea 3.0 would be started with (as the test bed starts it).
    Command::new(check_binary()).arg(&path).envs(kea_runscript_testbed::versions::tool_env(&text)).output().unwrap()
}

#[test]
fn new_parameters_are_checked_at_load_and_by_the_check_command() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap();
    let so = hook_so();
    let s = "/bin/true";
    let p = |wait: bool, more: &[(&str, &str)]| runscript_params_with(std::path::Path::new(s), wait, more);
    let bad: Vec<(serde_json::Value, &str)> = vec![
        (p(false, &[("exit-status", r#"{"4": "drop"}"#)]), "exit-status"),
        (p(true, &[("exit-status", r#"{"4": "explode"}"#)]), "exit-status"),
        (p(true, &[("exit-status", r#"{"x": "drop"}"#)]), "exit-status"),
        (p(true, &[("exit-status", r#"{"256": "drop"}"#)]), "exit-status"),
        (p(true, &[("exit-status", r#"["drop"]"#)]), "exit-status"),
        (p(true, &[("timeout-ms", "0")]), "timeout-ms"),
        (p(true, &[("timeout-ms", "3600001")]), "timeout-ms"),
        (p(true, &[("timeout-ms", "\"500\"")]), "timeout-ms"),
        (p(true, &[("timeout-ms", "1.5")]), "timeout-ms"),
        (p(false, &[("max-running", "0")]), "max-running"),
        (p(false, &[("max-running", "1025")]), "max-running"),
        (p(false, &[("max-queued", "-1")]), "max-queued"),
        (p(false, &[("max-queued", "1000001")]), "max-queued"),
        (p(false, &[("max-queud", "5")]), "max-queud"),
    ];
    let good: Vec<serde_json::Value> = vec![
        p(true, &[("timeout-ms", "1"), ("exit-status", r#"{"3": "skip", "4": "drop", "5": "continue"}"#)]),
        p(true, &[("timeout-ms", "3600000")]),
        p(false, &[("max-running", "1"), ("max-queued", "0")]),
        p(false, &[("max-running", "1024"), ("max-queued", "1000000"), ("timeout-ms", "10000")]),
    ];
    let mut problems = Vec::new();
    for (n, (params, name)) in bad.iter().enumerate() {
        let cfg = KeaConfig::v4().hook(hook_library(&so, params));
        let log = match Kea::expect_load_failure(&ns, &cfg) {
            Ok(log) => log,
            Err(e) => {
                problems.push(format!("{params}: Kea accepted it: {}", e.lines().next().unwrap_or("")));
                continue;
            }
        };
        let reason = load_failure_reason(&log);
        if !reason.contains(&format!("'{name}'")) {
            problems.push(format!("{params}: the reason does not name '{name}': {reason}"));
        }
        let out = run_check(&ns, &cfg, n);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(1) {
            problems.push(format!("{params}: kea-runscript-check exited {:?}", out.status.code()));
        }
        if !stderr.contains(&reason) {
            problems.push(format!("{params}: kea-runscript-check says {stderr:?}, Kea's log {reason:?}"));
        }
    }
    for (n, params) in good.iter().enumerate() {
        let cfg = KeaConfig::v4().no_interfaces().hook(hook_library(&so, params));
        match Kea::start(&ns, &cfg) {
            Ok(kea) => {
                if !kea.log().contains("KRS_LOADED") {
                    problems.push(format!("{params}: no KRS_LOADED"));
                }
            }
            Err(e) => problems.push(format!("{params}: refused: {}", e.to_string().lines().last().unwrap_or(""))),
        }
        let out = run_check(&ns, &cfg, 100 + n);
        if !out.status.success() {
            problems.push(format!("{params}: kea-runscript-check failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}
