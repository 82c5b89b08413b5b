//! Test bed for kea-runscript: network namespaces joined by a veth pair, real
//! Kea servers (`kea-dhcp4`, `kea-dhcp6`) in one, real DHCP clients
//! (`perfdhcp`, `dhclient`, `udhcpc`, the project's Python clients) in the
//! other, and a recorder script whose invocations the tests read back.
//!
//! Everything needs root (namespaces, raw sockets). Only documentation
//! prefixes are used (192.0.2.0/24, 2001:db8::/32); the host's interfaces are
//! never touched; processes are killed by PID, never by name. Every wait is
//! for a condition, with a deadline.
//!
//! ```no_run
//! use kea_runscript_testbed::*;
//! let ns = Netns::new().unwrap();
//! let rec = EventLog::new(ns.dir()).unwrap();
//! let cfg = KeaConfig::v4().runscript(&hook_so_path(), rec.script(), true);
//! let _kea = Kea::start(&ns, &cfg).unwrap();
//! let mut c = Dhclient::v4(&ns).unwrap();
//! let lease = c.obtain().unwrap();
//! rec.wait_for_hooks(&["lease4_select"]);
//! c.release().unwrap();
//! ```

pub mod clients;
pub mod ctrl_agent;
pub mod events;
pub mod kea;
pub mod longrun;
pub mod memcheck;
pub mod nats;
pub mod netns;
pub mod postgres;
pub mod procs;
pub mod relay;
pub mod service;
pub mod unbound;
pub mod util;
pub mod versions;

pub use clients::{
    dhcp4_client, dhcp6_client, duid_from_leases, iaid_from_leases, normalize_hex_id, python_client_available,
    python_clients_dir, run_python_client, ClientLease, Dhclient, PerfExchange, PerfLease, Perfdhcp, PerfdhcpResult, PyReport,
    ScriptCall, Udhcpc,
};
pub use ctrl_agent::{CtrlAgent, AGENT_USER, CTRL_AGENT};
pub use events::{summary, Event, EventLog};
pub use kea::{
    is_receive_noise,
    hook_library, isc_run_script_params, runscript_params, runscript_params_with, Family, IntoJson, Kea, KeaConfig,
    CONTROL_SOCKET, ISC_RUN_SCRIPT, PD_DELEGATED_LEN, PD_POOL, PD_POOL_LEN, POOL_RELAY_V6, POOL_V4, POOL_V6,
    RELAY_SUBNET6_ID,
};
pub use netns::{
    Netns, NetnsOptions, RelayNs, CLIENT_V4, CLIENT_V6, RELAY_LINK_V6, RELAY_SUBNET_V6, RELAY_UPPER_V6, SERVER_V4,
    SERVER_V6, SUBNET_V4, SUBNET_V6,
};
pub use nats::{nats_available, nats_py_path, NatsCluster};
pub use postgres::Postgres;
pub use procs::{ProcEntry, ProcSnapshot, Sampler};
pub use relay::{Dhcrelay, Dhcrelay6Options};
pub use service::{assert_ran_as, recorded_identities, ProcIdentity, ServerDirs, Service};
pub use unbound::{dig, dig_ptr, Unbound};
/// The JSON crate of the configurations ([`KeaConfig`]) and of [`Kea::command`]'s answers, for
/// the tests.
pub use serde_json;
pub use util::{wait_until, Elapsed, Proc, TempDir, DEFAULT_TIMEOUT};
pub use versions::{kea_version, KeaVersion};

use std::path::{Path, PathBuf};

/// The workspace root (parent of `testbed/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testbed has a parent").to_path_buf()
}

/// Where `cargo build -p kea-runscript` puts the hook: `$KEA_RUNSCRIPT_SO`
/// if set, else next to the running test executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/libkea_runscript.so`),
/// else `<workspace>/target/debug/libkea_runscript.so`.
pub fn hook_so_path() -> PathBuf {
    if let Some(p) = std::env::var_os("KEA_RUNSCRIPT_SO") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        for anc in exe.ancestors().skip(1).take(3) {
            let cand = anc.join("libkea_runscript.so");
            if cand.is_file() {
                return cand;
            }
        }
    }
    workspace_root().join("target/debug/libkea_runscript.so")
}

/// Whether we run as root (the tests need it).
pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Writes `<dir>/debug-wrapper.sh`, which runs the debug example with its log
/// redirected: `DEBUG_LOG=<log> exec <debug_sh> "$@"` (the hook passes only
/// KEA_* variables, so the wrapper is where DEBUG_LOG can be set).
pub fn debug_wrapper(dir: &Path, debug_sh: &Path, log: &Path) -> std::io::Result<PathBuf> {
    let debug_sh = std::fs::canonicalize(debug_sh)?;
    let wrapper = dir.join("debug-wrapper.sh");
    util::write_executable(
        &wrapper,
        &format!(
            "#!/bin/sh\nDEBUG_LOG={}\nexport DEBUG_LOG\nexec {} \"$@\"\n",
            util::sh_quote(log),
            util::sh_quote(&debug_sh)
        ),
    )?;
    Ok(wrapper)
}
