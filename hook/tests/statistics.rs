//! The library's statistics in Kea's statistics manager, the command `runscript-status` and the
//! event identity (`KEA_SERVER_NAME`, `KEA_EVENT_ID`, `KEA_EVENT_TIME`), through real Kea's
//! control socket with real DHCP traffic: the statistics equal what the scripts recorded, the
//! status names the worker's real pid, malformed commands get `result: 1`, and a reload with a
//! shorter `scripts` list, or without the library, leaves no stale statistic. Needs root.

mod faultkit;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use faultkit::*;
use serde_json::{json, Value};

/// A spawned script that appends `hook id server time` per run to `runs`; exits 3 at pkt4_send
/// (pkt6_send), and prints 150 lines at lease4_release (lease6_release): more than a run may log.
fn spawned(dir: &Path) -> std::path::PathBuf {
    let runs = kea_runscript_testbed::util::sh_quote(&dir.join("runs"));
    sh_script(
        dir,
        "spawned.sh",
        &format!(
            "printf '%s %s %s %s\\n' \"$1\" \"$KEA_EVENT_ID\" \"$KEA_SERVER_NAME\" \"$KEA_EVENT_TIME\" >> {runs}\n\
             case \"$1\" in\n\
             pkt?_send) exit 3 ;;\n\
             lease?_release) i=0; while [ $i -lt 150 ]; do echo \"flood $i\"; i=$((i+1)); done ;;\n\
             esac\n\
             exit 0"
        ),
    )
}

/// A Python worker (`wait: true`) that records its pid, and per line `hook id reply`: it
/// answers `skip` at lease4_release (lease6_release), `continue` otherwise.
fn worker(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("worker.py");
    write_executable(
        &path,
        &format!(
            r#"#!/usr/bin/python3
import json, os, sys
open({pid:?}, "w").write(str(os.getpid()))
log = open({lines:?}, "a", buffering=1)
for line in sys.stdin:
    event = json.loads(line)
    reply = "skip" if event["hook"].endswith("_release") else "continue"
    log.write(event["hook"] + " " + event["KEA_EVENT_ID"] + " " + reply + "\n")
    sys.stdout.write(reply + "\n")
    sys.stdout.flush()
"#,
            pid = dir.join("worker.pid").to_str().unwrap(),
            lines = dir.join("worker.lines").to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

fn read_lines(path: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete.lines().map(|l| l.split(' ').map(str::to_string).collect()).collect()
}

fn ours(stats: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    stats.iter().filter(|(k, _)| k.starts_with("runscript")).map(|(k, v)| (k.clone(), *v)).collect()
}

fn status(kea: &Kea, arguments: Option<Value>) -> Value {
    let mut command = json!({"command": "runscript-status"});
    if let Some(a) = arguments {
        command["arguments"] = a;
    }
    let answer = kea.command(&command.to_string()).unwrap();
    if let Value::Array(a) = answer { a[0].clone() } else { answer }
}

/// Each id of one script: `<server>:<16 hex>:<n>`, one load id, the sequence 1, 2, … without a
/// gap or a repeat.
fn check_stream(ids: &[&str], server: &str) -> String {
    let mut streams = BTreeSet::new();
    let mut sequence: Vec<u64> = ids
        .iter()
        .map(|id| {
            let parts: Vec<&str> = id.split(':').collect();
            assert_eq!(parts.len(), 3, "{id}");
            assert_eq!(parts[0], server, "{id}");
            assert!(parts[1].len() == 16 && parts[1].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            streams.insert(format!("{}:{}", parts[0], parts[1]));
            parts[2].parse().unwrap_or_else(|_| panic!("{id}"))
        })
        .collect();
    assert_eq!(streams.len(), 1, "one load id per script and load: {streams:?}");
    sequence.sort_unstable();
    assert_eq!(sequence, (1..=ids.len() as u64).collect::<Vec<_>>(), "a gap or a repeat in {ids:?}");
    streams.into_iter().next().unwrap()
}

fn scenario(family: Family) {
    let ns = match family {
        Family::V4 => v4_perf(),
        Family::V6 => Netns::new().unwrap(),
    };
    let d = ns.dir();
    let (select, release) = match family {
        Family::V4 => ("lease4_select", "lease4_release"),
        Family::V6 => ("lease6_select", "lease6_release"),
    };
    let send = if family == Family::V4 { "pkt4_send" } else { "pkt6_send" };
    let receive = if family == Family::V4 { "pkt4_receive" } else { "pkt6_receive" };
    let params = json!({
        "server-name": "srv-a",
        "scripts": [
            {"script": spawned(d), "hook-points": [select, send, release], "max-queued": 100000},
            {"script": worker(d), "mode": "worker", "wait": true, "timeout-ms": 5000, "hook-points": [receive, select, release]},
        ],
    });
    let base = KeaConfig::new(family).control_socket();
    let kea = Kea::start(&ns, &base.clone().hook(hook_library(&hook_so(), params))).unwrap();
    let before = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();

    // At load, before any event: every statistic there, zero (the worker runs: running 1).
    let at_load = wait_until(DEFAULT_TIMEOUT, || {
        let s = ours(&kea.statistics().ok()?);
        (s.len() == 3 * 15).then_some(s)
    })
    .unwrap_or_else(|_| panic!("not 3 × 15 statistics at load: {:?}", kea.statistics()));
    assert!(at_load.iter().all(|(k, v)| *v == i64::from(k.ends_with("].running") && k.starts_with("runscript[2]") || k == "runscript.running")), "{at_load:?}");

    let perf = Perfdhcp { rate: 4, clients: 8, period: 4, renew_rate: 2, release_rate: 2, ..if family == Family::V4 { Perfdhcp::v4() } else { Perfdhcp::v6() } };
    perf.run(&ns).unwrap();
    let after = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();

    // Settled: no run running or queued; the statistics then equal what the scripts recorded.
    let (runs, lines, stats) = wait_until(DEFAULT_TIMEOUT, || {
        let s = ours(&kea.statistics().ok()?);
        let (runs, lines) = (read_lines(&d.join("runs")), read_lines(&d.join("worker.lines")));
        let settled = s.get("runscript[1].running") == Some(&0)
            && s.get("runscript[1].queued") == Some(&0)
            && s.get("runscript[1].runs") == Some(&(runs.len() as i64))
            && s.get("runscript[2].runs") == Some(&(lines.len() as i64));
        settled.then_some((runs, lines, s))
    })
    .unwrap_or_else(|_| {
        panic!(
            "statistics never matched the records: {:?}; {} runs, {} worker lines",
            kea.statistics().map(|s| ours(&s)),
            read_lines(&d.join("runs")).len(),
            read_lines(&d.join("worker.lines")).len()
        )
    });
    let count = |v: &[Vec<String>], f: &dyn Fn(&Vec<String>) -> bool| v.iter().filter(|l| f(l)).count() as i64;
    let releases = count(&runs, &|l| l[0] == release);
    assert!(count(&runs, &|l| l[0] == select) > 0 && releases > 0, "no lease or no release: {runs:?}");
    let stat = |name: &str| stats[name];
    assert_eq!(stat("runscript[1].exited-nonzero"), count(&runs, &|l| l[0] == send));
    for zero in ["signaled", "timeouts", "spawn-failures", "dropped", "worker-restarts", "replies-missing"] {
        assert_eq!(stat(&format!("runscript[1].{zero}")), 0, "{zero}");
        assert_eq!(stat(&format!("runscript[2].{zero}")), 0, "{zero}");
    }
    assert_eq!(stat("runscript[2].replies-skip"), count(&lines, &|l| l[2] == "skip"));
    assert_eq!(stat("runscript[2].replies-continue"), count(&lines, &|l| l[2] == "continue"));
    assert_eq!(stat("runscript[2].running"), 1);
    // Every flood line of a release was either logged or counted as suppressed.
    let logged = kea.log_lines("KRS_SCRIPT_STDOUT").iter().filter(|l| l.contains(" flood ")).count() as i64;
    assert_eq!(logged + stat("runscript[1].output-suppressed"), 150 * releases, "{logged} flood lines logged");
    assert!(stat("runscript[1].output-suppressed") >= 50 * releases, "LINES_PER_RUN bounds each run");
    for name in ["runs", "exited-nonzero", "replies-continue", "output-suppressed"] {
        assert_eq!(stat(&format!("runscript.{name}")), stat(&format!("runscript[1].{name}")) + stat(&format!("runscript[2].{name}")));
    }

    // Identity: the configured name, a gapless sequence per script with its own load id, the time.
    let spawned_ids: Vec<&str> = runs.iter().map(|l| l[1].as_str()).collect();
    let worker_ids: Vec<&str> = lines.iter().map(|l| l[1].as_str()).collect();
    let (s1, s2) = (check_stream(&spawned_ids, "srv-a"), check_stream(&worker_ids, "srv-a"));
    assert_ne!(s1, s2, "each script draws its own load id");
    for l in &runs {
        assert_eq!(l[2], "srv-a");
        let (secs, micros) = l[3].split_once('.').unwrap_or_else(|| panic!("{l:?}"));
        assert_eq!(micros.len(), 6, "{l:?}");
        let t: f64 = format!("{secs}.{micros}").parse().unwrap();
        assert!(t >= before - 1.0 && t <= after + 1.0, "{t} not within the traffic's {before}..{after}");
    }

    // runscript-status: Kea's usual answer, the same statistics, the worker's real pid.
    let answer = status(&kea, None);
    assert_eq!(answer["result"], 0, "{answer}");
    let args = &answer["arguments"];
    assert_eq!(args["server-name"], "srv-a");
    let scripts = args["scripts"].as_array().unwrap();
    assert_eq!(scripts.len(), 2);
    assert_eq!((scripts[0]["mode"].as_str(), scripts[1]["mode"].as_str()), (Some("spawn"), Some("worker")));
    assert_eq!(scripts[0]["event-stream"], s1.as_str());
    assert_eq!(scripts[0]["events"], runs.len());
    assert_eq!(scripts[0]["statistics"]["runs"], stat("runscript[1].runs"));
    assert_eq!(scripts[1]["statistics"]["replies-skip"], stat("runscript[2].replies-skip"));
    assert_eq!(args["statistics"]["runs"], stat("runscript.runs"));
    assert_eq!(scripts[0]["running"], json!([]));
    let pid: u32 = fs::read_to_string(d.join("worker.pid")).unwrap().trim().parse().unwrap();
    assert_eq!(scripts[1]["worker"]["pid"], pid);
    assert_eq!(scripts[1]["worker"]["restarts"], 0);
    assert!(scripts[1]["worker"]["uptime-ms"].as_u64().unwrap() > 0);
    assert_eq!(scripts[0]["last-error"]["id"], "KRS_SCRIPT_EXIT", "{}", scripts[0]);
    assert!(scripts[0]["last-error"]["text"].as_str().unwrap().contains(send), "{}", scripts[0]);
    assert_eq!(scripts[1]["last-error"], Value::Null);
    let one = status(&kea, Some(json!({"script": 2})));
    assert_eq!(one["arguments"]["scripts"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one["arguments"]["scripts"][0]["number"], 2);
    for (bad, says) in [
        (json!({"script": "1"}), "must be an integer"),
        (json!({"script": 3}), "1 to 2"),
        (json!({"verbose": true}), "unknown argument 'verbose'"),
        (json!([1]), "must be a map"),
    ] {
        let answer = status(&kea, Some(bad.clone()));
        assert_eq!(answer["result"], 1, "{bad}: {answer}");
        assert!(answer["text"].as_str().unwrap().contains(says), "{bad}: {answer}");
    }
    assert_eq!(kea.exited(), None, "Kea ended");

    // A reload with only the first script: script 2's statistics are gone, script 1's start over.
    let shorter = json!({"server-name": "srv-a", "scripts": [{"script": spawned(d), "hook-points": [select]}]});
    kea.rewrite_config(&base.clone().hook(hook_library(&hook_so(), shorter))).unwrap();
    kea.command_ok(r#"{"command": "config-reload"}"#).unwrap();
    let reloaded = wait_until(DEFAULT_TIMEOUT, || {
        let s = ours(&kea.statistics().ok()?);
        (s.len() == 2 * 15 && s.get("runscript[1].runs") == Some(&0)).then_some(s)
    })
    .unwrap_or_else(|_| panic!("stale statistics after the reload: {:?}", kea.statistics().map(|s| ours(&s))));
    assert!(!reloaded.keys().any(|k| k.starts_with("runscript[2]")), "{reloaded:?}");
    // Without the library: none left.
    kea.rewrite_config(&base).unwrap();
    kea.command_ok(r#"{"command": "config-reload"}"#).unwrap();
    let left = ours(&kea.statistics().unwrap());
    assert!(left.is_empty(), "statistics left after unload: {left:?}");
    let gone = kea.command(r#"{"command": "runscript-status"}"#).unwrap();
    let gone = if let Value::Array(a) = gone { a[0].clone() } else { gone };
    assert_ne!(gone["result"], 0, "runscript-status answered without the library: {gone}");
    // The worker's `skip` at lease6_release keeps the lease: kea-dhcp6 says the release failed.
    let expected = ["KRS_SCRIPT_EXIT", "KRS_OUTPUT_SUPPRESSED", "DHCP6_RELEASE_NA_FAIL", "DHCP6_RELEASE_PD_FAIL"];
    assert_eq!(unexpected_errors(&kea, &expected), Vec::<String>::new());
}

#[test]
fn dhcp4_statistics_status_and_identity() {
    scenario(Family::V4);
}

#[test]
fn dhcp6_statistics_status_and_identity() {
    scenario(Family::V6);
}
