//! A real NATS JetStream cluster (Debian's `nats-server`) of N nodes in a network namespace of
//! its own, the broker namespace `krs<pid>x<n>b`, which Kea servers' namespaces reach over veth
//! pairs ([`NatsCluster::attach`]) on 198.51.100.0/24 (a documentation prefix). Each node has its
//! configuration and store directory in the cluster's scratch directory; the nodes route to each
//! other on the namespace's loopback. Streams are created and read with the Python tool
//! `testbed/clients/nats_stream.py` (nats-py: Debian packages no NATS command line tool).
//!
//! Dropping the cluster stops every node by PID, deletes the veths and the namespace, also
//! during a panic.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::netns::{Netns, COUNTER};
use crate::util::{ip, other, read_or_empty, run_ok, wait_until, Proc, TempDir, DEFAULT_TIMEOUT};

/// Where `scripts/install-nats-py.sh` installs nats-py (unless `$KRS_PYTHON_CACHE` says where).
pub fn nats_py_path() -> PathBuf {
    std::env::var_os("KRS_PYTHON_CACHE").map(PathBuf::from).unwrap_or_else(|| "/var/cache/kea-runscript/python".into())
}

/// Whether this machine can run the NATS tests: Debian's `nats-server` and nats-py installed.
pub fn nats_available() -> bool {
    Path::new("/usr/sbin/nats-server").is_file() && nats_py_path().join("nats").is_dir()
}

/// First client port; node `i` listens on `CLIENT_PORT + i` on every address of the namespace.
pub const CLIENT_PORT: u16 = 4222;
const CLUSTER_PORT: u16 = 6222;
const MONITOR_PORT: u16 = 8222;

/// An N-node JetStream cluster in its own namespace.
#[derive(Debug)]
pub struct NatsCluster {
    /// The broker namespace's name.
    pub ns: String,
    n: u32,
    dir: TempDir,
    nodes: Vec<Mutex<Option<Proc>>>,
    starts: Mutex<Vec<u32>>,
    links: Mutex<Vec<Attachment>>,
    created: bool,
}

#[derive(Debug, Clone)]
struct Attachment {
    /// The veth in the broker namespace.
    broker_if: String,
    /// The broker side's address: what the attached namespace connects to.
    address: String,
}

impl NatsCluster {
    /// Creates the broker namespace and starts `nodes` nodes; returns once every node's
    /// JetStream answers healthy (`/healthz`), or fails with the nodes' logs.
    pub fn start(nodes: usize) -> io::Result<NatsCluster> {
        if !crate::is_root() {
            return Err(other("the NATS tests need root (network namespaces): run them as root"));
        }
        crate::netns::cleanup_stale();
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("krs{pid}x{n}b");
        let dir = TempDir::new(&name)?;
        let mut c = NatsCluster {
            ns: name.clone(),
            n,
            dir,
            nodes: (0..nodes).map(|_| Mutex::new(None)).collect(),
            starts: Mutex::new(vec![0; nodes]),
            links: Mutex::new(Vec::new()),
            created: false,
        };
        ip(&["netns", "add", &name])?;
        c.created = true;
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        for i in 0..nodes {
            c.write_config(i)?;
        }
        for i in 0..nodes {
            c.spawn_node(i)?;
        }
        for i in 0..nodes {
            c.wait_healthy(i)?;
        }
        Ok(c)
    }

    fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{i}"))
    }

    fn write_config(&self, i: usize) -> io::Result<()> {
        let d = self.node_dir(i);
        fs::create_dir_all(d.join("store"))?;
        let routes: Vec<String> =
            (0..self.nodes.len()).map(|j| format!("nats-route://127.0.0.1:{}", CLUSTER_PORT + j as u16)).collect();
        let conf = format!(
            "# kea-runscript testbed: node {i} of a JetStream cluster in namespace {ns}\n\
             server_name: n{i}\n\
             listen: 0.0.0.0:{client}\n\
             http: 127.0.0.1:{monitor}\n\
             jetstream {{\n  store_dir: \"{store}\"\n  max_memory_store: 64MB\n  max_file_store: 1GB\n}}\n\
             cluster {{\n  name: krs\n  listen: 127.0.0.1:{cluster}\n  routes: [{routes}]\n\
             \x20 # clients use the URLs they were given: the others' addresses are of other links\n\
             \x20 no_advertise: true\n}}\n",
            ns = self.ns,
            client = CLIENT_PORT + i as u16,
            monitor = MONITOR_PORT + i as u16,
            cluster = CLUSTER_PORT + i as u16,
            store = d.join("store").display(),
            routes = routes.join(", "),
        );
        fs::write(d.join("nats.conf"), conf)
    }

    fn spawn_node(&self, i: usize) -> io::Result<()> {
        let d = self.node_dir(i);
        let start = {
            let mut s = self.starts.lock().unwrap();
            s[i] += 1;
            s[i] - 1
        };
        let out = fs::File::create(d.join(format!("log-{start}")))?;
        let mut cmd = Netns::exec(&self.ns, "nats-server");
        cmd.arg("-c").arg(d.join("nats.conf")).stdout(Stdio::from(out.try_clone()?)).stderr(Stdio::from(out));
        let p = Proc::spawn(&format!("nats-server n{i}"), &mut cmd)?;
        *self.nodes[i].lock().unwrap() = Some(p);
        Ok(())
    }

    /// Waits until node `i`'s monitoring endpoint says healthy (JetStream enabled and current
    /// with the cluster's meta leader).
    fn wait_healthy(&self, i: usize) -> io::Result<()> {
        let url = format!("http://127.0.0.1:{}/healthz", MONITOR_PORT + i as u16);
        let r = wait_until(DEFAULT_TIMEOUT, || {
            let mut cmd = Netns::exec(&self.ns, "curl");
            cmd.args(["-s", "--max-time", "2", &url]);
            let healthy = cmd.output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("\"ok\""));
            if healthy {
                return Some(Ok(()));
            }
            self.node(i).and_then(|p| p.try_status()).map(Err)
        });
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(st)) => Err(other(format!("nats-server n{i} exited ({st}):\n{}", self.logs()))),
            Err(e) => Err(other(format!("nats-server n{i} not healthy: {e}\n{}", self.logs()))),
        }
    }

    /// How many clients whose connection name starts with `name` are connected to the running
    /// nodes (their monitoring endpoints' `/connz`).
    pub fn clients(&self, name: &str) -> io::Result<usize> {
        let mut n = 0;
        for i in (0..self.nodes.len()).filter(|&i| self.pid(i).is_some()) {
            let url = format!("http://127.0.0.1:{}/connz?limit=1024", MONITOR_PORT + i as u16);
            let out = run_ok(Netns::exec(&self.ns, "curl").args(["-s", "--max-time", "2", &url]))?;
            let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| other(format!("/connz of n{i}: {e}")))?;
            n += v["connections"]
                .as_array()
                .map_or(0, |cs| cs.iter().filter(|c| c["name"].as_str().is_some_and(|s| s.starts_with(name))).count());
        }
        Ok(n)
    }

    fn node(&self, i: usize) -> Option<Proc> {
        self.nodes[i].lock().unwrap().clone()
    }

    /// Node `i`'s PID while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.node(i).filter(|p| p.try_status().is_none()).map(|p| p.pid())
    }

    /// Kills node `i` (SIGKILL, by PID): no goodbye to its peers or clients.
    pub fn kill_node(&self, i: usize) {
        if let Some(p) = self.nodes[i].lock().unwrap().take() {
            p.kill();
        }
    }

    /// Starts node `i` again with its configuration and store; returns once it is healthy.
    pub fn restart_node(&self, i: usize) -> io::Result<()> {
        self.kill_node(i);
        self.spawn_node(i)?;
        self.wait_healthy(i)
    }

    /// Stops every node (SIGTERM, then SIGKILL after 5 s), by PID.
    pub fn stop(&self) {
        for slot in &self.nodes {
            if let Some(p) = slot.lock().unwrap().take() {
                p.terminate(Duration::from_secs(5));
            }
        }
    }

    /// The server URLs of every node for a client in the broker namespace.
    pub fn local_urls(&self) -> String {
        self.urls_at("127.0.0.1")
    }

    fn urls_at(&self, address: &str) -> String {
        (0..self.nodes.len()).map(|i| format!("nats://{address}:{}", CLIENT_PORT + i as u16)).collect::<Vec<_>>().join(",")
    }

    /// Joins the server namespace of `pair` to the broker namespace with a veth pair
    /// (198.51.100.4k+1/30 on the broker side, .4k+2 on the server side) and returns the URLs of
    /// every node as seen from there (for `NATS_URL`).
    pub fn attach(&self, pair: &Netns) -> io::Result<String> {
        let mut links = self.links.lock().unwrap();
        let k = links.len() as u32;
        assert!(k < 63, "198.51.100.0/24 holds 63 /30 links");
        let pid = std::process::id();
        let (b_if, s_if) = (format!("k{pid}x{}a{k}", self.n), format!("k{pid}x{}z{k}", self.n));
        assert!(b_if.len() <= 15, "interface name {b_if} too long");
        let (b_addr, s_addr) = (format!("198.51.100.{}", 4 * k + 1), format!("198.51.100.{}", 4 * k + 2));
        #[rustfmt::skip]
        ip(&["link", "add", &b_if, "netns", &self.ns, "type", "veth", "peer", "name", &s_if, "netns", &pair.server])?;
        links.push(Attachment { broker_if: b_if.clone(), address: b_addr.clone() });
        ip(&["-n", &self.ns, "addr", "add", &format!("{b_addr}/30"), "dev", &b_if])?;
        ip(&["-n", &pair.server, "addr", "add", &format!("{s_addr}/30"), "dev", &s_if])?;
        ip(&["-n", &self.ns, "link", "set", &b_if, "up"])?;
        ip(&["-n", &pair.server, "link", "set", &s_if, "up"])?;
        wait_until(Duration::from_secs(20), || {
            let up = |ns: &str, i: &str| ip(&["-n", ns, "-o", "link", "show", "dev", i]).is_ok_and(|l| l.contains("LOWER_UP"));
            (up(&self.ns, &b_if) && up(&pair.server, &s_if)).then_some(())
        })
        .map_err(|e| other(format!("link {b_if}/{s_if} not up: {e}")))?;
        Ok(self.urls_at(&b_addr))
    }

    /// Takes every attached link down (`false`: the broker unreachable from the Kea servers,
    /// with no packet answered, as a cut cable) or up again (`true`, waiting for carrier).
    pub fn set_reachable(&self, reachable: bool) -> io::Result<()> {
        let links = self.links.lock().unwrap().clone();
        for l in &links {
            ip(&["-n", &self.ns, "link", "set", &l.broker_if, if reachable { "up" } else { "down" }])?;
        }
        if reachable {
            for l in &links {
                wait_until(Duration::from_secs(20), || {
                    ip(&["-n", &self.ns, "-o", "link", "show", "dev", &l.broker_if])
                        .is_ok_and(|s| s.contains("LOWER_UP"))
                        .then_some(())
                })
                .map_err(|e| other(format!("link {} to {} not up: {e}", l.broker_if, l.address)))?;
            }
        }
        Ok(())
    }

    fn tool(&self, args: &[&str]) -> io::Result<String> {
        let tool = crate::clients::python_clients_dir().join("nats_stream.py");
        let mut cmd = Netns::exec(&self.ns, "/usr/bin/python3");
        cmd.env("NATS_PY_PATH", nats_py_path()).arg(tool).arg(self.local_urls()).args(args);
        let out = run_ok(&mut cmd).map_err(|e| other(format!("{e}\n{}", self.logs())))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Creates a file stream of `replicas` replicas over `subjects` with a duplicate window of
    /// `duplicate_window_s`; returns once its leader is elected and every other replica is
    /// current.
    pub fn create_stream(&self, name: &str, subjects: &str, replicas: u32, duplicate_window_s: u32) -> io::Result<Value> {
        let out = self.tool(&["create", name, subjects, &replicas.to_string(), &duplicate_window_s.to_string()])?;
        serde_json::from_str(out.trim()).map_err(|e| other(format!("{e}: {out}")))
    }

    /// The stream's state: `{"messages", "first_seq", "last_seq", "leader", "replicas"}`.
    pub fn stream_info(&self, name: &str) -> io::Result<Value> {
        let out = self.tool(&["info", name])?;
        serde_json::from_str(out.trim()).map_err(|e| other(format!("{e}: {out}")))
    }

    /// Every message stored in the stream, in order: `{"seq", "subject", "msg_id", "data"}`.
    pub fn dump(&self, name: &str) -> io::Result<Vec<Value>> {
        let out = self.tool(&["dump", name])?;
        out.lines().map(|l| serde_json::from_str(l).map_err(|e| other(format!("{e}: {l}")))).collect()
    }

    /// A [`Command`] that runs `program` in the broker namespace (what is left running there
    /// is killed, by PID, on drop).
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        Netns::exec(&self.ns, program)
    }

    /// Every node's log, each start's.
    pub fn logs(&self) -> String {
        let starts = self.starts.lock().map(|s| s.clone()).unwrap_or_default();
        let mut s = String::new();
        for (i, &n) in starts.iter().enumerate() {
            for k in 0..n {
                s.push_str(&format!("--- n{i} start {k}\n"));
                s.push_str(&read_or_empty(&self.node_dir(i).join(format!("log-{k}"))));
            }
        }
        s
    }

    /// The scratch directory (configurations, stores, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        self.stop();
        if self.created {
            crate::netns::kill_namespace_pids(&self.ns);
            // Deleting the namespace deletes its ends of the veths, and so their peers.
            if let Err(e) = ip(&["netns", "del", &self.ns]) {
                eprintln!("testbed: deleting namespace {}: {e}", self.ns);
            }
        }
    }
}
