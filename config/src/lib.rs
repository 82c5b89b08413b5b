//! kea-runscript's parameters (Kea's `"parameters"` map): one parser with two callers, the hook's
//! `load()` and the `kea-runscript-check` pre-flight command, so both say exactly the same thing.

pub mod kea_file;
pub mod table;
pub mod trust;

use serde_json::{Map, Value};
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use table::{HOOK_POINTS, OPTION_SOURCES, VARIABLES};

/// What the callout tells Kea to do next, from the script's exit status (`exit-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    Skip,
    Drop,
}

/// How a script is run (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One run per event, the event's values in its environment (the default).
    Spawn,
    /// One long-running process, started at load, that reads each event on its stdin as a line
    /// of JSON (and, with `wait`, answers each with `continue`, `skip` or `drop`).
    Worker,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Spawn => "spawn",
            Mode::Worker => "worker",
        }
    }
}

/// How a script's variables are named (`variables`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `KEA_*`, kea-hook-runscript's names (the default).
    Runscript,
    /// ISC's run_script names (`LEASE4_ADDRESS`, `LEASES4_AT0_ADDRESS`, booleans `true`/`false`):
    /// the default of ISC's form (`name`).
    Isc,
}

/// The library's parameters.
#[derive(Debug)]
pub struct Config {
    /// In the order they run at a hook point where several apply.
    pub scripts: Vec<Script>,
    /// Option codes exported from the query (`options`).
    pub options: Vec<u16>,
    /// `server-name`: the server's name in every event (`KEA_SERVER_NAME`, `KEA_EVENT_ID`);
    /// `None`: the machine's host name.
    pub server_name: Option<String>,
}

/// One script: the top-level form (`script`, `wait`, ...) or an entry of `scripts`.
#[derive(Debug)]
pub struct Script {
    /// Absolute path of the program to run.
    pub script: CString,
    /// A run per event, or one long-running worker.
    pub mode: Mode,
    /// Wait for the script to exit (worker: for its reply) before Kea goes on (`true`), or run it
    /// in the background (worker: only write the event).
    pub wait: bool,
    /// A run still going after this gets SIGTERM (then SIGKILL after a grace); in worker mode, how
    /// long a waited-for event waits for the worker's reply.
    pub timeout: Duration,
    /// Exit status → next step, for `wait: true`; unlisted statuses continue.
    pub exit_status: [Action; 256],
    /// Background runs at once (spawn mode).
    pub max_running: usize,
    /// Background events waiting for a free slot (worker: for the worker to read them); past that
    /// they are dropped.
    pub max_queued: usize,
    /// Ids (positions in [`HOOK_POINTS`]) of the hook points it runs at.
    pub hooks: Vec<u16>,
    /// Its variables' names.
    pub naming: Naming,
    /// `"variables": [...]`: only these variables (ids in [`VARIABLES`], ascending), read from
    /// Kea and given to the script; `None`: all of them.
    pub variables: Option<Vec<u16>>,
    /// Written in ISC's form (`name`, `sync`).
    pub isc_form: bool,
    /// `NAME=value` added to each run (a worker: to its environment): `extra-env`, then the
    /// `pass-env` variables Kea has (default `PATH`; none with ISC's names, as ISC's hook).
    pub extra_env: Vec<CString>,
    /// A waiting worker's lines are delivered at least once (`redeliver`): the line a dead worker
    /// owed a reply to is sent again to the next one, and events arriving while no worker can
    /// answer are queued instead of lost. Only with worker mode and `wait`.
    pub redeliver: bool,
    /// `script-trust`: whether the script must be one only root and Kea's user can change.
    pub trust: Trust,
}

/// `script-trust` (see [`trust`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// `"checked"` (the default): refused at load, and not run later, if anyone but root or Kea's
    /// user could change it.
    Checked,
    /// `"unchecked"`: the operator accepts the risk; what the check finds (`None`: nothing), for
    /// the warning logged at every load.
    Unchecked(Option<String>),
}

impl Trust {
    /// For `"unchecked"`: what the check finds, for the warning at every load.
    pub fn unchecked(&self) -> Option<&str> {
        match self {
            Trust::Checked => None,
            Trust::Unchecked(fault) => Some(fault.as_deref().unwrap_or("the check finds nothing wrong now")),
        }
    }
}

impl Script {
    /// One line for logs and the pre-flight check: `script PATH (wait …, timeout-ms …, N hook points)`.
    pub fn describe(&self) -> String {
        let mode = match self.mode {
            Mode::Spawn => "",
            Mode::Worker => "mode worker, ",
        };
        let naming = match (self.naming, &self.variables) {
            (_, Some(ids)) => format!("{} variables only, ", ids.len()),
            (Naming::Runscript, None) => String::new(),
            (Naming::Isc, None) => "ISC's variable names, ".to_string(),
        };
        let (key, wait) = if self.isc_form { ("ISC run_script form: name", "sync") } else { ("script", "wait") };
        let redeliver = if self.redeliver { ", redeliver" } else { "" };
        let trust = if self.trust == Trust::Checked { "" } else { ", script-trust unchecked" };
        format!(
            "{key} {} ({mode}{naming}{wait} {}{redeliver}{trust}, timeout-ms {}, {} hook points)",
            self.script.to_string_lossy(),
            self.wait,
            self.timeout.as_millis(),
            self.hooks.len()
        )
    }
}

pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_MAX_RUNNING: u64 = 32;
pub const DEFAULT_MAX_QUEUED: u64 = 1024;

/// Parameters of one script, at the top level or in each `scripts` entry.
const SCRIPT_KEYS: &[&str] = &[
    "script", "mode", "wait", "timeout-ms", "exit-status", "max-running", "max-queued", "hook-points", "variables",
    "name", "sync", "redeliver", "script-trust",
];
/// Parameters of the library as a whole.
const LIBRARY_KEYS: &[&str] = &["scripts", "extra-env", "pass-env", "options", "server-name"];

/// Parse Kea's parameters (JSON text) for a server of `family` (4 or 6), with this Kea release's
/// rule on script paths enforced. The error names every offending parameter.
pub fn parse(json: &str, family: u8) -> Result<Config, String> {
    parse_in(json, family, scripts_directory(true).as_deref())
}

/// [`parse`], with scripts accepted only from `scripts_directory` when it is given (see
/// [`scripts_directory`]).
pub fn parse_in(json: &str, family: u8, scripts_directory: Option<&Path>) -> Result<Config, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("parameters are not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("\"parameters\" must be a map".into());
    };
    parse_map(&map, family, scripts_directory)
}

/// The one directory this Kea release accepts scripts from (Kea 3.0 on: `$KEA_HOOK_SCRIPTS_PATH`,
/// else Kea's `share/kea/scripts`, as for ISC's own run_script), or `None` where any path goes
/// (earlier releases, or `enforced` false: Kea started with `-X`).
pub fn scripts_directory(enforced: bool) -> Option<PathBuf> {
    let rule = table::KEA.scripts_directory.as_ref().filter(|_| enforced)?;
    let dir = std::env::var_os(rule.env).filter(|d| !d.is_empty()).map(PathBuf::from);
    Some(dir.unwrap_or_else(|| PathBuf::from(rule.default)))
}

/// [`parse_map_as`] for scripts run as this process's effective user (the library: Kea's user).
pub fn parse_map(map: &Map<String, Value>, family: u8, scripts_directory: Option<&Path>) -> Result<Config, String> {
    parse_map_as(map, family, scripts_directory, trust::effective_uid())
}

/// The parameters, for a Kea whose user is `kea_uid` (the trust check of scripts: [`trust`]).
pub fn parse_map_as(
    map: &Map<String, Value>,
    family: u8,
    scripts_directory: Option<&Path>,
    kea_uid: u32,
) -> Result<Config, String> {
    let mut errors = Vec::new();
    for key in map.keys().filter(|k| !SCRIPT_KEYS.contains(&k.as_str()) && !LIBRARY_KEYS.contains(&k.as_str())) {
        errors.push(format!(
            "unknown parameter '{key}' (known: {}, {})",
            SCRIPT_KEYS.join(", "),
            LIBRARY_KEYS.join(", ")
        ));
    }
    let env = environment(map);
    let scripts = match map.get("scripts") {
        None => parse_script(map, "", family, scripts_directory, kea_uid).map(|s| vec![s]),
        Some(Value::Array(list)) => {
            let mut scripts = Vec::new();
            let mut faults = Vec::new();
            for key in map.keys().filter(|k| SCRIPT_KEYS.contains(&k.as_str())) {
                faults.push(format!("parameter '{key}' cannot stand beside 'scripts': put it in each entry of 'scripts'"));
            }
            if list.is_empty() {
                faults.push("parameter 'scripts' lists no script".into());
            }
            for (i, entry) in list.iter().enumerate() {
                let prefix = format!("scripts[{i}].");
                match entry {
                    Value::Object(m) => {
                        for key in m.keys().filter(|k| !SCRIPT_KEYS.contains(&k.as_str())) {
                            faults.push(format!("unknown parameter '{prefix}{key}' (known: {})", SCRIPT_KEYS.join(", ")));
                        }
                        match parse_script(m, &prefix, family, scripts_directory, kea_uid) {
                            Ok(s) => scripts.push(s),
                            Err(e) => faults.push(e),
                        }
                    }
                    other => faults.push(format!("parameter 'scripts[{i}]' must be a map, not {}", json_type(other))),
                }
            }
            all_or_faults(scripts, faults)
        }
        Some(other) => Err(format!("parameter 'scripts' must be a list of maps, not {}", json_type(other))),
    };
    let options = options(map.get("options"), family);
    let server_name = server_name(map.get("server-name"));
    match (scripts, env, options, server_name) {
        (Ok(mut scripts), Ok(env), Ok(options), Ok(server_name)) if errors.is_empty() => {
            for script in &mut scripts {
                script.extra_env = env.for_naming(script.naming);
            }
            Ok(Config { scripts, options, server_name })
        }
        (scripts, env, options, server_name) => {
            errors.extend(scripts.err());
            errors.extend(env.err());
            errors.extend(options.err());
            errors.extend(server_name.err());
            Err(errors.join("; "))
        }
    }
}

fn parse_script(
    map: &Map<String, Value>,
    prefix: &str,
    family: u8,
    scripts_directory: Option<&Path>,
    kea_uid: u32,
) -> Result<Script, String> {
    let p = |name: &str| format!("{prefix}{name}");
    let checked = match map.get("script-trust") {
        None => Ok(true),
        Some(Value::String(s)) if s == "checked" => Ok(true),
        Some(Value::String(s)) if s == "unchecked" => Ok(false),
        Some(other) => Err(format!(
            "parameter '{}' must be \"checked\" (the default) or \"unchecked\" (run a script others can change), not {other}",
            p("script-trust")
        )),
    };
    // ISC's run_script form: `name` for `script`, `sync` for `wait`.
    let isc_form = map.contains_key("name");
    let script = match one_of(map, prefix, ["script", "name"], "name the same thing (ISC's run_script calls it 'name')") {
        Ok(None) => Err(format!("parameter '{}' is missing: give the absolute path of the program to run", p("script"))),
        Ok(Some((key, Value::String(s)))) => {
            let at = |e: String| format!("parameter '{}' ({s:?}) {e}", p(key));
            check_script(s, scripts_directory).map_err(at).and_then(|c| {
                let fault = trust::check(Path::new(OsStr::from_bytes(c.as_bytes())), kea_uid).err();
                match (checked.as_ref(), fault) {
                    (Ok(&false), fault) => Ok((c, Trust::Unchecked(fault))),
                    (_, None) => Ok((c, Trust::Checked)),
                    (_, Some(fault)) => Err(format!(
                        "parameter '{}' ({s:?}): {fault}: whoever can change a script runs programs as Kea's user \
                         (\"script-trust\": \"unchecked\" accepts that)",
                        p(key)
                    )),
                }
            })
        }
        Ok(Some((key, other))) => Err(format!("parameter '{}' must be a string, not {}", p(key), json_type(other))),
        Err(e) => Err(e),
    };
    let selection = variables(map.get("variables"), isc_form, &p("variables"));
    let naming = selection.as_ref().map(|(naming, _)| *naming).map_err(Clone::clone);
    let mode = match map.get("mode") {
        None => Ok(Mode::Spawn),
        Some(Value::String(s)) if s == "spawn" => Ok(Mode::Spawn),
        Some(Value::String(s)) if s == "worker" => Ok(Mode::Worker),
        Some(other) => Err(format!("parameter '{}' must be \"spawn\" or \"worker\", not {other}", p("mode"))),
    };
    let wait = match one_of(map, prefix, ["wait", "sync"], "say the same thing (ISC's run_script calls it 'sync')") {
        Ok(None) => Ok(false),
        Ok(Some((_, Value::Bool(b)))) => Ok(*b),
        Ok(Some((key, other))) => Err(format!("parameter '{}' must be true or false, not {}", p(key), json_type(other))),
        Err(e) => Err(e),
    };
    let timeout = integer(map, prefix, "timeout-ms", DEFAULT_TIMEOUT_MS, 1, 3_600_000).map(Duration::from_millis);
    let max_running = integer(map, prefix, "max-running", DEFAULT_MAX_RUNNING, 1, 1024);
    let max_queued = integer(map, prefix, "max-queued", DEFAULT_MAX_QUEUED, 0, 1_000_000);
    let exit_status = exit_status(map.get("exit-status"), wait.as_ref().ok().copied(), &p("exit-status"));
    let hooks = hook_points(map.get("hook-points"), family, &p("hook-points"), naming.as_ref().ok().copied());
    let chosen = match (&selection, &hooks) {
        (Ok((_, Some(ids))), Ok(hooks)) => carried(ids, hooks, &p("variables")).map(|()| Some(ids.clone())),
        (Ok((_, chosen)), _) => Ok(chosen.clone()),
        // Reported through `naming`.
        (Err(_), _) => Ok(None),
    };
    let redeliver = redeliver(map.get("redeliver"), mode.as_ref().ok().copied(), wait.as_ref().ok().copied(), &p("redeliver"));
    let mode = mode.and_then(|mode| worker_fits(map, mode, prefix).map(|()| mode));
    let checked = checked.map(|_| ());
    match (script, mode, wait, timeout, exit_status, max_running, max_queued, (hooks, naming, redeliver, checked, chosen)) {
        (
            Ok((script, trust)),
            Ok(mode),
            Ok(wait),
            Ok(timeout),
            Ok(exit_status),
            Ok(max_running),
            Ok(max_queued),
            (Ok(hooks), Ok(naming), Ok(redeliver), Ok(()), Ok(variables)),
        ) => {
            Ok(Script {
                script,
                mode,
                wait,
                timeout,
                exit_status,
                max_running: max_running as usize,
                max_queued: max_queued as usize,
                hooks,
                naming,
                variables,
                isc_form,
                extra_env: Vec::new(),
                redeliver,
                trust,
            })
        }
        (script, mode, wait, timeout, exit_status, max_running, max_queued, (hooks, naming, redeliver, checked, chosen)) => {
            let mut errors = Vec::new();
            errors.extend(script.err());
            errors.extend(mode.err());
            errors.extend(wait.err());
            errors.extend(timeout.err());
            errors.extend(exit_status.err());
            errors.extend(max_running.err());
            errors.extend(max_queued.err());
            errors.extend(hooks.err());
            errors.extend(naming.err());
            errors.extend(redeliver.err());
            errors.extend(checked.err());
            errors.extend(chosen.err());
            Err(errors.join("; "))
        }
    }
}

/// The one of two parameters that mean the same (this hook's name and ISC run_script's) that
/// `map` gives, with its value; both given is a fault: "parameters 'a' and 'b' <same>: give one".
fn one_of<'m>(
    map: &'m Map<String, Value>,
    prefix: &str,
    keys: [&'static str; 2],
    same: &str,
) -> Result<Option<(&'static str, &'m Value)>, String> {
    match (map.get(keys[0]), map.get(keys[1])) {
        (Some(_), Some(_)) => Err(format!("parameters '{prefix}{}' and '{prefix}{}' {same}: give one", keys[0], keys[1])),
        (Some(v), None) => Ok(Some((keys[0], v))),
        (None, Some(v)) => Ok(Some((keys[1], v))),
        (None, None) => Ok(None),
    }
}

/// Parameters that mean nothing to a worker are refused beside `"mode": "worker"`: its replies,
/// not an exit status, set Kea's next step, and there is one process, not `max-running` runs.
fn worker_fits(map: &Map<String, Value>, mode: Mode, prefix: &str) -> Result<(), String> {
    if mode != Mode::Worker {
        return Ok(());
    }
    let faults: Vec<String> = [
        ("exit-status", "a worker's replies (continue, skip, drop) set Kea's next step"),
        ("max-running", "a worker is one long-running process"),
    ]
    .iter()
    .filter(|(key, _)| map.contains_key(*key))
    .map(|(key, why)| format!("parameter '{prefix}{key}' does not apply with \"mode\": \"worker\" ({why})"))
    .collect();
    all_or_faults((), faults)
}

/// `redeliver`: a boolean; `true` only for a worker that answers (`"mode": "worker"`, `"wait":
/// true`): only a reply tells which line a worker has taken, and only one line is in flight then.
fn redeliver(value: Option<&Value>, mode: Option<Mode>, wait: Option<bool>, name: &str) -> Result<bool, String> {
    match value {
        None | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) if mode == Some(Mode::Worker) && wait == Some(true) => Ok(true),
        // Mode or wait unreadable: their own faults are reported.
        Some(Value::Bool(true)) if mode.is_none() || wait.is_none() => Ok(true),
        Some(Value::Bool(true)) => Err(format!(
            "parameter '{name}' needs \"mode\": \"worker\" and \"wait\": true (only a worker's reply tells \
             that it took a line, so only a waiting worker's lines can be sent again)"
        )),
        Some(other) => Err(format!("parameter '{name}' must be true or false, not {}", json_type(other))),
    }
}

/// `variables`: `"runscript"` (`KEA_*` names, the default), `"isc"` (ISC's names, the default of
/// ISC's form) or a list of `KEA_*` names, the only variables the script gets.
fn variables(value: Option<&Value>, isc_form: bool, name: &str) -> Result<(Naming, Option<Vec<u16>>), String> {
    let list = match value {
        None if isc_form => return Ok((Naming::Isc, None)),
        None => return Ok((Naming::Runscript, None)),
        Some(Value::String(s)) if s == "runscript" => return Ok((Naming::Runscript, None)),
        Some(Value::String(s)) if s == "isc" => return Ok((Naming::Isc, None)),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(format!(
                "parameter '{name}' must be \"runscript\" (KEA_* names), \"isc\" (ISC run_script's names) \
                 or a list of KEA_* names (only those), not {other}"
            ))
        }
    };
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for item in list {
        let Value::String(var) = item else {
            errors.push(format!("parameter '{name}': {item} is not a variable name"));
            continue;
        };
        match VARIABLES.iter().position(|v| !v.name.is_empty() && v.name == var) {
            Some(i) if ids.contains(&(i as u16)) => errors.push(format!("parameter '{name}': {var:?} is listed twice")),
            Some(i) => ids.push(i as u16),
            None if VARIABLES.iter().any(|v| v.isc == var) => errors.push(format!(
                "parameter '{name}': {var:?} is ISC run_script's name; a list takes KEA_* names \
                 (ISC's names, all of them: \"variables\": \"isc\")"
            )),
            None => errors.push(format!(
                "parameter '{name}': unknown variable {var:?} (not in Kea {}'s variables, docs/reference.md)",
                table::KEA.version
            )),
        }
    }
    if list.is_empty() {
        errors.push(format!("parameter '{name}' lists no variable"));
    }
    ids.sort_unstable();
    all_or_faults((Naming::Runscript, Some(ids)), errors)
}

/// Each chosen variable is carried by one of the script's hook points at least.
fn carried(ids: &[u16], hooks: &[u16], name: &str) -> Result<(), String> {
    let faults: Vec<String> = ids
        .iter()
        .filter(|id| !hooks.iter().any(|&h| HOOK_POINTS[h as usize].variables.contains(id)))
        .map(|&id| {
            let names: Vec<&str> = hooks.iter().map(|&h| HOOK_POINTS[h as usize].name).collect();
            format!("parameter '{name}': {} is carried by none of the script's hook points ({})", VARIABLES[id as usize].name, names.join(", "))
        })
        .collect();
    all_or_faults((), faults)
}

/// `hook-points`: names of this family's hook points (or `load`, `unload`); absent: the defaults
/// (with ISC's names, the hook points ISC's run_script serves on this Kea).
fn hook_points(value: Option<&Value>, family: u8, name: &str, naming: Option<Naming>) -> Result<Vec<u16>, String> {
    let of_family = || HOOK_POINTS.iter().enumerate().filter(|(_, h)| h.in_family(family));
    let Some(value) = value else {
        let default = |h: &table::HookPoint| if naming == Some(Naming::Isc) { h.isc_default } else { h.default };
        return Ok(of_family().filter(|(_, h)| default(h)).map(|(i, _)| i as u16).collect());
    };
    let Value::Array(list) = value else {
        return Err(format!("parameter '{name}' must be a list of hook point names, not {}", json_type(value)));
    };
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for item in list {
        let Value::String(hook) = item else {
            errors.push(format!("parameter '{name}': {item} is not a hook point name"));
            continue;
        };
        match HOOK_POINTS.iter().position(|h| h.name == hook) {
            Some(i) if HOOK_POINTS[i].in_family(family) => {
                if ids.contains(&(i as u16)) {
                    errors.push(format!("parameter '{name}': {hook:?} is listed twice"));
                }
                ids.push(i as u16);
            }
            Some(i) => errors.push(format!(
                "parameter '{name}': {hook:?} is a DHCPv{} hook point, and this is kea-dhcp{family}",
                HOOK_POINTS[i].family
            )),
            None => {
                let known: Vec<&str> = of_family().map(|(_, h)| h.name).collect();
                errors.push(format!("parameter '{name}': unknown hook point {hook:?} (known here: {})", known.join(", ")));
            }
        }
    }
    if list.is_empty() {
        errors.push(format!("parameter '{name}' lists no hook point"));
    }
    all_or_faults(ids, errors)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What `extra-env` and `pass-env` add to a script's environment.
struct ExtraEnv {
    /// `extra-env`'s entries.
    extra: Vec<CString>,
    /// `pass-env`'s, or, when it is not given, `PATH` (what it passes by default with `KEA_*`
    /// names).
    passed: Vec<CString>,
    /// Whether `pass-env` is given.
    given: bool,
}

impl ExtraEnv {
    /// ISC's hook passes no variable of Kea's own: with ISC's names `pass-env` defaults to none.
    fn for_naming(&self, naming: Naming) -> Vec<CString> {
        let passed: &[CString] = if self.given || naming == Naming::Runscript { &self.passed } else { &[] };
        self.extra.iter().chain(passed).cloned().collect()
    }
}

/// `extra-env` (map NAME → value) and `pass-env` (names of Kea's own variables, default PATH).
fn environment(map: &Map<String, Value>) -> Result<ExtraEnv, String> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut check_name = |param: &str, name: &str, errors: &mut Vec<String>| {
        if !is_env_name(name) {
            errors.push(format!("parameter '{param}': {name:?} is not a variable name (letters, digits, _)"));
        } else if VARIABLES.iter().any(|v| v.name == name || v.isc == name)
            || OPTION_SOURCES.iter().any(|o| name.starts_with(o.prefix) || (!o.isc_prefix.is_empty() && name.starts_with(o.isc_prefix)))
        {
            errors.push(format!("parameter '{param}': {name} is one of the hook's own variables"));
        } else if names.iter().any(|n| n == name) {
            errors.push(format!("parameter '{param}': {name} is set twice"));
        } else {
            names.push(name.to_string());
            return true;
        }
        false
    };
    match map.get("extra-env") {
        None => {}
        Some(Value::Object(vars)) => {
            for (name, value) in vars {
                match value {
                    Value::String(v) if !v.contains('\0') => {
                        if check_name("extra-env", name, &mut errors) {
                            out.push(CString::new(format!("{name}={v}")).expect("no NUL"));
                        }
                    }
                    _ => errors.push(format!("parameter 'extra-env': the value of {name} must be a string without NUL")),
                }
            }
        }
        Some(other) => errors.push(format!("parameter 'extra-env' must be a map of NAME: \"value\", not {}", json_type(other))),
    }
    let given = map.contains_key("pass-env");
    let passed: Vec<String> = match map.get("pass-env") {
        None => vec!["PATH".into()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                other => {
                    errors.push(format!("parameter 'pass-env': {other} is not a variable name"));
                    None
                }
            })
            .collect(),
        Some(other) => {
            errors.push(format!("parameter 'pass-env' must be a list of variable names, not {}", json_type(other)));
            Vec::new()
        }
    };
    let mut passed_entries = Vec::new();
    for name in passed {
        if check_name("pass-env", &name, &mut errors) {
            // Kea's own value, read once at load; a variable Kea does not have is not passed.
            if let Some(value) = std::env::var_os(&name) {
                let mut entry = format!("{name}=").into_bytes();
                entry.extend_from_slice(value.as_bytes());
                passed_entries.extend(CString::new(entry).ok());
            }
        }
    }
    all_or_faults(ExtraEnv { extra: out, passed: passed_entries, given }, errors)
}

/// `options`: option codes whose payload the query's options export as `<prefix><code>`.
/// `server-name`: a name a host name could be (letters, digits, `.`, `-`, `_`; at most
/// [`SERVER_NAME_MAX`] bytes), so that it stands in `KEA_EVENT_ID` unambiguously before its `:`
/// and in a message broker's subject.
fn server_name(value: Option<&Value>) -> Result<Option<String>, String> {
    let Some(value) = value else { return Ok(None) };
    let Value::String(name) = value else {
        return Err(format!("parameter 'server-name' must be a string, not {}", json_type(value)));
    };
    if !valid_server_name(name) {
        return Err(format!(
            "parameter 'server-name' ({name:?}) must be 1 to {SERVER_NAME_MAX} letters, digits, '.', '-' or '_' (it starts KEA_EVENT_ID, before a ':')"
        ));
    }
    Ok(Some(name.clone()))
}

pub const SERVER_NAME_MAX: usize = 64;

/// Whether `name` can be a server's name (`server-name`, or the host name standing in for it).
pub fn valid_server_name(name: &str) -> bool {
    (1..=SERVER_NAME_MAX).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn options(value: Option<&Value>, family: u8) -> Result<Vec<u16>, String> {
    let Some(value) = value else { return Ok(Vec::new()) };
    let Value::Array(list) = value else {
        return Err(format!("parameter 'options' must be a list of option codes, not {}", json_type(value)));
    };
    let max = if family == 4 { 254 } else { 65535 };
    let prefixes: Vec<&str> = OPTION_SOURCES
        .iter()
        .filter(|o| o.family == family)
        .flat_map(|o| [o.prefix, o.isc_prefix])
        .filter(|p| !p.is_empty())
        .collect();
    let mut codes = Vec::new();
    let mut errors = Vec::new();
    for item in list {
        match item.as_u64().filter(|c| (1..=max).contains(c)) {
            Some(code) => {
                let code = code as u16;
                if let Some(v) = prefixes.iter().map(|p| format!("{p}{code}")).find(|n| VARIABLES.iter().any(|v| &v.name == n || &v.isc == n)) {
                    errors.push(format!("parameter 'options': option {code} is already exported as {v}"));
                } else if codes.contains(&code) {
                    errors.push(format!("parameter 'options': option {code} is listed twice"));
                } else {
                    codes.push(code);
                }
            }
            None => errors.push(format!("parameter 'options': {item} is not a DHCPv{family} option code (1 to {max})")),
        }
    }
    all_or_faults(codes, errors)
}

/// `value` when nothing was found at fault, else every fault in one message.
fn all_or_faults<T>(value: T, faults: Vec<String>) -> Result<T, String> {
    if faults.is_empty() { Ok(value) } else { Err(faults.join("; ")) }
}

fn integer(map: &Map<String, Value>, prefix: &str, name: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
    let range = || format!("parameter '{prefix}{name}' must be an integer from {min} to {max}");
    match map.get(name) {
        None => Ok(default),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(format!("{}, not {n}", range())),
        },
        Some(other) => Err(format!("{}, not {}", range(), json_type(other))),
    }
}

fn exit_status(value: Option<&Value>, wait: Option<bool>, name: &str) -> Result<[Action; 256], String> {
    let mut table = [Action::Continue; 256];
    let Some(value) = value else { return Ok(table) };
    let Value::Object(map) = value else {
        return Err(format!(
            "parameter '{name}' must be a map from exit status to \"skip\", \"drop\" or \"continue\", not {}",
            json_type(value)
        ));
    };
    if wait == Some(false) {
        return Err(format!(
            "parameter '{name}' needs \"wait\": true (a background script exits too late to change what Kea does \
             with the packet)"
        ));
    }
    let mut errors = Vec::new();
    for (code, action) in map {
        let status = code.parse::<u8>().ok().filter(|s| s.to_string() == *code);
        let parsed = match action {
            Value::String(s) if s == "skip" => Some(Action::Skip),
            Value::String(s) if s == "drop" => Some(Action::Drop),
            Value::String(s) if s == "continue" => Some(Action::Continue),
            _ => None,
        };
        match (status, parsed) {
            (Some(status), Some(parsed)) => table[status as usize] = parsed,
            (None, _) => errors.push(format!("parameter '{name}': {code:?} is not an exit status (0 to 255)")),
            (_, None) => errors.push(format!(
                "parameter '{name}': the action for {code} must be \"skip\", \"drop\" or \"continue\", not {action}"
            )),
        }
    }
    all_or_faults(table, errors)
}

fn check_script(path: &str, scripts_directory: Option<&Path>) -> Result<CString, String> {
    let mut p = PathBuf::from(path);
    if let Some(dir) = scripts_directory {
        // Kea 3.0's rule for hook scripts (PathChecker): a bare file name is taken from the
        // directory; a path must have exactly that directory as its parent.
        let rule = table::KEA.scripts_directory.as_ref().map(|r| r.env).unwrap_or("");
        match p.parent() {
            Some(parent) if parent.as_os_str().is_empty() && !path.is_empty() => p = dir.join(path),
            Some(parent) if parent == dir => {}
            _ => {
                return Err(format!(
                    "is not in {}: Kea {} runs hook scripts only from that directory (set {rule} to use another, \
                     or start Kea with -X to lift the restriction)",
                    dir.display(),
                    table::KEA.version
                ))
            }
        }
    }
    if path.is_empty() || !p.is_absolute() {
        return Err("must be an absolute path".into());
    }
    let meta = std::fs::metadata(&p).map_err(|e| format!("cannot be used: {e}"))?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    let c = CString::new(p.as_os_str().as_bytes()).map_err(|_| "contains a NUL byte".to_string())?;
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
        return Err("is not executable by this process".into());
    }
    Ok(c)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::parse`] without this Kea release's rule on script paths (a build for Kea 3.0
    /// enforces its scripts directory, where /bin/true is not): the rule has its own test,
    /// `scripts_directory_rule_of_kea_3`.
    fn parse(json: &str, family: u8) -> Result<Config, String> {
        parse_in(json, family, None)
    }

    fn one(json: &str) -> Script {
        let mut c = parse(json, 4).unwrap();
        assert_eq!(c.scripts.len(), 1);
        c.scripts.remove(0)
    }

    fn names(ids: &[u16]) -> Vec<&'static str> {
        ids.iter().map(|&i| HOOK_POINTS[i as usize].name).collect()
    }

    #[test]
    fn accepts_the_seed_form_with_safe_defaults() {
        let c = one(r#"{"script": "/bin/true", "wait": true}"#);
        assert_eq!(c.script.to_str().unwrap(), "/bin/true");
        assert!(c.wait);
        assert_eq!(c.timeout, Duration::from_millis(DEFAULT_TIMEOUT_MS));
        assert_eq!((c.max_running, c.max_queued), (32, 1024));
        assert!(c.exit_status.iter().all(|a| *a == Action::Continue));
        // The seed's nine DHCPv4 hook points, nothing else.
        assert_eq!(
            names(&c.hooks),
            ["pkt4_receive", "pkt4_send", "subnet4_select", "lease4_select", "lease4_renew", "lease4_release",
             "lease4_decline", "lease4_expire", "lease4_recover"]
        );
        assert_eq!(parse(r#"{"script": "/bin/true"}"#, 6).unwrap().scripts[0].hooks.len(), 10);
        assert!(!one(r#"{"script": "/bin/true"}"#).wait, "wait defaults to false");
        assert_eq!(c.mode, Mode::Spawn, "mode defaults to spawn");
    }

    #[test]
    fn worker_mode_at_top_level_and_in_each_entry() {
        let c = one(r#"{"script": "/bin/true", "mode": "worker", "wait": true, "timeout-ms": 500, "max-queued": 7}"#);
        assert_eq!((c.mode, c.wait, c.max_queued), (Mode::Worker, true, 7));
        assert!(c.describe().contains("mode worker"), "{}", c.describe());
        let c = parse(
            r#"{"scripts": [{"script": "/bin/true"}, {"script": "/bin/true", "mode": "worker"},
                            {"script": "/bin/true", "mode": "spawn"}]}"#,
            4,
        )
        .unwrap();
        let modes: Vec<Mode> = c.scripts.iter().map(|s| s.mode).collect();
        assert_eq!(modes, [Mode::Spawn, Mode::Worker, Mode::Spawn]);
    }

    #[test]
    fn redeliver_only_for_a_waiting_worker() {
        assert!(!one(r#"{"script": "/bin/true", "mode": "worker", "wait": true}"#).redeliver, "off by default");
        let c = one(r#"{"script": "/bin/true", "mode": "worker", "wait": true, "redeliver": true}"#);
        assert!(c.redeliver);
        assert!(c.describe().contains("wait true, redeliver,"), "{}", c.describe());
        let c = parse(r#"{"scripts": [{"script": "/bin/true", "mode": "worker", "sync": true, "redeliver": true}]}"#, 4).unwrap();
        assert!(c.scripts[0].redeliver, "ISC's sync is wait");
        assert!(!one(r#"{"script": "/bin/true", "redeliver": false}"#).redeliver, "false is the default anywhere");
        let needs = "needs \"mode\": \"worker\" and \"wait\": true";
        for (json, expected) in [
            (r#"{"script": "/bin/true", "mode": "worker", "redeliver": true}"#, format!("parameter 'redeliver' {needs}")),
            (r#"{"script": "/bin/true", "wait": true, "redeliver": true}"#, format!("parameter 'redeliver' {needs}")),
            (r#"{"scripts": [{"script": "/bin/true", "mode": "spawn", "wait": true, "redeliver": true}]}"#,
             format!("parameter 'scripts[0].redeliver' {needs}")),
            (r#"{"script": "/bin/true", "mode": "worker", "wait": true, "redeliver": "yes"}"#,
             "parameter 'redeliver' must be true or false, not a string".into()),
        ] {
            let err = parse(json, 4).unwrap_err();
            assert!(err.contains(&expected), "{json}: {err:?} lacks {expected:?}");
        }
        // A bad `wait` is reported for itself, not as a fault of `redeliver`.
        let err = parse(r#"{"script": "/bin/true", "mode": "worker", "wait": 1, "redeliver": true}"#, 4).unwrap_err();
        assert!(err.contains("'wait' must be") && !err.contains("'redeliver'"), "{err}");
    }

    #[test]
    fn reads_every_parameter() {
        let c = one(
            r#"{"script": "/bin/true", "wait": true, "timeout-ms": 250, "exit-status": {"3": "skip", "4": "drop", "0": "continue"},
                "max-running": 2, "max-queued": 0, "hook-points": ["leases4_committed", "load", "unload"]}"#,
        );
        assert_eq!(c.timeout, Duration::from_millis(250));
        assert_eq!((c.exit_status[3], c.exit_status[4], c.exit_status[5]), (Action::Skip, Action::Drop, Action::Continue));
        assert_eq!((c.max_running, c.max_queued), (2, 0));
        assert_eq!(names(&c.hooks), ["leases4_committed", "load", "unload"]);
    }

    #[test]
    fn several_scripts_and_library_parameters() {
        std::env::set_var("KRS_TEST_PASSED", "yes");
        let c = parse(
            r#"{"scripts": [{"script": "/bin/true", "hook-points": ["lease4_select"]}, {"script": "/bin/false", "wait": true}],
                "extra-env": {"SITE": "paris"}, "pass-env": ["KRS_TEST_PASSED", "KRS_TEST_UNSET"], "options": [50, 93]}"#,
            4,
        )
        .unwrap();
        assert_eq!(c.scripts.len(), 2);
        assert_eq!(names(&c.scripts[0].hooks), ["lease4_select"]);
        assert!(c.scripts[1].wait && c.scripts[1].hooks.len() == 9);
        let env: Vec<&str> = c.scripts[0].extra_env.iter().map(|e| e.to_str().unwrap()).collect();
        assert_eq!(env, ["SITE=paris", "KRS_TEST_PASSED=yes"]);
        assert_eq!(c.options, [50, 93]);
        let path = parse(r#"{"script": "/bin/true"}"#, 4).unwrap().scripts.remove(0).extra_env;
        assert!(path.iter().any(|e| e.to_str().unwrap().starts_with("PATH=")), "PATH is passed by default");
    }

    #[test]
    fn names_the_parameter_and_the_fault() {
        let plain = std::env::temp_dir().join(format!("krs-config-plain-{}", std::process::id()));
        std::fs::write(&plain, "not a program").unwrap();
        std::fs::set_permissions(&plain, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let not_executable = format!(r#"{{"script": "{}"}}"#, plain.display());
        let cases = [
            (r#"{}"#, "parameter 'script' is missing"),
            (r#"{"script": 3}"#, "parameter 'script' must be a string, not a number"),
            (r#"{"script": "bin/true"}"#, "must be an absolute path"),
            (r#"{"script": "/nonexistent/x"}"#, "cannot be used"),
            (r#"{"script": "/tmp"}"#, "is not a regular file"),
            (not_executable.as_str(), "is not executable"),
            (r#"{"script": "/bin/true", "wait": "yes"}"#, "parameter 'wait' must be true or false, not a string"),
            (r#"{"script": "/bin/true", "wiat": true}"#, "unknown parameter 'wiat'"),
            (r#"{"script": "/bin/true", "timeout-ms": 0}"#, "parameter 'timeout-ms' must be an integer from 1 to 3600000, not 0"),
            (r#"{"script": "/bin/true", "timeout-ms": "5s"}"#, "parameter 'timeout-ms' must be an integer from 1 to 3600000, not a string"),
            (r#"{"script": "/bin/true", "timeout-ms": 1.5}"#, "not 1.5"),
            (r#"{"script": "/bin/true", "max-running": 0}"#, "parameter 'max-running' must be an integer from 1 to 1024, not 0"),
            (r#"{"script": "/bin/true", "max-queued": -1}"#, "parameter 'max-queued' must be an integer from 0 to 1000000, not -1"),
            (r#"{"script": "/bin/true", "exit-status": {"3": "skip"}}"#, "parameter 'exit-status' needs \"wait\": true"),
            (r#"{"script": "/bin/true", "wait": true, "exit-status": [3]}"#, "parameter 'exit-status' must be a map"),
            (r#"{"script": "/bin/true", "wait": true, "exit-status": {"256": "skip"}}"#, "\"256\" is not an exit status"),
            (r#"{"script": "/bin/true", "wait": true, "exit-status": {"03": "skip"}}"#, "\"03\" is not an exit status"),
            (r#"{"script": "/bin/true", "wait": true, "exit-status": {"3": "park"}}"#, "the action for 3 must be"),
            (r#"{"script": "/bin/true", "hook-points": ["lease4_selec"]}"#, "parameter 'hook-points': unknown hook point \"lease4_selec\""),
            (r#"{"script": "/bin/true", "hook-points": ["lease6_select"]}"#, "\"lease6_select\" is a DHCPv6 hook point, and this is kea-dhcp4"),
            (r#"{"script": "/bin/true", "hook-points": ["lease6_replay"]}"#, "\"lease6_replay\" is a DHCPv6 hook point, and this is kea-dhcp4"),
            (r#"{"script": "/bin/true", "hook-points": []}"#, "parameter 'hook-points' lists no hook point"),
            (r#"{"script": "/bin/true", "hook-points": "load"}"#, "parameter 'hook-points' must be a list"),
            (r#"{"scripts": []}"#, "parameter 'scripts' lists no script"),
            (r#"{"scripts": [{"script": "/bin/true"}], "wait": true}"#, "parameter 'wait' cannot stand beside 'scripts'"),
            (r#"{"scripts": [{"script": "/bin/true"}, {"script": "x", "colour": 1}]}"#, "unknown parameter 'scripts[1].colour'"),
            (r#"{"scripts": [{"script": "/bin/true"}, {"script": "x"}]}"#, "parameter 'scripts[1].script' (\"x\") must be an absolute path"),
            (r#"{"scripts": [3]}"#, "parameter 'scripts[0]' must be a map"),
            (r#"{"script": "/bin/true", "extra-env": {"A B": "x"}}"#, "\"A B\" is not a variable name"),
            (r#"{"script": "/bin/true", "extra-env": {"KEA_LEASE4_ADDRESS": "x"}}"#, "KEA_LEASE4_ADDRESS is one of the hook's own variables"),
            (r#"{"script": "/bin/true", "extra-env": {"SITE": 3}}"#, "the value of SITE must be a string"),
            (r#"{"script": "/bin/true", "extra-env": {"PATH": "/x"}}"#, "PATH is set twice"),
            (r#"{"script": "/bin/true", "pass-env": "PATH"}"#, "parameter 'pass-env' must be a list"),
            (r#"{"script": "/bin/true", "options": [60]}"#, "option 60 is already exported as KEA_QUERY4_OPTION60"),
            (r#"{"script": "/bin/true", "options": [255]}"#, "255 is not a DHCPv4 option code (1 to 254)"),
            (r#"{"script": "/bin/true", "options": [50, 50]}"#, "option 50 is listed twice"),
            (r#"{"script": "/bin/true", "mode": "daemon"}"#, "parameter 'mode' must be \"spawn\" or \"worker\", not \"daemon\""),
            (r#"{"script": "/bin/true", "mode": true}"#, "parameter 'mode' must be \"spawn\" or \"worker\", not true"),
            (r#"{"scripts": [{"script": "/bin/true", "mode": "workers"}]}"#, "parameter 'scripts[0].mode' must be"),
            (r#"{"scripts": [{"script": "/bin/true"}], "mode": "worker"}"#, "parameter 'mode' cannot stand beside 'scripts'"),
            (
                r#"{"script": "/bin/true", "mode": "worker", "wait": true, "exit-status": {"3": "skip"}}"#,
                "parameter 'exit-status' does not apply with \"mode\": \"worker\"",
            ),
            (
                r#"{"scripts": [{"script": "/bin/true", "mode": "worker", "max-running": 2}]}"#,
                "parameter 'scripts[0].max-running' does not apply with \"mode\": \"worker\"",
            ),
            (r#"[1]"#, "must be a map"),
        ];
        for (json, expected) in cases {
            let err = parse(json, 4).unwrap_err();
            assert!(err.contains(expected), "{json}: {err:?} lacks {expected:?}");
        }
        assert!(parse(r#"{"script": "/bin/true", "options": [1000]}"#, 6).is_ok(), "DHCPv6 option codes go to 65535");
    }

    /// An entry written for ISC's run_script works as it is: `name`, `sync`, ISC's names, its
    /// hook points on this release, no PATH.
    #[test]
    fn isc_run_script_form() {
        let c = one(r#"{"name": "/bin/true", "sync": false}"#);
        assert_eq!((c.script.to_str().unwrap(), c.wait, c.naming, c.isc_form), ("/bin/true", false, Naming::Isc, true));
        let isc: Vec<&str> = HOOK_POINTS.iter().filter(|h| h.isc_default && h.in_family(4)).map(|h| h.name).collect();
        assert_eq!(names(&c.hooks), isc);
        for hook in ["lease4_renew", "lease4_expire", "lease4_recover", "leases4_committed", "lease4_release", "lease4_decline"] {
            assert!(isc.contains(&hook), "{hook} is one of ISC's");
        }
        assert!(!isc.contains(&"lease4_select"), "ISC's hook does not serve lease4_select");
        assert!(c.extra_env.is_empty(), "ISC's hook passes no PATH: {:?}", c.extra_env);
        assert!(c.describe().contains("ISC run_script form: name /bin/true"), "{}", c.describe());
        assert!(one(r#"{"name": "/bin/true", "sync": true}"#).wait, "sync: true is honoured");
        let v6 = parse(r#"{"name": "/bin/true"}"#, 6).unwrap().scripts.remove(0);
        assert!(names(&v6.hooks).contains(&"lease6_rebind") && names(&v6.hooks).contains(&"leases6_committed"));
        // Explicit pass-env applies; extra-env too.
        let c = one(r#"{"name": "/bin/true", "pass-env": ["PATH"], "extra-env": {"SITE": "x"}}"#);
        assert_eq!(c.extra_env.len(), 2, "{:?}", c.extra_env);
        // ISC's names with the `script` form, per entry of `scripts`.
        let c = parse(
            r#"{"scripts": [{"script": "/bin/true", "variables": "isc", "wait": true, "hook-points": ["lease4_select"]},
                            {"script": "/bin/true"}, {"name": "/bin/true", "variables": "runscript"}]}"#,
            4,
        )
        .unwrap();
        let namings: Vec<Naming> = c.scripts.iter().map(|s| s.naming).collect();
        assert_eq!(namings, [Naming::Isc, Naming::Runscript, Naming::Runscript]);
        assert_eq!(names(&c.scripts[0].hooks), ["lease4_select"]);
        assert_eq!(c.scripts[2].hooks.len(), 9, "KEA_* names: the default hook points");
        for (json, expected) in [
            (r#"{"name": "/bin/true", "script": "/bin/true"}"#, "parameters 'script' and 'name' name the same thing"),
            (r#"{"name": "/bin/true", "sync": "yes"}"#, "parameter 'sync' must be true or false, not a string"),
            (r#"{"name": "/bin/true", "sync": true, "wait": true}"#, "parameters 'wait' and 'sync' say the same thing"),
            (r#"{"name": "true"}"#, "parameter 'name' (\"true\") must be an absolute path"),
            (r#"{"name": 3}"#, "parameter 'name' must be a string, not a number"),
            (r#"{"scripts": [{"name": "/bin/true", "variables": "ISC"}]}"#, "parameter 'scripts[0].variables' must be \"runscript\""),
            (r#"{"name": "/bin/true", "extra-env": {"LEASE4_ADDRESS": "x"}}"#, "LEASE4_ADDRESS is one of the hook's own variables"),
            (r#"{"name": "/bin/true", "options": [82]}"#, "option 82 is already exported as QUERY4_OPTION_82"),
        ] {
            let err = parse(json, 4).unwrap_err();
            assert!(err.contains(expected), "{json}: {err:?} lacks {expected:?}");
        }
    }

    /// `"variables": [...]`: only these `KEA_*` variables, kept in spec order; every fault named.
    #[test]
    fn a_list_of_variables() {
        let id = |name: &str| VARIABLES.iter().position(|v| v.name == name).unwrap() as u16;
        let c = parse(
            r#"{"script": "/bin/true", "hook-points": ["leases4_committed", "lease4_release"],
                "variables": ["KEA_LEASE4_HWADDR", "KEA_LEASE4_ADDRESS", "KEA_EVENT_ID"]}"#,
            4,
        )
        .unwrap()
        .scripts
        .remove(0);
        assert_eq!(c.naming, Naming::Runscript);
        let mut expected = vec![id("KEA_LEASE4_HWADDR"), id("KEA_LEASE4_ADDRESS"), id("KEA_EVENT_ID")];
        expected.sort_unstable();
        assert_eq!(c.variables, Some(expected));
        assert_eq!(one(r#"{"script": "/bin/true"}"#).variables, None);
        assert_eq!(one(r#"{"script": "/bin/true", "variables": "isc"}"#).variables, None);
        for (json, expected) in [
            (r#"{"script": "/bin/true", "variables": []}"#, "parameter 'variables' lists no variable"),
            (r#"{"script": "/bin/true", "variables": ["KEA_LEASE4_ADRESS"]}"#, "unknown variable \"KEA_LEASE4_ADRESS\""),
            (r#"{"script": "/bin/true", "variables": ["LEASE4_ADDRESS"]}"#, "\"LEASE4_ADDRESS\" is ISC run_script's name"),
            (r#"{"script": "/bin/true", "variables": [7]}"#, "parameter 'variables': 7 is not a variable name"),
            (r#"{"script": "/bin/true", "variables": ["KEA_LEASE4_ADDRESS", "KEA_LEASE4_ADDRESS"]}"#, "is listed twice"),
            (r#"{"script": "/bin/true", "variables": 3}"#, "or a list of KEA_* names"),
            (
                r#"{"scripts": [{"script": "/bin/true", "hook-points": ["pkt4_receive"], "variables": ["KEA_LEASE4_ADDRESS"]}]}"#,
                "parameter 'scripts[0].variables': KEA_LEASE4_ADDRESS is carried by none of the script's hook points (pkt4_receive)",
            ),
        ] {
            let err = parse(json, 4).unwrap_err();
            assert!(err.contains(expected), "{json}: {err:?} lacks {expected:?}");
        }
    }

    #[test]
    fn reports_every_fault_at_once() {
        let err = parse(r#"{"wait": 1, "timeout-ms": -3, "colour": "red"}"#, 4).unwrap_err();
        for expected in ["unknown parameter 'colour'", "'script' is missing", "'wait' must be", "'timeout-ms' must be"] {
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
    }

    /// `script-trust`: the trust check (config/src/trust.rs has its rules' tests) names the
    /// parameter, the path at fault and why; "unchecked" loads and keeps what it found.
    #[test]
    fn script_trust() {
        let dir = std::env::temp_dir().join(format!("krs-config-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(m)).unwrap();
        mode(&dir, 0o777);
        let script = dir.join("hook.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        mode(&script, 0o755);
        let s = script.display();
        let d = dir.display();
        let err = parse(&format!(r#"{{"script": "{s}"}}"#), 4).unwrap_err();
        assert!(err.starts_with(&format!("parameter 'script' (\"{s}\"): {d} is writable by others (mode 0777): ")), "{err}");
        assert!(err.contains(r#""script-trust": "unchecked" accepts that"#), "{err}");
        let err = parse(&format!(r#"{{"scripts": [{{"script": "/bin/true"}}, {{"name": "{s}"}}]}}"#), 4).unwrap_err();
        assert!(err.starts_with(&format!("parameter 'scripts[1].name' (\"{s}\"): {d} is writable by others")), "{err}");
        let worker = parse(&format!(r#"{{"script": "{s}", "mode": "worker"}}"#), 4).unwrap_err();
        assert!(worker.contains("is writable by others"), "{worker}");
        // The opt-out, per script.
        let c = parse(&format!(r#"{{"scripts": [{{"script": "/bin/true"}}, {{"script": "{s}", "script-trust": "unchecked"}}]}}"#), 4).unwrap();
        assert_eq!(c.scripts[0].trust, Trust::Checked);
        assert_eq!(c.scripts[1].trust.unchecked(), Some(format!("{d} is writable by others (mode 0777)").as_str()));
        assert!(c.scripts[1].describe().contains("script-trust unchecked"), "{}", c.scripts[1].describe());
        let c = one(r#"{"script": "/bin/true", "script-trust": "unchecked"}"#);
        assert_eq!(c.trust.unchecked(), Some("the check finds nothing wrong now"));
        assert_eq!(one(r#"{"script": "/bin/true", "script-trust": "checked"}"#).trust, Trust::Checked);
        let err = parse(r#"{"script": "/bin/true", "script-trust": "off"}"#, 4).unwrap_err();
        assert!(err.starts_with(r#"parameter 'script-trust' must be "checked" (the default) or "unchecked""#), "{err}");
        // Kea's user may own the script (kea-runscript-check --user; load(): Kea's euid).
        mode(&dir, 0o755);
        if trust::effective_uid() == 0 {
            std::os::unix::fs::chown(&script, Some(54_321), None).unwrap();
            let map: Map<String, Value> = serde_json::from_str(&format!(r#"{{"script": "{s}"}}"#)).unwrap();
            let err = parse_map_as(&map, 4, None, 0).unwrap_err();
            assert!(err.contains(&format!("{s} is owned by uid 54321, not root or Kea's user (root)")), "{err}");
            assert!(parse_map_as(&map, 4, None, 54_321).is_ok());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn scripts_directory_rule_of_kea_3() {
        // What load() applies when Kea enforces its scripts directory (3.0 without -X).
        let dir = std::env::temp_dir().join(format!("krs-scripts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("hook.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let parse_with = |path: &str| parse_in(&format!(r#"{{"script": "{path}"}}"#), 4, Some(&dir));
        assert_eq!(parse_with(script.to_str().unwrap()).unwrap().scripts[0].script.to_str().unwrap(), script.to_str().unwrap());
        // A bare name is taken from the directory, as Kea's own PathChecker does.
        assert_eq!(parse_with("hook.sh").unwrap().scripts[0].script.to_str().unwrap(), script.to_str().unwrap());
        let elsewhere = parse_with("/bin/true").unwrap_err();
        assert!(elsewhere.contains(&format!("parameter 'script' (\"/bin/true\") is not in {}", dir.display())), "{elsewhere}");
        assert!(elsewhere.contains("start Kea with -X"), "{elsewhere}");
        // Subdirectories are not the directory.
        let nested = parse_with(&format!("{}/sub/hook.sh", dir.display())).unwrap_err();
        assert!(nested.contains("is not in"), "{nested}");
        std::fs::remove_dir_all(&dir).unwrap();
        // Without the rule (Kea 2.2, 2.6, or -X) a relative path is still refused.
        assert!(parse_in(r#"{"script": "hook.sh"}"#, 4, None).unwrap_err().contains("must be an absolute path"));
    }
}
