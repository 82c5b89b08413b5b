//! Shared by the fault, hostile-data, reload and load tests: scripts that
//! misbehave on purpose, a real client that must still be served, and checks
//! on what Kea logged and on what is left running in the server namespace.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use kea_runscript_testbed::procs;
pub use kea_runscript_testbed::util::{wait_until, write_executable};
pub use kea_runscript_testbed::*;

/// The hook library built by `cargo build -p kea-runscript`.
pub fn hook_so() -> PathBuf {
    let so = hook_so_path();
    assert!(so.is_file(), "{} not found: build it with `cargo build -p kea-runscript`", so.display());
    so
}

/// Namespaces for the Python client: the client interface has no IPv4
/// address of its own, so Kea selects the subnet by the receiving interface.
pub fn v4_bare() -> Netns {
    Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap()
}

/// Namespaces for perfdhcp (its DHCPv4 traffic is relayed from 192.0.2.2).
pub fn v4_perf() -> Netns {
    Netns::with_options(NetnsOptions { ipv6: false, client_v4: true }).unwrap()
}

static TAGS: AtomicU32 = AtomicU32::new(1);

/// A number unique to this test process and call, usable as the fraction of a
/// `sleep` duration (`/bin/sleep 1000.<tag>`), so that the sleeps a test's
/// scripts start can be found in the process table and told from any other.
pub fn unique_tag() -> String {
    format!("{}{:03}", std::process::id(), TAGS.fetch_add(1, Ordering::SeqCst))
}

/// Writes `<dir>/<name>` as an executable `/bin/sh` script with `body`.
pub fn sh_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    write_executable(&p, &format!("#!/bin/sh\n{body}\n")).unwrap();
    p
}

/// A MAC address for the n-th simulated client of a test.
pub fn mac(n: u32) -> String {
    format!("02:00:00:{:02x}:{:02x}:{:02x}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// A DORA by the Python client with chaddr `mac`; returns the report and how
/// long it took. `more` are further arguments (`--hostname-hex ...`).
pub fn dora(ns: &Netns, mac: &str, more: &[&str]) -> std::io::Result<(PyReport, Duration)> {
    let t = Instant::now();
    let mut a = vec!["--mac", mac];
    a.extend_from_slice(more);
    let r = dhcp4_client(ns, &a)?;
    Ok((r, t.elapsed()))
}

/// A DORA that must succeed with an address of the pool within `bound`.
pub fn served_within(ns: &Netns, kea: &Kea, mac: &str, bound: Duration) -> String {
    let (r, took) = dora(ns, mac, &[]).unwrap_or_else(|e| panic!("client {mac} not served: {e}\n{}", kea.log()));
    let addr = r.str("address").expect("an address").to_string();
    assert!(in_pool4(&addr), "{addr} is not in the pool");
    assert!(took <= bound, "client {mac} served in {took:?}, more than {bound:?}");
    assert!(kea.exited().is_none(), "Kea died:\n{}", kea.log());
    addr
}

/// Whether `addr` lies in the DHCPv4 pool.
pub fn in_pool4(addr: &str) -> bool {
    let a: std::net::Ipv4Addr = addr.parse().unwrap();
    let (lo, hi): (std::net::Ipv4Addr, std::net::Ipv4Addr) = (POOL_V4.0.parse().unwrap(), POOL_V4.1.parse().unwrap());
    a >= lo && a <= hi
}

/// Waits until the only process left in the server namespace is Kea (every
/// script, and everything a script started, is gone); panics naming what is
/// left otherwise.
pub fn wait_only_kea_left(ns: &Netns, kea: &Kea, timeout: Duration) {
    let kea_pid = kea.pid();
    let r = wait_until(timeout, || (ns.server_pids() == vec![kea_pid]).then_some(()));
    if r.is_err() {
        let left: Vec<ProcEntry> =
            ns.server_pids().into_iter().filter(|&p| p != kea_pid).filter_map(procs::proc_entry).collect();
        panic!("after {timeout:?} the server namespace still holds, besides Kea ({kea_pid}): {left:#?}");
    }
}

/// Waits until Kea has no zombie child; panics listing them otherwise.
pub fn wait_no_zombie_children(kea: &Kea, timeout: Duration) {
    let r = wait_until(timeout, || procs::children(kea.pid()).iter().all(|c| !c.is_zombie()).then_some(()));
    if r.is_err() {
        let z: Vec<ProcEntry> = procs::children(kea.pid()).into_iter().filter(|c| c.is_zombie()).collect();
        panic!("Kea ({}) still has zombie children after {timeout:?}: {z:#?}", kea.pid());
    }
}

/// Processes whose arguments include `arg` exactly (e.g. `1000.<tag>`).
pub fn running_with_arg(arg: &str) -> Vec<ProcEntry> {
    procs::processes_with_arg(arg)
}

/// Waits until no process has `arg` among its arguments.
pub fn wait_none_with_arg(arg: &str, timeout: Duration) {
    if wait_until(timeout, || running_with_arg(arg).is_empty().then_some(())).is_err() {
        panic!("processes with argument {arg:?} still running after {timeout:?}: {:#?}", running_with_arg(arg));
    }
}

/// The message ID of a Kea log line (`date time SEVERITY [logger] ID text`).
pub fn msg_id(line: &str) -> &str {
    line.split_whitespace().nth(4).unwrap_or("")
}

/// Log lines of one message ID (`KRS_SCRIPT_TIMEOUT`, ...); a script's output
/// that mentions the ID does not count.
pub fn msg_lines(kea: &Kea, id: &str) -> Vec<String> {
    kea.log().lines().filter(|l| msg_id(l) == id).map(str::to_string).collect()
}

/// Waits until the log holds at least `n` lines of message `id`.
pub fn wait_msg(kea: &Kea, id: &str, n: usize, timeout: Duration) -> Vec<String> {
    match wait_until(timeout, || {
        let v = msg_lines(kea, id);
        (v.len() >= n).then_some(v)
    }) {
        Ok(v) => v,
        Err(e) => panic!("{id}: fewer than {n} in Kea's log ({e}):\n{}", kea.log()),
    }
}

/// The severity word of a Kea log line (`INFO`, `WARN`, `ERROR`, `DEBUG`...).
pub fn severity(line: &str) -> &str {
    line.split_whitespace().nth(2).unwrap_or("")
}

/// The text after the message ID in a Kea log line.
pub fn msg_text<'a>(line: &'a str, id: &str) -> &'a str {
    line.find(id).map(|i| line[i + id.len()..].trim_start()).unwrap_or("")
}

/// Decimal numbers appearing in `text` as words (after stripping punctuation).
pub fn numbers_in(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).filter_map(|w| w.parse().ok()).collect()
}

/// Whether `text` names `pid` as a whole number.
pub fn names_pid(text: &str, pid: u32) -> bool {
    numbers_in(text).contains(&(pid as u64))
}

/// Whether any word of `text` (split on whitespace and `(),:;`) is `word`.
pub fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || "(),:;'\"".contains(c)).any(|w| w == word)
}

/// Log lines with ERROR (or FATAL) severity, other than the message IDs in `allowed` and Kea's
/// raw socket's noise (`is_receive_noise`).
pub fn unexpected_errors(kea: &Kea, allowed: &[&str]) -> Vec<String> {
    kea.log()
        .lines()
        .filter(|l| matches!(severity(l), "ERROR" | "FATAL"))
        .filter(|l| !allowed.contains(&msg_id(l)) && !kea_runscript_testbed::is_receive_noise(l))
        .map(str::to_string)
        .collect()
}

/// Kea's log at the point of a failure, shortened to its last lines.
pub fn log_tail(kea: &Kea, lines: usize) -> String {
    let log = kea.log();
    let v: Vec<&str> = log.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Empties Kea's captured stdout/stderr when dropped if they exceed 1 MB: a
/// flood that reached them (a hook that passes the script's output through
/// instead of into the log) must not leave gigabytes in a scratch directory
/// kept for a failed test. Create it after the `Kea`, so it drops first.
pub struct TrimCapturedOutput(PathBuf);

impl TrimCapturedOutput {
    pub fn new(kea: &Kea) -> TrimCapturedOutput {
        TrimCapturedOutput(kea.dir().to_path_buf())
    }

    /// Bytes in Kea's captured stdout and stderr.
    pub fn size(&self) -> u64 {
        ["stdout", "stderr"].iter().map(|f| std::fs::metadata(self.0.join(f)).map(|m| m.len()).unwrap_or(0)).sum()
    }
}

impl Drop for TrimCapturedOutput {
    fn drop(&mut self) {
        for f in ["stdout", "stderr"] {
            let p = self.0.join(f);
            if std::fs::metadata(&p).map(|m| m.len() > 1 << 20).unwrap_or(false) {
                let _ = std::fs::write(&p, b"(emptied by the test: more than 1 MB)\n");
            }
        }
    }
}

/// How a test starts kea-dhcp4: as root (the suite's default), or as Debian's unit runs it
/// (user `_kea`, the unit's capabilities, environment and directories: `testbed/src/service.rs`),
/// for the slices of the fault matrix and of the worker tests that run both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunAs {
    Root,
    Service,
}

impl RunAs {
    /// Debian's kea-dhcp4 unit for [`RunAs::Service`].
    pub fn service(self) -> Option<Service> {
        (self == RunAs::Service).then(|| Service::debian(Family::V4).unwrap())
    }

    /// `script` as the hook gets it: as the service, wrapped to record the identity of each run
    /// ([`Service::identity_wrapper`]).
    pub fn script(self, ns: &Netns, script: &Path) -> PathBuf {
        match self.service() {
            None => script.to_path_buf(),
            Some(svc) => svc.identity_wrapper(ns.dir(), script).unwrap(),
        }
    }

    /// Shell code for a recorder's `extra_sh` ([`EventLog::create`]): as the service, it records
    /// the run's identity without a wrapper (no process more per run).
    pub fn identity_sh(self, ns: &Netns) -> String {
        self.service().map(|svc| svc.identity_sh(ns.dir()).unwrap()).unwrap_or_default()
    }

    /// `cfg` started this way; as the service, what the test wrote so far in `ns`'s scratch
    /// directory (its scripts, the recorders' directories) is handed to `_kea`, so its scripts
    /// can read, run and write there: call it once the scripts are written.
    pub fn config(self, ns: &Netns, cfg: KeaConfig) -> KeaConfig {
        match self.service() {
            None => cfg,
            Some(svc) => {
                svc.hand_over(ns.dir()).unwrap();
                cfg.service(svc)
            }
        }
    }

    /// As the service: Kea runs as `_kea` with exactly the unit's capabilities and, when
    /// `scripts_ran`, so did every wrapped script (panics saying what differs).
    pub fn check(self, ns: &Netns, kea: &Kea, scripts_ran: bool) {
        let Some(svc) = self.service() else { return };
        kea.identity().unwrap().check(&svc).unwrap_or_else(|e| panic!("Kea: {e}"));
        if scripts_ran {
            assert_ran_as(&svc, ns.dir());
        }
    }
}
