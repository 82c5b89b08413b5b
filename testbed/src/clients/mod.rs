//! Real DHCP clients run in the client namespace: perfdhcp, ISC dhclient
//! (v4 and v6), busybox udhcpc, and the project's Python clients.
//!
//! Every client gets a script of our own that only records what it got (and
//! sets a DHCPv4 address on the interface, so that a RELEASE can leave), and
//! private pid/lease/config files: nothing outside the scratch directory and
//! the client namespace is touched.
//!
//! One file per client (`perfdhcp.rs`, `dhclient.rs`, `udhcpc.rs`, `python.rs`); here, what
//! they share: the recorded script calls ([`ScriptCall`], [`ClientLease`]) and the hex helpers.

mod dhclient;
mod perfdhcp;
mod python;
mod udhcpc;

pub use dhclient::{duid_from_leases, iaid_from_leases, Dhclient};
pub use perfdhcp::{parse_exchanges, parse_rate, PerfExchange, PerfLease, Perfdhcp, PerfdhcpResult};
pub use python::{dhcp4_client, dhcp6_client, python_client_available, python_clients_dir, run_python_client, PyReport};
pub use udhcpc::Udhcpc;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::util::sh_quote;

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
/// A new directory `<name>-<n>` in the pair's scratch directory, `n` the first free number: each
/// client runner gets its own, so two runners in one pair never share a record of script calls.
fn runner_dir(ns: &crate::Netns, name: &str) -> io::Result<PathBuf> {
    let mut n = 0;
    let dir = loop {
        let d = ns.dir().join(format!("{name}-{n}"));
        if !d.exists() {
            break d;
        }
        n += 1;
    };
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

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

// ------------------------------------------------------------ hex helpers

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn normalize() {
        assert_eq!(normalize_hex_id("0:1:A"), "00:01:0a");
        assert_eq!(normalize_hex_id("0x0A0B"), "0a0b");
    }
}
