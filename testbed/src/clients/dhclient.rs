//! ISC dhclient (DHCPv4, DHCPv6 with or without prefix delegation) with private files, and
//! what its lease file says (DUID, IAID).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use super::{hex_colon, read_calls, record_snippet, ClientLease, ScriptCall};
use crate::kea::Family;
use crate::netns::Netns;
use crate::util::{kill_in_netns, other, read_or_empty, read_pidfile, sh_quote, wait_until, write_executable};

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
        let dir = super::runner_dir(ns, "dhclient")?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
