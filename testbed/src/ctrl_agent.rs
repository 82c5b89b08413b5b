//! Debian's `kea-ctrl-agent` (Kea's HTTP control channel) in the server namespace, in front of a
//! running [`Kea`]'s unix control socket, and `curl` in the same namespace to talk to it.
//!
//! The agent of the Kea under test is the one on `PATH`: the host's for 2.2, the root's when the
//! suite runs inside a Debian root (`scripts/in-root.sh`), like kea-dhcp4. It listens on
//! 127.0.0.1 of the server namespace only (its loopback; nothing leaves the namespace), with
//! basic HTTP authentication as Debian's packaged configuration sets it up (user `kea-api`, a
//! password file), its configuration, log and pid file in a directory of the pair's scratch
//! directory. Release differences (read from Kea's sources, `src/bin/agent/`):
//!
//! - 2.6 and 3.0 accept a `control-sockets` path only in `KEA_CONTROL_SOCKET_DIR` (the same
//!   check as the servers', `UnixCommandConfig::validatePath`): the agent gets the server's
//!   private directory there; 3.0 also wants its log file in `KEA_LOG_FILE_DIR`.
//! - 3.0 logs `CTRL_AGENT_IS_DEPRECATED` (the servers have HTTP control sockets of their own);
//!   Kea 3.1.8 removed the agent: [`CtrlAgent::available`] says so, and the tests skip.
//! - Authentication is not required by Kea itself on any of them (Debian's 2.6 and 3.0
//!   packages configure it, and their unit does not start the agent without a password).

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::kea::{Family, Kea};
use crate::netns::Netns;
use crate::util::{other, read_or_empty, wait_until, Proc, DEFAULT_TIMEOUT};
use crate::versions::{self, KeaVersion};

/// The agent's binary.
pub const CTRL_AGENT: &str = "kea-ctrl-agent";
/// The user of basic HTTP authentication (Debian's name).
pub const AGENT_USER: &str = "kea-api";
/// The first port tried; the next free one in the namespace is taken.
const FIRST_PORT: u16 = 8000;

/// The Kea service name the agent forwards to: `dhcp4` or `dhcp6`.
pub fn service(family: Family) -> &'static str {
    match family {
        Family::V4 => "dhcp4",
        Family::V6 => "dhcp6",
    }
}

/// A running `kea-ctrl-agent` for one server. Stopped (by PID) on drop.
#[derive(Debug)]
pub struct CtrlAgent<'a> {
    ns: &'a Netns,
    proc: Proc,
    dir: PathBuf,
    port: u16,
    service: &'static str,
    password: String,
}

impl<'a> CtrlAgent<'a> {
    /// `Ok` when the Kea under test has a `kea-ctrl-agent`; otherwise why not (to skip with): the
    /// release does not ship one (3.1.8 and later), or it does and it is not installed (then
    /// `scripts/install-deps.sh` installs it: a test should fail, not skip, on that).
    pub fn available() -> Result<PathBuf, String> {
        available_for(versions::kea_version())
    }

    /// Starts the agent in `kea`'s namespace, forwarding to `kea`'s control socket (the server
    /// needs [`crate::KeaConfig::control_socket`]), and waits until it answers a command of its
    /// own over HTTP (fails with its log if it exits or does not answer).
    pub fn start(kea: &Kea<'a>) -> io::Result<CtrlAgent<'a>> {
        let version = versions::kea_version();
        let binary = available_for(version).map_err(other)?;
        let socket = kea.control_socket();
        if !socket.exists() {
            return Err(other(format!(
                "ctrl-agent: {} has no control socket (KeaConfig::control_socket)",
                socket.display()
            )));
        }
        let ns = kea.netns();
        let dir = (0..)
            .map(|n| ns.dir().join(format!("{CTRL_AGENT}-{n}")))
            .find(|d| !d.exists())
            .expect("an unused directory name");
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o750))?;
        let password = format!("krs-{:x}-{}", std::process::id(), nanos());
        let password_file = dir.join("kea-api-password");
        fs::write(&password_file, &password)?;
        fs::set_permissions(&password_file, fs::Permissions::from_mode(0o600))?;

        let port = free_port(ns)?;
        let service = service(kea.family());
        let config = dir.join("kea-ctrl-agent.json");
        let text = serde_json::to_string_pretty(&json!({"Control-agent": {
            "http-host": "127.0.0.1",
            "http-port": port,
            "authentication": {
                "type": "basic",
                "realm": "kea-runscript testbed",
                "directory": dir.to_string_lossy(),
                "clients": [{"user": AGENT_USER, "password-file": "kea-api-password"}],
            },
            "control-sockets": {service: {"socket-type": "unix", "socket-name": socket.to_string_lossy()}},
            "loggers": [{
                "name": CTRL_AGENT,
                "output_options": [{"output": dir.join("agent.log").to_string_lossy(), "flush": true, "maxsize": 0}],
                "severity": "INFO",
                "debuglevel": 0,
            }],
        }}))
        .expect("a Value serializes");
        fs::write(&config, text + "\n")?;

        let socket_dir = socket.parent().expect("a socket path has a parent");
        let mut cmd = ns.server_cmd(&binary);
        cmd.arg("-c")
            .arg(&config)
            // 2.6+: the socket only from this directory, the log file only from that one.
            .envs(versions::private_dir_env(&dir))
            .env("KEA_CONTROL_SOCKET_DIR", socket_dir)
            .env("KEA_PIDFILE_DIR", &dir)
            .env("KEA_LOCKFILE_DIR", &dir)
            .stdout(Stdio::from(fs::File::create(dir.join("stdout"))?))
            .stderr(Stdio::from(fs::File::create(dir.join("stderr"))?));
        let proc = ns.spawn(CTRL_AGENT, &mut cmd)?;
        let agent = CtrlAgent { ns, proc, dir, port, service, password };

        // Ready when it logged its HTTP service and answers a command of its own (no
        // `service`: the agent answers itself, so this does not depend on the server).
        let r = wait_until(DEFAULT_TIMEOUT, || {
            if let Some(st) = agent.proc.try_status() {
                return Some(Err(st));
            }
            let ready = agent.log().contains("CTRL_AGENT_HTTP_SERVICE_STARTED")
                && agent.post(r#"{"command": "list-commands"}"#, true).is_ok_and(|(code, _)| code == 200);
            ready.then_some(Ok(()))
        });
        match r {
            Ok(Ok(())) => Ok(agent),
            Ok(Err(st)) => Err(other(format!("{CTRL_AGENT} exited ({st}):\n{}", agent.log()))),
            Err(e) => Err(other(format!("{CTRL_AGENT} did not answer on port {port}: {e}\n{}", agent.log()))),
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// The port it listens on, on 127.0.0.1 of the server namespace.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Its directory (configuration, log, password file, pid file).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its log file, then stdout and stderr.
    pub fn log(&self) -> String {
        let mut s = read_or_empty(&self.dir.join("agent.log"));
        for f in ["stdout", "stderr"] {
            let t = read_or_empty(&self.dir.join(f));
            if !t.is_empty() {
                s.push_str(&format!("--- {f} ---\n{t}"));
            }
        }
        s
    }

    /// POSTs `body` with curl in the server namespace, with the password when `authenticated`;
    /// returns the HTTP status and the body of the answer.
    pub fn post(&self, body: &str, authenticated: bool) -> io::Result<(u16, String)> {
        let mut cmd = self.ns.server_cmd("curl");
        cmd.args(["-sS", "--max-time", "10", "-X", "POST", "-H", "Content-Type: application/json"]);
        if authenticated {
            cmd.arg("-u").arg(format!("{AGENT_USER}:{}", self.password));
        }
        // The status on a last line of its own.
        cmd.args(["-d", body, "-w", "\n%{http_code}"]).arg(self.url());
        let out = cmd.stdin(Stdio::null()).output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(other(format!("curl {body}: {}: {}{text}", out.status, String::from_utf8_lossy(&out.stderr))));
        }
        let (answer, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        let code = code.trim().parse().map_err(|_| other(format!("curl {body}: no status in {text:?}")))?;
        Ok((code, answer.to_string()))
    }

    /// Sends `command` with `arguments` (none when `Value::Null`) to the server through the
    /// agent and returns the agent's answer as parsed JSON: a list, one answer per service (here
    /// one). Fails on an HTTP status other than 200.
    pub fn command(&self, command: &str, arguments: &Value) -> io::Result<Value> {
        let mut req = json!({"command": command, "service": [self.service]});
        if !arguments.is_null() {
            req["arguments"] = arguments.clone();
        }
        let body = req.to_string();
        let (code, answer) = self.post(&body, true)?;
        if code != 200 {
            return Err(other(format!("{body}: HTTP {code}: {answer}")));
        }
        serde_json::from_str(&answer).map_err(|e| other(format!("{body}: bad answer {answer:?}: {e}")))
    }

    /// [`CtrlAgent::command`], and the server's answer (the list's only element) when its
    /// `result` is 0; fails otherwise.
    pub fn command_ok(&self, command: &str, arguments: &Value) -> io::Result<Value> {
        let v = self.command(command, arguments)?;
        match v.as_array().map(Vec::as_slice) {
            Some([one]) if one.get("result").and_then(Value::as_i64) == Some(0) => Ok(one.clone()),
            _ => Err(other(format!("{command} through {CTRL_AGENT}: {v}"))),
        }
    }

    /// Stops the agent (SIGTERM, then SIGKILL), by PID.
    pub fn stop(&self) -> Option<std::process::ExitStatus> {
        self.proc.terminate(Duration::from_secs(5))
    }
}

impl Drop for CtrlAgent<'_> {
    fn drop(&mut self) {
        // Its directory goes with the pair's scratch directory.
        self.stop();
    }
}

fn available_for(version: &KeaVersion) -> Result<PathBuf, String> {
    if !version.ships_ctrl_agent() {
        return Err(format!(
            "Kea {} does not ship {CTRL_AGENT} (removed in 3.1.8: the servers have HTTP control sockets of their own)",
            version.text
        ));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(CTRL_AGENT)).find(|p| p.is_file()).ok_or_else(|| {
        format!("Kea {} ships {CTRL_AGENT} but it is not installed: run scripts/install-deps.sh", version.text)
    })
}

/// The first TCP port from [`FIRST_PORT`] that nothing listens on in the server namespace
/// (`ss`, in the namespace: the namespace is the test's own, so nothing else takes it meanwhile).
fn free_port(ns: &Netns) -> io::Result<u16> {
    let out = ns.server_cmd("ss").args(["-Htln"]).stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(other(format!("ss -Htln: {}", String::from_utf8_lossy(&out.stderr))));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let used: Vec<u16> =
        text.lines().filter_map(|l| l.split_whitespace().nth(3)?.rsplit_once(':')?.1.parse().ok()).collect();
    (FIRST_PORT..u16::MAX).find(|p| !used.contains(p)).ok_or_else(|| other("no free port"))
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_without_the_agent_says_so() {
        let why = available_for(&KeaVersion::parse("3.2.0").unwrap()).unwrap_err();
        assert!(why.contains("Kea 3.2.0 does not ship kea-ctrl-agent"), "{why}");
    }
}
