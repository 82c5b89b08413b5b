//! What differs between the Kea releases the suite runs against (2.2, 2.6, 3.0), in one place:
//! the test bed starts every server through [`prepare`], so the tests and their configurations
//! are the same on all versions.
//!
//! - Kea 2.6 and later accept files only in fixed directories, each overridable by an
//!   environment variable read at start: hook libraries (`KEA_HOOKS_PATH`), log files
//!   (`KEA_LOG_FILE_DIR`), control sockets (`KEA_CONTROL_SOCKET_DIR`, whose directory must
//!   have mode 0750 at most, exactly 0750 on 2.6), the lease file and DHCPv6 `data-directory`
//!   (`KEA_DHCP_DATA_DIR`); Kea 3.0 adds the scripts that hook libraries run
//!   (`KEA_HOOK_SCRIPTS_PATH`: ISC's run_script, and kea-runscript from 3.0 on). Each check is
//!   an exact match of the configured file's parent directory (textual: a symbolic link is not
//!   followed). The test bed keeps a server's log, socket, lease and DUID files in its private
//!   directory, so it points those variables there, on every version (2.2 ignores them).
//! - When a configuration's hook libraries, or on 3.0 its scripts, are in more than one
//!   directory (e.g. kea-runscript from `target/` beside ISC's lease_cmds), the one allowed
//!   directory cannot hold them all: the test bed then makes a per-server directory of
//!   symbolic links (`<server dir>/hooks`, `<server dir>/scripts`) and rewrites those paths in
//!   the configuration text (only then, and only on the versions that need it). A symbolic link
//!   keeps the script's behaviour: deleting or `chmod -x` of the original affects the run.
//! - Kea 3.0 (from 2.7.4) has its MySQL and PostgreSQL backends in hook libraries
//!   (`libdhcp_mysql.so`, `libdhcp_pgsql.so`); earlier releases have them built in. When a
//!   configuration names such a lease or host database and does not load its library, the
//!   test bed adds it (first in `hooks-libraries`, from Kea's hooks directory).
//! - Multi-threading is on by default from 2.6: nothing to do, the suite passes with it.
//! - `kea-ctrl-agent` (the HTTP control channel, [`crate::ctrl_agent`]) is deprecated in 3.0 and
//!   gone from 3.1.8 ([`KeaVersion::ships_ctrl_agent`]).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use json_comments::StripComments;
use serde_json::Value;

use crate::util::other;

/// A Kea release, as `kea-dhcp4 -v` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeaVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// What `kea-dhcp4 -v` printed, e.g. `2.6.3`.
    pub text: String,
}

impl KeaVersion {
    /// Parses `2.6.3`, `3.0.4-isc20250101`, `2.2.0`…
    pub fn parse(s: &str) -> Option<KeaVersion> {
        let t = s.trim();
        let mut nums = t.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).map(|p| p.parse().ok());
        Some(KeaVersion { major: nums.next()??, minor: nums.next()??, patch: nums.next()?.unwrap_or(0), text: t.to_string() })
    }

    /// At least `major.minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// Kea 2.6 and later: hook libraries, log files, control sockets, lease files only from
    /// their fixed directories (or the environment's).
    pub fn restricts_paths(&self) -> bool {
        self.at_least(2, 6)
    }

    /// Kea 2.7.4 and later: the MySQL and PostgreSQL backends are hook libraries.
    pub fn backends_are_hooks(&self) -> bool {
        (self.major, self.minor, self.patch) >= (2, 7, 4)
    }

    /// Before Kea 3.1.8: the release has `kea-ctrl-agent` (3.0 logs it is deprecated; 3.1.8
    /// removed it, the servers answering HTTP themselves).
    pub fn ships_ctrl_agent(&self) -> bool {
        (self.major, self.minor, self.patch) < (3, 1, 8)
    }

    /// Kea 3.0 and later: hook scripts only from `KEA_HOOK_SCRIPTS_PATH`.
    pub fn restricts_hook_scripts(&self) -> bool {
        self.at_least(3, 0)
    }
}

/// The installed Kea's version (`kea-dhcp4 -v`, asked once). Panics when kea-dhcp4 cannot run.
pub fn kea_version() -> &'static KeaVersion {
    static V: OnceLock<KeaVersion> = OnceLock::new();
    V.get_or_init(|| {
        let out = Command::new("kea-dhcp4").arg("-v").output().expect("testbed: cannot run kea-dhcp4 -v");
        let text = String::from_utf8_lossy(&out.stdout);
        KeaVersion::parse(&text).unwrap_or_else(|| panic!("testbed: kea-dhcp4 -v printed {text:?}"))
    })
}

/// What starting a server with a configuration text needs on this Kea: the text (rewritten
/// where the paths require it) and the environment.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub text: String,
    pub env: Vec<(OsString, OsString)>,
}

/// The environment variables that point Kea 2.6+'s fixed directories at the server's private
/// directory `dir` (harmless on 2.2, which ignores them).
pub fn private_dir_env(dir: &Path) -> Vec<(OsString, OsString)> {
    [LOG_DIR, SOCKET_DIR, DATA_DIR].into_iter().map(|k| (OsString::from(k), OsString::from(dir))).collect()
}

const LOG_DIR: &str = "KEA_LOG_FILE_DIR";
const SOCKET_DIR: &str = "KEA_CONTROL_SOCKET_DIR";
const DATA_DIR: &str = "KEA_DHCP_DATA_DIR";

/// Prepares a configuration text for a server whose private directory is `dir`, on `version`:
/// see the module documentation. Each fixed directory is the one the configuration uses (the
/// parent of its log file, control socket, lease file, its `data-directory`), or `dir` when it
/// uses none or several. `dir`, and on 2.6+ the control socket's directory, are made mode 0750
/// (what 2.6 and 3.0 require of a control socket's directory). Idempotent for a given `dir` (a
/// reload's new text gets the same links).
pub fn prepare(text: &str, dir: &Path, version: &KeaVersion) -> io::Result<Prepared> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o750))?;
    let mut env = private_dir_env(dir);
    let mut text = text.to_string();
    if version.backends_are_hooks() {
        text = with_backend_libraries(&text).unwrap_or(text);
    }
    let Some(refs) = references(&text) else {
        // Not JSON Kea would accept: leave it to Kea to say so.
        return Ok(Prepared { text, env });
    };
    let only = |files: &[String]| -> Option<PathBuf> {
        let dirs: BTreeSet<&Path> = files.iter().filter_map(|f| Path::new(f).parent()).collect();
        (dirs.len() == 1).then(|| dirs.first().unwrap().to_path_buf())
    };
    for (var, files) in [(LOG_DIR, &refs.log_files), (SOCKET_DIR, &refs.control_sockets), (DATA_DIR, &refs.data_files)] {
        if let Some(d) = only(files) {
            if var == SOCKET_DIR && version.restricts_paths() && d != dir {
                fs::set_permissions(&d, fs::Permissions::from_mode(0o750))?;
            }
            set(&mut env, var, d.into());
        }
    }
    let (libs_dir, new_text) = one_directory(&text, &refs.libraries, &dir.join("hooks"), version.restricts_paths())?;
    text = new_text;
    if let Some(d) = libs_dir {
        set(&mut env, "KEA_HOOKS_PATH", d.into());
    }
    let (scripts_dir, new_text) = one_directory(&text, &refs.scripts, &dir.join("scripts"), version.restricts_hook_scripts())?;
    text = new_text;
    if let Some(d) = scripts_dir {
        set(&mut env, "KEA_HOOK_SCRIPTS_PATH", d.into());
    }
    Ok(Prepared { text, env })
}

/// The environment for a program that reads a configuration as Kea would, e.g.
/// `kea-runscript-check`: `KEA_HOOKS_PATH` and `KEA_HOOK_SCRIPTS_PATH` of the directory its hook
/// libraries and its scripts are in, when each is one (what [`prepare`] gives the server).
pub fn tool_env(text: &str) -> Vec<(OsString, OsString)> {
    let mut env = Vec::new();
    if let Some(refs) = references(text) {
        for (var, files) in [("KEA_HOOKS_PATH", &refs.libraries), ("KEA_HOOK_SCRIPTS_PATH", &refs.scripts)] {
            let dirs: BTreeSet<&Path> = files.iter().filter_map(|f| Path::new(f).parent()).collect();
            if dirs.len() == 1 {
                env.push((OsString::from(var), OsString::from(dirs.first().unwrap())));
            }
        }
    }
    env
}

fn set(env: &mut Vec<(OsString, OsString)>, name: &str, value: OsString) {
    env.retain(|(k, _)| k != name);
    env.push((name.into(), value));
}

/// The absolute file paths a configuration gives its hook libraries and their scripts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct References {
    pub libraries: Vec<String>,
    /// kea-runscript's `script` and `scripts[].script`, ISC run_script's `name`.
    pub scripts: Vec<String>,
    /// The loggers' output files.
    pub log_files: Vec<String>,
    /// The unix control sockets.
    pub control_sockets: Vec<String>,
    /// The memfile lease file, and a file in `data-directory`.
    pub data_files: Vec<String>,
}

/// The references of a configuration text (Kea's comments allowed); `None` if it is not JSON.
pub fn references(text: &str) -> Option<References> {
    let v: Value = serde_json::from_reader(StripComments::new(text.as_bytes())).ok()?;
    let mut r = References::default();
    let servers = v.as_object()?;
    let abs = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| s.starts_with('/')).map(str::to_string);
    for server in servers.values() {
        for logger in server.get("loggers").and_then(Value::as_array).into_iter().flatten() {
            let outputs = logger.get("output_options").or_else(|| logger.get("output-options"));
            for o in outputs.and_then(Value::as_array).into_iter().flatten() {
                r.log_files.extend(abs(o.get("output")));
            }
        }
        let sockets = server.get("control-sockets").and_then(Value::as_array).cloned().unwrap_or_default();
        for sock in server.get("control-socket").into_iter().chain(sockets.iter()) {
            if sock.get("socket-type").and_then(Value::as_str).unwrap_or("unix") == "unix" {
                r.control_sockets.extend(abs(sock.get("socket-name")));
            }
        }
        r.data_files.extend(abs(server.get("lease-database").and_then(|d| d.get("name"))));
        if let Some(d) = abs(server.get("data-directory")) {
            r.data_files.push(format!("{}/duid", d.trim_end_matches('/')));
        }
        let Some(libs) = server.get("hooks-libraries").and_then(Value::as_array) else { continue };
        for lib in libs {
            let Some(path) = lib.get("library").and_then(Value::as_str) else { continue };
            if path.starts_with('/') {
                r.libraries.push(path.to_string());
            }
            let Some(params) = lib.get("parameters") else { continue };
            // ISC run_script's `name`; kea-runscript's `script`, or `name` in ISC's form, at the
            // top or in each `scripts` entry.
            let mut scripts: Vec<&Value> = Vec::new();
            if path.ends_with("libdhcp_run_script.so") {
                scripts.extend(params.get("name"));
            } else {
                scripts.extend(params.get("script").or_else(|| params.get("name")));
                if let Some(list) = params.get("scripts").and_then(Value::as_array) {
                    scripts.extend(list.iter().filter_map(|s| s.get("script").or_else(|| s.get("name"))));
                }
            }
            for s in scripts.into_iter().filter_map(Value::as_str) {
                if s.starts_with('/') && !s.ends_with('/') {
                    r.scripts.push(s.to_string());
                }
            }
        }
    }
    Some(r)
}

/// The text with the hook library of each MySQL or PostgreSQL database it names (lease, hosts)
/// added first in `hooks-libraries` when not already there (rewritten by serde_json, keys
/// sorted, comments gone); `None` when nothing is to be added or it is not JSON.
fn with_backend_libraries(text: &str) -> Option<String> {
    let mut v: Value = serde_json::from_reader(StripComments::new(text.as_bytes())).ok()?;
    let hooks_dir = Path::new(crate::kea::ISC_RUN_SCRIPT).parent()?;
    let mut changed = false;
    for server in v.as_object_mut()?.values_mut() {
        let Some(server) = server.as_object_mut() else { continue };
        let hosts = server.get("hosts-databases").and_then(Value::as_array).cloned().unwrap_or_default();
        let dbs = [server.get("lease-database"), server.get("hosts-database")].into_iter().flatten().chain(&hosts);
        let needed: Vec<&str> = dbs
            .filter_map(|db| match db.get("type")?.as_str()? {
                "postgresql" => Some("libdhcp_pgsql.so"),
                "mysql" => Some("libdhcp_mysql.so"),
                _ => None,
            })
            .collect();
        let libs = server.entry("hooks-libraries").or_insert_with(|| Value::Array(Vec::new()));
        let Some(libs) = libs.as_array_mut() else { continue };
        for name in needed {
            let loaded = libs.iter().any(|l| l.get("library").and_then(Value::as_str).is_some_and(|p| p.ends_with(name)));
            if !loaded {
                libs.insert(0, serde_json::json!({"library": hooks_dir.join(name).to_string_lossy()}));
                changed = true;
            }
        }
    }
    changed.then(|| serde_json::to_string_pretty(&v).expect("a Value serializes") + "\n")
}

/// The one directory that holds every path of `paths` (their common parent), or, when they are in
/// several and `restricted`, `links` filled with a symbolic link per file and the text rewritten
/// to name the links. Returns the directory (None without paths) and the text.
fn one_directory(text: &str, paths: &[String], links: &Path, restricted: bool) -> io::Result<(Option<PathBuf>, String)> {
    let parents: BTreeSet<&Path> = paths.iter().filter_map(|p| Path::new(p).parent()).collect();
    match parents.len() {
        0 => return Ok((None, text.to_string())),
        1 => return Ok((parents.first().map(|p| p.to_path_buf()), text.to_string())),
        _ if !restricted => return Ok((parents.first().map(|p| p.to_path_buf()), text.to_string())),
        _ => {}
    }
    fs::create_dir_all(links)?;
    let mut text = text.to_string();
    let unique: BTreeSet<&String> = paths.iter().collect();
    for p in unique {
        let path = Path::new(p);
        let name = path.file_name().ok_or_else(|| other(format!("testbed: no file name in {p}")))?;
        let mut link = links.join(name);
        // Two files of the same name: number the second one's link.
        let mut n = 1;
        while let Ok(target) = fs::read_link(&link) {
            if target == path {
                break;
            }
            link = links.join(format!("{n}-{}", name.to_string_lossy()));
            n += 1;
        }
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(path, &link)?;
        }
        let quoted = |s: &str| serde_json::to_string(s).expect("a string serializes");
        text = text.replace(&quoted(p), &quoted(&link.to_string_lossy()));
    }
    Ok((Some(links.to_path_buf()), text))
}


#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KeaVersion {
        KeaVersion::parse(s).unwrap()
    }

    #[test]
    fn versions_parse() {
        assert_eq!((v("2.2.0\n").major, v("2.2.0").minor), (2, 2));
        assert_eq!(v("3.0.4-isc20250101").patch, 4);
        assert!(v("2.6.3").restricts_paths() && !v("2.6.3").restricts_hook_scripts());
        assert!(v("3.0.4").restricts_hook_scripts());
        assert!(!v("2.2.0").restricts_paths());
        assert!(KeaVersion::parse("garbage").is_none());
        assert!(!v("2.6.3").backends_are_hooks() && v("3.0.4").backends_are_hooks());
        assert!(v("2.2.0").ships_ctrl_agent() && v("3.0.4").ships_ctrl_agent() && v("3.1.7").ships_ctrl_agent());
        assert!(!v("3.1.8").ships_ctrl_agent() && !v("3.2.0").ships_ctrl_agent());
    }

    #[test]
    fn database_backend_libraries_are_added() {
        let pg = r#"{"Dhcp4": {"lease-database": {"type": "postgresql", "name": "kea"},
            "hooks-libraries": [{"library": "/b/libkea_runscript.so"}]}}"#;
        let text = with_backend_libraries(pg).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let libs = v["Dhcp4"]["hooks-libraries"].as_array().unwrap();
        assert_eq!(libs.len(), 2);
        assert!(libs[0]["library"].as_str().unwrap().ends_with("/kea/hooks/libdhcp_pgsql.so"), "{text}");
        assert_eq!(with_backend_libraries(&text), None, "already there");
        assert_eq!(with_backend_libraries(r#"{"Dhcp6": {"lease-database": {"type": "memfile"}}}"#), None);
    }

    const TEXT: &str = r#"// comment
    { "Dhcp4": { "hooks-libraries": [
        { "library": "/a/libdhcp_lease_cmds.so" },
        { "library": "/b/libkea_runscript.so", "parameters": {
            "script": "/s1/x.sh", "scripts": [ { "script": "/s2/x.sh" }, { "script": "/s1/y.sh" } ] } },
        { "library": "/a/libdhcp_run_script.so", "parameters": { "name": "/s3/r.sh" } },
        { "library": "/b/libkea_runscript.so", "parameters": { "name": "/s4/isc.sh", "sync": true } }
    ] } }"#;

    #[test]
    fn references_are_found() {
        let r = references(TEXT).unwrap();
        assert_eq!(
            r.libraries,
            ["/a/libdhcp_lease_cmds.so", "/b/libkea_runscript.so", "/a/libdhcp_run_script.so", "/b/libkea_runscript.so"]
        );
        assert_eq!(r.scripts, ["/s1/x.sh", "/s2/x.sh", "/s1/y.sh", "/s3/r.sh", "/s4/isc.sh"]);
        assert!(references("{ not json").is_none());
        let other = r#"{"Dhcp6": {"loggers": [{"output_options": [{"output": "stdout"}, {"output": "/l/kea.log"}]}],
            "control-socket": {"socket-type": "unix", "socket-name": "/c/ctrl.sock"},
            "lease-database": {"type": "memfile", "name": "/d/leases6.csv"}, "data-directory": "/d/"}}"#;
        let r = references(other).unwrap();
        assert_eq!(r.log_files, ["/l/kea.log"]);
        assert_eq!(r.control_sockets, ["/c/ctrl.sock"]);
        assert_eq!(r.data_files, ["/d/leases6.csv", "/d/duid"]);
    }

    #[test]
    fn one_directory_links_only_when_needed() {
        let tmp = std::env::temp_dir().join(format!("krs-versions-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).unwrap();

        let p = prepare(TEXT, &tmp, &v("2.2.0")).unwrap();
        assert_eq!(p.text, TEXT, "2.2: unchanged");
        assert!(p.env.iter().any(|(k, _)| k == "KEA_DHCP_DATA_DIR"));

        let p = prepare(TEXT, &tmp, &v("2.6.3")).unwrap();
        let hooks = tmp.join("hooks");
        assert!(p.text.contains(&format!("\"{}/libdhcp_lease_cmds.so\"", hooks.display())), "{}", p.text);
        assert!(p.text.contains("\"/s2/x.sh\""), "2.6: scripts unchanged");
        assert!(p.env.contains(&("KEA_HOOKS_PATH".into(), hooks.clone().into())));
        assert_eq!(fs::read_link(hooks.join("libkea_runscript.so")).unwrap(), Path::new("/b/libkea_runscript.so"));

        let p = prepare(TEXT, &tmp, &v("3.0.4")).unwrap();
        let scripts = tmp.join("scripts");
        assert_eq!(fs::read_link(scripts.join("x.sh")).unwrap(), Path::new("/s1/x.sh"));
        assert_eq!(fs::read_link(scripts.join("1-x.sh")).unwrap(), Path::new("/s2/x.sh"));
        assert!(p.text.contains(&format!("\"{}/1-x.sh\"", scripts.display())), "{}", p.text);
        assert!(p.env.contains(&("KEA_HOOK_SCRIPTS_PATH".into(), scripts.clone().into())));

        let single = r#"{"Dhcp6": {"hooks-libraries": [{"library": "/b/l.so", "parameters": {"script": "/s/x.sh"}}]}}"#;
        let p = prepare(single, &tmp, &v("3.0.4")).unwrap();
        assert_eq!(p.text, single);
        assert!(p.env.contains(&("KEA_HOOKS_PATH".into(), "/b".into())));
        assert!(p.env.contains(&("KEA_HOOK_SCRIPTS_PATH".into(), "/s".into())));
        fs::remove_dir_all(&tmp).unwrap();
    }
}
