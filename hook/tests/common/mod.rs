//! Shared by the real-traffic tests: where the hook is, which variables each
//! hook point must pass (a list kept here, independent of spec/spec.toml, so
//! that the generated code is checked against the contract), and checks.
#![allow(dead_code)]

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

/// How a variable's value must look when it is not empty.
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

pub const QUERY4: &[(&str, Kind)] = &[
    ("KEA_QUERY4_TYPE", Str),
    ("KEA_QUERY4_INTERFACE", Str),
    ("KEA_QUERY4_IFINDEX", Int),
    ("KEA_QUERY4_HWADDR", Mac),
    ("KEA_QUERY4_HWADDR_TYPE", Int),
    ("KEA_QUERY4_HWADDR_SOURCE", Int),
    ("KEA_QUERY4_RELAYED", Bool),
    ("KEA_QUERY4_RELAY_HOPS", Int),
    ("KEA_QUERY4_OPTION60", Str),
    ("KEA_QUERY4_CIADDR", Ip4),
    ("KEA_QUERY4_SIADDR", Ip4),
    ("KEA_QUERY4_YIADDR", Ip4),
    ("KEA_QUERY4_GIADDR", Ip4),
    ("KEA_QUERY4_RAI", Hex),
    ("KEA_QUERY4_RAI_CIRCUIT_ID", Hex),
    ("KEA_QUERY4_RAI_REMOTE_ID", Hex),
    ("KEA_QUERY4_CLIENT_ID", Hex),
    ("KEA_QUERY4_HOSTNAME", Str),
    ("KEA_QUERY4_FQDN", Str),
    ("KEA_QUERY4_FQDN_FLAGS", Int),
    ("KEA_QUERY4_PRL", CodeList),
    ("KEA_QUERY4_USER_CLASS", Hex),
    ("KEA_QUERY4_RAI_LINK_SELECTION", Ip4),
    ("KEA_QUERY4_RAI_SUBSCRIBER_ID", Hex),
    ("KEA_QUERY4_RAI_VENDOR", Hex),
    ("KEA_QUERY4_RAI_RELAY_ID", Hex),
];

pub const RESPONSE4: &[(&str, Kind)] = &[
    ("KEA_RESPONSE4_TYPE", Str),
    ("KEA_RESPONSE4_INTERFACE", Str),
    ("KEA_RESPONSE4_IFINDEX", Int),
    ("KEA_RESPONSE4_HWADDR", Mac),
    ("KEA_RESPONSE4_HWADDR_TYPE", Int),
    ("KEA_RESPONSE4_HWADDR_SOURCE", Int),
    ("KEA_RESPONSE4_RELAYED", Bool),
    ("KEA_RESPONSE4_RELAY_HOPS", Int),
    ("KEA_RESPONSE4_CIADDR", Ip4),
    ("KEA_RESPONSE4_SIADDR", Ip4),
    ("KEA_RESPONSE4_YIADDR", Ip4),
    ("KEA_RESPONSE4_GIADDR", Ip4),
];

pub const SUBNET4: &[(&str, Kind)] =
    &[("KEA_SUBNET4", Prefix4), ("KEA_SUBNET4_PREFIX", Ip4), ("KEA_SUBNET4_PREFIXLEN", Int), ("KEA_SUBNET4_ID", Int)];

pub const LEASE4: &[(&str, Kind)] = &[
    ("KEA_LEASE4_ADDRESS", Ip4),
    ("KEA_LEASE4_TYPE", Str),
    ("KEA_LEASE4_HWADDR", Mac),
    ("KEA_LEASE4_CLIENT_ID", ColonHex),
    ("KEA_LEASE4_HOSTNAME", Str),
    ("KEA_LEASE4_STATE", Str),
    ("KEA_LEASE4_IS_EXPIRED", Bool),
    ("KEA_LEASE4_CLIENT_LAST_TRANSMISSION", Int),
    ("KEA_LEASE4_VALID_LIFETIME", Int),
    ("KEA_LEASE4_SUBNET_ID", Int),
];

pub const QUERY6: &[(&str, Kind)] = &[
    ("KEA_QUERY6_TYPE", Str),
    ("KEA_QUERY6_INTERFACE", Str),
    ("KEA_QUERY6_IFINDEX", Int),
    ("KEA_QUERY6_DUID", ColonHex),
    ("KEA_QUERY6_HWADDR", Mac),
    ("KEA_QUERY6_HWADDR_TYPE", Int),
    ("KEA_QUERY6_HWADDR_SOURCE", Int),
    ("KEA_QUERY6_LOCAL_ADDRESS", Ip6),
    ("KEA_QUERY6_LOCAL_PORT", Int),
    ("KEA_QUERY6_REMOTE_ADDRESS", Ip6),
    ("KEA_QUERY6_REMOTE_PORT", Int),
    ("KEA_QUERY6_LABEL", Str),
    ("KEA_QUERY6_TRANSACTION_ID", Int),
    ("KEA_QUERY6_VENDOR_CLASS", Hex),
    ("KEA_QUERY6_USER_CLASS", Hex),
    ("KEA_QUERY6_FQDN", Str),
    ("KEA_QUERY6_FQDN_FLAGS", Int),
    ("KEA_QUERY6_RELAYED", Bool),
    ("KEA_QUERY6_RELAY_HOPS", Int),
    ("KEA_QUERY6_RELAY_LINK_ADDRESS", Ip6),
    ("KEA_QUERY6_RELAY_PEER_ADDRESS", Ip6),
    ("KEA_QUERY6_RELAY_HOP_COUNT", Int),
    ("KEA_QUERY6_RELAY_INTERFACE_ID", Hex),
    ("KEA_QUERY6_RELAY_REMOTE_ID", Hex),
    ("KEA_QUERY6_RELAY_SUBSCRIBER_ID", Hex),
];

pub const RESPONSE6: &[(&str, Kind)] = &[
    ("KEA_RESPONSE6_TYPE", Str),
    ("KEA_RESPONSE6_INTERFACE", Str),
    ("KEA_RESPONSE6_IFINDEX", Int),
    ("KEA_RESPONSE6_DUID", ColonHex),
    ("KEA_RESPONSE6_HWADDR", Mac),
    ("KEA_RESPONSE6_HWADDR_TYPE", Int),
    ("KEA_RESPONSE6_HWADDR_SOURCE", Int),
    ("KEA_RESPONSE6_LOCAL_ADDRESS", Ip6),
    ("KEA_RESPONSE6_LOCAL_PORT", Int),
    ("KEA_RESPONSE6_REMOTE_ADDRESS", Ip6),
    ("KEA_RESPONSE6_REMOTE_PORT", Int),
    ("KEA_RESPONSE6_LABEL", Str),
    ("KEA_RESPONSE6_TRANSACTION_ID", Int),
];

pub const SUBNET6: &[(&str, Kind)] =
    &[("KEA_SUBNET6", Prefix6), ("KEA_SUBNET6_PREFIX", Ip6), ("KEA_SUBNET6_PREFIXLEN", Int), ("KEA_SUBNET6_ID", Int)];

pub const LEASE6: &[(&str, Kind)] = &[
    ("KEA_LEASE6_TYPE", Str),
    ("KEA_LEASE6_ADDRESS", Ip6),
    ("KEA_LEASE6_DELEGATED_PREFIX", Prefix6),
    ("KEA_LEASE6_DELEGATED_PREFIXLEN", Int),
    ("KEA_LEASE6_CLIENT_DUID", ColonHex),
    ("KEA_LEASE6_HWADDR", Mac),
    ("KEA_LEASE6_HOSTNAME", Str),
    ("KEA_LEASE6_STATE", Str),
    ("KEA_LEASE6_IS_EXPIRED", Bool),
    ("KEA_LEASE6_CLIENT_LAST_TRANSMISSION", Int),
    ("KEA_LEASE6_VALID_LIFETIME", Int),
    ("KEA_LEASE6_PREFERRED_LIFETIME", Int),
    ("KEA_LEASE6_IAID", Int),
    ("KEA_LEASE6_SUBNET_ID", Int),
];

/// Lease values Kea stores from 2.6 on.
pub const LEASE4_FROM_2_6: &[(&str, Kind)] =
    &[("KEA_LEASE4_REMOTE_ID", Hex), ("KEA_LEASE4_RELAY_ID", Hex), ("KEA_LEASE4_POOL_ID", Int)];
pub const LEASE6_FROM_2_6: &[(&str, Kind)] = &[("KEA_LEASE6_POOL_ID", Int)];

pub const FAKE: &[(&str, Kind)] = &[("KEA_FAKE_ALLOCATION", Bool)];
pub const REMOVE: &[(&str, Kind)] = &[("KEA_REMOVE_LEASE", Bool)];

/// The variables a hook point passes: the seed's tables (plus the new
/// `KEA_LEASE4_CLIENT_ID`, the subnet identifiers and the named options of
/// the queries), and what the Kea under test adds: from 2.6 the subnet at
/// `pkt4_send`/`pkt6_send` and the leases' pool (and v4 remote/relay) ids.
pub fn expected_vars(hook: &str) -> Vec<(&'static str, Kind)> {
    let mut vars = seed_vars(hook);
    if kea_at_least(2, 6) {
        let more: &[&[(&str, Kind)]] = match hook {
            "pkt4_send" => &[SUBNET4],
            "pkt6_send" => &[SUBNET6],
            _ if vars.iter().any(|(n, _)| *n == "KEA_LEASE4_ADDRESS") => &[LEASE4_FROM_2_6],
            _ if vars.iter().any(|(n, _)| *n == "KEA_LEASE6_ADDRESS") => &[LEASE6_FROM_2_6],
            _ => &[],
        };
        vars.extend(more.iter().flat_map(|g| g.iter().copied()));
    }
    vars
}

/// A lease's variables on the Kea under test (`v`: '4' or '6').
pub fn lease_vars(v: char) -> Vec<(&'static str, Kind)> {
    let (seed, later) = if v == '4' { (LEASE4, LEASE4_FROM_2_6) } else { (LEASE6, LEASE6_FROM_2_6) };
    let later: &[(&str, Kind)] = if kea_at_least(2, 6) { later } else { &[] };
    seed.iter().chain(later).copied().collect()
}

/// Whether the Kea under test (`kea-dhcp4 -v`, as the test bed reads it) is at least `major.minor`.
pub fn kea_at_least(major: u32, minor: u32) -> bool {
    kea_runscript_testbed::kea_version().at_least(major, minor)
}

/// The seed's per-hook-point tables.
fn seed_vars(hook: &str) -> Vec<(&'static str, Kind)> {
    let groups: &[&[(&str, Kind)]] = match hook {
        "pkt4_receive" => &[QUERY4],
        "pkt4_send" => &[QUERY4, RESPONSE4],
        "subnet4_select" => &[QUERY4, SUBNET4],
        "lease4_select" => &[QUERY4, SUBNET4, FAKE, LEASE4],
        "lease4_renew" => &[QUERY4, SUBNET4, LEASE4],
        "lease4_release" | "lease4_decline" => &[QUERY4, LEASE4],
        "lease4_expire" => &[LEASE4, REMOVE],
        "lease4_recover" => &[LEASE4],
        "pkt6_receive" => &[QUERY6],
        "pkt6_send" => &[QUERY6, RESPONSE6],
        "subnet6_select" => &[QUERY6, SUBNET6],
        "lease6_select" => &[QUERY6, SUBNET6, FAKE, LEASE6],
        "lease6_renew" | "lease6_rebind" | "lease6_decline" | "lease6_release" => &[QUERY6, LEASE6],
        "lease6_expire" => &[LEASE6, REMOVE],
        "lease6_recover" => &[LEASE6],
        other => panic!("unexpected hook point {other:?}"),
    };
    groups.iter().flat_map(|g| g.iter().copied()).collect()
}

/// Every hook point of a family.
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

/// Variables that Kea has no value for in a given scenario (they must still
/// be present, but may be empty). Everything else must be non-empty: see
/// [`always_may_be_empty`], which adds the named options ([`NAMED4_OPTIONS`],
/// [`NAMED6_OPTIONS`]) and the relay fields ([`RELAY6_FIELDS`],
/// [`RELAY6_OPTIONS`]) to these.
pub const ALWAYS_MAY_BE_EMPTY: &[&str] = &[
    "KEA_LEASE4_REMOTE_ID",
    "KEA_LEASE4_RELAY_ID",
    "KEA_QUERY4_OPTION60",
    "KEA_QUERY4_RAI",
    "KEA_QUERY4_RAI_CIRCUIT_ID",
    "KEA_QUERY4_RAI_REMOTE_ID",
    "KEA_LEASE4_HOSTNAME",
    "KEA_LEASE4_CLIENT_ID",
    "KEA_LEASE6_HOSTNAME",
];

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

/// Whether `name` may be empty in any scenario: [`ALWAYS_MAY_BE_EMPTY`], the
/// named options and the DHCPv6 relay fields.
pub fn always_may_be_empty(name: &str) -> bool {
    [ALWAYS_MAY_BE_EMPTY, NAMED4_OPTIONS, NAMED6_OPTIONS, RELAY6_FIELDS, RELAY6_OPTIONS]
        .iter()
        .any(|list| list.contains(&name))
}

/// Checks one event against the contract: every expected variable present,
/// no other `KEA_*` variable, nothing else but what the shell adds, values
/// non-empty unless listed in `may_be_empty` (as `VAR` or `hook:VAR`) or
/// [`always_may_be_empty`], and of the right form. Returns the problems found.
pub fn contract_problems(ev: &Event, may_be_empty: &[&str]) -> Vec<String> {
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
        let optional = always_may_be_empty(name)
            || may_be_empty.contains(&name)
            || may_be_empty.contains(&format!("{}:{name}", ev.hook).as_str())
            || (!is_pd && matches!(name, "KEA_LEASE6_DELEGATED_PREFIX" | "KEA_LEASE6_DELEGATED_PREFIXLEN"));
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
    if !is_pd && ev.vars.contains_key("KEA_LEASE6_TYPE") {
        for n in ["KEA_LEASE6_DELEGATED_PREFIX", "KEA_LEASE6_DELEGATED_PREFIXLEN"] {
            if !ev.get(n).unwrap_or("").is_empty() {
                p.push(format!("{n} set for a {} lease", ev.var("KEA_LEASE6_TYPE")));
            }
        }
    }
    p
}

/// Asserts [`contract_problems`] is empty for every event of `hooks` (all
/// events if `hooks` is empty).
pub fn assert_contract(evs: &[Event], may_be_empty: &[&str]) {
    let mut bad = Vec::new();
    for ev in evs {
        let p = contract_problems(ev, may_be_empty);
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
