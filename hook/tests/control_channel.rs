//! Kea's control channel over HTTP: the real `kea-ctrl-agent` of the Kea under test, in front of
//! a real kea-dhcp4/kea-dhcp6 with kea-runscript loaded, driven with `curl` in the server
//! namespace (testbed/src/ctrl_agent.rs). kea-runscript's commands are listed, Kea's statistics
//! answered (kea-runscript's `runscript[1].runs` equal to the runs its script recorded),
//! `runscript-status` answered (and a malformed one refused with `result: 1`), and the agent
//! refuses a request without the password. On a Kea without the agent
//! (3.1.8 and later) each test says why and skips. Needs root.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use kea_runscript_testbed::serde_json::Value;

/// The control commands kea-runscript registers: each must be in `list-commands` through the
/// agent. Add a new command here (e.g. `runscript-status`).
const RUNSCRIPT_COMMANDS: &[&str] = &["runscript-replay", "runscript-status"];

/// The statistics through the agent that [`check_through_agent`] checks, by name: Kea's own, after
/// the traffic (`pkt4-received`/`pkt6-received` at least `min`). Extend with kea-runscript's own
/// statistics (`runscript[N].…`) by adding their checks here.
fn check_statistics(family: Family, stats: &BTreeMap<String, i64>, min_received: i64) {
    let received = match family {
        Family::V4 => "pkt4-received",
        Family::V6 => "pkt6-received",
    };
    let n = stats.get(received).copied().unwrap_or_else(|| panic!("no {received} in statistic-get-all: {stats:?}"));
    assert!(n >= min_received, "{received} = {n}, perfdhcp sent at least {min_received}");
}

/// Starts `family`'s server with kea-runscript (a recorder script at its default hook points) and
/// a control socket, the agent in front of it, sends perfdhcp traffic, then checks through the
/// agent: [`RUNSCRIPT_COMMANDS`] listed, [`check_statistics`], the same statistics as the unix
/// socket gives directly, and no answer without the password. `more` runs last, with the server
/// and the agent, for further checks. Returns `false` (after saying why) when the Kea under test
/// has no agent.
fn check_through_agent(family: Family, more: impl FnOnce(&Kea, &CtrlAgent)) -> bool {
    if let Err(why) = CtrlAgent::available() {
        // Only a release without the agent skips; "not installed" is a failure.
        assert!(!kea_version().ships_ctrl_agent(), "{why}");
        eprintln!("SKIPPED: {why}");
        return false;
    }
    let ns = Netns::with_options(NetnsOptions { ipv6: family == Family::V6, client_v4: family == Family::V4 }).unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let cfg = KeaConfig::new(family).runscript(&hook_so(), rec.script(), false).control_socket();
    let kea = Kea::start(&ns, &cfg).unwrap();
    let agent = CtrlAgent::start(&kea).unwrap();

    let listed = agent.command_ok("list-commands", &Value::Null).unwrap();
    let listed: BTreeSet<&str> =
        listed["arguments"].as_array().unwrap_or_else(|| panic!("{listed}")).iter().filter_map(Value::as_str).collect();
    for cmd in RUNSCRIPT_COMMANDS {
        assert!(listed.contains(cmd), "{cmd} not in list-commands through the agent: {listed:?}");
    }
    // The answer is the server's, not the agent's own list (which has no statistics commands).
    assert!(listed.contains("statistic-get-all"), "{listed:?}");

    let perf = match family {
        Family::V4 => Perfdhcp::v4(),
        Family::V6 => Perfdhcp::v6(),
    };
    let sent: i64 = perf.run(&ns).unwrap().exchanges().iter().map(|x| x.sent as i64).sum();
    assert!(sent > 0, "perfdhcp sent nothing");
    // Every packet perfdhcp sent has been counted once the server answered the last exchange;
    // give it the same deadline as the rest.
    let stats = wait_until(DEFAULT_TIMEOUT, || {
        let s = statistics(&agent);
        let key = if family == Family::V4 { "pkt4-received" } else { "pkt6-received" };
        (s.get(key).copied().unwrap_or(0) >= sent).then_some(s)
    })
    .unwrap_or_else(|e| panic!("statistics through the agent: {e}: {:?}", statistics(&agent)));
    check_statistics(family, &stats, sent);
    // kea-runscript's own: its script's runs, as the script recorded them, once none is running.
    let ours = wait_until(DEFAULT_TIMEOUT, || {
        let s = statistics(&agent);
        let settled = s.get("runscript[1].running") == Some(&0) && s.get("runscript[1].runs") == Some(&(rec.events().len() as i64));
        settled.then_some(s)
    })
    .unwrap_or_else(|e| panic!("runscript[1].runs never equalled the {} runs recorded: {e}: {:?}", rec.events().len(), statistics(&agent)));
    assert!(ours["runscript[1].runs"] > 0);
    assert_eq!(ours["runscript.runs"], ours["runscript[1].runs"], "one script: the sum is its own");
    let status = agent.command_ok("runscript-status", &Value::Null).unwrap();
    assert_eq!(status["arguments"]["scripts"][0]["statistics"]["runs"], ours["runscript[1].runs"], "{status}");
    assert_eq!(status["arguments"]["scripts"][0]["script"], rec.script().to_str().unwrap(), "{status}");
    let bad = agent.command("runscript-status", &kea_runscript_testbed::serde_json::json!({"script": "one"})).unwrap();
    assert_eq!(bad[0]["result"], 1, "a malformed runscript-status: {bad}");
    // No traffic since: the unix socket, asked directly, has the same counts.
    let direct = kea.statistics().unwrap();
    for key in stats.keys().filter(|k| k.starts_with("pkt")) {
        assert_eq!(stats.get(key), direct.get(key), "{key} through the agent and over the unix socket");
    }

    // Basic authentication is on: no password, no answer from the server.
    let (code, body) = agent
        .post(&format!(r#"{{"command": "list-commands", "service": ["{}"]}}"#, ctrl_agent::service(family)), false)
        .unwrap();
    assert_eq!(code, 401, "without the password: {body}");

    more(&kea, &agent);
    assert!(kea.exited().is_none(), "{} exited:\n{}", family.binary(), kea.log());
    true
}

/// `statistic-get-all` through the agent: each statistic's latest value.
fn statistics(agent: &CtrlAgent) -> BTreeMap<String, i64> {
    let v = agent.command_ok("statistic-get-all", &Value::Null).unwrap();
    let args = v["arguments"].as_object().unwrap_or_else(|| panic!("no arguments: {v}"));
    // name → [[value, "timestamp"], ...], the latest first.
    args.iter().filter_map(|(name, samples)| Some((name.clone(), samples.get(0)?.get(0)?.as_i64()?))).collect()
}

#[test]
fn dhcp4_through_ctrl_agent() {
    check_through_agent(Family::V4, |_, _| {});
}

#[test]
fn dhcp6_through_ctrl_agent() {
    check_through_agent(Family::V6, |_, _| {});
}
