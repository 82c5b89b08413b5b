//! A pair of network namespaces (server, client) joined by a veth pair.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::util::{self, ip, other, wait_until, Proc, TempDir};

/// Server side addresses (documentation prefixes only).
pub const SERVER_V4: &str = "192.0.2.1";
pub const CLIENT_V4: &str = "192.0.2.2";
pub const SUBNET_V4: &str = "192.0.2.0/24";
pub const SERVER_V6: &str = "2001:db8:1::1";
pub const CLIENT_V6: &str = "2001:db8:1::2";
pub const SUBNET_V6: &str = "2001:db8:1::/64";
/// [`Netns::with_relay`]: the relay's address on the server link (the client's address of the
/// plain pair, [`CLIENT_V6`]).
pub const RELAY_UPPER_V6: &str = CLIENT_V6;
/// [`Netns::with_relay`]: the relay's address on the client link, the link-address it puts in
/// its RELAY-FORW messages.
pub const RELAY_LINK_V6: &str = "2001:db8:2::1";
/// [`Netns::with_relay`]: the client link behind the relay.
pub const RELAY_SUBNET_V6: &str = "2001:db8:2::/64";

/// Every namespace this testbed creates is named `krs<pid>x<n><s|c|r>`.
const PREFIX: &str = "krs";

pub(crate) static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Two namespaces, `server` and `client`, and a veth pair between them
/// (`server_if` in the server namespace, `client_if` in the client one).
/// The veth pair is created directly inside the namespaces: the host's
/// interfaces are never touched. Dropping it kills every process started
/// through it (by PID) and deletes the namespaces, also during a panic.
#[derive(Debug)]
pub struct Netns {
    pub server: String,
    pub client: String,
    pub server_if: String,
    pub client_if: String,
    /// The relay between them, with [`Netns::with_relay`].
    pub relay: Option<RelayNs>,
    /// This pair's number in the process, for its MAC addresses.
    n: u32,
    dir: TempDir,
    procs: Mutex<Vec<Proc>>,
    created: Vec<String>,
}

/// The middle namespace of [`Netns::with_relay`]: `upper_if` faces the server's `server_if`,
/// `lower_if` the client's `client_if`.
#[derive(Debug, Clone)]
pub struct RelayNs {
    /// `krs<pid>x<n>r`
    pub ns: String,
    /// `k<pid>x<n>u`, [`RELAY_UPPER_V6`]/64.
    pub upper_if: String,
    /// `k<pid>x<n>l`, [`RELAY_LINK_V6`]/64.
    pub lower_if: String,
}

/// What to configure on the pair.
#[derive(Debug, Clone, Copy)]
pub struct NetnsOptions {
    /// Add the IPv6 addresses and wait for usable link-local addresses.
    pub ipv6: bool,
    /// Add 192.0.2.2/24 on the client side. Kea selects a subnet by the
    /// packet's source address when it is not 0.0.0.0, so perfdhcp needs it;
    /// real clients that set their leased address on the interface do not.
    pub client_v4: bool,
}

impl Default for NetnsOptions {
    fn default() -> Self {
        NetnsOptions { ipv6: true, client_v4: true }
    }
}

impl Netns {
    /// Both families, client address configured.
    pub fn new() -> io::Result<Netns> {
        Netns::with_options(NetnsOptions::default())
    }

    pub fn with_options(opts: NetnsOptions) -> io::Result<Netns> {
        let mut ns = Netns::named(false)?;
        ns.setup(opts)?; // on error, Drop cleans up what was created
        Ok(ns)
    }

    /// Three namespaces for DHCPv6 through a relay: server `krs<pid>x<n>s` (`server_if`,
    /// [`SERVER_V6`]/64), relay `krs<pid>x<n>r` (`upper_if` [`RELAY_UPPER_V6`]/64 on the server
    /// link, `lower_if` [`RELAY_LINK_V6`]/64 on the client link) and client `krs<pid>x<n>c`
    /// (`client_if`, link-local only: a client behind a relay gets its addresses from
    /// [`RELAY_SUBNET_V6`]). IPv6 only; waits until every link-local address is usable. Run the
    /// relay with [`Netns::relay_cmd`] and [`Netns::spawn`]. Drop removes all three.
    pub fn with_relay() -> io::Result<Netns> {
        let mut ns = Netns::named(true)?;
        ns.setup_relay()?; // on error, Drop cleans up what was created
        Ok(ns)
    }

    /// Names (nothing created yet but the scratch directory).
    fn named(relay: bool) -> io::Result<Netns> {
        if !crate::is_root() {
            return Err(other("the real-traffic tests need root (network namespaces, raw sockets): run them as root"));
        }
        cleanup_stale();
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = format!("{PREFIX}{pid}x{n}");
        let dir = TempDir::new(&base)?;
        let ns = Netns {
            server: format!("{base}s"),
            client: format!("{base}c"),
            // Interface names are at most 15 characters: "k" + pid (≤ 7
            // digits) + "x" + counter + side.
            server_if: format!("k{pid}x{n}s"),
            client_if: format!("k{pid}x{n}c"),
            relay: relay.then(|| RelayNs {
                ns: format!("{base}r"),
                upper_if: format!("k{pid}x{n}u"),
                lower_if: format!("k{pid}x{n}l"),
            }),
            n,
            dir,
            procs: Mutex::new(Vec::new()),
            created: Vec::new(),
        };
        let mut names = vec![&ns.server_if, &ns.client_if];
        if let Some(r) = &ns.relay {
            names.extend([&r.upper_if, &r.lower_if]);
        }
        for name in names {
            assert!(name.len() <= 15, "interface name {name} too long");
        }
        Ok(ns)
    }

    /// The MAC address of one of this pair's veths: locally administered, distinct per
    /// process, pair and role, and with a zero byte among its last four. ISC dhclient
    /// derives its DHCPv6 IAID from those four bytes and, when all are printable, writes it
    /// to its lease file as a string without escaping: a `\\` or `"` there makes the file
    /// unreadable, and `dhclient -r` then releases nothing (one random MAC in ~200).
    fn mac(&self, role: Role) -> String {
        let [_, _, p1, p0] = std::process::id().to_be_bytes();
        format!("02:{:02x}:00:{p1:02x}:{p0:02x}:{:02x}", role as u8, self.n as u8)
    }

    /// Creates a namespace with its private resolv.conf and `lo` up.
    fn add_namespace(&mut self, name: &str) -> io::Result<()> {
        // Private resolv.conf: `ip netns exec` bind-mounts it over
        // /etc/resolv.conf, so no client can rewrite the host's.
        let etc = netns_etc(name);
        fs::create_dir_all(&etc)?;
        fs::write(etc.join("resolv.conf"), "# kea-runscript testbed: private resolv.conf\n")?;
        ip(&["netns", "add", name])?;
        self.created.push(name.to_string());
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        Ok(())
    }

    fn setup_relay(&mut self) -> io::Result<()> {
        let r = self.relay.clone().expect("a relay namespace");
        let (s, c) = (self.server.clone(), self.client.clone());
        let (si, ci) = (self.server_if.clone(), self.client_if.clone());
        for name in [&s, &r.ns, &c] {
            self.add_namespace(name)?;
        }
        // Each veth pair is created directly inside its two namespaces.
        let [ms, mu, ml, mc] = [Role::Server, Role::RelayUpper, Role::RelayLower, Role::Client].map(|r| self.mac(r));
        veth_pair((&si, &ms, &s), (&r.upper_if, &mu, &r.ns))?;
        veth_pair((&r.lower_if, &ml, &r.ns), (&ci, &mc, &c))?;
        let links = [(&s, &si), (&r.ns, &r.upper_if), (&r.ns, &r.lower_if), (&c, &ci)];
        for (ns, ifname) in links {
            skip_dad(ns, ifname)?;
        }
        ip(&["-n", &s, "-6", "addr", "add", &format!("{SERVER_V6}/64"), "dev", &si, "nodad"])?;
        ip(&["-n", &r.ns, "-6", "addr", "add", &format!("{RELAY_UPPER_V6}/64"), "dev", &r.upper_if, "nodad"])?;
        ip(&["-n", &r.ns, "-6", "addr", "add", &format!("{RELAY_LINK_V6}/64"), "dev", &r.lower_if, "nodad"])?;
        for (ns, ifname) in links {
            ip(&["-n", ns, "link", "set", ifname, "up"])?;
        }
        for (ns, ifname) in links {
            wait_link_local(ns, ifname)?;
        }
        Ok(())
    }

    fn setup(&mut self, opts: NetnsOptions) -> io::Result<()> {
        for name in [self.server.clone(), self.client.clone()] {
            self.add_namespace(&name)?;
        }
        let (s, c) = (self.server.clone(), self.client.clone());
        let (si, ci) = (self.server_if.clone(), self.client_if.clone());
        let (ms, mc) = (self.mac(Role::Server), self.mac(Role::Client));
        veth_pair((&si, &ms, &s), (&ci, &mc, &c))?;
        ip(&["-n", &s, "addr", "add", &format!("{SERVER_V4}/24"), "dev", &si])?;
        if opts.client_v4 {
            ip(&["-n", &c, "addr", "add", &format!("{CLIENT_V4}/24"), "dev", &ci])?;
        }
        if opts.ipv6 {
            // The link-local addresses come up when the links do; they are
            // usable once duplicate address detection has finished. Skipping
            // DAD on this private link makes that immediate; we still wait.
            for (ns, ifname) in [(&s, &si), (&c, &ci)] {
                skip_dad(ns, ifname)?;
            }
            ip(&["-n", &s, "-6", "addr", "add", &format!("{SERVER_V6}/64"), "dev", &si, "nodad"])?;
            ip(&["-n", &c, "-6", "addr", "add", &format!("{CLIENT_V6}/64"), "dev", &ci, "nodad"])?;
        }
        ip(&["-n", &s, "link", "set", &si, "up"])?;
        ip(&["-n", &c, "link", "set", &ci, "up"])?;
        for (ns, ifname) in [(&s, &si), (&c, &ci)] {
            // Kea opens no socket on an interface that is not running yet (a loaded machine
            // can take a while to bring a veth up): wait for carrier on both ends.
            wait_running(ns, ifname)?;
            if opts.ipv6 {
                wait_link_local(ns, ifname)?;
            }
        }
        Ok(())
    }

    /// Adds one more IPv4 address on each side (`addr/len`), e.g. from the benchmarking range
    /// 198.18.0.0/15 (RFC 2544) for a pool larger than a documentation /24 allows. Bind
    /// kea-dhcp4 to one of the server's addresses then (`"interfaces": ["<if>/<address>"]`):
    /// it opens a socket per address of an interface, and each would receive (and answer) every
    /// broadcast query.
    pub fn add_v4_addresses(&self, server_cidr: &str, client_cidr: &str) -> io::Result<()> {
        ip(&["-n", &self.server, "addr", "add", server_cidr, "dev", &self.server_if])?;
        ip(&["-n", &self.client, "addr", "add", client_cidr, "dev", &self.client_if])?;
        Ok(())
    }

    /// A scratch directory that lives as long as the namespaces.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A (created) subdirectory of [`Netns::dir`].
    pub fn subdir(&self, name: &str) -> io::Result<PathBuf> {
        self.dir.subdir(name)
    }

    /// `ip netns exec <ns> <program>`.
    pub fn exec(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(program);
        cmd
    }

    /// A command that will run in the server namespace.
    pub fn server_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        Netns::exec(&self.server, program)
    }

    /// A command that will run in the client namespace.
    pub fn client_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        Netns::exec(&self.client, program)
    }

    /// A command that will run in the relay namespace ([`Netns::with_relay`] only).
    pub fn relay_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> io::Result<Command> {
        let r = self.relay.as_ref().ok_or_else(|| other("no relay namespace: use Netns::with_relay"))?;
        Ok(Netns::exec(&r.ns, program))
    }

    /// Spawns a command (built with [`Netns::server_cmd`] or
    /// [`Netns::client_cmd`]) and remembers it, to kill it at drop.
    pub fn spawn(&self, name: &str, cmd: &mut Command) -> io::Result<Proc> {
        let p = Proc::spawn(name, cmd)?;
        self.procs.lock().unwrap_or_else(|e| e.into_inner()).push(p.clone());
        Ok(p)
    }

    /// MAC address of the client's veth, lower-case `aa:bb:cc:dd:ee:ff`.
    pub fn client_mac(&self) -> io::Result<String> {
        link_mac(&self.client, &self.client_if)
    }

    /// MAC address of the server's veth.
    pub fn server_mac(&self) -> io::Result<String> {
        link_mac(&self.server, &self.server_if)
    }

    /// Interface index of the server's veth (as Kea reports it).
    pub fn server_ifindex(&self) -> io::Result<u32> {
        let out = ip(&["-n", &self.server, "-o", "link", "show", "dev", &self.server_if])?;
        out.split(':').next().and_then(|s| s.trim().parse().ok()).ok_or_else(|| other(format!("no ifindex in {out:?}")))
    }

    /// The client's IPv6 link-local address (without scope).
    pub fn client_link_local(&self) -> io::Result<String> {
        link_local(&self.client, &self.client_if)
    }

    /// The server's IPv6 link-local address (without scope).
    pub fn server_link_local(&self) -> io::Result<String> {
        link_local(&self.server, &self.server_if)
    }

    /// PIDs of the processes living in the server namespace (the server and
    /// whatever it started: hook scripts, kea-lfc), sorted.
    pub fn server_pids(&self) -> Vec<u32> {
        let mut v = netns_pids(&self.server);
        v.sort_unstable();
        v
    }

    /// PIDs of the processes living in the client namespace, sorted.
    pub fn client_pids(&self) -> Vec<u32> {
        let mut v = netns_pids(&self.client);
        v.sort_unstable();
        v
    }

    /// Kills, by PID, what is still running in our namespaces: first the
    /// processes we spawned, then anything else left in them (daemons our
    /// clients forked, scripts a server started). Called by drop.
    pub fn kill_all(&self) {
        let procs: Vec<Proc> = std::mem::take(&mut *self.procs.lock().unwrap_or_else(|e| e.into_inner()));
        for p in &procs {
            p.terminate(Duration::from_secs(3));
        }
        for ns in &self.created {
            kill_namespace_pids(ns);
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.kill_all();
        for ns in self.created.iter().rev() {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("testbed: deleting namespace {ns}: {e}");
            }
        }
        let relay = self.relay.as_ref().map(|r| &r.ns);
        for ns in [Some(&self.server), Some(&self.client), relay].into_iter().flatten() {
            let _ = fs::remove_dir_all(netns_etc(ns));
        }
    }
}

fn netns_etc(ns: &str) -> PathBuf {
    Path::new("/etc/netns").join(ns)
}

fn link_mac(ns: &str, ifname: &str) -> io::Result<String> {
    let out = ip(&["-n", ns, "-o", "link", "show", "dev", ifname])?;
    let mut it = out.split_whitespace();
    while let Some(w) = it.next() {
        if w == "link/ether" {
            if let Some(mac) = it.next() {
                return Ok(mac.to_ascii_lowercase());
            }
        }
    }
    Err(other(format!("no MAC address in {out:?}")))
}

fn link_local(ns: &str, ifname: &str) -> io::Result<String> {
    let out = ip(&["-n", ns, "-6", "-o", "addr", "show", "dev", ifname, "scope", "link"])?;
    for line in out.lines() {
        let mut it = line.split_whitespace();
        while let Some(w) = it.next() {
            if w == "inet6" {
                if let Some(a) = it.next() {
                    return Ok(a.split('/').next().unwrap_or(a).to_string());
                }
            }
        }
    }
    Err(other(format!("no link-local address on {ifname} in {ns}")))
}

/// Which veth of a [`Netns`] a MAC address is for.
#[derive(Clone, Copy)]
enum Role {
    Server = 1,
    Client = 2,
    RelayUpper = 3,
    RelayLower = 4,
}

/// Creates a veth pair directly inside its two namespaces: (name, MAC, namespace) each.
fn veth_pair(a: (&str, &str, &str), b: (&str, &str, &str)) -> io::Result<()> {
    #[rustfmt::skip]
    let args = ["link", "add", a.0, "address", a.1, "netns", a.2,
        "type", "veth", "peer", "name", b.0, "address", b.1, "netns", b.2];
    ip(&args).map(drop)
}

/// A link-local address exists and is neither tentative nor dadfailed, and
/// the link has carrier.
/// Turns off duplicate address detection on `ifname` in `ns` (a private link: no duplicate).
fn skip_dad(ns: &str, ifname: &str) -> io::Result<()> {
    util::run_ok(
        Command::new("ip")
            .args(["netns", "exec", ns, "sysctl", "-q", "-w"])
            .arg(format!("net.ipv6.conf.{ifname}.accept_dad=0")),
    )?;
    Ok(())
}

/// Waits (20 s at most) until the link-local IPv6 address of `ifname` in `ns` is usable.
fn wait_link_local(ns: &str, ifname: &str) -> io::Result<()> {
    wait_until(Duration::from_secs(20), || link_local_ready(ns, ifname).then_some(()))
        .map_err(|e| other(format!("link-local IPv6 address of {ifname} in {ns} not usable: {e}")))
}

/// Waits (20 s at most) until `ifname` in `ns` is up with carrier (what Kea calls running).
fn wait_running(ns: &str, ifname: &str) -> io::Result<()> {
    wait_until(Duration::from_secs(20), || link_running(ns, ifname).then_some(()))
        .map_err(|e| other(format!("{ifname} in {ns} not running: {e}")))
}

fn link_running(ns: &str, ifname: &str) -> bool {
    ip(&["-n", ns, "-o", "link", "show", "dev", ifname]).is_ok_and(|link| link.contains("LOWER_UP") && link.contains(" state UP "))
}

fn link_local_ready(ns: &str, ifname: &str) -> bool {
    let Ok(out) = ip(&["-n", ns, "-6", "-o", "addr", "show", "dev", ifname, "scope", "link"]) else { return false };
    let addr_ok =
        out.lines().any(|l| l.contains("inet6 fe80:") && !l.contains("tentative") && !l.contains("dadfailed"));
    addr_ok && link_running(ns, ifname)
}

fn netns_pids(ns: &str) -> Vec<u32> {
    match ip(&["netns", "pids", ns]) {
        Ok(out) => out.split_whitespace().filter_map(|s| s.parse().ok()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Kills, by PID, the processes living in one of *our* namespaces (they can
/// only have been started by this testbed: the namespace was created by it
/// under a unique name).
pub(crate) fn kill_namespace_pids(ns: &str) {
    let me = std::process::id();
    let pids: Vec<u32> = netns_pids(ns).into_iter().filter(|&p| p != me).collect();
    if pids.is_empty() {
        return;
    }
    for &p in &pids {
        util::kill_in_netns(p, ns, libc::SIGTERM);
    }
    let _ = wait_until(Duration::from_secs(3), || netns_pids(ns).is_empty().then_some(()));
    for p in netns_pids(ns) {
        util::kill_in_netns(p, ns, libc::SIGKILL);
    }
}

/// Removes namespaces (and their /etc/netns entries) left by an earlier run
/// of this testbed that was killed before it could clean up: only names of
/// our own pattern `krs<pid>x<n>[scrb]` whose creating process is gone.
pub fn cleanup_stale() {
    let Ok(out) = ip(&["netns", "list"]) else { return };
    for line in out.lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let Some(pid) = stale_owner(name) else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        eprintln!("testbed: removing stale namespace {name} (creator {pid} is gone)");
        kill_namespace_pids(name);
        let _ = ip(&["netns", "del", name]);
        let _ = fs::remove_dir_all(netns_etc(name));
    }
}

fn stale_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let rest = rest.strip_suffix('s').or_else(|| rest.strip_suffix('c')).or_else(|| rest.strip_suffix('r')).or_else(|| rest.strip_suffix('b'))?;
    let (pid, n) = rest.split_once('x')?;
    if pid.is_empty()
        || n.is_empty()
        || !pid.bytes().all(|b| b.is_ascii_digit())
        || !n.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::stale_owner;

    #[test]
    fn stale_names() {
        assert_eq!(stale_owner("krs123x4s"), Some(123));
        assert_eq!(stale_owner("krs123x4c"), Some(123));
        assert_eq!(stale_owner("krs123x4r"), Some(123));
        assert_eq!(stale_owner("krs123x4b"), Some(123)); // a NATS cluster's broker namespace
        assert_eq!(stale_owner("krs123x4"), None);
        assert_eq!(stale_owner("krsx4s"), None);
        assert_eq!(stale_owner("other"), None);
    }
}
