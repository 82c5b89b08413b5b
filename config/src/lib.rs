//! kea-runscript's parameters (Kea's `"parameters"` map): one parser with two callers, the hook's
//! `load()` and the `kea-runscript-check` pre-flight command, so both say exactly the same thing.

pub mod kea_file;

use serde_json::{Map, Value};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// What the callout tells Kea to do next, from the script's exit status (`exit-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    Skip,
    Drop,
}

#[derive(Debug)]
pub struct Config {
    /// Absolute path of the program to run.
    pub script: CString,
    /// Wait for the script to exit before Kea goes on (`true`), or run it in the background.
    pub wait: bool,
    /// A run still going after this gets SIGTERM (then SIGKILL after a grace).
    pub timeout: Duration,
    /// Exit status → next step, for `wait: true`; unlisted statuses continue.
    pub exit_status: [Action; 256],
    /// Background runs at once.
    pub max_running: usize,
    /// Background events waiting for a free slot; past that they are dropped.
    pub max_queued: usize,
}

pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_MAX_RUNNING: u64 = 32;
pub const DEFAULT_MAX_QUEUED: u64 = 1024;

const KNOWN: &[&str] = &["script", "wait", "timeout-ms", "exit-status", "max-running", "max-queued"];

/// Parse Kea's parameters (JSON text). The error names every offending parameter.
pub fn parse(json: &str) -> Result<Config, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("parameters are not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("\"parameters\" must be a map".into());
    };
    parse_map(&map)
}

pub fn parse_map(map: &Map<String, Value>) -> Result<Config, String> {
    let mut errors = Vec::new();
    for key in map.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        errors.push(format!("unknown parameter '{key}' (known: {})", KNOWN.join(", ")));
    }
    let script = match map.get("script") {
        None => Err("parameter 'script' is missing: give the absolute path of the program to run".to_string()),
        Some(Value::String(s)) => check_script(s).map_err(|e| format!("parameter 'script' ({s:?}) {e}")),
        Some(other) => Err(format!("parameter 'script' must be a string, not {}", json_type(other))),
    };
    let wait = match map.get("wait") {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("parameter 'wait' must be true or false, not {}", json_type(other))),
    };
    let timeout = integer(map, "timeout-ms", DEFAULT_TIMEOUT_MS, 1, 3_600_000).map(Duration::from_millis);
    let max_running = integer(map, "max-running", DEFAULT_MAX_RUNNING, 1, 1024);
    let max_queued = integer(map, "max-queued", DEFAULT_MAX_QUEUED, 0, 1_000_000);
    let exit_status = exit_status(map.get("exit-status"), wait.as_ref().ok().copied());
    match (script, wait, timeout, exit_status, max_running, max_queued) {
        (Ok(script), Ok(wait), Ok(timeout), Ok(exit_status), Ok(max_running), Ok(max_queued)) if errors.is_empty() => {
            Ok(Config {
                script,
                wait,
                timeout,
                exit_status,
                max_running: max_running as usize,
                max_queued: max_queued as usize,
            })
        }
        (script, wait, timeout, exit_status, max_running, max_queued) => {
            errors.extend(script.err());
            errors.extend(wait.err());
            errors.extend(timeout.err());
            errors.extend(exit_status.err());
            errors.extend(max_running.err());
            errors.extend(max_queued.err());
            Err(errors.join("; "))
        }
    }
}

fn integer(map: &Map<String, Value>, name: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
    let range = || format!("parameter '{name}' must be an integer from {min} to {max}");
    match map.get(name) {
        None => Ok(default),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(format!("{}, not {n}", range())),
        },
        Some(other) => Err(format!("{}, not {}", range(), json_type(other))),
    }
}

fn exit_status(value: Option<&Value>, wait: Option<bool>) -> Result<[Action; 256], String> {
    let mut table = [Action::Continue; 256];
    let Some(value) = value else { return Ok(table) };
    let Value::Object(map) = value else {
        return Err(format!(
            "parameter 'exit-status' must be a map from exit status to \"skip\", \"drop\" or \"continue\", not {}",
            json_type(value)
        ));
    };
    if wait == Some(false) {
        return Err("parameter 'exit-status' needs \"wait\": true (a background script exits too late to change \
                    what Kea does with the packet)"
            .into());
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
            (None, _) => errors.push(format!("parameter 'exit-status': {code:?} is not an exit status (0 to 255)")),
            (_, None) => errors.push(format!(
                "parameter 'exit-status': the action for {code} must be \"skip\", \"drop\" or \"continue\", not {action}"
            )),
        }
    }
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors.join("; "))
    }
}

fn check_script(path: &str) -> Result<CString, String> {
    let p = Path::new(path);
    if path.is_empty() || !p.is_absolute() {
        return Err("must be an absolute path".into());
    }
    let meta = std::fs::metadata(p).map_err(|e| format!("cannot be used: {e}"))?;
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

    #[test]
    fn accepts_the_seed_form_with_safe_defaults() {
        let c = parse(r#"{"script": "/bin/true", "wait": true}"#).unwrap();
        assert_eq!(c.script.to_str().unwrap(), "/bin/true");
        assert!(c.wait);
        assert_eq!(c.timeout, Duration::from_millis(DEFAULT_TIMEOUT_MS));
        assert_eq!((c.max_running, c.max_queued), (32, 1024));
        assert!(c.exit_status.iter().all(|a| *a == Action::Continue));
        assert!(!parse(r#"{"script": "/bin/true"}"#).unwrap().wait, "wait defaults to false");
    }

    #[test]
    fn reads_every_parameter() {
        let c = parse(
            r#"{"script": "/bin/true", "wait": true, "timeout-ms": 250, "exit-status": {"3": "skip", "4": "drop", "0": "continue"},
                "max-running": 2, "max-queued": 0}"#,
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::from_millis(250));
        assert_eq!((c.exit_status[3], c.exit_status[4], c.exit_status[5]), (Action::Skip, Action::Drop, Action::Continue));
        assert_eq!((c.max_running, c.max_queued), (2, 0));
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
            (r#"[1]"#, "must be a map"),
        ];
        for (json, expected) in cases {
            let err = parse(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err:?} lacks {expected:?}");
        }
    }

    #[test]
    fn reports_every_fault_at_once() {
        let err = parse(r#"{"wait": 1, "timeout-ms": -3, "colour": "red"}"#).unwrap_err();
        for expected in ["unknown parameter 'colour'", "'script' is missing", "'wait' must be", "'timeout-ms' must be"] {
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
    }
}
