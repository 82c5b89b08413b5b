//! The project's Python DHCP clients (`testbed/clients/*.py`), run in the client namespace.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::netns::Netns;
use crate::util::{other, read_or_empty};

/// Directory of the project's Python DHCP clients (`testbed/clients`).
pub fn python_clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Whether the Python client `name` (e.g. `dhcp4_client.py`) exists.
pub fn python_client_available(name: &str) -> bool {
    python_clients_dir().join(name).is_file()
}

/// Runs `/usr/bin/python3 testbed/clients/<name> ARGS...` in the client
/// namespace, bounded by `timeout`; returns its output (fails on non-zero).
pub fn run_python_client(ns: &Netns, name: &str, args: &[&str], timeout: Duration) -> io::Result<Output> {
    let script = python_clients_dir().join(name);
    if !script.is_file() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} not found", script.display())));
    }
    let dir = ns.subdir("python")?;
    let n = fs::read_dir(&dir)?.count();
    let (out_p, err_p) = (dir.join(format!("{n}.stdout")), dir.join(format!("{n}.stderr")));
    let mut cmd: Command = ns.client_cmd("/usr/bin/python3");
    cmd.arg(&script)
        .args(args)
        .stdout(Stdio::from(fs::File::create(&out_p)?))
        .stderr(Stdio::from(fs::File::create(&err_p)?));
    let p = ns.spawn(name, &mut cmd)?;
    let st = p.wait_timeout(timeout).map_err(|e| {
        p.kill();
        other(format!("{name} {args:?}: {e}\n{}{}", read_or_empty(&out_p), read_or_empty(&err_p)))
    })?;
    let out = Output { status: st, stdout: fs::read(&out_p)?, stderr: fs::read(&err_p)? };
    if !st.success() {
        return Err(other(format!(
            "{name} {args:?} failed ({st}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out)
}

/// What a Python client reported (its one JSON line) and printed.
#[derive(Debug, Clone)]
pub struct PyReport {
    pub json: serde_json::Value,
    pub stdout: String,
    pub stderr: String,
}

impl PyReport {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(serde_json::Value::as_str)
    }
}

fn py_report(out: Output) -> io::Result<PyReport> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
    let json = serde_json::from_str(line).map_err(|e| other(format!("bad report {line:?}: {e}\n{stderr}")))?;
    Ok(PyReport { json, stdout, stderr })
}

/// `dhcp4_client.py --iface <client veth> ARGS...` (see
/// `testbed/clients/README.md`), bounded by 60 s.
pub fn dhcp4_client(ns: &Netns, args: &[&str]) -> io::Result<PyReport> {
    let mut a = vec!["--iface", ns.client_if.as_str()];
    a.extend_from_slice(args);
    py_report(run_python_client(ns, "dhcp4_client.py", &a, Duration::from_secs(60))?)
}

/// `dhcp6_client.py --iface <client veth> ARGS...`, bounded by 60 s.
pub fn dhcp6_client(ns: &Netns, args: &[&str]) -> io::Result<PyReport> {
    let mut a = vec!["--iface", ns.client_if.as_str()];
    a.extend_from_slice(args);
    py_report(run_python_client(ns, "dhcp6_client.py", &a, Duration::from_secs(60))?)
}
