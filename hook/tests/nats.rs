//! The fleet recipe of `examples/nats/`: two real kea-dhcp4 servers (two kea-dhcp6 in one test),
//! distinct `server-name`s, each serving its own perfdhcp clients in its own namespaces, run `examples/nats/worker.py`
//! (worker mode, `wait: true`, `redeliver: true`) with its configuration as shipped; the worker
//! publishes every event to a real 3-node JetStream cluster (Debian's `nats-server`, a stream of 3
//! replicas) in a broker namespace joined to both servers' namespaces, and
//! `examples/nats/consumer.py` keeps one lease table for the fleet from the stream. Each test
//! asserts that every event is in the stream exactly once (no message id twice, no gap in any
//! server's event sequence) and that the consumer's table is what each Kea holds
//! (`lease4-get-all`, `lease6-get-all`: ISC's lease_cmds), through a NATS node killed, the
//! worker killed, and the whole broker unreachable.
//!
//! Needs root, Debian's `nats-server` and nats-py (`scripts/install-deps.sh` installs both on the
//! host). Runs only with this machine's Kea: inside the Debian roots of the version matrix
//! (`scripts/test-matrix.sh`, Kea 2.6 and 3.0) nats-py is not installed (install-nats-py.sh runs
//! on the host only), and each test says it is skipped and returns.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use kea_runscript_testbed::serde_json::{self, Value};

const INSTALLED_LIBRARY: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libkea_runscript.so";
const INSTALLED_WORKER: &str = "/usr/share/kea-runscript/examples/nats/worker.py";
const SHIPPED_URLS: &str = "nats://198.51.100.1:4222,nats://198.51.100.1:4223,nats://198.51.100.1:4224";
const STREAM: &str = "KEA_LEASES";

fn example(rel: &str) -> PathBuf {
    let p = workspace_root().join("examples/nats").join(rel);
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// Whether the NATS tests can run here; says why not.
fn available() -> bool {
    if nats_available() {
        return true;
    }
    eprintln!("skipped: nats-server or nats-py ({}) not installed (scripts/install-deps.sh)", nats_py_path().display());
    false
}

/// A broker, two servers and the consumer.
struct Fleet {
    family: Family,
    cluster: NatsCluster,
    pairs: Vec<Netns>,
    names: Vec<String>,
    table: PathBuf,
    consumer: Option<Proc>,
}

impl Fleet {
    /// A 3-node cluster with the stream (3 replicas, 10 min duplicate window), two namespace
    /// pairs attached to it, and the consumer running.
    fn new(family: Family) -> Fleet {
        let cluster = NatsCluster::start(3).unwrap();
        let info = cluster.create_stream(STREAM, "kea.>", 3, 600).unwrap();
        assert_eq!(info["replicas"].as_array().map(Vec::len), Some(2), "{info}");
        let pairs = vec![Netns::new().unwrap(), Netns::new().unwrap()];
        let table = cluster.dir().join("fleet-leases.json");
        let mut f = Fleet { family, cluster, pairs, names: vec!["dhcp-a".into(), "dhcp-b".into()], table, consumer: None };
        f.start_consumer();
        f
    }

    fn start_consumer(&mut self) {
        let log = fs::File::create(self.cluster.dir().join("consumer.log")).unwrap();
        let mut cmd = self.cluster.cmd("/usr/bin/python3");
        cmd.arg(example("consumer.py"))
            .env("NATS_URL", self.cluster.local_urls())
            .env("NATS_STREAM", STREAM)
            .env("NATS_TABLE", &self.table)
            .env("NATS_PY_PATH", nats_py_path())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.consumer = Some(Proc::spawn("consumer.py", &mut cmd).unwrap());
        wait_until(DEFAULT_TIMEOUT, || self.table.is_file().then_some(())).expect("the consumer wrote no table");
    }

    /// 4 or 6.
    fn v(&self) -> u8 {
        if self.family == Family::V4 {
            4
        } else {
            6
        }
    }

    /// Starts server `i` from `examples/nats/kea-dhcp4.conf` (`kea-dhcp6.conf`) as shipped, with only the
    /// installation's parts pointed at this checkout and this test; returns once its start's
    /// replay has ended.
    fn start_server(&self, i: usize) -> Kea<'_> {
        let ns = &self.pairs[i];
        let urls = self.cluster.attach(ns).unwrap();
        let (v, family) = (self.v(), self.family);
        let conf = format!("kea-dhcp{v}.conf");
        let mut text = fs::read_to_string(example(&conf)).unwrap();
        let subst = |text: String, from: &str, to: &str| {
            assert!(text.contains(from), "{conf} no longer contains {from:?}");
            text.replace(from, to)
        };
        text = subst(text, INSTALLED_LIBRARY, hook_so().to_str().unwrap());
        text = subst(text, INSTALLED_WORKER, example("worker.py").to_str().unwrap());
        text = subst(text, "\"eth1\"", &format!("\"{}\"", ns.server_if));
        text = subst(text, SHIPPED_URLS, &urls);
        text = subst(text, "\"dhcp-a\"", &format!("\"{}\"", self.names[i]));
        text = subst(text, "/var/cache/kea-runscript/python", nats_py_path().to_str().unwrap());
        let kea = Kea::start_text(ns, family, |dir| {
            let q = |p: PathBuf| serde_json::to_string(p.to_str().unwrap()).unwrap();
            let lease_file = q(dir.join(family.lease_file()));
            let mut text = subst(text, "\"persist\": true", &format!("\"persist\": true, \"name\": {lease_file}"));
            if family == Family::V6 {
                text = subst(text, "\"data-directory\": \"/var/lib/kea\"", &format!("\"data-directory\": {}", q(dir.into())));
            }
            subst(text, &format!("\"/run/kea/kea{v}-ctrl-socket\""), &q(dir.join(CONTROL_SOCKET)))
        })
        .unwrap_or_else(|e| panic!("server {}: {e}", self.names[i]));
        replay_done(&kea, 1);
        kea
    }

    /// The consumer's table file.
    fn table(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(&self.table).unwrap()).unwrap()
    }

    /// Waits until the consumer has applied everything the stream holds now; returns its table.
    fn caught_up(&self) -> Value {
        let last = self.cluster.stream_info(STREAM).unwrap()["last_seq"].as_u64().unwrap();
        wait_until(DEFAULT_TIMEOUT, || {
            let t = self.table();
            (t["stream_seq"].as_u64() >= Some(last)).then_some(t)
        })
        .unwrap_or_else(|_| panic!("the consumer did not reach stream sequence {last}: {}\n{}", self.table(), self.consumer_log()))
    }

    /// Waits until everything server `i` sent its worker so far is in the stream and applied by
    /// the consumer: one more client (the marker: a real dhclient on the client's veth, not one
    /// of perfdhcp's), whose queries Kea reads from the same socket after every query before
    /// them, so that its committed event is queued after theirs; the worker publishes in order.
    /// Then the consumer holds the marker's lease as Kea does. (A `runscript-replay` would not
    /// do: Kea may take the command before queries still waiting in its socket.)
    fn barrier(&self, kea: &Kea, i: usize) {
        let ns = &self.pairs[i];
        let mut dh = if self.family == Family::V4 { Dhclient::v4(ns) } else { Dhclient::v6(ns) }.unwrap();
        let address = dh.obtain().unwrap().address.expect("the marker got no address");
        dh.stop().unwrap(); // no release: Kea keeps the marker's lease
        let held = held_leases(kea, self.family);
        let want = held.get(&address).unwrap_or_else(|| panic!("Kea does not hold the marker's {address}"));
        wait_until(Duration::from_secs(120), || (self.table_of(&self.table(), i).get(&address) == Some(want)).then_some(()))
            .unwrap_or_else(|_| panic!("the marker lease {address} of {} not in the consumer's table\n{}", self.names[i], self.consumer_log()));
    }

    fn consumer_log(&self) -> String {
        fs::read_to_string(self.cluster.dir().join("consumer.log")).unwrap_or_default()
    }

    /// What the stream holds, checked: no message id twice, and per event stream
    /// (`<server>:<load id>`) the sequences 1.. without a gap. Returns the messages.
    fn assert_stream_exact(&self) -> Vec<Value> {
        let msgs = self.cluster.dump(STREAM).unwrap();
        let mut ids = BTreeSet::new();
        let mut seqs: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for m in &msgs {
            let id = m["msg_id"].as_str().unwrap_or_else(|| panic!("a message without Nats-Msg-Id: {m}"));
            assert_eq!(Some(id), m["data"]["KEA_EVENT_ID"].as_str(), "the message id is the event's id");
            assert!(ids.insert(id.to_string()), "event {id} stored twice");
            let (stream, seq) = id.rsplit_once(':').unwrap();
            seqs.entry(stream.to_string()).or_default().insert(seq.parse().unwrap());
            let server = m["data"]["KEA_SERVER_NAME"].as_str().unwrap();
            let hook = m["data"]["hook"].as_str().unwrap();
            assert_eq!(m["subject"].as_str(), Some(format!("kea.{server}.{hook}").as_str()));
        }
        for (stream, s) in &seqs {
            let (first, last) = (*s.first().unwrap(), *s.last().unwrap());
            assert!(first <= 2, "{stream}: the stream starts at event {first}");
            assert_eq!(s.len() as u64, last - first + 1, "{stream}: events missing between {first} and {last}");
        }
        for name in &self.names {
            assert!(seqs.keys().any(|k| k.starts_with(&format!("{name}:"))), "no event of {name} in the stream");
        }
        msgs
    }

    /// The consumer's table matches what each server holds, it saw no gap and applied no
    /// duplicate twice; and every lease a server holds came into the stream with a committed
    /// event of that server.
    fn assert_table_matches(&self, keas: &[&Kea], msgs: &[Value]) {
        let t = self.caught_up();
        assert_eq!(t["gaps"], serde_json::json!({}), "the consumer saw gaps");
        for (i, kea) in keas.iter().enumerate() {
            let name = &self.names[i];
            let held = held_leases(kea, self.family);
            assert!(!held.is_empty(), "{name} holds no lease: no traffic?");
            let table = self.table_of(&t, i);
            if table != held {
                // What the stream says of the addresses that differ, in stream order.
                let differ: BTreeSet<&String> =
                    table.keys().chain(held.keys()).filter(|a| table.get(*a) != held.get(*a)).collect();
                let field = format!("KEA_LEASE{}_ADDRESS", self.v());
                for m in msgs.iter().filter(|m| m["subject"].as_str().is_some_and(|s| s.starts_with(&format!("kea.{name}.")))) {
                    let d = &m["data"];
                    if d["KEA_REPLAY_PHASE"] == "begin" || d["KEA_REPLAY_PHASE"] == "end" || d[&field].as_str().is_some_and(|a| differ.contains(&a.to_string())) {
                        eprintln!("{} {} {} {} {} {} {}", m["seq"], d["KEA_EVENT_ID"], d["KEA_EVENT_TIME"], d["hook"], d["KEA_REPLAY_PHASE"], d["KEA_LEASE_EVENT"], d[&field]);
                    }
                }
            }
            assert_eq!(table, held, "the fleet's table of {name} is not what {name} holds");
            let committed: BTreeSet<&str> = msgs
                .iter()
                .filter(|m| m["subject"] == format!("kea.{name}.leases{}_committed", self.v()).as_str())
                .filter_map(|m| m["data"][format!("KEA_LEASE{}_ADDRESS", self.v())].as_str())
                .collect();
            for a in held.keys() {
                assert!(committed.contains(a.as_str()), "{name}'s lease {a} came with no committed event");
            }
        }
    }
}

impl Fleet {
    /// The consumer's table of server `i`: address → MAC (DHCPv4) or DUID (DHCPv6).
    fn table_of(&self, t: &Value, i: usize) -> BTreeMap<String, String> {
        let field = if self.family == Family::V4 { "hwaddr" } else { "duid" };
        t["leases"][format!("{}/{}", self.names[i], self.v())]
            .as_object()
            .map(|m| m.iter().map(|(a, l)| (a.clone(), l[field].as_str().unwrap().to_string())).collect())
            .unwrap_or_default()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(c) = self.consumer.take() {
            c.terminate(Duration::from_secs(3));
        }
    }
}

/// The leases a server holds (state default): address → MAC (DHCPv4) or DUID (DHCPv6).
fn held_leases(kea: &Kea, family: Family) -> BTreeMap<String, String> {
    let (command, field) = match family {
        Family::V4 => (r#"{"command": "lease4-get-all"}"#, "hw-address"),
        Family::V6 => (r#"{"command": "lease6-get-all"}"#, "duid"),
    };
    let r = kea.command(command).unwrap();
    r["arguments"]["leases"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter(|l| l["state"] == 0)
                .map(|l| (l["ip-address"].as_str().unwrap().to_string(), l[field].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until Kea has logged the end of its `n`th replay since it started.
fn replay_done(kea: &Kea, n: usize) -> String {
    wait_until(DEFAULT_TIMEOUT, || kea.log_lines("KRS_REPLAY_DONE").into_iter().nth(n - 1))
        .unwrap_or_else(|_| panic!("replay {n} did not end:\n{}", kea.log()))
}

/// perfdhcp against every server at once, `secs` seconds at `rate` exchanges a second, with
/// renews and releases; returns the DORA exchanges completed per server.
fn traffic(fleet: &Fleet, rate: u32, secs: u32) -> Vec<u64> {
    thread::scope(|s| {
        let runs: Vec<_> = fleet
            .pairs
            .iter()
            .map(|ns| {
                s.spawn(move || {
                    let (base, exchange) = match fleet.family {
                        Family::V4 => (Perfdhcp::v4(), "REQUEST-ACK"),
                        Family::V6 => (Perfdhcp { lease_type: None, ..Perfdhcp::v6() }, "REQUEST-REPLY"),
                    };
                    let p = Perfdhcp { rate, clients: 80, period: secs, renew_rate: 5, release_rate: 2, ..base };
                    let r = p.run(ns).unwrap();
                    r.exchanges().iter().find(|e| e.name == exchange).map_or(0, |e| e.received)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

/// Waits until the stream holds more than `n` messages.
fn wait_stream_beyond(cluster: &NatsCluster, n: u64) {
    wait_until(DEFAULT_TIMEOUT, || (cluster.stream_info(STREAM).ok()?["messages"].as_u64()? > n).then_some(()))
        .unwrap_or_else(|_| panic!("the stream never held {n} messages"));
}

/// The worker's PID: the process in the server namespace running worker.py.
fn worker_pid(ns: &Netns) -> Option<u32> {
    ns.server_pids().into_iter().find(|p| {
        fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains("nats/worker.py"))
    })
}

/// Traffic (60 exchanges a second for 8 s, both servers) with `fault` done once the stream has
/// taken 60 more messages; each server completes more than 50 DORAs.
fn traffic_with_fault(fleet: &Fleet, fault: impl FnOnce()) {
    let acks = thread::scope(|s| {
        let t = s.spawn(|| traffic(fleet, 60, 8));
        let before = fleet.cluster.stream_info(STREAM).unwrap()["messages"].as_u64().unwrap();
        wait_stream_beyond(&fleet.cluster, before + 60);
        fault();
        t.join().unwrap()
    });
    assert!(acks.iter().all(|&n| n > 50), "too few DORAs: {acks:?}");
}

/// After the traffic: each server's marker client in the table, then every event once in the
/// stream and the fleet's table equal to both servers' leases.
fn assert_fleet_exact(fleet: &Fleet, a: &Kea, b: &Kea) {
    fleet.barrier(a, 0);
    fleet.barrier(b, 1);
    let msgs = fleet.assert_stream_exact();
    fleet.assert_table_matches(&[a, b], &msgs);
}

fn assert_quiet(kea: &Kea) {
    assert_eq!(kea_errors(&kea.log()), Vec::<&str>::new());
}

/// Two servers under traffic: every event once in the stream, the fleet's table is both
/// servers' leases.
#[test]
fn fleet_every_event_once_table_matches() {
    if !available() {
        return;
    }
    let fleet = Fleet::new(Family::V4);
    let (a, b) = (fleet.start_server(0), fleet.start_server(1));
    let acks = traffic(&fleet, 60, 6);
    assert!(acks.iter().all(|&n| n > 50), "too few DORAs: {acks:?}");
    assert_fleet_exact(&fleet, &a, &b);
    assert_eq!(fleet.table()["duplicates"], 0, "the consumer got a duplicate: the stream deduplicates");
    assert_quiet(&a);
    assert_quiet(&b);
}

/// The same with two kea-dhcp6 servers (`examples/nats/kea-dhcp6.conf`, IA_NA).
#[test]
fn fleet_v6_every_event_once_table_matches() {
    if !available() {
        return;
    }
    let fleet = Fleet::new(Family::V6);
    let (a, b) = (fleet.start_server(0), fleet.start_server(1));
    let acks = traffic(&fleet, 60, 6);
    assert!(acks.iter().all(|&n| n > 50), "too few SARRs: {acks:?}");
    assert_fleet_exact(&fleet, &a, &b);
    assert_eq!(fleet.table()["duplicates"], 0);
    assert_quiet(&a);
    assert_quiet(&b);
}

/// The stream's leader node killed (SIGKILL) during traffic: the worker's publishes go to the
/// other two nodes, the stream elects a new leader from its replicas, nothing is lost.
#[test]
fn nats_node_killed_during_traffic_nothing_lost() {
    if !available() {
        return;
    }
    let fleet = Fleet::new(Family::V4);
    let (a, b) = (fleet.start_server(0), fleet.start_server(1));
    traffic_with_fault(&fleet, || {
        let leader = fleet.cluster.stream_info(STREAM).unwrap()["leader"].as_str().unwrap().to_string();
        let node: usize = leader.trim_start_matches('n').parse().unwrap();
        let pid = fleet.cluster.pid(node).unwrap();
        fleet.cluster.kill_node(node);
        eprintln!("killed the stream's leader {leader} (pid {pid})");
    });
    assert_fleet_exact(&fleet, &a, &b);
    assert_quiet(&a);
    assert_quiet(&b);
}

/// Server a's worker killed (SIGKILL, by PID) during traffic: Kea starts it again and sends it
/// again the events it had not answered (`redeliver`), with the same ids: nothing is lost, and
/// the stream holds each once.
#[test]
fn worker_killed_during_traffic_nothing_lost_nothing_duplicated() {
    if !available() {
        return;
    }
    let fleet = Fleet::new(Family::V4);
    let (a, b) = (fleet.start_server(0), fleet.start_server(1));
    traffic_with_fault(&fleet, || {
        let pid = worker_pid(&fleet.pairs[0]).expect("no worker running in server a's namespace");
        assert!(kea_runscript_testbed::util::kill_in_netns(pid, &fleet.pairs[0].server, libc::SIGKILL));
        eprintln!("killed server a's worker (pid {pid})");
        wait_until(DEFAULT_TIMEOUT, || a.log_lines("KRS_WORKER_RESTARTED").into_iter().next())
            .unwrap_or_else(|_| panic!("the worker was not restarted:\n{}", a.log()));
    });
    assert_ne!(worker_pid(&fleet.pairs[0]), None);
    assert_eq!(a.statistics().unwrap().get("runscript[1].worker-restarts"), Some(&1));
    assert_fleet_exact(&fleet, &a, &b);
    assert_quiet(&b);
}

/// The broker unreachable from both servers (their links down): Kea keeps serving, each
/// waited-for event at most `timeout-ms`; once the links are back, `runscript-replay` on each
/// server refills the stream and the fleet's table matches both servers again.
#[test]
fn broker_unreachable_kea_serves_replay_refills() {
    if !available() {
        return;
    }
    let fleet = Fleet::new(Family::V4);
    let (a, b) = (fleet.start_server(0), fleet.start_server(1));
    traffic(&fleet, 40, 3);
    fleet.caught_up();

    fleet.cluster.set_reachable(false).unwrap();
    let started = Instant::now();
    let acks = traffic(&fleet, 40, 6);
    let took = started.elapsed();
    // Served within timeout-ms (500): the first waited-for event waits it out, the next ones go
    // on at once while the worker owes its reply.
    assert!(acks.iter().all(|&n| n > 50), "Kea did not keep serving with the broker unreachable: {acks:?}");
    assert!(took < Duration::from_secs(6 + 30), "{took:?}");
    for kea in [&a, &b] {
        assert!(!held_leases(kea, Family::V4).is_empty());
        // The callouts went on without the worker's reply, the events queued for it.
        let st = kea.statistics().unwrap();
        assert!(st.get("runscript[1].replies-missing") > Some(&0), "{st:?}");
    }

    fleet.cluster.set_reachable(true).unwrap();
    // The replay's events come after those queued during the outage; the markers after the
    // replay's (Kea reads the replay's leases before it reads the markers' queries).
    for kea in [&a, &b] {
        kea.command_ok(r#"{"command": "runscript-replay"}"#).unwrap();
        replay_done(kea, 2);
    }
    fleet.barrier(&a, 0);
    fleet.barrier(&b, 1);
    let t = fleet.caught_up();
    for kea in [&a, &b] {
        let queued = || kea.statistics().ok()?.get("runscript[1].queued").copied();
        wait_until(DEFAULT_TIMEOUT, || (queued()? == 0).then_some(())).unwrap_or_else(|_| panic!("still queued: {:?}", queued()));
    }
    for (i, kea) in [&a, &b].iter().enumerate() {
        let name = &fleet.names[i];
        assert_eq!(fleet.table_of(&t, i), held_leases(kea, Family::V4), "after the replay, the fleet's table of {name} is not what it holds");
        assert!(t["replays"][format!("{name}/4")].as_u64() >= Some(2), "{t}");
    }
    let msgs = fleet.cluster.dump(STREAM).unwrap();
    let ids: BTreeSet<&str> = msgs.iter().filter_map(|m| m["msg_id"].as_str()).collect();
    assert_eq!(ids.len(), msgs.len(), "an event stored twice");
}
