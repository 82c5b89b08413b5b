//! Shared by the real-traffic tests: where the hook is, which variables each hook point must
//! pass, and checks.
//!
//! What a hook point must pass comes from the generated table (spec/spec.toml narrowed to the
//! Kea release under test, `kea_runscript_config::table`): a variable added to the spec is
//! expected by every test without editing them. The names the seed (kea-hook-runscript)
//! documented are an external contract, checked against the spec by an independent list in
//! codegen/tests/spec_file.rs.
#![allow(dead_code)]

use kea_runscript_config::table::{self, Format, HOOK_POINTS, VARIABLES};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

pub use kea_runscript_testbed::*;

/// The hook library built by `cargo build -p kea-runscript`.
pub fn hook_so() -> PathBuf {
    let so = hook_so_path();
    assert!(so.is_file(), "{} not found: build it with `cargo build -p kea-runscript`", so.display());
    so
}

/// How a variable's value must look when it is not empty (the spec's `type`, and `format` for a
/// string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    Ip4,
    Ip6,
    /// `aa:bb:cc:dd:ee:ff`
    Mac,
    /// `0x...` upper-case hex, as Kea's `toHexString`
    Hex,
    /// colon-separated hex bytes
    ColonHex,
    /// `prefix/len`
    Prefix4,
    Prefix6,
    /// decimal option codes (0 to 255), comma-separated: `1,3,6,15`
    CodeList,
}

use Kind::*;

fn kind_of(var: &table::Variable) -> Kind {
    match (var.kind, var.format) {
        (table::Kind::Int, _) => Int,
        (table::Kind::Bool, _) => Bool,
        (table::Kind::Hex, _) => Hex,
        (table::Kind::String, Format::Text) => Str,
        (table::Kind::String, Format::Ipv4) => Ip4,
        (table::Kind::String, Format::Ipv6) => Ip6,
        (table::Kind::String, Format::Mac) => Mac,
        (table::Kind::String, Format::Prefix4) => Prefix4,
        (table::Kind::String, Format::Prefix6) => Prefix6,
        (table::Kind::String, Format::ColonHex) => ColonHex,
        (table::Kind::String, Format::CodeList) => CodeList,
    }
}

fn hook_point(hook: &str) -> &'static table::HookPoint {
    HOOK_POINTS
        .iter()
        .find(|h| h.name == hook)
        .unwrap_or_else(|| panic!("{hook:?} is not a hook point of the Kea under test (spec/spec.toml)"))
}

/// The variables a hook point passes on the Kea under test, in spec order, with their shape.
pub fn expected_vars(hook: &str) -> Vec<(&'static str, Kind)> {
    hook_point(hook)
        .variables
        .iter()
        .map(|&v| {
            let var = &VARIABLES[v as usize];
            (var.name, kind_of(var))
        })
        .collect()
}

/// The variables of `hook` whose names start with `prefix` (e.g. a lease's, `KEA_LEASE4_`).
pub fn vars_with_prefix(hook: &str, prefix: &str) -> Vec<(&'static str, Kind)> {
    expected_vars(hook).into_iter().filter(|(n, _)| n.starts_with(prefix)).collect()
}

/// Whether the Kea under test (`kea-dhcp4 -v`, as the test bed reads it) is at least `major.minor`.
pub fn kea_at_least(major: u32, minor: u32) -> bool {
    kea_runscript_testbed::kea_version().at_least(major, minor)
}

/// The seed's hook points, the defaults of kea-hook-runscript (an external contract, listed
/// here independently of the spec: the spec's `default` must give exactly these).
pub const HOOKS4: &[&str] = &[
    "pkt4_receive",
    "pkt4_send",
    "subnet4_select",
    "lease4_select",
    "lease4_renew",
    "lease4_release",
    "lease4_decline",
    "lease4_expire",
    "lease4_recover",
];
pub const HOOKS6: &[&str] = &[
    "pkt6_receive",
    "pkt6_send",
    "subnet6_select",
    "lease6_select",
    "lease6_renew",
    "lease6_rebind",
    "lease6_decline",
    "lease6_release",
    "lease6_expire",
    "lease6_recover",
];

/// Variables that /bin/sh (dash) may add to the environment itself.
pub const SHELL_VARS: &[&str] = &["PWD", "OLDPWD", "SHLVL", "_"];
/// Kea's own variables the hook passes unless told otherwise (`pass-env` default).
pub const PASSED_BY_DEFAULT: &[&str] = &["PATH"];

/// The named DHCPv4 option variables: empty when the client (or relay) did not send them.
pub const NAMED4_OPTIONS: &[&str] = &[
    "KEA_QUERY4_CLIENT_ID",
    "KEA_QUERY4_HOSTNAME",
    "KEA_QUERY4_FQDN",
    "KEA_QUERY4_FQDN_FLAGS",
    "KEA_QUERY4_PRL",
    "KEA_QUERY4_USER_CLASS",
    "KEA_QUERY4_RAI_LINK_SELECTION",
    "KEA_QUERY4_RAI_SUBSCRIBER_ID",
    "KEA_QUERY4_RAI_VENDOR",
    "KEA_QUERY4_RAI_RELAY_ID",
];

/// The named DHCPv6 option variables of the client's own message: empty when
/// the client did not send them.
pub const NAMED6_OPTIONS: &[&str] =
    &["KEA_QUERY6_VENDOR_CLASS", "KEA_QUERY6_USER_CLASS", "KEA_QUERY6_FQDN", "KEA_QUERY6_FQDN_FLAGS"];

/// The relay fields of a DHCPv6 query that are set exactly when it was
/// relayed (the relay options may be absent even then); empty when not
/// relayed (checked in [`contract_problems`]).
pub const RELAY6_FIELDS: &[&str] =
    &["KEA_QUERY6_RELAY_LINK_ADDRESS", "KEA_QUERY6_RELAY_PEER_ADDRESS", "KEA_QUERY6_RELAY_HOP_COUNT"];
pub const RELAY6_OPTIONS: &[&str] =
    &["KEA_QUERY6_RELAY_INTERFACE_ID", "KEA_QUERY6_RELAY_REMOTE_ID", "KEA_QUERY6_RELAY_SUBSCRIBER_ID"];

/// Whether `name` may be empty in some scenario: the spec says when (`empty`).
pub fn may_be_empty(name: &str) -> bool {
    VARIABLES.iter().any(|v| v.name == name && v.may_be_empty)
}

/// Kea's ERROR lines, but its raw socket's noise ([`is_receive_noise`]).
pub fn kea_errors(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(" ERROR ") && !is_receive_noise(l)).collect()
}

/// Checks one event against the contract: every variable the spec gives its hook point present,
/// no other `KEA_*` variable, nothing else but what the shell adds, values non-empty unless the
/// spec says when they are empty ([`may_be_empty`]) or listed in `also_empty` (as `VAR` or
/// `hook:VAR`), and of the spec's shape. Returns the problems found.
pub fn contract_problems(ev: &Event, also_empty: &[&str]) -> Vec<String> {
    let mut p = Vec::new();
    let expected = expected_vars(&ev.hook);
    let names: BTreeSet<&str> = expected.iter().map(|(n, _)| *n).collect();
    if !ev.extra_args.is_empty() {
        p.push(format!("extra arguments {:?}", ev.extra_args));
    }
    for k in ev.vars.keys() {
        if k.starts_with("KEA_") {
            if !names.contains(k.as_str()) {
                p.push(format!("unexpected variable {k}"));
            }
        } else if !SHELL_VARS.contains(&k.as_str()) && !PASSED_BY_DEFAULT.contains(&k.as_str()) {
            p.push(format!("non-KEA variable {k} leaked into the script's environment"));
        }
    }
    let is_pd = ev.get("KEA_LEASE6_TYPE") == Some("IA_PD");
    for (name, kind) in expected {
        let Some(v) = ev.get(name) else {
            p.push(format!("{name} missing"));
            continue;
        };
        let optional = may_be_empty(name)
            || also_empty.contains(&name)
            || also_empty.contains(&format!("{}:{name}", ev.hook).as_str());
        if v.is_empty() {
            if !optional {
                p.push(format!("{name} is empty"));
            }
            continue;
        }
        if !well_formed(kind, v) {
            p.push(format!("{name}={v:?} is not a well-formed {kind:?}"));
        }
    }
    // A client FQDN option has both a name (possibly empty) and flags: the
    // flags are set exactly when the option was sent.
    for (name, flags) in [("KEA_QUERY4_FQDN", "KEA_QUERY4_FQDN_FLAGS"), ("KEA_QUERY6_FQDN", "KEA_QUERY6_FQDN_FLAGS")] {
        if !ev.get(name).unwrap_or("").is_empty() && ev.get(flags).unwrap_or("").is_empty() {
            p.push(format!("{name} set but {flags} empty"));
        }
    }
    // DHCPv6 relay: the fields are set exactly when the query was relayed.
    if let Some(relayed) = ev.get("KEA_QUERY6_RELAYED") {
        let hops = ev.get("KEA_QUERY6_RELAY_HOPS").unwrap_or("");
        match relayed {
            "0" => {
                if hops != "0" {
                    p.push(format!("not relayed but KEA_QUERY6_RELAY_HOPS={hops:?}"));
                }
                for n in RELAY6_FIELDS.iter().chain(RELAY6_OPTIONS) {
                    if !ev.get(n).unwrap_or("").is_empty() {
                        p.push(format!("not relayed but {n} set"));
                    }
                }
            }
            "1" => {
                if !hops.parse::<u32>().is_ok_and(|h| h >= 1) {
                    p.push(format!("relayed but KEA_QUERY6_RELAY_HOPS={hops:?}"));
                }
                for n in RELAY6_FIELDS {
                    if ev.get(n).unwrap_or("").is_empty() {
                        p.push(format!("relayed but {n} empty"));
                    }
                }
            }
            _ => {}
        }
    }
    // A delegated prefix is set exactly for an IA_PD lease.
    if is_pd {
        for n in ["KEA_LEASE6_DELEGATED_PREFIX", "KEA_LEASE6_DELEGATED_PREFIXLEN"] {
            if ev.get(n).unwrap_or("").is_empty() {
                p.push(format!("{n} empty for an IA_PD lease"));
            }
        }
    }
    if !is_pd && ev.vars.contains_key("KEA_LEASE6_TYPE") {
        for n in ["KEA_LEASE6_DELEGATED_PREFIX", "KEA_LEASE6_DELEGATED_PREFIXLEN"] {
            if !ev.get(n).unwrap_or("").is_empty() {
                p.push(format!("{n} set for a {} lease", ev.var("KEA_LEASE6_TYPE")));
            }
        }
    }
    p
}

/// Asserts [`contract_problems`] is empty for every event.
pub fn assert_contract(evs: &[Event], also_empty: &[&str]) {
    let mut bad = Vec::new();
    for ev in evs {
        let p = contract_problems(ev, also_empty);
        if !p.is_empty() {
            bad.push(format!("{}: {}\n{ev}", ev.hook, p.join("; ")));
        }
    }
    assert!(bad.is_empty(), "{} event(s) break the contract:\n{}", bad.len(), bad.join("\n"));
}

pub fn well_formed(kind: Kind, v: &str) -> bool {
    match kind {
        Str => true,
        Int => v.parse::<i64>().is_ok() || v.parse::<u64>().is_ok(),
        Bool => v == "0" || v == "1",
        Ip4 => v.parse::<Ipv4Addr>().is_ok(),
        Ip6 => v.parse::<Ipv6Addr>().is_ok(),
        Mac => {
            let parts: Vec<&str> = v.split(':').collect();
            !parts.is_empty() && parts.iter().all(|b| b.len() == 2 && u8::from_str_radix(b, 16).is_ok())
        }
        Hex => v.strip_prefix("0x").is_some_and(|h| {
            !h.is_empty() && h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        }),
        ColonHex => v.split(':').all(|b| b.len() == 2 && u8::from_str_radix(b, 16).is_ok()),
        Prefix4 => v
            .split_once('/')
            .is_some_and(|(a, l)| a.parse::<Ipv4Addr>().is_ok() && l.parse::<u8>().is_ok_and(|l| l <= 32)),
        Prefix6 => v
            .split_once('/')
            .is_some_and(|(a, l)| a.parse::<Ipv6Addr>().is_ok() && l.parse::<u8>().is_ok_and(|l| l <= 128)),
        CodeList => {
            v.split(',').all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) && c.parse::<u8>().is_ok())
        }
    }
}

/// Events of one hook point.
pub fn of<'a>(evs: &'a [Event], hook: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
    evs.iter().filter(move |e| e.hook == hook)
}

/// Whether `addr` lies in the DHCPv4 pool.
pub fn in_pool4(addr: &str) -> bool {
    let a: Ipv4Addr = addr.parse().unwrap_or_else(|_| panic!("{addr:?} is not an IPv4 address"));
    let (lo, hi): (Ipv4Addr, Ipv4Addr) = (POOL_V4.0.parse().unwrap(), POOL_V4.1.parse().unwrap());
    a >= lo && a <= hi
}

/// Whether `addr` lies in the DHCPv6 address pool.
pub fn in_pool6(addr: &str) -> bool {
    let a: Ipv6Addr = addr.parse().unwrap_or_else(|_| panic!("{addr:?} is not an IPv6 address"));
    let (lo, hi): (Ipv6Addr, Ipv6Addr) = (POOL_V6.0.parse().unwrap(), POOL_V6.1.parse().unwrap());
    a >= lo && a <= hi
}

/// Whether `prefix/len` is a /56 inside 2001:db8:8000::/48.
pub fn in_pd_pool(prefix: &str) -> bool {
    let Some((a, l)) = prefix.split_once('/') else { return false };
    let Ok(a) = a.parse::<Ipv6Addr>() else { return false };
    let pool: Ipv6Addr = PD_POOL.parse().unwrap();
    let mask48 = u128::MAX << (128 - PD_POOL_LEN as u32);
    l == PD_DELEGATED_LEN.to_string()
        && (u128::from(a) & mask48) == u128::from(pool)
        && u128::from(a) & !(u128::MAX << (128 - PD_DELEGATED_LEN as u32)) == 0
}

/// Normalised (lower-case, two digits per byte) colon hex.
pub fn hexid(s: &str) -> String {
    normalize_hex_id(s)
}
