//! A real Unbound (Debian's `unbound`) in the server namespace, serving one local zone, its
//! records added and removed over `unbound-control` (a unix socket, no certificates); and `dig`
//! (Debian's `bind9-dnsutils`) from the client namespace to ask it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::netns::{Netns, SERVER_V4, SERVER_V6, SUBNET_V4};
use crate::util::{other, read_or_empty, run_ok, wait_until, Proc, DEFAULT_TIMEOUT};

/// `unbound -d` in the server namespace, listening on [`SERVER_V4`] and [`SERVER_V6`] port 53,
/// with `zone` as a static local zone (a name it holds no record for is NXDOMAIN) and the
/// default reverse zones of the documentation prefixes (`2.0.192.in-addr.arpa.`,
/// `8.b.d.0.1.0.0.2.ip6.arpa.`, also static). Its configuration, pid file, log and control
/// socket are in a directory of the pair's scratch directory; no chroot, no user switch, no
/// syslog, no trust anchor, only the iterator module (nothing is ever asked of another server:
/// the namespace has no route out anyway). Stopped by PID on drop; [`Unbound::restart`] starts
/// it again empty.
#[derive(Debug)]
pub struct Unbound<'a> {
    ns: &'a Netns,
    dir: PathBuf,
    proc: Option<Proc>,
    starts: u32,
}

impl<'a> Unbound<'a> {
    /// Writes the configuration and starts Unbound; returns once `unbound-control status`
    /// answers (or fails with Unbound's log if it exits).
    pub fn start(ns: &'a Netns, zone: &str) -> io::Result<Unbound<'a>> {
        let dir = ns.subdir("unbound")?;
        let q = |p: PathBuf| format!("\"{}\"", p.display());
        let conf = format!(
            "# kea-runscript testbed: a private Unbound in the server namespace\n\
             server:\n\
             \x20   interface: {SERVER_V4}\n\
             \x20   interface: {SERVER_V6}\n\
             \x20   port: 53\n\
             \x20   do-daemonize: no\n\
             \x20   chroot: \"\"\n\
             \x20   username: \"\"\n\
             \x20   directory: {d}\n\
             \x20   pidfile: {pid}\n\
             \x20   logfile: {log}\n\
             \x20   use-syslog: no\n\
             \x20   verbosity: 1\n\
             \x20   num-threads: 1\n\
             \x20   module-config: \"iterator\"\n\
             \x20   access-control: {SUBNET_V4} allow\n\
             \x20   access-control: 2001:db8::/32 allow\n\
             \x20   local-zone: \"{zone}.\" static\n\
             remote-control:\n\
             \x20   control-enable: yes\n\
             \x20   control-interface: {ctl}\n\
             \x20   control-use-cert: no\n",
            d = q(dir.clone()),
            pid = q(dir.join("unbound.pid")),
            log = q(dir.join("unbound.log")),
            ctl = q(dir.join("unbound.ctl")),
            zone = zone.trim_end_matches('.'),
        );
        fs::write(dir.join("unbound.conf"), conf)?;
        run_ok(Command::new("unbound-checkconf").arg(dir.join("unbound.conf")))?;
        let mut u = Unbound { ns, dir, proc: None, starts: 0 };
        u.spawn()?;
        Ok(u)
    }

    fn spawn(&mut self) -> io::Result<()> {
        let out = fs::File::create(self.dir.join(format!("stderr-{}", self.starts)))?;
        self.starts += 1;
        let mut cmd = self.ns.server_cmd("unbound");
        cmd.arg("-d").arg("-c").arg(self.conf()).stdout(Stdio::from(out.try_clone()?)).stderr(Stdio::from(out));
        let proc = self.ns.spawn("unbound", &mut cmd)?;
        let r = wait_until(DEFAULT_TIMEOUT, || {
            if self.control(&["status"]).is_ok() {
                return Some(Ok(()));
            }
            proc.try_status().map(Err)
        });
        self.proc = Some(proc);
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(st)) => Err(other(format!("unbound exited ({st}):\n{}", self.log()))),
            Err(e) => Err(other(format!("unbound-control never answered: {e}\n{}", self.log()))),
        }
    }

    /// Its configuration file (for `unbound-control -c`).
    pub fn conf(&self) -> PathBuf {
        self.dir.join("unbound.conf")
    }

    /// Its control socket.
    pub fn control_socket(&self) -> PathBuf {
        self.dir.join("unbound.ctl")
    }

    /// The arguments that point `unbound-control` at this Unbound: `-c <conf>`.
    pub fn control_args(&self) -> String {
        format!("-c {}", self.conf().display())
    }

    /// Runs `unbound-control -c <conf> ARGS...` and returns its output (fails unless it exits 0).
    pub fn control(&self, args: &[&str]) -> io::Result<String> {
        let out = run_ok(Command::new("unbound-control").arg("-c").arg(self.conf()).args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `unbound-control list_local_data`: every record Unbound serves from its local zones, a line
    /// each (`name TTL IN TYPE data`).
    pub fn local_data(&self) -> io::Result<String> {
        self.control(&["list_local_data"])
    }

    /// Stops Unbound (SIGTERM, then SIGKILL) and starts it again with the same configuration:
    /// the records added over `unbound-control` are gone.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.spawn()
    }

    /// Stops Unbound (SIGTERM, then SIGKILL after 5 s), by PID.
    pub fn stop(&mut self) {
        if let Some(p) = self.proc.take() {
            p.terminate(Duration::from_secs(5));
        }
    }

    /// Its log file, then what it printed.
    pub fn log(&self) -> String {
        let mut s = read_or_empty(&self.dir.join("unbound.log"));
        for n in 0..self.starts {
            s.push_str(&read_or_empty(&self.dir.join(format!("stderr-{n}"))));
        }
        s
    }

    /// Its directory (configuration, log, socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Unbound<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `dig @server +short NAME TYPE` from the client namespace (one try, 2 s): the answers, a line
/// each (empty for NXDOMAIN or no data). Fails when dig gets no answer at all.
pub fn dig(ns: &Netns, server: &str, name: &str, rtype: &str) -> io::Result<Vec<String>> {
    let out = run_ok(ns.client_cmd("dig").args([
        &format!("@{server}"),
        "+short",
        "+time=2",
        "+tries=1",
        name,
        rtype,
    ]))?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).filter(|l| !l.is_empty()).collect())
}

/// [`dig`] for a PTR record: `dig @server +short -x ADDRESS`.
pub fn dig_ptr(ns: &Netns, server: &str, address: &str) -> io::Result<Vec<String>> {
    let out = run_ok(ns.client_cmd("dig").args([&format!("@{server}"), "+short", "+time=2", "+tries=1", "-x", address]))?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).filter(|l| !l.is_empty()).collect())
}
