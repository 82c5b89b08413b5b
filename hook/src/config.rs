//! The library's parameters (Kea's `"parameters"` map), parsed and validated once, at `load()`.

use serde_json::Value;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[derive(Debug)]
pub struct Config {
    /// Absolute path of the program to run.
    pub script: CString,
    /// Wait for the script to exit before Kea goes on (`true`), or run it in the background.
    pub wait: bool,
}

const KNOWN: &[&str] = &["script", "wait"];

/// Parse Kea's parameters (JSON text). The error names every offending parameter.
pub fn parse(json: &str) -> Result<Config, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("parameters are not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("\"parameters\" must be a map".into());
    };
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
    match (script, wait) {
        (Ok(script), Ok(wait)) if errors.is_empty() => Ok(Config { script, wait }),
        (script, wait) => {
            errors.extend(script.err());
            errors.extend(wait.err());
            Err(errors.join("; "))
        }
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
    use super::parse;

    #[test]
    fn accepts_the_seed_form() {
        let c = parse(r#"{"script": "/bin/true", "wait": true}"#).unwrap();
        assert_eq!(c.script.to_str().unwrap(), "/bin/true");
        assert!(c.wait);
        assert!(!parse(r#"{"script": "/bin/true"}"#).unwrap().wait, "wait defaults to false");
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
            (r#"[1]"#, "must be a map"),
        ];
        for (json, expected) in cases {
            let err = parse(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err:?} lacks {expected:?}");
        }
    }
}
