//! Worker mode (`"mode": "worker"`) in real multi-threaded kea-dhcp4 with real DHCP traffic: the
//! worker gets every event exactly once with the variables a spawned script gets; it is restarted
//! (with a growing delay) when it dies; one that stops reading, or closes its stdin, cannot block
//! or end Kea; with `wait`, its replies `skip`/`drop` change what the client gets, each reply goes
//! to its own event under concurrent traffic, and a garbled or late reply means continue. Needs root.
//!
//! The first three also run as Debian's unit runs Kea (`_kea`, the unit's capabilities:
//! `_as_the_service`, [`RunAs`]), checking who Kea, the worker and the spawned script ran as.

mod faultkit;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use faultkit::*;
use serde_json::{json, Map, Value};

/// Kea's multi-threading (4 worker threads), as `Dhcp4` members.
fn mt() -> Value {
    json!({"multi-threading": {"enable-multi-threading": true, "thread-pool-size": 4, "packet-queue-size": 64}})
}

/// kea-runscript with these parameters, in multi-threaded kea-dhcp4.
fn config(params: Value) -> KeaConfig {
    KeaConfig::v4().hook(hook_library(&hook_so(), params)).extra(mt())
}

fn start<'a>(ns: &'a Netns, cfg: &KeaConfig) -> Kea<'a> {
    let kea = Kea::start(ns, cfg).unwrap();
    kea.wait_log("DHCP4_MULTI_THREADING_INFO enabled: yes", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("multi-threading is not on: {e}"));
    kea
}

/// One event as a worker read it: the hook point, and its `KEA_*` variables.
type Line = (String, BTreeMap<String, String>);

/// A shell worker that records: at each start its pid in `pid` and its arguments and environment in
/// `start.<pid>`; then runs `then` (e.g. `exec /bin/sleep ...`), and appends every line it reads to
/// `lines`.
struct Recorder {
    dir: PathBuf,
    script: PathBuf,
}

impl Recorder {
    fn new(parent: &Path, name: &str, then: &str) -> Recorder {
        let dir = parent.join(name);
        fs::create_dir_all(&dir).unwrap();
        let d = kea_runscript_testbed::util::sh_quote(&dir);
        let script = sh_script(
            parent,
            &format!("{name}.sh"),
            &format!(
                "d={d}\n\
                 {{ printf 'argv=%s\\n' \"$*\"; /usr/bin/env; }} > \"$d/start.$$\"\n\
                 echo $$ > \"$d/pid.new\" && /bin/mv \"$d/pid.new\" \"$d/pid\"\n\
                 {then}\n\
                 while IFS= read -r line; do printf '%s\\n' \"$line\" >> \"$d/lines\"; done"
            ),
        );
        Recorder { dir, script }
    }

    fn pid(&self) -> Option<u32> {
        kea_runscript_testbed::util::read_pidfile(&self.dir.join("pid"))
    }

    /// The worker's pid once it is another than `old`.
    fn wait_pid(&self, old: Option<u32>) -> u32 {
        wait_until(DEFAULT_TIMEOUT, || self.pid().filter(|p| Some(*p) != old))
            .unwrap_or_else(|e| panic!("no worker (other than {old:?}) wrote its pid: {e}"))
    }

    /// What the worker with `pid` wrote at its start: its arguments and environment.
    fn start_record(&self, pid: u32) -> String {
        fs::read_to_string(self.dir.join(format!("start.{pid}"))).unwrap()
    }

    /// The complete lines read so far, each parsed as a JSON object of strings.
    fn lines(&self) -> Vec<Line> {
        let text = fs::read_to_string(self.dir.join("lines")).unwrap_or_default();
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        complete
            .lines()
            .map(|l| {
                let m: Map<String, Value> =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l}"));
                let hook = m.get("hook").and_then(Value::as_str).unwrap_or_else(|| panic!("no hook: {l}"));
                let vars = m
                    .iter()
                    .filter(|(k, _)| *k != "hook")
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_else(|| panic!("{k} not a string: {l}")).into()))
                    .collect();
                (hook.to_string(), vars)
            })
            .collect()
    }
}

/// Events of a spawned script as the worker's lines look: hook point and `KEA_*` variables.
fn as_lines(evs: &[Event]) -> Vec<Line> {
    evs.iter()
        .map(|e| (e.hook.clone(), e.vars.iter().filter(|(k, _)| k.starts_with("KEA_")).map(|(k, v)| (k.clone(), v.clone())).collect()))
        .collect()
}

fn sorted(mut v: Vec<Line>) -> Vec<Line> {
    v.sort();
    v
}

fn count_by_hook(v: &[Line]) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for (h, _) in v {
        *m.entry(h.as_str()).or_default() += 1;
    }
    m
}

/// The same hook points, the same Kea, 20 DORAs by perfdhcp: the worker reads exactly the events
/// (hook point and every `KEA_*` variable with its value, exported options included) that a
/// spawned script gets in its environment, each once; `extra-env`/`pass-env` are in the worker's
/// own environment, not in the lines; its argv is `worker`.
#[test]
fn the_worker_reads_each_event_once_with_the_variables_of_a_spawned_script() {
    worker_reads_each_event_once(RunAs::Root);
}

#[test]
fn the_worker_reads_each_event_once_with_the_variables_of_a_spawned_script_as_the_service() {
    worker_reads_each_event_once(RunAs::Service);
}

fn worker_reads_each_event_once(run: RunAs) {
    let ns = v4_perf();
    let rec = EventLog::create(ns.dir(), "recorder", &run.identity_sh(&ns)).unwrap();
    let worker = Recorder::new(ns.dir(), "worker", "");
    let params = json!({
        "scripts": [
            {"script": rec.script(), "max-queued": 100000},
            {"script": run.script(&ns, &worker.script), "mode": "worker", "max-queued": 100000},
        ],
        "options": [61],
        "extra-env": {"SITE": "paris"},
    });
    let kea = start(&ns, &run.config(&ns, config(params)));
    let pid = worker.wait_pid(None);
    let perf = Perfdhcp { rate: 10, clients: 20, period: 2, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    let result = perf.run(&ns).unwrap();
    let acks = result.leases.iter().filter(|l| l.exchange == "REQUEST-ACK").count();
    assert!(acks >= 15, "only {acks} DORAs completed:\n{}", result.stdout);

    // Each script has its own event ids (its own sequence): compared apart.
    let without_id = |lines: Vec<Line>| -> Vec<Line> {
        lines.into_iter().map(|(h, mut v)| {
            assert!(v.remove("KEA_EVENT_ID").is_some_and(|id| id.split(':').count() == 3), "{h}: no KEA_EVENT_ID");
            (h, v)
        }).collect()
    };
    let spawned = sorted(without_id(as_lines(&rec.wait_quiet(Duration::from_millis(500)))));
    let granted = spawned.iter().filter(|(h, v)| h == "lease4_select" && v["KEA_FAKE_ALLOCATION"] == "0").count();
    assert!(granted >= acks, "{granted} granted leases seen by the spawned script for {acks} ACKs");
    let same = wait_until(DEFAULT_TIMEOUT, || (sorted(without_id(worker.lines())) == spawned).then_some(()));
    if same.is_err() {
        let lines = sorted(without_id(worker.lines()));
        let first = spawned.iter().zip(&lines).find(|(a, b)| a != b);
        panic!(
            "the worker read {} events, the spawned script got {}:\nworker  {:?}\nspawned {:?}\nfirst difference: {first:#?}",
            lines.len(),
            spawned.len(),
            count_by_hook(&lines),
            count_by_hook(&spawned)
        );
    }
    let lines = worker.lines();
    assert!(lines.iter().any(|(_, v)| v.get("KEA_QUERY4_OPTION61").is_some_and(|o| o.starts_with("01"))));
    assert!(lines.iter().all(|(_, v)| v.keys().all(|k| k.starts_with("KEA_"))), "only KEA_* variables in a line");
    let start = worker.start_record(pid);
    assert!(start.lines().any(|l| l == "argv=worker"), "{start}");
    assert!(start.lines().any(|l| l == "SITE=paris"), "extra-env missing from the worker's environment:\n{start}");
    assert!(start.lines().any(|l| l.starts_with("PATH=")), "pass-env's PATH missing:\n{start}");
    assert!(!start.lines().any(|l| l.starts_with("KEA_")), "event variables in the worker's environment:\n{start}");
    assert_eq!(kea.log_count("KRS_WORKER_STARTED"), 1);
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
    run.check(&ns, &kea, true);
}

/// A MAC's granted lease (`lease4_select`, `KEA_FAKE_ALLOCATION=0`) among the lines.
fn granted_to(lines: &[Line], mac: &str) -> usize {
    lines
        .iter()
        .filter(|(h, v)| h == "lease4_select" && v["KEA_FAKE_ALLOCATION"] == "0" && v["KEA_QUERY4_HWADDR"] == mac)
        .count()
}

/// SIGKILL the worker (by the pid it wrote, after checking it is Kea's child).
fn kill_worker(kea: &Kea, pid: u32) {
    let entry = procs::proc_entry(pid).unwrap_or_else(|| panic!("worker {pid} is not running"));
    assert_eq!(entry.ppid, kea.pid(), "{pid} is not Kea's child: {entry:?}");
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
}

/// Killed, the worker is restarted after 100 ms, then (killed again soon) after 200 ms; each
/// incarnation gets the events that come after it started, once.
#[test]
fn a_killed_worker_is_restarted_with_a_growing_delay() {
    killed_worker_is_restarted(RunAs::Root);
}

#[test]
fn a_killed_worker_is_restarted_with_a_growing_delay_as_the_service() {
    killed_worker_is_restarted(RunAs::Service);
}

fn killed_worker_is_restarted(run: RunAs) {
    let ns = v4_bare();
    let worker = Recorder::new(ns.dir(), "worker", "");
    let script = run.script(&ns, &worker.script);
    let kea = start(&ns, &run.config(&ns, config(json!({"script": script, "mode": "worker"}))));
    let first = worker.wait_pid(None);
    let started = wait_msg(&kea, "KRS_WORKER_STARTED", 1, Duration::from_secs(5));
    assert!(names_pid(&started[0], first), "{started:?}");
    let (m1, m2, m3) = (mac(0x101), mac(0x102), mac(0x103));
    served_within(&ns, &kea, &m1, Duration::from_secs(10));
    wait_until(DEFAULT_TIMEOUT, || (granted_to(&worker.lines(), &m1) == 1).then_some(())).expect("m1's lease");

    kill_worker(&kea, first);
    let exited = wait_msg(&kea, "KRS_WORKER_EXITED", 1, Duration::from_secs(10));
    let text = msg_text(&exited[0], "KRS_WORKER_EXITED");
    assert!(names_pid(text, first) && text.contains("signal 9") && text.contains("restart in 100 ms"), "{text}");
    assert_eq!(severity(&exited[0]), "WARN");
    let restarted = wait_msg(&kea, "KRS_WORKER_RESTARTED", 1, Duration::from_secs(10));
    let second = worker.wait_pid(Some(first));
    assert!(names_pid(&restarted[0], second), "{restarted:?} does not name {second}");
    served_within(&ns, &kea, &m2, Duration::from_secs(10));
    wait_until(DEFAULT_TIMEOUT, || (granted_to(&worker.lines(), &m2) == 1).then_some(())).expect("m2's lease");

    kill_worker(&kea, second);
    let exited = wait_msg(&kea, "KRS_WORKER_EXITED", 2, Duration::from_secs(10));
    assert!(exited[1].contains("restart in 200 ms"), "the delay did not double: {}", exited[1]);
    wait_msg(&kea, "KRS_WORKER_RESTARTED", 2, Duration::from_secs(10));
    let third = worker.wait_pid(Some(second));
    served_within(&ns, &kea, &m3, Duration::from_secs(10));
    wait_until(DEFAULT_TIMEOUT, || (granted_to(&worker.lines(), &m3) == 1).then_some(())).expect("m3's lease");
    let lines = worker.lines();
    assert_eq!((granted_to(&lines, &m1), granted_to(&lines, &m2)), (1, 1), "an event was read twice");
    assert!(procs::proc_entry(third).is_some_and(|e| e.ppid == kea.pid()));
    wait_no_zombie_children(&kea, Duration::from_secs(5));
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
    run.check(&ns, &kea, true);
}

/// perfdhcp's `drops: N` counts (one per exchange type).
fn perf_drops(stdout: &str) -> Vec<u64> {
    stdout.lines().filter_map(|l| l.trim().strip_prefix("drops: ")).map(|n| n.trim().parse().unwrap()).collect()
}

/// A worker that never reads its stdin: 50 DORAs a second for 4 s all complete (its pipe fills,
/// then `max-queued`, then events are dropped with `KRS_WORKER_QUEUE_FULL`, at most once a
/// second); at Kea's shutdown the worker, deaf to the end of its stdin, gets SIGTERM, and Kea exits 0.
#[test]
fn a_worker_that_stops_reading_cannot_block_kea() {
    let ns = v4_perf();
    let tag = unique_tag();
    let worker = Recorder::new(ns.dir(), "deaf", &format!("exec /bin/sleep 1000.{tag}"));
    let params = json!({"script": worker.script, "mode": "worker", "max-queued": 10});
    let kea = start(&ns, &config(params));
    worker.wait_pid(None);
    let t0 = std::time::Instant::now();
    let perf = Perfdhcp { rate: 50, clients: 90, period: 4, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    let result = perf.run(&ns).unwrap();
    let elapsed = t0.elapsed();
    let acks = result.leases.iter().filter(|l| l.exchange == "REQUEST-ACK").count();
    assert_eq!(result.status, Some(0), "perfdhcp: not every exchange completed:\n{}", result.stdout);
    let drops = perf_drops(&result.stdout);
    assert!(!drops.is_empty() && drops.iter().all(|&d| d == 0), "drops {drops:?}:\n{}", result.stdout);
    assert!(acks >= 150, "only {acks} DORAs at 50/s for 4 s:\n{}", result.stdout);

    let full = wait_msg(&kea, "KRS_WORKER_QUEUE_FULL", 1, Duration::from_secs(5));
    let secs = elapsed.as_secs() + 3;
    assert!(full.len() as u64 <= secs, "{} KRS_WORKER_QUEUE_FULL in ~{secs} s (at most one a second)", full.len());
    for l in &full {
        assert_eq!(severity(l), "WARN", "{l}");
        assert!(numbers_in(msg_text(l, "KRS_WORKER_QUEUE_FULL")).iter().any(|&n| n > 0), "no count: {l}");
    }
    assert_eq!(running_with_arg(&format!("1000.{tag}")).len(), 1, "the worker is still there, once");

    let status = kea.stop().expect("Kea exited");
    assert!(status.success(), "Kea's exit at shutdown: {status}\n{}", log_tail(&kea, 30));
    let stopped = msg_lines(&kea, "KRS_WORKER_STOPPED");
    assert!(stopped.iter().any(|l| l.contains("SIGTERM")), "{stopped:#?}");
    assert!(!stopped.iter().any(|l| l.contains("SIGKILL")), "{stopped:#?}");
    wait_none_with_arg(&format!("1000.{tag}"), Duration::from_secs(5));
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

/// A worker that closes its stdin and lives on: the next write fails with EPIPE and raises SIGPIPE,
/// which would end Kea (it does not ignore SIGPIPE) had the library not blocked it in its thread.
#[test]
fn a_worker_that_closes_its_stdin_does_not_end_kea() {
    let ns = v4_bare();
    let tag = unique_tag();
    let worker = Recorder::new(ns.dir(), "closer", &format!("exec 0<&-\nexec /bin/sleep 1000.{tag}"));
    let kea = start(&ns, &config(json!({"script": worker.script, "mode": "worker"})));
    let pid = worker.wait_pid(None);
    let status = fs::read_to_string(format!("/proc/{}/status", kea.pid())).unwrap();
    eprintln!("Kea's {}", status.lines().find(|l| l.starts_with("SigIgn")).unwrap_or("SigIgn: ?"));
    for n in 0..3 {
        served_within(&ns, &kea, &mac(0x201 + n), Duration::from_secs(10));
    }
    assert!(kea.exited().is_none(), "Kea died:\n{}", log_tail(&kea, 30));
    assert!(procs::proc_entry(pid).is_some(), "the worker ended");
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

/// A client that must not get a lease: the Python client gives up (timeout, exit 2) or is refused
/// (NAK, exit 3).
fn not_served(ns: &Netns, mac: &str) {
    match dora(ns, mac, &["--timeout", "1.5", "--retries", "2"]) {
        Ok((r, _)) => panic!("client {mac} got {:?} although the worker refused it", r.str("address")),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("exit status: 2") || e.contains("exit status: 3"), "client failed otherwise: {e}");
        }
    }
}

/// A Python worker for `wait: true`: answers `rules["<hook> <mac>"]` (or `continue`); a rule
/// `sleep S` sleeps S seconds, then answers `drop`. Logs `<hook> <mac> <reply>` to `log`.
fn replying_worker(dir: &Path, rules: &Value, log: &Path) -> PathBuf {
    let path = dir.join("replying.py");
    write_executable(
        &path,
        &format!(
            r#"#!/usr/bin/python3
import json, sys, time
rules = json.loads({rules:?})
log = open({log:?}, "a", buffering=1)
assert sys.argv[1:] == ["worker", "wait"], sys.argv
while True:
    line = sys.stdin.readline()
    if not line:
        break
    event = json.loads(line)
    key = event["hook"] + " " + event.get("KEA_QUERY4_HWADDR", "")
    reply = rules.get(key, "continue")
    if reply.startswith("sleep "):
        time.sleep(float(reply.split()[1]))
        reply = "drop"
    log.write(key + " " + reply + " " + event.get("KEA_RESPONSE4_TYPE", "") + " " + event.get("KEA_RESPONSE4_YIADDR", "") + "\n")
    sys.stdout.write(reply + "\n")
    sys.stdout.flush()
"#,
            rules = rules.to_string(),
            log = log.to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

/// `wait: true`: `drop` at pkt4_receive and `skip` at lease4_select leave the client without a
/// lease; a garbled reply and a late one (past `timeout-ms`) mean continue, with
/// `KRS_WORKER_NO_REPLY`; the late reply is not taken for the next event's (a later `skip` still
/// hits its own client).
#[test]
fn replies_set_kea_next_step() {
    replies_set_next_step(RunAs::Root);
}

#[test]
fn replies_set_kea_next_step_as_the_service() {
    replies_set_next_step(RunAs::Service);
}

fn replies_set_next_step(run: RunAs) {
    let ns = v4_bare();
    let (dropped, skipped, garbled, slow, normal, skipped2) =
        (mac(0x301), mac(0x302), mac(0x303), mac(0x304), mac(0x305), mac(0x306));
    let rules = json!({
        format!("pkt4_receive {dropped}"): "drop",
        format!("lease4_select {skipped}"): "skip",
        format!("pkt4_receive {garbled}"): "well, maybe",
        format!("pkt4_receive {slow}"): "sleep 1.5",
        format!("lease4_select {skipped2}"): "skip",
    });
    let log = ns.dir().join("replies.log");
    let script = run.script(&ns, &replying_worker(ns.dir(), &rules, &log));
    let params = json!({"script": script, "mode": "worker", "wait": true, "timeout-ms": 500});
    let kea = start(&ns, &run.config(&ns, config(params).debug_log()));
    let replies = || fs::read_to_string(&log).unwrap_or_default();
    let saw = |what: &str| replies().lines().any(|l| l.starts_with(what));

    not_served(&ns, &dropped);
    assert!(saw(&format!("pkt4_receive {dropped} drop")), "{}", replies());
    assert!(!saw(&format!("subnet4_select {dropped}")), "Kea went on with a dropped query:\n{}", replies());
    wait_msg(&kea, "DHCP4_HOOK_PACKET_RCVD_SKIP", 1, Duration::from_secs(5));

    not_served(&ns, &skipped);
    assert!(saw(&format!("lease4_select {skipped} skip")), "{}", replies());
    let offered = |m: &str| {
        replies().lines().any(|l| {
            l.starts_with(&format!("pkt4_send {m} ")) && (l.contains("DHCPOFFER") || l.contains("DHCPACK")) && !l.ends_with(" 0.0.0.0")
        })
    };
    assert!(!offered(&skipped), "the skipped client was offered an address:\n{}", replies());
    let actions = wait_msg(&kea, "KRS_WORKER_ACTION", 2, Duration::from_secs(5));
    assert!(actions.iter().all(|l| severity(l).starts_with("DEBUG")), "{actions:#?}");
    assert!(actions.iter().any(|l| has_word(l, "pkt4_receive") && has_word(l, "drop")), "{actions:#?}");
    assert!(actions.iter().any(|l| has_word(l, "lease4_select") && has_word(l, "skip")), "{actions:#?}");

    served_within(&ns, &kea, &garbled, Duration::from_secs(10));
    let no_reply = wait_msg(&kea, "KRS_WORKER_NO_REPLY", 1, Duration::from_secs(5));
    assert!(no_reply.iter().any(|l| l.contains("1 garbled") && l.contains("well, maybe")), "{no_reply:#?}");
    assert_eq!(severity(&no_reply[0]), "WARN");

    served_within(&ns, &kea, &slow, Duration::from_secs(10));
    wait_until(DEFAULT_TIMEOUT, || {
        msg_lines(&kea, "KRS_WORKER_NO_REPLY").iter().any(|l| l.contains("1 timed out (timeout-ms 500)")).then_some(())
    })
    .unwrap_or_else(|_| panic!("no timeout reported:\n{}", log_tail(&kea, 30)));
    // The late reply is written; the events that come after it get their own.
    wait_until(DEFAULT_TIMEOUT, || saw(&format!("pkt4_receive {slow} drop")).then_some(())).expect("the late reply");
    served_within(&ns, &kea, &normal, Duration::from_secs(10));
    assert!(saw(&format!("pkt4_receive {normal} continue")), "{}", replies());
    not_served(&ns, &skipped2);
    assert!(saw(&format!("lease4_select {skipped2} skip")), "{}", replies());
    assert!(!offered(&skipped2), "the skipped client was offered an address:\n{}", replies());
    assert_eq!(kea.log_count("KRS_WORKER_EXITED"), 0);
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
    run.check(&ns, &kea, true);
}

/// Concurrent waited-for events from Kea's 4 threads (perfdhcp, 60 clients): the worker answers
/// `skip` at lease4_select for clients whose MAC ends in an even byte. No such client gets an
/// address, every other one that was answered gets its own: each reply went to its own event.
#[test]
fn concurrent_replies_reach_their_own_events() {
    let ns = v4_perf();
    let log = ns.dir().join("replies.log");
    // The rules are computed by the worker itself: skip for an even last byte.
    let path = ns.dir().join("parity.py");
    write_executable(
        &path,
        &format!(
            r#"#!/usr/bin/python3
import json, sys
log = open({log:?}, "a", buffering=1)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    e = json.loads(line)
    mac = e.get("KEA_QUERY4_HWADDR", "")
    even = mac != "" and int(mac[-2:], 16) % 2 == 0
    reply = "skip" if e["hook"] == "lease4_select" and even else "continue"
    log.write(" ".join([e["hook"], mac, reply, e.get("KEA_RESPONSE4_TYPE", "-"), e.get("KEA_RESPONSE4_YIADDR", "-")]) + "\n")
    sys.stdout.write(reply + "\n")
    sys.stdout.flush()
"#,
            log = log.to_str().unwrap()
        ),
    )
    .unwrap();
    let params = json!({"script": path, "mode": "worker", "wait": true, "timeout-ms": 2000});
    let kea = start(&ns, &config(params));
    let perf = Perfdhcp { rate: 30, clients: 60, period: 3, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    let result = perf.run(&ns).unwrap();
    let even = |mac: &str| u8::from_str_radix(&mac[mac.len() - 2..], 16).unwrap() % 2 == 0;
    let acked: Vec<String> = result
        .leases
        .iter()
        .filter(|l| l.exchange == "REQUEST-ACK")
        .map(|l| l.client_id.trim_start_matches("01").to_string())
        .collect();
    assert!(acked.len() >= 10, "too few ACKs:\n{}", result.stdout);
    let text = fs::read_to_string(&log).unwrap();
    let mut problems = Vec::new();
    let (mut skipped, mut served) = (0, 0);
    for l in text.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        let [hook, mac, _reply, ty, yiaddr] = f[..] else { panic!("bad log line {l:?}") };
        if hook != "pkt4_send" || !matches!(ty, "DHCPOFFER" | "DHCPACK" | "DHCPNAK") {
            continue;
        }
        let with_address = ty != "DHCPNAK" && yiaddr != "0.0.0.0";
        match (even(mac), with_address) {
            (true, true) => problems.push(format!("{mac} (skipped) got {ty} {yiaddr}")),
            (false, false) => problems.push(format!("{mac} (not skipped) got {ty} {yiaddr}")),
            (true, false) => skipped += 1,
            (false, true) => served += 1,
        }
    }
    for hex in &acked {
        if hex.len() == 12 && even(hex) {
            problems.push(format!("perfdhcp's client {hex} (skipped) got an ACK"));
        }
    }
    assert!(problems.is_empty(), "{} replies went astray:\n{}", problems.len(), problems.join("\n"));
    let selects = text.lines().filter(|l| l.starts_with("lease4_select ")).count();
    let skips = text.lines().filter(|l| l.starts_with("lease4_select ") && l.contains(" skip ")).count();
    assert!(skips > 0 && skips < selects, "{skips} skips of {selects} lease4_select: no mix of parities");
    assert!(served > 0, "no odd client was served");
    eprintln!("{selects} lease4_select, {skips} skipped; {served} answers with an address, {skipped} without");
    assert_eq!(msg_lines(&kea, "KRS_WORKER_NO_REPLY"), Vec::<String>::new(), "every event got its reply in time");
}

/// A Python worker for `wait: true` that records its pid in `pid`, every line it reads (the
/// exact bytes) in `lines`, and answers `continue`. The first one to run, at its `stall_at`-th
/// line, copies that line to `stalled` and does not answer until `go` exists (or it is killed).
fn stalling_worker(dir: &Path, stall_at: usize) -> PathBuf {
    let path = dir.join("stalling.py");
    write_executable(
        &path,
        &format!(
            r#"#!/usr/bin/python3
import os, sys, time
d = {dir:?}
def put(name, data):
    with open(os.path.join(d, name + ".new"), "wb") as f:
        f.write(data)
    os.rename(os.path.join(d, name + ".new"), os.path.join(d, name))
first = not os.path.exists(os.path.join(d, "stalled"))
put("pid", str(os.getpid()).encode())
lines = open(os.path.join(d, "lines"), "ab", buffering=0)
n = 0
while True:
    line = sys.stdin.buffer.readline()
    if not line:
        break
    lines.write(line)
    n += 1
    if first and n == {stall_at}:
        put("stalled", line)
        while not os.path.exists(os.path.join(d, "go")):
            time.sleep(0.01)
    sys.stdout.write("continue\n")
    sys.stdout.flush()
"#,
            dir = dir.to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

/// Kea's granted leases as its lease file has them: (address, MAC), in the file's order.
fn granted_leases(kea: &Kea) -> Vec<(String, String)> {
    let text = fs::read_to_string(kea.lease_file()).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .filter(|l| !l.starts_with("address,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_lowercase())
        })
        .collect()
}

/// The complete lines a worker recorded (exact bytes), and the leases they grant: the
/// (address, MAC) of each `lease4_select` with `KEA_FAKE_ALLOCATION` 0, with its line's index.
fn recorded(dir: &Path) -> (Vec<Vec<u8>>, Vec<((String, String), usize)>) {
    let bytes = fs::read(dir.join("lines")).unwrap_or_default();
    let complete = &bytes[..bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
    let lines: Vec<Vec<u8>> = complete.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let mut grants = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let v: Map<String, Value> = serde_json::from_slice(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}"));
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        if s("hook") == "lease4_select" && s("KEA_FAKE_ALLOCATION") == "0" {
            grants.push(((s("KEA_LEASE4_ADDRESS"), s("KEA_QUERY4_HWADDR").to_lowercase()), i));
        }
    }
    (lines, grants)
}

/// Leases of the lease file no recorded line grants.
fn leases_not_delivered(kea: &Kea, dir: &Path) -> Vec<(String, String)> {
    let (_, grants) = recorded(dir);
    granted_leases(kea).into_iter().filter(|l| !grants.iter().any(|(g, _)| g == l)).collect()
}

/// A worker with `redeliver` under perfdhcp traffic (multi-threaded Kea) stalls past `timeout-ms`
/// on a line: the events that come meanwhile go on at once and are queued; once Kea has granted
/// a few leases during the stall, `release` ends it (kills the worker or lets it answer). Returns
/// Kea, the recorded stalled line, and the leases granted during the stall.
fn stall_under_traffic<'a>(
    ns: &'a Netns,
    dir: &Path,
    release: impl FnOnce(&Kea),
) -> (Kea<'a>, Vec<u8>, Vec<(String, String)>) {
    fs::create_dir_all(dir).unwrap();
    let script = stalling_worker(dir, 30);
    let params = json!({
        "script": script, "mode": "worker", "wait": true, "redeliver": true, "timeout-ms": 200,
        "max-queued": 100000, "hook-points": ["pkt4_receive", "lease4_select", "pkt4_send"],
    });
    let kea = start(ns, &config(params).persist_leases(0));
    // perfdhcp numbers its clients in turn: 75 DORAs, each its own client (no event twice), in a
    // pool of 100 addresses.
    let perf = Perfdhcp { rate: 15, clients: 5000, period: 5, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    let (result, during) = std::thread::scope(|scope| {
        let traffic = scope.spawn(|| perf.run(ns));
        let stalled = wait_until(DEFAULT_TIMEOUT, || dir.join("stalled").exists().then_some(()));
        stalled.unwrap_or_else(|e| panic!("the worker never stalled: {e}\n{}", log_tail(&kea, 30)));
        let before = granted_leases(&kea).len();
        // Events went on while the worker owed its late reply (their lines queued), and Kea granted
        // leases meanwhile.
        wait_until(DEFAULT_TIMEOUT, || {
            msg_lines(&kea, "KRS_WORKER_NO_REPLY")
                .iter()
                .any(|l| l.contains("still owed a late reply (their lines queued for it: redeliver)"))
                .then_some(())
        })
        .unwrap_or_else(|e| panic!("no event while the worker stalled: {e}\n{}", log_tail(&kea, 30)));
        // Leases new since the stall began (not a client's earlier lease again).
        let during = wait_until(DEFAULT_TIMEOUT, || {
            let leases = granted_leases(&kea);
            let new: Vec<(String, String)> = leases[before.min(leases.len())..]
                .iter()
                .filter(|l| !leases[..before].contains(l))
                .cloned()
                .collect();
            (new.len() >= 3).then_some(new)
        })
        .unwrap_or_else(|e| panic!("no lease granted during the stall: {e}"));
        release(&kea);
        (traffic.join().unwrap().unwrap(), during)
    });
    let acks = result.leases.iter().filter(|l| l.exchange == "REQUEST-ACK").count();
    assert!(acks >= 40, "only {acks} DORAs at 15/s for 5 s:\n{}", result.stdout);
    let stalled = fs::read(dir.join("stalled")).unwrap();
    (kea, stalled, during)
}

/// `redeliver`: a worker SIGKILLed (by its pid) while it owes a reply, under traffic. Every lease
/// Kea granted (its lease file) reaches a worker, those granted while none could answer included;
/// the line the dead one owed is written again, the same bytes, to the next one, and the log says
/// so.
#[test]
fn redeliver_a_killed_worker_loses_no_granted_lease() {
    let ns = v4_perf();
    let dir = ns.dir().join("killed");
    let pid = std::cell::Cell::new(0);
    let (kea, stalled, during) = stall_under_traffic(&ns, &dir, |kea| {
        let first = worker_pid(&dir);
        pid.set(first);
        kill_worker(kea, first);
    });
    let exited = wait_msg(&kea, "KRS_WORKER_EXITED", 1, Duration::from_secs(10));
    let text = msg_text(&exited[0], "KRS_WORKER_EXITED");
    assert!(names_pid(text, pid.get()) && text.contains("signal 9"), "{text}");
    assert!(text.contains("1 line(s) it had not answered queued again for the next worker (redeliver)"), "{text}");
    wait_msg(&kea, "KRS_WORKER_RESTARTED", 1, Duration::from_secs(10));
    let missing = wait_until(DEFAULT_TIMEOUT, || {
        let missing = leases_not_delivered(&kea, &dir);
        missing.is_empty().then_some(())
    });
    let (lines, grants) = recorded(&dir);
    assert!(missing.is_ok(), "granted leases no worker got: {:?}", leases_not_delivered(&kea, &dir));
    // The first worker stalled at its 30th line; the next one's first line is that line again.
    assert_eq!(lines.iter().position(|l| *l == stalled), Some(29));
    assert!(lines.get(30) == Some(&stalled), "the restarted worker did not get the owed line first");
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<&Vec<u8>> = lines.iter().filter(|l| !seen.insert(*l)).collect();
    assert_eq!(twice, [&stalled], "only the owed line is written twice");
    for lease in &during {
        // (The owed line may grant one of them: its callout went on when it timed out.)
        let at = grants.iter().rev().find(|(g, _)| g == lease).map(|(_, i)| *i).unwrap();
        assert!(at >= 30, "{lease:?}, granted during the stall, reached the new worker before the owed line");
    }
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

/// The worker's pid (it wrote it at its start).
fn worker_pid(dir: &Path) -> u32 {
    kea_runscript_testbed::util::read_pidfile(&dir.join("pid")).unwrap_or_else(|| panic!("no pid in {}", dir.display()))
}

/// `redeliver`: a worker that stalls past `timeout-ms` (until a file appears), under traffic. The
/// events of the stall went on at once; once it answers (its late reply is discarded), they are
/// written to it after the stalled line, each once: every lease Kea granted reaches it.
#[test]
fn redeliver_a_stalled_worker_gets_the_events_of_the_stall_after_it() {
    let ns = v4_perf();
    let dir = ns.dir().join("stalled");
    let (kea, stalled, during) = stall_under_traffic(&ns, &dir, |_| fs::write(dir.join("go"), "").unwrap());
    let missing = wait_until(DEFAULT_TIMEOUT, || leases_not_delivered(&kea, &dir).is_empty().then_some(()));
    assert!(missing.is_ok(), "granted leases the worker did not get: {:?}", leases_not_delivered(&kea, &dir));
    let (lines, grants) = recorded(&dir);
    let at = lines.iter().position(|l| *l == stalled).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    assert!(lines.iter().all(|l| seen.insert(l)), "a line was written twice, though no worker died");
    for lease in &during {
        let i = grants.iter().rev().find(|(g, _)| g == lease).map(|(_, i)| *i).unwrap();
        assert!(i >= at, "{lease:?}, granted during the stall, was recorded before the stalled line");
    }
    assert_eq!(kea.log_count("KRS_WORKER_EXITED"), 0);
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

/// An unknown `mode`, or a spawn-only parameter beside `"mode": "worker"`, makes Kea refuse the
/// configuration, naming the parameter.
#[test]
fn bad_worker_parameters_are_refused_at_load() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap();
    let cases = [
        (json!({"script": "/bin/true", "mode": "daemon"}), "'mode'"),
        (json!({"scripts": [{"script": "/bin/true", "mode": 1}]}), "'scripts[0].mode'"),
        (json!({"script": "/bin/true", "mode": "worker", "wait": true, "exit-status": {"3": "skip"}}), "'exit-status'"),
        (json!({"script": "/bin/true", "mode": "worker", "max-running": 4}), "'max-running'"),
        (json!({"script": "/bin/true", "mode": "worker", "redeliver": true}), "parameter 'redeliver' needs"),
        (json!({"scripts": [{"script": "/bin/true", "wait": true, "redeliver": true}]}), "'scripts[0].redeliver' needs"),
    ];
    for (params, name) in cases {
        let log = Kea::expect_load_failure(&ns, &KeaConfig::v4().hook(hook_library(&hook_so(), &params)))
            .unwrap_or_else(|e| panic!("{params}: {e}"));
        let line = log.lines().find(|l| l.contains("KRS_LOAD_FAILED")).unwrap_or_else(|| panic!("{log}"));
        assert!(line.contains(name), "{params}: {line}");
    }
}
