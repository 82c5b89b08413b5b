//! Real DHCP clients run in the client namespace: perfdhcp, ISC dhclient
//! (v4 and v6), busybox udhcpc, and the project's Python clients.
//!
//! Every client gets a script of our own that only records what it got (and
//! sets a DHCPv4 address on the interface, so that a RELEASE can leave), and
//! private pid/lease/config files: nothing outside the scratch directory and
//! the client namespace is touched.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::kea::Family;
use crate::netns::Netns;
use crate::util::{
    kill_in_netns, other, read_or_empty, read_pidfile, sh_quote, wait_until, write_executable, Proc, DEFAULT_TIMEOUT,
};

// ---------------------------------------------------------------- perfdhcp

/// A bounded perfdhcp run (`-p` seconds).
#[derive(Debug, Clone)]
pub struct Perfdhcp {
    pub family: Family,
    /// `-r`: new exchanges per second.
    pub rate: u32,
    /// `-R`: number of simulated clients.
    pub clients: u32,
    /// `-p`: test period in seconds.
    pub period: u32,
    /// `-f`: renews per second.
    pub renew_rate: u32,
    /// `-F`: releases per second.
    pub release_rate: u32,
    /// `-o code,hex` options.
    pub options: Vec<String>,
    /// `-e`: lease type for DHCPv6 (e.g. `address-and-prefix`).
    pub lease_type: Option<String>,
    /// More raw arguments.
    pub extra: Vec<String>,
    /// `-x l`: print the leases obtained (see [`PerfdhcpResult::leases`]); off for a
    /// benchmark, where they are many.
    pub print_leases: bool,
}

/// What perfdhcp printed.
#[derive(Debug, Clone)]
pub struct PerfdhcpResult {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Leases perfdhcp printed (`-x l`): (exchange, client id, address, prefix).
    pub leases: Vec<PerfLease>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfLease {
    pub exchange: String,
    pub client_id: String,
    pub address: String,
    pub prefix: String,
}

impl Perfdhcp {
    /// `-r 4 -R 8 -p 4 -f 2 -F 2`.
    pub fn v4() -> Perfdhcp {
        Perfdhcp {
            family: Family::V4,
            rate: 4,
            clients: 8,
            period: 4,
            renew_rate: 2,
            release_rate: 2,
            options: Vec::new(),
            lease_type: None,
            extra: Vec::new(),
            print_leases: true,
        }
    }

    /// Like [`Perfdhcp::v4`] with `-6 -e address-and-prefix`.
    pub fn v6() -> Perfdhcp {
        Perfdhcp { family: Family::V6, lease_type: Some("address-and-prefix".into()), ..Perfdhcp::v4() }
    }

    pub fn option(mut self, code_hex: &str) -> Self {
        self.options.push(code_hex.to_string());
        self
    }

    /// Arguments after `perfdhcp`, for interface `iface`.
    pub fn args(&self, iface: &str) -> Vec<String> {
        let mut a = vec![
            match self.family {
                Family::V4 => "-4".to_string(),
                Family::V6 => "-6".to_string(),
            },
            "-l".into(),
            iface.into(),
            "-r".into(),
            self.rate.to_string(),
            "-R".into(),
            self.clients.to_string(),
            "-p".into(),
            self.period.to_string(),
        ];
        if self.renew_rate > 0 {
            a.extend(["-f".into(), self.renew_rate.to_string()]);
        }
        if self.release_rate > 0 {
            a.extend(["-F".into(), self.release_rate.to_string()]);
        }
        if let Some(t) = &self.lease_type {
            a.extend(["-e".into(), t.clone()]);
        }
        for o in &self.options {
            a.extend(["-o".into(), o.clone()]);
        }
        if self.print_leases {
            a.extend(["-x".into(), "l".into()]);
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    /// Runs it in the client namespace and waits for it to end (perfdhcp
    /// bounds itself with `-p`; it is killed if it overruns by 30 s). Exit
    /// status 3 ("some exchanges not completed") is normal with releases in
    /// DHCPv4, which get no answer.
    pub fn run(&self, ns: &Netns) -> io::Result<PerfdhcpResult> {
        let dir = ns.subdir("perfdhcp")?;
        let n = fs::read_dir(&dir)?.count();
        let (out_p, err_p) = (dir.join(format!("{n}.stdout")), dir.join(format!("{n}.stderr")));
        let mut cmd = ns.client_cmd("perfdhcp");
        cmd.args(self.args(&ns.client_if))
            .stdout(Stdio::from(fs::File::create(&out_p)?))
            .stderr(Stdio::from(fs::File::create(&err_p)?));
        let p = ns.spawn("perfdhcp", &mut cmd)?;
        let st = p.wait_timeout(Duration::from_secs(self.period as u64 + 30));
        if st.is_err() {
            p.kill();
        }
        let stdout = read_or_empty(&out_p);
        let stderr = read_or_empty(&err_p);
        let leases = parse_perf_leases(&stdout);
        let r = PerfdhcpResult { status: st.ok().and_then(|s| s.code()), stdout, stderr, leases };
        match r.status {
            Some(0) | Some(3) => Ok(r),
            _ => Err(other(format!("perfdhcp failed ({:?}):\n{}\n{}", r.status, r.stdout, r.stderr))),
        }
    }
}

/// One exchange's counters as perfdhcp prints them (`***Statistics for: DISCOVER-OFFER***`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerfExchange {
    /// `DISCOVER-OFFER`, `REQUEST-ACK`, `SOLICIT-ADVERTISE`, `REQUEST-REPLY`, ...
    pub name: String,
    pub sent: u64,
    pub received: u64,
    pub drops: u64,
}

impl PerfdhcpResult {
    /// perfdhcp's `Rate:` line: full exchanges (DORA, SARR) completed per second.
    pub fn rate(&self) -> Option<f64> {
        parse_rate(&self.stdout)
    }

    /// The counters of each exchange, in perfdhcp's order.
    pub fn exchanges(&self) -> Vec<PerfExchange> {
        parse_exchanges(&self.stdout)
    }
}

/// `Rate: 1205.48 4-way exchanges/second, expected rate: 30000`.
pub fn parse_rate(out: &str) -> Option<f64> {
    out.lines().find_map(|l| l.strip_prefix("Rate:")?.split_whitespace().next()?.parse().ok())
}

/// The `***Statistics for: X-Y***` blocks.
pub fn parse_exchanges(out: &str) -> Vec<PerfExchange> {
    let mut v: Vec<PerfExchange> = Vec::new();
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("***Statistics for: ") {
            v.push(PerfExchange { name: name.trim_end_matches('*').to_string(), ..Default::default() });
            continue;
        }
        let Some(cur) = v.last_mut() else { continue };
        let Some((key, val)) = line.split_once(':') else { continue };
        let Ok(n) = val.trim().parse::<u64>() else { continue };
        match key.trim() {
            "sent packets" => cur.sent = n,
            "received packets" => cur.received = n,
            "drops" => cur.drops = n,
            _ => {}
        }
    }
    v
}

fn parse_perf_leases(out: &str) -> Vec<PerfLease> {
    let mut v = Vec::new();
    let mut exchange: Option<String> = None;
    for line in out.lines() {
        if let Some(x) = line.strip_prefix("***Leases for ") {
            exchange = Some(x.trim_end_matches('*').to_string());
            continue;
        }
        if line.starts_with("***") || line.trim().is_empty() {
            if line.starts_with("***") {
                exchange = None;
            }
            continue;
        }
        let Some(ex) = &exchange else { continue };
        if line.starts_with("client_id") {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() >= 2 {
            v.push(PerfLease {
                exchange: ex.clone(),
                client_id: f[0].to_string(),
                address: f[1].to_string(),
                prefix: f.get(2).copied().unwrap_or("").to_string(),
            });
        }
    }
    v
}

// ------------------------------------------------------- recorded leases

/// What a real client's script recorded, one invocation.
#[derive(Debug, Clone, Default)]
pub struct ScriptCall {
    /// `reason` (dhclient) or `$1` (udhcpc).
    pub reason: String,
    pub vars: BTreeMap<String, String>,
}

impl ScriptCall {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.vars.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// What a client got.
#[derive(Debug, Clone, Default)]
pub struct ClientLease {
    /// The leased address (IPv4 or IPv6).
    pub address: Option<String>,
    /// DHCPv6 delegated prefix, `prefix/len`.
    pub prefix: Option<String>,
    /// DHCPv6: the DUID the client used, lower-case colon hex with two digits
    /// per byte (`00:01:00:01:...`), as Kea prints DUIDs.
    pub duid: Option<String>,
    /// DHCPv6: the IAID of the client's IA_NA (or IA_PD), from its lease file.
    pub iaid: Option<u32>,
    /// The MAC address of the client's interface.
    pub mac: String,
    /// All script invocations so far.
    pub calls: Vec<ScriptCall>,
}

/// Reads the records our client scripts wrote: blocks of
/// `=== <reason>` followed by NUL-separated `env -0` output.
fn read_calls(path: &Path) -> Vec<ScriptCall> {
    let Ok(bytes) = fs::read(path) else { return Vec::new() };
    let mut calls = Vec::new();
    // Each record ends with RS (0x1e); the text after the last RS is a record
    // still being written (the script appends in several writes): skip it.
    let mut blocks: Vec<&[u8]> = bytes.split(|&b| b == 0x1e).collect();
    blocks.pop();
    for block in blocks {
        let text = String::from_utf8_lossy(block);
        let Some(rest) = text.strip_prefix("=== ") else { continue };
        let (reason, env) = rest.split_once('\n').unwrap_or((rest, ""));
        let mut vars = BTreeMap::new();
        for kv in env.split('\0') {
            if let Some((k, v)) = kv.split_once('=') {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        calls.push(ScriptCall { reason: reason.to_string(), vars });
    }
    calls
}

/// Shell snippet appending `=== $reason\n` + `env -0` + RS to `$rec`.
fn record_snippet(rec: &Path, reason_expr: &str) -> String {
    format!("{{ printf '=== %s\\n' \"{reason_expr}\"; /usr/bin/env -0; printf '\\036'; }} >> {}\n", sh_quote(rec))
}

// --------------------------------------------------------------- dhclient

/// ISC dhclient with private files. `obtain` runs `dhclient -1` (which stays
/// in the background after it got a lease), `release` runs `dhclient -r`.
#[derive(Debug)]
pub struct Dhclient<'a> {
    ns: &'a Netns,
    pub family: Family,
    /// DHCPv6: ask for a prefix (`-P`) besides an address (`-N`).
    pub prefix_delegation: bool,
    dir: PathBuf,
    released: bool,
}

impl<'a> Dhclient<'a> {
    pub fn v4(ns: &'a Netns) -> io::Result<Dhclient<'a>> {
        Dhclient::new(ns, Family::V4, false)
    }

    pub fn v6(ns: &'a Netns) -> io::Result<Dhclient<'a>> {
        Dhclient::new(ns, Family::V6, false)
    }

    /// DHCPv6 address and prefix (`-N -P`).
    pub fn v6_pd(ns: &'a Netns) -> io::Result<Dhclient<'a>> {
        Dhclient::new(ns, Family::V6, true)
    }

    fn new(ns: &'a Netns, family: Family, pd: bool) -> io::Result<Dhclient<'a>> {
        let mut n = 0;
        let dir = loop {
            let d = ns.dir().join(format!("dhclient-{n}"));
            if !d.exists() {
                break d;
            }
            n += 1;
        };
        fs::create_dir_all(&dir)?;
        // Our own configuration: no /etc/dhcp/dhclient.conf, short timeouts.
        fs::write(dir.join("dhclient.conf"), "timeout 20;\nretry 1;\ninitial-interval 1;\n")?;
        let rec = dir.join("calls");
        let mut script =
            String::from("#!/bin/sh\n# kea-runscript testbed: record, set the v4 address, nothing else.\n");
        script.push_str(&record_snippet(&rec, "$reason"));
        // With this marker present, the next BOUND fails: dhclient then
        // declines the address (DHCPDECLINE) and, with -1, exits 2.
        script.push_str(&format!(
            "if [ \"$reason\" = BOUND ] && [ -e {m} ]; then /bin/rm -f {m}; exit 1; fi\n",
            m = sh_quote(dir.join("decline-next"))
        ));
        script.push_str(
            "case \"$reason\" in\n\
             BOUND|RENEW|REBIND|REBOOT)\n\
             \x20 if [ -n \"$old_ip_address\" ] && [ \"$old_ip_address\" != \"$new_ip_address\" ]; then /usr/sbin/ip addr del \"$old_ip_address/24\" dev \"$interface\" 2>/dev/null; fi\n\
             \x20 [ -n \"$new_ip_address\" ] && /usr/sbin/ip addr replace \"$new_ip_address/24\" dev \"$interface\";;\n\
             RELEASE|EXPIRE|FAIL|STOP)\n\
             \x20 [ -n \"$old_ip_address\" ] && /usr/sbin/ip addr del \"$old_ip_address/24\" dev \"$interface\" 2>/dev/null;;\n\
             esac\n\
             exit 0\n",
        );
        write_executable(&dir.join("script"), &script)?;
        Ok(Dhclient { ns, family, prefix_delegation: pd, dir, released: false })
    }

    /// Appends statements to the client's private `dhclient.conf` (which starts with short
    /// timeouts only), e.g. `send host-name "h";`, `request subnet-mask, routers;` or
    /// `send fqdn.fqdn "h.example.org.";` (Debian's dhclient has no `-H`/`-F`).
    pub fn add_config(&self, statements: &str) -> io::Result<()> {
        let mut text = read_or_empty(&self.dir.join("dhclient.conf"));
        text.push_str(statements);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        fs::write(self.dir.join("dhclient.conf"), text)
    }

    fn base_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        match self.family {
            Family::V4 => a.push("-4".into()),
            Family::V6 => {
                a.push("-6".into());
                if self.prefix_delegation {
                    a.push("-N".into());
                    a.push("-P".into());
                }
            }
        }
        let p = |f: &str| self.dir.join(f).to_string_lossy().into_owned();
        a.extend(["-v".into(), "-cf".into(), p("dhclient.conf"), "-sf".into(), p("script")]);
        a.extend(["-pf".into(), p("dhclient.pid"), "-lf".into(), p("dhclient.leases")]);
        a
    }

    fn run(&self, what: &str, extra: &[&str]) -> io::Result<Output> {
        let mut cmd = self.ns.client_cmd("dhclient");
        cmd.args(self.base_args()).args(extra).arg(&self.ns.client_if);
        let log = self.dir.join(format!("{what}.log"));
        cmd.stdout(Stdio::from(fs::File::create(&log)?))
            .stderr(Stdio::from(fs::File::options().append(true).open(&log)?));
        let p = self.ns.spawn("dhclient", &mut cmd)?;
        let st = p.wait_timeout(Duration::from_secs(45)).map_err(|e| {
            p.kill();
            other(format!("dhclient {what}: {e}\n{}", read_or_empty(&log)))
        })?;
        let text = read_or_empty(&log);
        if !st.success() {
            return Err(other(format!("dhclient {what} failed ({st}):\n{text}")));
        }
        Ok(Output { status: st, stdout: text.into_bytes(), stderr: Vec::new() })
    }

    /// Runs `dhclient -1` until it is bound (it then stays in the background,
    /// renewing) and returns what it got.
    pub fn obtain(&mut self) -> io::Result<ClientLease> {
        self.run("obtain", &["-1"])?;
        let lease = self.lease()?;
        let bound = match self.family {
            Family::V4 => lease.address.is_some(),
            Family::V6 => lease.address.is_some() && (!self.prefix_delegation || lease.prefix.is_some()),
        };
        if !bound {
            return Err(other(format!("dhclient exited 0 but recorded no lease: {:?}", lease.calls)));
        }
        Ok(lease)
    }

    /// What the client has recorded so far (address and prefix from the
    /// last binding calls, DUID from its lease file).
    pub fn lease(&self) -> io::Result<ClientLease> {
        let calls = read_calls(&self.dir.join("calls"));
        let mut address = None;
        let mut prefix = None;
        for c in &calls {
            match self.family {
                Family::V4 => {
                    if matches!(c.reason.as_str(), "BOUND" | "RENEW" | "REBIND" | "REBOOT") {
                        address = c.get("new_ip_address").map(str::to_string).or(address);
                    }
                }
                Family::V6 => {
                    if matches!(c.reason.as_str(), "BOUND6" | "RENEW6" | "REBIND6" | "REBOOT6") {
                        if let Some(a) = c.get("new_ip6_address") {
                            address = Some(a.to_string());
                        }
                        if let Some(p) = c.get("new_ip6_prefix") {
                            prefix = Some(p.to_string());
                        }
                    }
                }
            }
        }
        let leases = read_or_empty(&self.dir.join("dhclient.leases"));
        let (duid, iaid) = match self.family {
            Family::V6 => (duid_from_leases(&leases), iaid_from_leases(&leases)),
            Family::V4 => (None, None),
        };
        Ok(ClientLease { address, prefix, duid, iaid, mac: self.ns.client_mac()?, calls })
    }

    /// DHCPv4: runs `dhclient -1` with a script that fails on BOUND, so that
    /// dhclient declines the address it was given (DHCPDECLINE) and exits 2.
    /// Returns the declined address.
    pub fn decline_once(&mut self) -> io::Result<String> {
        if self.family != Family::V4 {
            return Err(other("dhclient declines only DHCPv4 addresses on a script failure"));
        }
        fs::write(self.dir.join("decline-next"), "")?;
        let before = self.calls().iter().filter(|c| c.reason == "BOUND").count();
        match self.run("decline", &["-1"]) {
            Ok(_) => return Err(other("dhclient -1 succeeded although its script refused the lease")),
            Err(e) if !e.to_string().contains("declined") => return Err(e),
            Err(_) => {}
        }
        self.calls()
            .into_iter()
            .filter(|c| c.reason == "BOUND")
            .nth(before)
            .and_then(|c| c.get("new_ip_address").map(str::to_string))
            .ok_or_else(|| other("no BOUND call recorded before the decline"))
    }

    /// Script invocations so far.
    pub fn calls(&self) -> Vec<ScriptCall> {
        read_calls(&self.dir.join("calls"))
    }

    /// `dhclient -r`: stops the background client and sends a RELEASE.
    pub fn release(&mut self) -> io::Result<()> {
        self.run("release", &["-r"])?;
        self.released = true;
        Ok(())
    }

    /// `dhclient -x`: stops the background client without releasing.
    pub fn stop(&mut self) -> io::Result<()> {
        self.run("stop", &["-x"])?;
        self.released = true;
        Ok(())
    }

    /// PID of the background client, if running.
    pub fn daemon_pid(&self) -> Option<u32> {
        read_pidfile(&self.dir.join("dhclient.pid")).filter(|&p| crate::util::pid_in_netns(p, &self.ns.client))
    }

    /// The client's private directory (script, leases, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Dhclient<'_> {
    fn drop(&mut self) {
        // The daemon is not our child: signal it by PID, and only if that PID
        // lives in our client namespace.
        if let Some(pid) = self.daemon_pid() {
            kill_in_netns(pid, &self.ns.client, libc::SIGTERM);
            let gone =
                wait_until(Duration::from_secs(3), || (!crate::util::pid_in_netns(pid, &self.ns.client)).then_some(()));
            if gone.is_err() {
                kill_in_netns(pid, &self.ns.client, libc::SIGKILL);
            }
        }
    }
}

/// Extracts the DUID from a dhclient6 lease file: `option dhcp6.client-id`
/// (colon hex without leading zeros) or else `default-duid` (an escaped
/// string). Returned as two-digit lower-case colon hex.
pub fn duid_from_leases(text: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("option dhcp6.client-id ") {
            let v = rest.trim_end_matches(';');
            let bytes: Option<Vec<u8>> = v.split(':').map(|b| u8::from_str_radix(b, 16).ok()).collect();
            if let Some(b) = bytes {
                found = Some(hex_colon(&b));
            }
        }
    }
    if found.is_some() {
        return found;
    }
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("default-duid ") {
            let s = rest.trim_end_matches(';').trim();
            let s = s.strip_prefix('"')?.strip_suffix('"')?;
            return Some(hex_colon(&unescape_dhcpd(s)));
        }
    }
    None
}

/// The IAID of the last `ia-na` (else `ia-pd`) in a dhclient6 lease file
/// (`ia-na e6:42:de:bb {`, four bytes, network order).
pub fn iaid_from_leases(text: &str) -> Option<u32> {
    let mut na = None;
    let mut pd = None;
    for line in text.lines() {
        let l = line.trim();
        for (kw, slot) in [("ia-na ", &mut na), ("ia-pd ", &mut pd)] {
            if let Some(rest) = l.strip_prefix(kw) {
                let id = rest.trim_end_matches('{').trim();
                // dhclient writes the IAID as hex bytes (`e6:42:de:bb`), or as a quoted string
                // when all four bytes are printable (`"KL4W"`, with ISC's escapes).
                let bytes: Option<Vec<u8>> = match id.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                    Some(quoted) => Some(unescape_dhcpd(quoted)),
                    None => id.split(':').map(|b| u8::from_str_radix(b, 16).ok()).collect(),
                };
                if let Some(b) = bytes.filter(|b| b.len() == 4) {
                    *slot = Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                }
            }
        }
    }
    na.or(pd)
}

/// ISC's string escapes: `\ooo` octal, `\"`, `\\`, `\t` etc.
fn unescape_dhcpd(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let c = b[i + 1];
            if (b'0'..=b'7').contains(&c) {
                let mut v: u32 = 0;
                let mut j = i + 1;
                while j < b.len() && j < i + 4 && (b'0'..=b'7').contains(&b[j]) {
                    v = v * 8 + (b[j] - b'0') as u32;
                    j += 1;
                }
                out.push(v as u8);
                i = j;
                continue;
            }
            out.push(match c {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                other => other,
            });
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// `00:01:0a`.
pub fn hex_colon(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

/// Normalises a colon/hex identifier for comparison: lower case, two digits
/// per byte, `0x` prefix dropped.
pub fn normalize_hex_id(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if s.contains(':') {
        let parts: Option<Vec<u8>> = s.split(':').map(|p| u8::from_str_radix(p, 16).ok()).collect();
        if let Some(p) = parts {
            return hex_colon(&p);
        }
    }
    s.to_ascii_lowercase()
}

// ----------------------------------------------------------------- udhcpc

/// busybox udhcpc in the foreground (`-f -R`): `start` waits for the lease,
/// `renew` sends SIGUSR1 and waits for the renewal, `release` sends SIGTERM
/// (with `-R` it then unicasts a RELEASE) and waits for it to exit.
///
/// (`udhcpc -q -R` does not release with busybox 1.35: it quits before
/// entering the bound state, so no RELEASE is sent.)
#[derive(Debug)]
pub struct Udhcpc<'a> {
    ns: &'a Netns,
    dir: PathBuf,
    proc: Option<Proc>,
}

impl<'a> Udhcpc<'a> {
    pub fn new(ns: &'a Netns) -> io::Result<Udhcpc<'a>> {
        let dir = ns.subdir("udhcpc")?;
        let rec = dir.join("calls");
        let mut script = String::from("#!/bin/sh\n# kea-runscript testbed: record, set the address, nothing else.\n");
        script.push_str(&record_snippet(&rec, "$1"));
        script.push_str(
            "case \"$1\" in\n\
             bound|renew) /usr/sbin/ip addr replace \"$ip/${mask:-24}\" dev \"$interface\";;\n\
             deconfig) [ -n \"$ip\" ] && /usr/sbin/ip addr del \"$ip/${mask:-24}\" dev \"$interface\" 2>/dev/null;;\n\
             esac\n\
             exit 0\n",
        );
        write_executable(&dir.join("script"), &script)?;
        Ok(Udhcpc { ns, dir, proc: None })
    }

    /// Starts udhcpc and waits until it is bound.
    pub fn start(&mut self) -> io::Result<ClientLease> {
        let log = self.dir.join("udhcpc.log");
        let mut cmd = self.ns.client_cmd("udhcpc");
        cmd.args(["-i", &self.ns.client_if, "-f", "-R", "-n", "-t", "10", "-T", "1", "-s"])
            .arg(self.dir.join("script"))
            .stdout(Stdio::from(fs::File::create(&log)?))
            .stderr(Stdio::from(fs::File::options().append(true).open(&log)?));
        let p = self.ns.spawn("udhcpc", &mut cmd)?;
        self.proc = Some(p);
        self.wait_reason("bound", 1)
    }

    fn wait_reason(&self, reason: &str, count: usize) -> io::Result<ClientLease> {
        wait_until(DEFAULT_TIMEOUT, || {
            let calls = self.calls();
            if calls.iter().filter(|c| c.reason == reason).count() >= count {
                return Some(Ok(()));
            }
            if let Some(st) = self.proc.as_ref().and_then(|p| p.try_status()) {
                if reason != "deconfig" {
                    return Some(Err(other(format!("udhcpc exited ({st}) before {reason}"))));
                }
            }
            None
        })
        .map_err(|e| other(format!("udhcpc: no {reason}: {e}\n{}", read_or_empty(&self.dir.join("udhcpc.log")))))??;
        self.lease()
    }

    /// SIGUSR1: renew now; waits for the `renew` script call.
    pub fn renew(&mut self) -> io::Result<ClientLease> {
        let n = self.calls().iter().filter(|c| c.reason == "renew").count();
        self.proc.as_ref().ok_or_else(|| other("udhcpc not started"))?.signal(libc::SIGUSR1);
        self.wait_reason("renew", n + 1)
    }

    /// SIGTERM: release (with `-R`) and exit; waits for the exit.
    pub fn release(&mut self) -> io::Result<()> {
        let p = self.proc.take().ok_or_else(|| other("udhcpc not started"))?;
        p.signal(libc::SIGTERM);
        p.wait_timeout(DEFAULT_TIMEOUT)?;
        let log = read_or_empty(&self.dir.join("udhcpc.log"));
        if !log.contains("sending release") {
            return Err(other(format!("udhcpc sent no release:\n{log}")));
        }
        Ok(())
    }

    /// SIGKILL: vanish without releasing (the lease will expire).
    pub fn vanish(&mut self) {
        if let Some(p) = self.proc.take() {
            p.kill();
        }
    }

    pub fn calls(&self) -> Vec<ScriptCall> {
        read_calls(&self.dir.join("calls"))
    }

    pub fn lease(&self) -> io::Result<ClientLease> {
        let calls = self.calls();
        let address = calls
            .iter()
            .filter(|c| c.reason == "bound" || c.reason == "renew")
            .filter_map(|c| c.get("ip").map(str::to_string))
            .next_back();
        Ok(ClientLease { address, prefix: None, duid: None, iaid: None, mac: self.ns.client_mac()?, calls })
    }

    /// udhcpc's own output.
    pub fn log(&self) -> String {
        read_or_empty(&self.dir.join("udhcpc.log"))
    }
}

impl Drop for Udhcpc<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.proc.take() {
            p.terminate(Duration::from_secs(3));
        }
    }
}

// ------------------------------------------------------ Python clients

/// Directory of the project's Python DHCP clients (`testbed/clients`).
pub fn python_clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Whether the Python client `name` (e.g. `dhcp4_client.py`) exists.
pub fn python_client_available(name: &str) -> bool {
    python_clients_dir().join(name).is_file()
}

/// Runs `/usr/bin/python3 testbed/clients/<name> ARGS...` in the client
/// namespace, bounded by `timeout`; returns its output (fails on non-zero).
pub fn run_python_client(ns: &Netns, name: &str, args: &[&str], timeout: Duration) -> io::Result<Output> {
    let script = python_clients_dir().join(name);
    if !script.is_file() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} not found", script.display())));
    }
    let dir = ns.subdir("python")?;
    let n = fs::read_dir(&dir)?.count();
    let (out_p, err_p) = (dir.join(format!("{n}.stdout")), dir.join(format!("{n}.stderr")));
    let mut cmd: Command = ns.client_cmd("/usr/bin/python3");
    cmd.arg(&script)
        .args(args)
        .stdout(Stdio::from(fs::File::create(&out_p)?))
        .stderr(Stdio::from(fs::File::create(&err_p)?));
    let p = ns.spawn(name, &mut cmd)?;
    let st = p.wait_timeout(timeout).map_err(|e| {
        p.kill();
        other(format!("{name} {args:?}: {e}\n{}{}", read_or_empty(&out_p), read_or_empty(&err_p)))
    })?;
    let out = Output { status: st, stdout: fs::read(&out_p)?, stderr: fs::read(&err_p)? };
    if !st.success() {
        return Err(other(format!(
            "{name} {args:?} failed ({st}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out)
}

/// What a Python client reported (its one JSON line) and printed.
#[derive(Debug, Clone)]
pub struct PyReport {
    pub json: serde_json::Value,
    pub stdout: String,
    pub stderr: String,
}

impl PyReport {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(serde_json::Value::as_str)
    }
}

fn py_report(out: Output) -> io::Result<PyReport> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
    let json = serde_json::from_str(line).map_err(|e| other(format!("bad report {line:?}: {e}\n{stderr}")))?;
    Ok(PyReport { json, stdout, stderr })
}

/// `dhcp4_client.py --iface <client veth> ARGS...` (see
/// `testbed/clients/README.md`), bounded by 60 s.
pub fn dhcp4_client(ns: &Netns, args: &[&str]) -> io::Result<PyReport> {
    let mut a = vec!["--iface", ns.client_if.as_str()];
    a.extend_from_slice(args);
    py_report(run_python_client(ns, "dhcp4_client.py", &a, Duration::from_secs(60))?)
}

/// `dhcp6_client.py --iface <client veth> ARGS...`, bounded by 60 s.
pub fn dhcp6_client(ns: &Netns, args: &[&str]) -> io::Result<PyReport> {
    let mut a = vec!["--iface", ns.client_if.as_str()];
    a.extend_from_slice(args);
    py_report(run_python_client(ns, "dhcp6_client.py", &a, Duration::from_secs(60))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// perfdhcp 2.2's report (abridged: the delay lines are skipped by the parser).
    const PERF_OUT: &str = "Running: perfdhcp -4 -l kbx0c -r 30000 -R 1000000 -p 3
Scenario: basic.
Multi-thread mode enabled.
***Rate statistics***
Rate: 1205.48 4-way exchanges/second, expected rate: 30000

***Malformed Packets***
Malformed packets: 0
***Statistics for: DISCOVER-OFFER***
sent packets: 34254
received packets: 4343
drops: 29911
drops ratio: 87.3212 %
orphans: 0

min delay: 0.670 ms
collected packets: 4808

***Statistics for: REQUEST-ACK***
sent packets: 4343
received packets: 3625
drops: 718
drops ratio: 16.532 %
";

    #[test]
    fn perfdhcp_rate_and_counters() {
        assert_eq!(parse_rate(PERF_OUT), Some(1205.48));
        let x = parse_exchanges(PERF_OUT);
        assert_eq!(
            x,
            [
                PerfExchange { name: "DISCOVER-OFFER".into(), sent: 34254, received: 4343, drops: 29911 },
                PerfExchange { name: "REQUEST-ACK".into(), sent: 4343, received: 3625, drops: 718 },
            ]
        );
        assert_eq!(parse_rate("no rate"), None);
    }

    #[test]
    fn iaid_in_hex_or_quoted_form() {
        assert_eq!(iaid_from_leases("  ia-na e6:42:de:bb {\n"), Some(0xe642debb));
        assert_eq!(iaid_from_leases("  ia-na \"KL4W\" {\n"), Some(u32::from_be_bytes(*b"KL4W")));
        assert_eq!(iaid_from_leases("  ia-pd \"%d\\\"F\" {\n"), Some(u32::from_be_bytes(*b"%d\"F")));
    }

    #[test]
    fn duid_parsing() {
        let t = "default-duid \"\\000\\001\\000\\0012\\234\\026\\371~@\\346B\\336\\273\";\nlease6 {\n}\n";
        assert_eq!(duid_from_leases(t).unwrap(), "00:01:00:01:32:9c:16:f9:7e:40:e6:42:de:bb");
        let t2 = "lease6 {\n  option dhcp6.client-id 0:1:0:1:32:9c:16:f9:7e:40:e6:42:de:bb;\n}\n";
        assert_eq!(duid_from_leases(t2).unwrap(), "00:01:00:01:32:9c:16:f9:7e:40:e6:42:de:bb");
        assert_eq!(iaid_from_leases("lease6 {\n  ia-na e6:42:de:bb {\n"), Some(0xe642debb));
    }

    #[test]
    fn partial_records_are_skipped() {
        let dir = std::env::temp_dir().join(format!("krs-calls-{}", std::process::id()));
        std::fs::write(&dir, b"=== bound\nip=192.0.2.100\0interface=x\0\x1e=== renew\nip=").unwrap();
        let calls = read_calls(&dir);
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].reason, "bound");
        assert_eq!(calls[0].get("ip"), Some("192.0.2.100"));
    }

    #[test]
    fn perf_leases() {
        let out = "***Leases for REQUEST-ACK***\nclient_id,adrress,prefix\n01000c01020304,192.0.2.100,\n\n\n***Leases for RELEASE***\nclient_id,adrress,prefix\n";
        let l = parse_perf_leases(out);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].exchange, "REQUEST-ACK");
        assert_eq!(l[0].address, "192.0.2.100");
    }

    #[test]
    fn normalize() {
        assert_eq!(normalize_hex_id("0:1:A"), "00:01:0a");
        assert_eq!(normalize_hex_id("0x0A0B"), "0a0b");
    }
}
