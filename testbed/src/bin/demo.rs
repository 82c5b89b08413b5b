//! Demo: kea-dhcp4 with kea-runscript and the debug example, in a pair of
//! network namespaces; dhclient gets a lease and releases it; then what the
//! script logged is printed (each hook point and its KEA_* variables).
//!
//! Usage (as root): demo [HOOK.so [SCRIPT]]
//!   HOOK.so  default: <workspace>/target/debug/libkea_runscript.so
//!   SCRIPT   default: <workspace>/examples/debug.sh

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use kea_runscript_testbed::*;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let first = args.next();
    if first.as_deref().is_some_and(|a| a == "-h" || a == "--help") {
        println!("usage: demo [HOOK.so [SCRIPT]]   (run as root)");
        return Ok(());
    }
    let so = first.map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target/debug/libkea_runscript.so"));
    let script = args.next().map(PathBuf::from).unwrap_or_else(|| workspace_root().join("examples/debug.sh"));
    let so = std::fs::canonicalize(&so)
        .map_err(|e| format!("{}: {e} (build it: cargo build -p kea-runscript)", so.display()))?;
    let script = std::fs::canonicalize(&script).map_err(|e| format!("{}: {e}", script.display()))?;
    if !is_root() {
        return Err("needs root (network namespaces, raw sockets)".into());
    }

    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: false })?;
    println!("namespaces: server {} ({}), client {} ({})", ns.server, ns.server_if, ns.client, ns.client_if);
    let log = ns.dir().join("debug.log");
    let wrapper = debug_wrapper(ns.dir(), &script, &log)?;
    let cfg = KeaConfig::v4().runscript(&so, &wrapper, true);
    let kea = Kea::start(&ns, &cfg)?;
    println!("kea-dhcp4 (pid {}) serving {SUBNET_V4} with hook {}", kea.pid(), so.display());
    println!("script: {} (via {})", script.display(), wrapper.display());

    let mut client = Dhclient::v4(&ns)?;
    let lease = client.obtain()?;
    println!("dhclient ({}) got {}", lease.mac, lease.address.as_deref().unwrap_or("?"));
    client.release()?;
    println!("dhclient released it");

    // The RELEASE gets no answer: wait until the script has logged it.
    wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&log).ok().filter(|t| t.contains("== lease4_release ==")).map(|_| ())
    })
    .map_err(|e| format!("lease4_release never logged: {e}"))?;

    let text = std::fs::read_to_string(&log)?;
    println!("\n---- what {} logged ----", script.display());
    for line in text.lines() {
        if line.starts_with("== ") {
            println!("\n{line}");
        } else if line.starts_with("KEA_") {
            println!("  {line}");
        }
    }
    let hooks: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("== ")?.strip_suffix(" ==")).collect();
    println!("\n{} script runs: {}", hooks.len(), hooks.join(", "));
    drop(client);
    drop(kea);
    Ok(())
}
