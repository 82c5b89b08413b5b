//! Memcheck: real kea-dhcp4 and kea-dhcp6 under Valgrind's memcheck, kea-runscript at every hook
//! point in each way a script runs (spawned and waited for, spawned in the background, an
//! answering worker, a background worker), with Kea's multi-threading off and on; perfdhcp and the
//! Python clients (DECLINE, REBIND) as traffic, `--reloads` config-reloads (default 20) over the
//! control socket, `--kills` worker kills (default 3); then SIGTERM and Valgrind's report.
//!
//! Pass (exit 0): no error (invalid read or write, uninitialised value, bad free, ...) and no
//! definite leak with a frame in libkea_runscript.so, and every run completed (Kea stopped cleanly,
//! every reload answered 0, every killed worker came back). Exit 1: such an error or leak; 2: a
//! run failed. Kea's and the C library's own reports are suppressed by `scripts/valgrind.supp`
//! (each entry says why); what is left elsewhere is counted, not failed.
//!
//! Usage (as root): memcheck [--short] [--family v4|v6|both] [--mt on|off|both] [--reloads N]
//!                           [--kills N] [--perfdhcp-rate R] [HOOK.so]
//!   --short: kea-dhcp4 only, Kea's default multi-threading, 2 reloads, 1 kill, Python clients only.

use std::process::ExitCode;

use kea_runscript_testbed::memcheck::{self, Plan};
use kea_runscript_testbed::*;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("memcheck: FAILED: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let mut families = vec![Family::V4, Family::V6];
    let mut mts = vec![Some(false), Some(true)];
    let (mut reloads, mut kills, mut perf_rate) = (20, 3, 2);
    let mut so = hook_so_path();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--short" => {
                families = vec![Family::V4];
                mts = vec![None];
                (reloads, kills, perf_rate) = (2, 1, 0);
            }
            "--family" => {
                families = match val("--family")?.as_str() {
                    "v4" => vec![Family::V4],
                    "v6" => vec![Family::V6],
                    "both" => vec![Family::V4, Family::V6],
                    f => return Err(format!("--family: {f}: v4, v6 or both").into()),
                }
            }
            "--mt" => {
                mts = match val("--mt")?.as_str() {
                    "on" => vec![Some(true)],
                    "off" => vec![Some(false)],
                    "both" => vec![Some(false), Some(true)],
                    m => return Err(format!("--mt: {m}: on, off or both").into()),
                }
            }
            "--reloads" => reloads = val("--reloads")?.parse()?,
            "--kills" => kills = val("--kills")?.parse()?,
            "--perfdhcp-rate" => perf_rate = val("--perfdhcp-rate")?.parse()?,
            "-h" | "--help" => {
                println!("usage: memcheck [--short] [--family v4|v6|both] [--mt on|off|both] [--reloads N] [--kills N] [--perfdhcp-rate R] [HOOK.so]   (as root)");
                return Ok(true);
            }
            p if !p.starts_with('-') => so = p.into(),
            o => return Err(format!("unknown option {o}").into()),
        }
    }
    if !is_root() {
        return Err("needs root (network namespaces, raw sockets)".into());
    }
    let so = std::fs::canonicalize(&so).map_err(|e| format!("{}: {e} (build it: cargo build -p kea-runscript)", so.display()))?;
    let suppressions = workspace_root().join("scripts/valgrind.supp");
    let version = kea_version();
    println!("memcheck: Kea {}, hook {}, suppressions {}", version.text, so.display(), suppressions.display());
    let ns = Netns::new()?;
    let mut pass = true;
    let mut failed_run = false;
    for &family in &families {
        for &mt in &mts {
            let plan = Plan {
                family,
                mt,
                reloads,
                kills,
                answers_between: 1,
                perfdhcp_rate: perf_rate,
                timeout_ms: 1000,
                so: so.clone(),
                suppressions: suppressions.clone(),
            };
            println!("\n== {} under Valgrind, multi-threading {} ==", family.binary(), mt.map_or("Kea's default", |m| if m { "on" } else { "off" }));
            let out = memcheck::run(&ns, &plan)?;
            println!("{}", out.summary());
            let f = out.failures();
            for p in &f {
                println!("  FAIL: {p}");
            }
            failed_run |= !out.problems.is_empty();
            pass &= f.is_empty();
        }
    }
    println!("\nmemcheck: {}", if pass { "PASS" } else { "FAIL" });
    if failed_run {
        return Err("a run did not complete (see above)".into());
    }
    Ok(pass)
}
