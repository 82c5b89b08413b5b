//! busybox udhcpc in the foreground, driven by signals.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use super::{read_calls, record_snippet, ClientLease, ScriptCall};
use crate::netns::Netns;
use crate::util::{other, read_or_empty, wait_until, write_executable, Proc, DEFAULT_TIMEOUT};

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
        let dir = super::runner_dir(ns, "udhcpc")?;
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
