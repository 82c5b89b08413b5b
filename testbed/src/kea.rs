//! Real kea-dhcp4 / kea-dhcp6 servers in the server namespace.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::netns::{Netns, RELAY_SUBNET_V6, SUBNET_V4, SUBNET_V6};
use crate::service::{ServerDirs, Service};
use crate::util::{other, read_or_empty, wait_until, Proc, DEFAULT_TIMEOUT};
use crate::versions;

/// DHCPv4 or DHCPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn binary(self) -> &'static str {
        match self {
            Family::V4 => "kea-dhcp4",
            Family::V6 => "kea-dhcp6",
        }
    }
    fn section(self) -> &'static str {
        match self {
            Family::V4 => "Dhcp4",
            Family::V6 => "Dhcp6",
        }
    }
    /// Name of the lease file with [`KeaConfig::persist_leases`].
    pub fn lease_file(self) -> &'static str {
        match self {
            Family::V4 => "leases4.csv",
            Family::V6 => "leases6.csv",
        }
    }
    fn started(self) -> &'static str {
        match self {
            Family::V4 => "DHCP4_STARTED",
            Family::V6 => "DHCP6_STARTED",
        }
    }
}

/// File name of the control socket in the server's directory.
pub const CONTROL_SOCKET: &str = "ctrl.sock";

/// Address pool served to DHCPv4 clients.
pub const POOL_V4: (&str, &str) = ("192.0.2.100", "192.0.2.199");
/// Address pool served to DHCPv6 clients.
pub const POOL_V6: (&str, &str) = ("2001:db8:1::100", "2001:db8:1::1ff");
/// Address pool of the DHCPv6 subnet behind the relay ([`KeaConfig::relay_subnet6`]).
pub const POOL_RELAY_V6: (&str, &str) = ("2001:db8:2::100", "2001:db8:2::1ff");
/// Its subnet id.
pub const RELAY_SUBNET6_ID: u32 = 2;
/// Prefix delegation pool: /56s out of this /48.
pub const PD_POOL: &str = "2001:db8:8000::";
pub const PD_POOL_LEN: u8 = 48;
pub const PD_DELEGATED_LEN: u8 = 56;

/// A `hooks-libraries` entry: `{"library": ..., "parameters": ...}`. `parameters` is a
/// [`Value`] or JSON text (see [`IntoJson`]).
pub fn hook_library(library: &Path, parameters: impl IntoJson) -> Value {
    json!({"library": library.to_string_lossy(), "parameters": parameters.into_json()})
}

/// Parameters for kea-runscript: `{"script": <path>, "wait": <bool>}`.
pub fn runscript_params(script: &Path, wait: bool) -> Value {
    json!({"script": script.to_string_lossy(), "wait": wait})
}

/// Parameters for kea-runscript with more members besides `script` and `wait`, each
/// `(name, JSON text of the value)`, parsed with serde_json: e.g. `[("timeout-ms", "500")]`.
pub fn runscript_params_with(script: &Path, wait: bool, more: &[(&str, &str)]) -> Value {
    let mut p = runscript_params(script, wait);
    let m = p.as_object_mut().expect("runscript_params gives an object");
    for (k, v) in more {
        m.insert(k.to_string(), v.into_json());
    }
    p
}

/// ISC's own run_script hook shipped with Kea (useful as a reference).
pub const ISC_RUN_SCRIPT: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_run_script.so";

/// Parameters for ISC's run_script: `{"name": <path>, "sync": <bool>}`.
pub fn isc_run_script_params(script: &Path, sync: bool) -> Value {
    json!({"name": script.to_string_lossy(), "sync": sync})
}

/// A JSON value for a configuration: a [`Value`] as it is, or JSON text parsed with
/// serde_json (panics, naming the text, when it is not JSON).
pub trait IntoJson {
    fn into_json(self) -> Value;
}

impl IntoJson for Value {
    fn into_json(self) -> Value {
        self
    }
}

impl IntoJson for &Value {
    fn into_json(self) -> Value {
        self.clone()
    }
}

impl IntoJson for &str {
    fn into_json(self) -> Value {
        serde_json::from_str(self).unwrap_or_else(|e| panic!("testbed: not JSON ({e}): {self}"))
    }
}

impl IntoJson for String {
    fn into_json(self) -> Value {
        self.as_str().into_json()
    }
}

impl IntoJson for &String {
    fn into_json(self) -> Value {
        self.as_str().into_json()
    }
}

/// A Kea configuration, built as a [`Value`] and written by serde_json.
#[derive(Debug, Clone)]
pub struct KeaConfig {
    pub family: Family,
    pub valid_lifetime: u32,
    /// DHCPv6 only.
    pub preferred_lifetime: Option<u32>,
    pub renew_timer: Option<u32>,
    pub rebind_timer: Option<u32>,
    /// Reclaim expired leases every second and remove them at once.
    pub fast_reclaim: bool,
    pub decline_probation_period: Option<u32>,
    /// The `hooks-libraries` elements (see [`hook_library`]).
    pub hooks: Vec<Value>,
    /// `None`: the server's veth. `Some(vec![])`: no interface at all.
    pub interfaces: Option<Vec<String>>,
    /// "INFO" or "DEBUG" (the latter at debuglevel 99).
    pub log_severity: String,
    /// Extra members of the `Dhcp4`/`Dhcp6` object, set last (they replace a member of the
    /// same name).
    pub extra: Map<String, Value>,
    /// More elements of the `subnet4`/`subnet6` list (after the served subnet, id 1).
    pub subnets: Vec<Value>,
    /// `Some(lfc_interval)`: memfile with `persist: true`, the lease file
    /// `leases4.csv`/`leases6.csv` in the server's private directory, Kea's
    /// lease file cleanup (kea-lfc) every `lfc_interval` seconds (0: never).
    pub persist_leases: Option<u32>,
    /// A unix control socket `ctrl.sock` in the server's private directory
    /// (see [`Kea::command`]).
    pub control_socket: bool,
    /// More environment variables for the server process, set after the test bed's own (see
    /// [`crate::versions`]), so they can replace one, e.g. `KEA_HOOK_SCRIPTS_PATH`.
    pub env: Vec<(String, String)>,
    /// Replaces the served subnet (id 1) with this subnet object ([`KeaConfig::served_subnet`]).
    pub served_subnet: Option<Value>,
    /// Child loggers (e.g. `leases`, `packets`) logged at WARN only ([`KeaConfig::quiet_logger`]).
    pub quiet_loggers: Vec<String>,
    /// Started as Debian's unit starts it ([`KeaConfig::service`]); `None`: as root.
    pub service: Option<Service>,
    /// A program the server runs under, with its arguments, before the server's binary (e.g.
    /// `valgrind --tool=memcheck ...`); empty: none. Such a server gets 10 times the start deadline.
    pub wrapper: Vec<String>,
}

impl KeaConfig {
    pub fn new(family: Family) -> KeaConfig {
        KeaConfig {
            family,
            valid_lifetime: 300,
            preferred_lifetime: None,
            renew_timer: None,
            rebind_timer: None,
            fast_reclaim: false,
            decline_probation_period: None,
            hooks: Vec::new(),
            interfaces: None,
            log_severity: "INFO".into(),
            extra: Map::new(),
            subnets: Vec::new(),
            persist_leases: None,
            control_socket: false,
            env: Vec::new(),
            served_subnet: None,
            quiet_loggers: Vec::new(),
            service: None,
            wrapper: Vec::new(),
        }
    }

    pub fn v4() -> KeaConfig {
        KeaConfig::new(Family::V4)
    }

    pub fn v6() -> KeaConfig {
        KeaConfig::new(Family::V6)
    }

    pub fn valid_lifetime(mut self, secs: u32) -> Self {
        self.valid_lifetime = secs;
        self
    }
    pub fn preferred_lifetime(mut self, secs: u32) -> Self {
        self.preferred_lifetime = Some(secs);
        self
    }
    pub fn timers(mut self, renew: u32, rebind: u32) -> Self {
        self.renew_timer = Some(renew);
        self.rebind_timer = Some(rebind);
        self
    }
    pub fn fast_reclaim(mut self) -> Self {
        self.fast_reclaim = true;
        self
    }
    pub fn decline_probation_period(mut self, secs: u32) -> Self {
        self.decline_probation_period = Some(secs);
        self
    }
    /// Adds a `hooks-libraries` element: a [`Value`] (see [`hook_library`]) or JSON text.
    pub fn hook(mut self, entry: impl IntoJson) -> Self {
        self.hooks.push(entry.into_json());
        self
    }
    /// Adds kea-runscript with `script` and `wait`.
    pub fn runscript(self, library: &Path, script: &Path, wait: bool) -> Self {
        self.hook(hook_library(library, runscript_params(script, wait)))
    }
    /// Adds kea-runscript with `script`, `wait` and more parameters (see
    /// [`runscript_params_with`]).
    pub fn runscript_with(self, library: &Path, script: &Path, wait: bool, more: &[(&str, &str)]) -> Self {
        self.hook(hook_library(library, runscript_params_with(script, wait, more)))
    }
    /// Keeps leases in a lease file and runs kea-lfc every `lfc_interval` s.
    pub fn persist_leases(mut self, lfc_interval: u32) -> Self {
        self.persist_leases = Some(lfc_interval);
        self
    }
    /// Opens a unix control socket (`ctrl.sock` in the server's directory).
    pub fn control_socket(mut self) -> Self {
        self.control_socket = true;
        self
    }
    /// Sets an environment variable of the server process (after the test bed's own).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }
    /// Serves this subnet object instead of the default one (a [`Value`] or JSON text, e.g. a
    /// larger range for a benchmark): `"id": 1` and `"interface": <the server veth>` are added
    /// when it has none.
    pub fn served_subnet(mut self, subnet: impl IntoJson) -> Self {
        self.served_subnet = Some(subnet.into_json());
        self
    }
    /// Logs the server's child logger `name` (`leases`, `packets`, ...: `kea-dhcp4.<name>`) at
    /// WARN only, into the same file: e.g. to keep a benchmark from logging every lease.
    pub fn quiet_logger(mut self, name: &str) -> Self {
        self.quiet_loggers.push(name.to_string());
        self
    }
    /// Starts the server as `service` does (see [`crate::service`]): its user, capabilities,
    /// environment and directories.
    pub fn service(mut self, service: Service) -> Self {
        self.service = Some(service);
        self
    }
    pub fn no_interfaces(mut self) -> Self {
        self.interfaces = Some(Vec::new());
        self
    }
    pub fn debug_log(mut self) -> Self {
        self.log_severity = "DEBUG".into();
        self
    }
    /// Adds members to the `Dhcp4`/`Dhcp6` object: `members` is a JSON object, e.g.
    /// `json!({"multi-threading": {"enable-multi-threading": true}})`; they replace a member of
    /// the same name.
    pub fn extra(mut self, members: Value) -> Self {
        match members {
            Value::Object(m) => self.extra.extend(m),
            other => panic!("testbed: KeaConfig::extra takes a JSON object, not {other}"),
        }
        self
    }
    /// Adds a subnet object to the `subnet4`/`subnet6` list: a [`Value`] or JSON text.
    pub fn subnet(mut self, subnet: impl IntoJson) -> Self {
        self.subnets.push(subnet.into_json());
        self
    }
    /// DHCPv6: the subnet behind the relay of [`Netns::with_relay`], [`RELAY_SUBNET_V6`] (id
    /// [`RELAY_SUBNET6_ID`], pool [`POOL_RELAY_V6`], no interface: Kea selects it by the relay's
    /// link-address).
    pub fn relay_subnet6(self) -> Self {
        self.subnet(json!({
            "id": RELAY_SUBNET6_ID,
            "subnet": RELAY_SUBNET_V6,
            "pools": [{"pool": format!("{} - {}", POOL_RELAY_V6.0, POOL_RELAY_V6.1)}],
        }))
    }

    /// Renders the configuration; `iface` is the server veth, `dir` the
    /// server's private directory (log file, DUID file).
    pub fn render(&self, iface: &str, dir: &Path) -> String {
        self.render_in(iface, &ServerDirs::single(dir))
    }

    /// Renders the configuration with its files in `dirs` (log, lease and DUID files, socket).
    pub fn render_in(&self, iface: &str, dirs: &ServerDirs) -> String {
        let mut text = serde_json::to_string_pretty(&self.to_json_in(iface, dirs)).expect("a Value serializes");
        text.push('\n');
        text
    }

    /// The configuration as a [`Value`] (what [`KeaConfig::render`] writes).
    pub fn to_json(&self, iface: &str, dir: &Path) -> Value {
        self.to_json_in(iface, &ServerDirs::single(dir))
    }

    /// The configuration as a [`Value`] with its files in `dirs`.
    pub fn to_json_in(&self, iface: &str, dirs: &ServerDirs) -> Value {
        let path = |p: PathBuf| Value::from(p.to_string_lossy());
        let ifaces: Vec<String> = match &self.interfaces {
            None => vec![iface.to_string()],
            Some(v) => v.clone(),
        };
        let mut m = Map::new();
        let mut interfaces_config = json!({"interfaces": ifaces});
        if self.family == Family::V4 {
            interfaces_config["dhcp-socket-type"] = json!("raw");
        }
        m.insert("interfaces-config".into(), interfaces_config);
        let lease_database = match self.persist_leases {
            None => json!({"type": "memfile", "persist": false}),
            Some(lfc) => json!({
                "type": "memfile",
                "persist": true,
                "name": path(dirs.state.join(self.family.lease_file())),
                "lfc-interval": lfc,
            }),
        };
        m.insert("lease-database".into(), lease_database);
        if self.control_socket {
            m.insert(
                "control-socket".into(),
                json!({"socket-type": "unix", "socket-name": path(dirs.runtime.join(CONTROL_SOCKET))}),
            );
        }
        m.insert("valid-lifetime".into(), json!(self.valid_lifetime));
        if let Some(p) = self.preferred_lifetime {
            m.insert("preferred-lifetime".into(), json!(p));
        } else if self.family == Family::V6 {
            m.insert("preferred-lifetime".into(), json!((self.valid_lifetime * 3 / 4).max(1)));
        }
        if let Some(t) = self.renew_timer {
            m.insert("renew-timer".into(), json!(t));
        }
        if let Some(t) = self.rebind_timer {
            m.insert("rebind-timer".into(), json!(t));
        }
        if self.fast_reclaim {
            m.insert(
                "expired-leases-processing".into(),
                json!({
                    "reclaim-timer-wait-time": 1,
                    "hold-reclaimed-time": 0,
                    "flush-reclaimed-timer-wait-time": 0,
                    "max-reclaim-leases": 0,
                    "max-reclaim-time": 0,
                }),
            );
        } else {
            // Lease affinity off, as on Kea 2.2: a RELEASE deletes the lease. Kea 2.6 and 3.0
            // keep a released lease, expired, for `hold-reclaimed-time` (default 3600 s) when it
            // and `flush-reclaimed-timer-wait-time` are non-zero, and reclaim it at the next
            // reclaim cycle: lease4_expire/lease6_expire for every release, seconds later.
            m.insert("expired-leases-processing".into(), json!({"hold-reclaimed-time": 0}));
        }
        if let Some(p) = self.decline_probation_period {
            m.insert("decline-probation-period".into(), json!(p));
        }
        if self.family == Family::V6 {
            m.insert("data-directory".into(), path(dirs.state.clone()));
        }
        m.insert("hooks-libraries".into(), Value::Array(self.hooks.clone()));
        let (subnets_key, served) = match self.family {
            Family::V4 => (
                "subnet4",
                json!({
                    "id": 1,
                    "subnet": SUBNET_V4,
                    "interface": iface,
                    "pools": [{"pool": format!("{} - {}", POOL_V4.0, POOL_V4.1)}],
                }),
            ),
            Family::V6 => (
                "subnet6",
                json!({
                    "id": 1,
                    "subnet": SUBNET_V6,
                    "interface": iface,
                    "pools": [{"pool": format!("{} - {}", POOL_V6.0, POOL_V6.1)}],
                    "pd-pools": [{"prefix": PD_POOL, "prefix-len": PD_POOL_LEN, "delegated-len": PD_DELEGATED_LEN}],
                }),
            ),
        };
        let served = match &self.served_subnet {
            None => served,
            Some(v) => {
                let mut v = v.clone();
                if let Value::Object(o) = &mut v {
                    o.entry("id").or_insert(json!(1));
                    o.entry("interface").or_insert(json!(iface));
                }
                v
            }
        };
        let subnets: Vec<Value> = std::iter::once(served).chain(self.subnets.iter().cloned()).collect();
        m.insert(subnets_key.into(), Value::Array(subnets));
        // "maxsize": 0: the log is never rotated, a test reads all of it.
        let debuglevel = if self.log_severity == "DEBUG" { 99 } else { 0 };
        let output = json!([{"output": path(dirs.logs.join("kea.log")), "flush": true, "maxsize": 0}]);
        let mut loggers = vec![json!({
            "name": self.family.binary(),
            "output_options": output,
            "severity": self.log_severity,
            "debuglevel": debuglevel,
        })];
        for child in &self.quiet_loggers {
            loggers.push(json!({
                "name": format!("{}.{child}", self.family.binary()),
                "output_options": output,
                "severity": "WARN",
            }));
        }
        m.insert("loggers".into(), Value::Array(loggers));
        m.extend(self.extra.clone());
        json!({ self.family.section(): m })
    }
}

/// A running Kea server. Killed (by PID) on drop.
#[derive(Debug)]
pub struct Kea<'a> {
    ns: &'a Netns,
    proc: Proc,
    family: Family,
    dirs: ServerDirs,
    config: PathBuf,
    service: Option<Service>,
}

impl<'a> Kea<'a> {
    /// Writes the configuration into a fresh directory under the namespace
    /// pair's scratch directory, starts the server in the server namespace and
    /// waits until it logs that it started (fails with the log if it exits).
    pub fn start(ns: &'a Netns, cfg: &KeaConfig) -> io::Result<Kea<'a>> {
        Kea::start_env(ns, cfg.family, &cfg.env, cfg.service.as_ref(), &cfg.wrapper, |dirs| cfg.render_in(&ns.server_if, dirs))
    }

    /// Like [`Kea::start`] with a configuration text of the caller's (e.g. an example file);
    /// `text` gets the server's private directory.
    pub fn start_text(ns: &'a Netns, family: Family, text: impl FnOnce(&Path) -> String) -> io::Result<Kea<'a>> {
        Kea::start_env(ns, family, &[], None, &[], |dirs| text(&dirs.private))
    }

    /// Like [`Kea::start_text`], started as `service` when it is given ([`KeaConfig::service`]);
    /// `text` gets the server's directories.
    pub fn start_text_as(
        ns: &'a Netns,
        family: Family,
        service: Option<&Service>,
        text: impl FnOnce(&ServerDirs) -> String,
    ) -> io::Result<Kea<'a>> {
        Kea::start_env(ns, family, &[], service, &[], text)
    }

    fn start_env(
        ns: &'a Netns,
        family: Family,
        env: &[(String, String)],
        service: Option<&Service>,
        wrapper: &[String],
        text: impl FnOnce(&ServerDirs) -> String,
    ) -> io::Result<Kea<'a>> {
        let kea = Kea::spawn(ns, family, env, service, wrapper, text)?;
        let started = family.started();
        let deadline = if wrapper.is_empty() { DEFAULT_TIMEOUT } else { DEFAULT_TIMEOUT * 10 };
        let r = wait_until(deadline, || {
            if kea.log().contains(started) {
                return Some(Ok(()));
            }
            kea.proc.try_status().map(Err)
        });
        match r {
            Ok(Ok(())) => Ok(kea),
            Ok(Err(st)) => Err(other(format!("{} exited ({st}) before serving:\n{}", family.binary(), kea.log()))),
            Err(e) => Err(other(format!("{} did not start: {e}\n{}", family.binary(), kea.log()))),
        }
    }

    fn spawn(
        ns: &'a Netns,
        family: Family,
        env: &[(String, String)],
        service: Option<&Service>,
        wrapper: &[String],
        text: impl FnOnce(&ServerDirs) -> String,
    ) -> io::Result<Kea<'a>> {
        let mut n = 0;
        let dir = loop {
            let d = ns.dir().join(format!("{}-{n}", family.binary()));
            if !d.exists() {
                break d;
            }
            n += 1;
        };
        fs::create_dir_all(&dir)?;
        let dirs = match service {
            None => ServerDirs::single(&dir),
            Some(svc) => svc.make_dirs(&dir)?,
        };
        let config = dir.join("kea.json");
        // Paths and environment as this Kea version needs them (see crate::versions).
        let prepared = versions::prepare(&text(&dirs), &dir, versions::kea_version())?;
        fs::write(&config, &prepared.text)?;
        // Under a service: ip netns exec, then setpriv as the unit's user with its capabilities, in the
        // environment systemd would give it (see crate::service); then the wrapper, if any; then Kea.
        let argv: Vec<&str> = wrapper.iter().map(String::as_str).chain([family.binary()]).collect();
        let mut cmd = match service {
            None => ns.server_cmd(argv[0]),
            Some(svc) => {
                let mut cmd = ns.server_cmd("setpriv");
                cmd.args(svc.setpriv_args()).arg(argv[0]).env_clear().envs(svc.environment(&dirs));
                cmd
            }
        };
        cmd.args(&argv[1..]);
        cmd.envs(prepared.env).envs(env.iter().map(|(k, v)| (k, v)));
        if service.is_some() {
            // prepare() made the private directory 0750; the service's group keeps reading it.
            svc_private_dir(&dir, service)?;
        }
        cmd.arg("-c")
            .arg(&config)
            .env("KEA_PIDFILE_DIR", &dirs.runtime)
            .env("KEA_LOCKFILE_DIR", &dirs.lock)
            .stdout(Stdio::from(fs::File::create(dir.join("stdout"))?))
            .stderr(Stdio::from(fs::File::create(dir.join("stderr"))?));
        let proc = ns.spawn(family.binary(), &mut cmd)?;
        Ok(Kea { ns, proc, family, dirs, config, service: service.cloned() })
    }

    /// Starts the server with the given configuration forced to listen on no
    /// interface, and expects it to fail loading: returns its log when it
    /// exited non-zero within the deadline, or an error (with the log) when it
    /// exited 0 or kept running (it is then killed).
    pub fn expect_load_failure(ns: &'a Netns, cfg: &KeaConfig) -> Result<String, String> {
        let cfg = cfg.clone().no_interfaces();
        let kea = Kea::spawn(ns, cfg.family, &cfg.env, cfg.service.as_ref(), &cfg.wrapper, |dirs| cfg.render_in(&ns.server_if, dirs))
            .map_err(|e| e.to_string())?;
        let started = cfg.family.started();
        let r = wait_until(DEFAULT_TIMEOUT, || {
            if let Some(st) = kea.proc.try_status() {
                return Some(Some(st));
            }
            kea.log().contains(started).then_some(None)
        });
        let log = kea.log();
        match r {
            Ok(Some(st)) if !st.success() => Ok(log),
            Ok(Some(st)) => Err(format!("{} exited successfully ({st}):\n{log}", cfg.family.binary())),
            Ok(None) => Err(format!("{} started although a failure was expected:\n{log}", cfg.family.binary())),
            Err(e) => Err(format!("{} neither failed nor started: {e}\n{log}", cfg.family.binary())),
        }
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// The server's private directory (config, log, pid file; as the service, its configuration
    /// only: see [`Kea::dirs`]).
    pub fn dir(&self) -> &Path {
        &self.dirs.private
    }

    /// Where the server's files are.
    pub fn dirs(&self) -> &ServerDirs {
        &self.dirs
    }

    /// The service it runs as ([`KeaConfig::service`]), if any.
    pub fn service(&self) -> Option<&Service> {
        self.service.as_ref()
    }

    /// The user and capabilities the server runs with (its `/proc/PID/status`).
    pub fn identity(&self) -> io::Result<crate::service::ProcIdentity> {
        let text = fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        crate::service::ProcIdentity::parse(&text).ok_or_else(|| other(format!("no identity in {text}")))
    }

    /// Kea's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dirs.logs.join("kea.log")
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Log file, then stdout and stderr (Kea logs there until its loggers
    /// are configured, and on fatal errors).
    pub fn log(&self) -> String {
        let mut s = read_or_empty(&self.log_path());
        for f in ["stdout", "stderr"] {
            let t = read_or_empty(&self.dirs.private.join(f));
            if !t.is_empty() {
                s.push_str(&format!("--- {f} ---\n{t}"));
            }
        }
        s
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> io::Result<()> {
        wait_until(timeout, || self.log().contains(needle).then_some(()))
            .map_err(|e| other(format!("{needle:?} not in the log: {e}\n{}", self.log())))
    }

    /// The exit status, if the server has exited.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.proc.try_status()
    }

    /// Stops the server (SIGTERM, then SIGKILL).
    pub fn stop(&self) -> Option<ExitStatus> {
        self.proc.terminate(Duration::from_secs(5))
    }

    /// The namespaces the server runs in.
    pub fn netns(&self) -> &'a Netns {
        self.ns
    }

    /// Sends a signal to the server (by PID, while it is not reaped).
    pub fn signal(&self, sig: libc::c_int) {
        self.proc.signal(sig)
    }

    /// Rewrites the configuration file the server was started with (for a
    /// later `config-reload` or SIGHUP).
    pub fn rewrite_config(&self, cfg: &KeaConfig) -> io::Result<()> {
        if cfg.family != self.family {
            return Err(other("rewrite_config: another family"));
        }
        let tmp = self.dirs.private.join("kea.json.new");
        let text = cfg.render_in(&self.ns.server_if, &self.dirs);
        let prepared = versions::prepare(&text, &self.dirs.private, versions::kea_version())?;
        svc_private_dir(&self.dirs.private, self.service.as_ref())?;
        fs::write(&tmp, prepared.text)?;
        fs::rename(&tmp, &self.config)
    }

    /// The lease file (with [`KeaConfig::persist_leases`]).
    pub fn lease_file(&self) -> PathBuf {
        self.dirs.state.join(self.family.lease_file())
    }

    /// The control socket (with [`KeaConfig::control_socket`]).
    pub fn control_socket(&self) -> PathBuf {
        self.dirs.runtime.join(CONTROL_SOCKET)
    }

    /// Sends one command over the control socket (e.g.
    /// `{"command": "config-reload"}`) and returns the server's answer,
    /// read until the server closes the connection (at most `timeout`).
    /// Invalid UTF-8 in the answer is replaced (U+FFFD) before parsing (Kea
    /// itself writes bytes outside printable ASCII as `\u00XX`).
    pub fn command_timeout(&self, command_json: &str, timeout: Duration) -> io::Result<serde_json::Value> {
        use std::io::{Read, Write};
        let mut s = std::os::unix::net::UnixStream::connect(self.control_socket())?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.write_all(command_json.as_bytes())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).map_err(|e| other(format!("{command_json}: no complete answer: {e}")))?;
        let text = String::from_utf8_lossy(&buf);
        serde_json::from_str(&text).map_err(|e| other(format!("{command_json}: bad answer {text:?}: {e}")))
    }

    /// [`Kea::command_timeout`] with the 30 s default deadline.
    pub fn command(&self, command_json: &str) -> io::Result<serde_json::Value> {
        self.command_timeout(command_json, DEFAULT_TIMEOUT)
    }

    /// Sends a command and fails unless its `result` is 0; returns the answer.
    pub fn command_ok(&self, command_json: &str) -> io::Result<serde_json::Value> {
        let v = self.command(command_json)?;
        let v1 = if let serde_json::Value::Array(a) = &v { a.first().cloned().unwrap_or_default() } else { v };
        match v1.get("result").and_then(serde_json::Value::as_i64) {
            Some(0) => Ok(v1),
            _ => Err(other(format!("{command_json}: {v1}"))),
        }
    }

    /// Kea's statistics (`statistic-get-all` over the control socket, see
    /// [`KeaConfig::control_socket`]): each statistic's latest value, e.g. `pkt4-received`,
    /// `pkt4-ack-sent`, `pkt6-reply-sent`.
    pub fn statistics(&self) -> io::Result<std::collections::BTreeMap<String, i64>> {
        let v = self.command_ok(r#"{"command": "statistic-get-all"}"#)?;
        let args = v.get("arguments").and_then(Value::as_object).ok_or_else(|| other(format!("no arguments: {v}")))?;
        Ok(args
            .iter()
            .filter_map(|(name, samples)| {
                // [[value, "timestamp"], ...], the latest first.
                Some((name.clone(), samples.get(0)?.get(0)?.as_i64()?))
            })
            .collect())
    }

    /// Lines of the log containing `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log().lines().filter(|l| l.contains(needle)).map(str::to_string).collect()
    }

    /// Number of log lines containing `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Size in bytes of the log file and of Kea's captured stdout/stderr.
    pub fn log_size(&self) -> u64 {
        let mut n = 0;
        n += fs::metadata(self.log_path()).map(|m| m.len()).unwrap_or(0);
        for f in ["stdout", "stderr"] {
            n += fs::metadata(self.dirs.private.join(f)).map(|m| m.len()).unwrap_or(0);
        }
        n
    }
}

/// The private directory of a server run as `service`: root's, group the service's, 0750 (as
/// `/etc/kea`), so that it reads its configuration and the links of [`crate::versions`].
fn svc_private_dir(dir: &Path, service: Option<&Service>) -> io::Result<()> {
    if let Some(svc) = service {
        std::os::unix::fs::lchown(dir, Some(0), Some(svc.gid))?;
    }
    Ok(())
}

impl Drop for Kea<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a line of Kea's log is Kea's raw socket failing to parse a frame as a DHCP packet
/// (`DHCP4_BUFFER_RECEIVE_FAIL`): the namespace's own link traffic (a veth coming up, a reload
/// reopening the socket) can put one there, and it says nothing about the hook.
pub fn is_receive_noise(line: &str) -> bool {
    line.contains(" DHCP4_BUFFER_RECEIVE_FAIL ") || line.contains(" DHCP6_BUFFER_RECEIVE_FAIL ")
}

/// Runs `kea-dhcpX -t` on a configuration (syntax check only: it does not
/// load hook libraries). Kea 2.6+ checks file paths with `-t` too: the configuration's
/// directory stands for the server's private directory (see [`versions::private_dir_env`]).
pub fn check_config(family: Family, config: &Path) -> io::Result<String> {
    let dir = config.parent().ok_or_else(|| other("check_config: a file name without a directory"))?;
    let out = Command::new(family.binary()).arg("-t").arg(config).envs(versions::private_dir_env(dir)).output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(other(text))
    }
}
