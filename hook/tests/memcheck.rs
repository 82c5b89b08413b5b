//! The short memcheck: real kea-dhcp4 under Valgrind's memcheck with the library at every hook
//! point in each way a script runs (spawned and waited for, in the background, an answering
//! worker, a background worker), perfdhcp traffic, 2 `config-reload`s and a worker kill, then
//! SIGTERM: no invalid access (or other memcheck error) and no definite leak with a frame in
//! libkea_runscript.so, and the run itself complete. The long version is `scripts/valgrind.sh`
//! (docs/robustness.md). Needs root and valgrind (scripts/install-deps.sh).

mod common;

use common::*;
use kea_runscript_testbed::memcheck::{self, Plan};

#[test]
fn no_invalid_access_or_definite_leak_in_the_library_under_valgrind() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: true }).unwrap();
    let plan = Plan {
        family: Family::V4,
        mt: None,
        reloads: 2,
        kills: 1,
        answers_between: 1,
        perfdhcp_rate: 0,
        timeout_ms: 1000,
        so: hook_so(),
        suppressions: workspace_root().join("scripts/valgrind.supp"),
    };
    let out = memcheck::run(&ns, &plan).unwrap();
    println!("{}", out.summary());
    assert_eq!(out.failures(), Vec::<String>::new(), "{}", out.summary());
    assert_eq!((out.reloads_done, out.kills_done), (2, 1), "{}", out.summary());
    // The traffic went through the library: the script ran where every DORA passes.
    for hook in ["pkt4_receive", "subnet4_select", "lease4_select", "leases4_committed", "pkt4_send", "load", "unload"] {
        assert!(out.hooks_reached.contains_key(hook), "{hook} never ran: {}", out.summary());
    }
}
