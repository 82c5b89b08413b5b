//! Kea started the way Debian's systemd unit starts it (`kea-dhcp4-server.service`,
//! `kea-dhcp6-server.service`), without systemd: what an operator gets after installing the
//! packages.
//!
//! [`Service::debian`] reads the unit of the Kea under test (the host's for 2.2, the root's
//! inside a Debian root) and takes from it what shapes the process: `User=`,
//! `AmbientCapabilities=`, `Environment=`, and the directories systemd makes before the start
//! (`RuntimeDirectory=`, `StateDirectory=`, `LogsDirectory=`, each with its `…Mode=`, default
//! 0755, owned by the user and its primary group). [`Service::drop_in`] applies a drop-in's
//! `[Service]` lines with systemd's rules (a capability list merges with the unit's, an empty
//! assignment resets it), e.g. the ones the examples ship.
//!
//! [`crate::Kea`] then starts the server (see [`crate::KeaConfig::service`]):
//! - as the user, with its groups, and exactly the ambient capabilities as inheritable,
//!   permitted, effective and ambient sets (`setpriv`); the bounding set is left as it is, as
//!   systemd does for a unit without `CapabilityBoundingSet=`;
//! - with a cleared environment holding what systemd gives a `User=` service (`PATH`, `HOME`,
//!   `USER`, `LOGNAME`, `SHELL`, `RUNTIME_DIRECTORY`, `STATE_DIRECTORY`, `LOGS_DIRECTORY`) and the
//!   unit's `Environment=`;
//! - with the unit's directories made, owned and moded as systemd makes them, but in the
//!   server's private directory (`run/kea`, `run/lock/kea`, `var/lib/kea`, `var/log/kea`), so
//!   nothing of the machine's is touched. Where a path of the unit's names one of them (e.g.
//!   `KEA_LOCKFILE_DIR=/run/lock/kea`) it names the private one; because they are not Kea's
//!   compiled-in directories, the server also gets the variables that point Kea at them
//!   (`KEA_PIDFILE_DIR`, and on 2.6+ those of [`crate::versions`]) and at the library and the
//!   scripts under test (`KEA_HOOKS_PATH`, `KEA_HOOK_SCRIPTS_PATH`: where a package installs them
//!   instead). Those are the only differences from the unit.
//!
//! The server's private directory itself (its configuration, as `/etc/kea` holds it) is owned
//! by root, group `_kea`, mode 0750. A test's scripts must be readable and executable by the
//! user, and what they write to writable by it: [`Service::hand_over`].

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::kea::Family;
use crate::util::other;

/// The unit files' directories, in systemd's order.
const UNIT_DIRS: [&str; 2] = ["/lib/systemd/system", "/usr/lib/systemd/system"];

/// What systemd sets `PATH` to for a system service (systemd 252, Debian 12).
pub const SERVICE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The capabilities the test bed knows by name (`capabilities(7)`), with their bit numbers.
const CAPS: &[(&str, u32)] = &[
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_DAC_READ_SEARCH", 2),
    ("CAP_FOWNER", 3),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_BROADCAST", 11),
    ("CAP_NET_ADMIN", 12),
    ("CAP_NET_RAW", 13),
    ("CAP_SYS_ADMIN", 21),
];

/// A Kea unit as systemd would run it (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The unit file read, e.g. `/lib/systemd/system/kea-dhcp4-server.service`.
    pub unit: PathBuf,
    /// `User=`.
    pub user: String,
    pub uid: u32,
    /// The user's primary group (the unit sets no `Group=`).
    pub gid: u32,
    pub home: String,
    pub shell: String,
    /// `AmbientCapabilities=`, upper-case names, in order, without repeats.
    pub ambient: Vec<String>,
    /// `Environment=` assignments, in order.
    pub environment: Vec<(String, String)>,
    /// `RuntimeDirectory=` (relative to /run), `RuntimeDirectoryMode=`.
    pub runtime: (Vec<String>, u32),
    /// `StateDirectory=` (relative to /var/lib).
    pub state: (Vec<String>, u32),
    /// `LogsDirectory=` (relative to /var/log).
    pub logs: (Vec<String>, u32),
}

/// Where a server's files are: all in its private directory (as root), or in the unit's
/// directories made inside it ([`Service`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDirs {
    /// The configuration file, stdout/stderr, the links of [`crate::versions`].
    pub private: PathBuf,
    /// Control socket, pid file (`/run/kea`).
    pub runtime: PathBuf,
    /// Lock file (`/run/lock/kea`).
    pub lock: PathBuf,
    /// Lease files, the DHCPv6 DUID file (`/var/lib/kea`).
    pub state: PathBuf,
    /// Kea's log file (`/var/log/kea`).
    pub logs: PathBuf,
}

impl ServerDirs {
    /// Everything in `dir` (a server run as root).
    pub fn single(dir: &Path) -> ServerDirs {
        let d = dir.to_path_buf();
        ServerDirs { private: d.clone(), runtime: d.clone(), lock: d.clone(), state: d.clone(), logs: d }
    }
}

impl Service {
    /// The unit of `family`'s server from the installed package (the host's, or the root's inside a
    /// Debian root).
    pub fn debian(family: Family) -> io::Result<Service> {
        let name = match family {
            Family::V4 => "kea-dhcp4-server.service",
            Family::V6 => "kea-dhcp6-server.service",
        };
        let unit = UNIT_DIRS
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
            .ok_or_else(|| other(format!("service: no {name} in {UNIT_DIRS:?} (is kea-dhcp4-server installed?)")))?;
        let text = fs::read_to_string(&unit)?;
        Service::from_unit(&unit, &text)
    }

    /// A service from a unit's text (`unit` names it in messages).
    pub fn from_unit(unit: &Path, text: &str) -> io::Result<Service> {
        let mut s = Service {
            unit: unit.to_path_buf(),
            user: "root".into(),
            uid: 0,
            gid: 0,
            home: "/root".into(),
            shell: "/bin/sh".into(),
            ambient: Vec::new(),
            environment: Vec::new(),
            runtime: (Vec::new(), 0o755),
            state: (Vec::new(), 0o755),
            logs: (Vec::new(), 0o755),
        };
        s.apply(text)?;
        Ok(s)
    }

    /// The service with a drop-in's `[Service]` lines applied (systemd's rules: see the module
    /// documentation), e.g. `examples/routes/kea-dhcp4-server.service.d/kea-runscript.conf`.
    pub fn drop_in(mut self, text: &str) -> io::Result<Service> {
        self.apply(text)?;
        Ok(self)
    }

    /// [`Service::drop_in`] of a file.
    pub fn drop_in_file(self, path: &Path) -> io::Result<Service> {
        let text = fs::read_to_string(path).map_err(|e| other(format!("{}: {e}", path.display())))?;
        self.drop_in(&text)
    }

    fn apply(&mut self, text: &str) -> io::Result<()> {
        let mut section = String::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                section = line.to_string();
                continue;
            }
            if section != "[Service]" {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let (key, value) = (key.trim(), value.trim());
            let words = || split_words(value);
            let mode = |v: &str| {
                u32::from_str_radix(v, 8).map_err(|_| other(format!("{}: {key}={v}: not an octal mode", self.unit.display())))
            };
            match key {
                "User" => self.user = value.to_string(),
                "AmbientCapabilities" if value.is_empty() => self.ambient.clear(),
                "AmbientCapabilities" => {
                    for w in words() {
                        let cap = w.to_ascii_uppercase();
                        cap_bit(&cap)?;
                        if !self.ambient.contains(&cap) {
                            self.ambient.push(cap);
                        }
                    }
                }
                "Environment" if value.is_empty() => self.environment.clear(),
                "Environment" => {
                    for w in words() {
                        if let Some((k, v)) = w.split_once('=') {
                            self.environment.retain(|(n, _)| n != k);
                            self.environment.push((k.to_string(), v.to_string()));
                        }
                    }
                }
                "RuntimeDirectory" => self.runtime.0.extend(words()),
                "StateDirectory" => self.state.0.extend(words()),
                "LogsDirectory" => self.logs.0.extend(words()),
                "RuntimeDirectoryMode" => self.runtime.1 = mode(value)?,
                "StateDirectoryMode" => self.state.1 = mode(value)?,
                "LogsDirectoryMode" => self.logs.1 = mode(value)?,
                _ => {}
            }
        }
        let (uid, gid, home, shell) = passwd(&self.user)?;
        (self.uid, self.gid, self.home, self.shell) = (uid, gid, home, shell);
        Ok(())
    }

    /// The ambient capabilities as a bit mask (`CapAmb` of `/proc/PID/status`).
    pub fn cap_mask(&self) -> u64 {
        self.ambient.iter().map(|c| 1u64 << cap_bit(c).expect("checked at parse")).fold(0, |a, b| a | b)
    }

    /// `setpriv`'s capability list: `-all,+net_bind_service,+net_raw`.
    fn setpriv_caps(&self) -> String {
        let mut s = String::from("-all");
        for c in &self.ambient {
            s.push_str(",+");
            s.push_str(&c.trim_start_matches("CAP_").to_ascii_lowercase());
        }
        s
    }

    /// The arguments that run a program as the service: `setpriv … --`.
    pub fn setpriv_args(&self) -> Vec<String> {
        let caps = self.setpriv_caps();
        vec![
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            "--init-groups".into(),
            format!("--inh-caps={caps}"),
            format!("--ambient-caps={caps}"),
            "--".into(),
        ]
    }

    /// Makes the unit's directories in `dir` as systemd makes them under /run, /var/lib and
    /// /var/log (the innermost owned by the user and its group, with the unit's mode; the parents
    /// root's, `run/lock` sticky and world-writable as /run/lock is), and says where each of Kea's
    /// is.
    pub fn make_dirs(&self, dir: &Path) -> io::Result<ServerDirs> {
        let made = |base: &str, list: &(Vec<String>, u32)| -> io::Result<Vec<(String, PathBuf)>> {
            let mut out = Vec::new();
            for rel in &list.0 {
                let p = dir.join(base).join(rel);
                fs::create_dir_all(&p)?;
                chown(&p, self.uid, self.gid)?;
                fs::set_permissions(&p, fs::Permissions::from_mode(list.1))?;
                out.push((rel.trim_matches('/').to_string(), p));
            }
            Ok(out)
        };
        fs::create_dir_all(dir.join("run/lock"))?;
        fs::set_permissions(dir.join("run/lock"), fs::Permissions::from_mode(0o1777))?;
        let runtime = made("run", &self.runtime)?;
        let state = made("var/lib", &self.state)?;
        let logs = made("var/log", &self.logs)?;
        let find = |list: &[(String, PathBuf)], name: &str| -> io::Result<PathBuf> {
            list.iter().find(|(rel, _)| rel == name).map(|(_, p)| p.clone()).ok_or_else(|| {
                other(format!("service: {} makes no {name} directory (the test bed needs one)", self.unit.display()))
            })
        };
        // Kea's private directory, as /etc/kea: root's, readable by the service's group.
        chown(dir, 0, self.gid)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o750))?;
        Ok(ServerDirs {
            private: dir.to_path_buf(),
            runtime: find(&runtime, "kea")?,
            lock: find(&runtime, "lock/kea")?,
            state: find(&state, "kea")?,
            logs: find(&logs, "kea")?,
        })
    }

    /// The environment systemd gives the service, its directories being `dirs` (see the module
    /// documentation): the cleared environment's whole content, in order.
    pub fn environment(&self, dirs: &ServerDirs) -> Vec<(String, String)> {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), SERVICE_PATH.into()),
            ("HOME".into(), self.home.clone()),
            ("USER".into(), self.user.clone()),
            ("LOGNAME".into(), self.user.clone()),
            ("SHELL".into(), self.shell.clone()),
            ("RUNTIME_DIRECTORY".into(), format!("{}:{}", s(&dirs.runtime), s(&dirs.lock))),
            ("STATE_DIRECTORY".into(), s(&dirs.state)),
            ("LOGS_DIRECTORY".into(), s(&dirs.logs)),
        ];
        for (k, v) in &self.environment {
            env.push((k.clone(), map_unit_path(v, dirs)));
        }
        env
    }

    /// Hands `path` (and everything under it) to the service's user: what a test's scripts
    /// write to.
    pub fn hand_over(&self, path: &Path) -> io::Result<()> {
        chown(path, self.uid, self.gid)?;
        if path.is_dir() {
            for e in fs::read_dir(path)? {
                self.hand_over(&e?.path())?;
            }
        }
        Ok(())
    }
}

/// A value of the unit's naming one of the directories systemd makes, rewritten to name the
/// private one.
fn map_unit_path(v: &str, dirs: &ServerDirs) -> String {
    let pairs = [("/run/lock/kea", &dirs.lock), ("/run/kea", &dirs.runtime), ("/var/lib/kea", &dirs.state), ("/var/log/kea", &dirs.logs)];
    for (unit, ours) in pairs {
        if v == unit || v.starts_with(&format!("{unit}/")) {
            return format!("{}{}", ours.display(), &v[unit.len()..]);
        }
    }
    v.to_string()
}

/// A capability's bit number.
pub fn cap_bit(name: &str) -> io::Result<u32> {
    CAPS.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, b)| *b)
        .ok_or_else(|| other(format!("service: unknown capability {name} (add it to testbed/src/service.rs)")))
}

/// systemd's word splitting of a setting's value (double and single quotes, no escapes).
fn split_words(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in v.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// (uid, primary gid, home, shell) of a user, from the system's user database.
fn passwd(user: &str) -> io::Result<(u32, u32, String, String)> {
    let c = CString::new(user).map_err(|_| other("service: NUL in a user name"))?;
    // getpwnam in a test process: no other thread of the test bed calls it concurrently with a
    // user database change; the strings are copied out at once.
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        if pw.is_null() {
            return Err(other(format!("service: no user {user} (is kea-common installed?)")));
        }
        let s = |p: *const libc::c_char| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned();
        Ok(((*pw).pw_uid, (*pw).pw_gid, s((*pw).pw_dir), s((*pw).pw_shell)))
    }
}

fn chown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

/// What `/proc/PID/status` says of a process's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcIdentity {
    /// Real, effective, saved, filesystem.
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub cap_inh: u64,
    pub cap_prm: u64,
    pub cap_eff: u64,
    pub cap_amb: u64,
}

impl ProcIdentity {
    /// Parses the text of `/proc/PID/status`.
    pub fn parse(status: &str) -> Option<ProcIdentity> {
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name).map(str::trim));
        let ids = |name: &str| -> Option<[u32; 4]> {
            let v: Vec<u32> = field(name)?.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            v.try_into().ok()
        };
        let cap = |name: &str| u64::from_str_radix(field(name)?, 16).ok();
        Some(ProcIdentity {
            uid: ids("Uid:")?,
            gid: ids("Gid:")?,
            cap_inh: cap("CapInh:")?,
            cap_prm: cap("CapPrm:")?,
            cap_eff: cap("CapEff:")?,
            cap_amb: cap("CapAmb:")?,
        })
    }

    /// Whether this is `svc`'s user and group with exactly its capabilities, none else; else what
    /// differs.
    pub fn check(&self, svc: &Service) -> Result<(), String> {
        let m = svc.cap_mask();
        let want = ProcIdentity { uid: [svc.uid; 4], gid: [svc.gid; 4], cap_inh: m, cap_prm: m, cap_eff: m, cap_amb: m };
        if *self == want {
            Ok(())
        } else {
            Err(format!("ran as {self:?}, the service ({}, {:?}) would be {want:?}", svc.unit.display(), svc.ambient))
        }
    }
}

impl Service {
    /// A shell line for a test's script that records the identity it runs with (its
    /// `/proc/<pid>/status`) in `<dir>/as-service/identity/status.<pid>` (the directory made and
    /// handed over to the service), with shell builtins only: no process more per run.
    pub fn identity_sh(&self, dir: &Path) -> io::Result<String> {
        let ids = dir.join("as-service/identity");
        fs::create_dir_all(&ids)?;
        self.hand_over(&ids)?;
        let ids = crate::util::sh_quote(ids.as_os_str());
        Ok(format!("while IFS= read -r l; do printf '%s\\n' \"$l\"; done < /proc/$$/status > {ids}/status.$$\n"))
    }

    /// A wrapper `<dir>/as-service/<name>` that records the identity it runs with
    /// ([`Service::identity_sh`]), then `exec`s `script` with its arguments (same process, same
    /// identity, same stdin: a worker too).
    pub fn identity_wrapper(&self, dir: &Path, script: &Path) -> io::Result<PathBuf> {
        let record = self.identity_sh(dir)?;
        let name = script.file_name().ok_or_else(|| other("identity_wrapper: a script without a name"))?;
        let wrapper = dir.join("as-service").join(name);
        let script = crate::util::sh_quote(script.as_os_str());
        crate::util::write_executable(&wrapper, &format!("#!/bin/sh\n{record}exec {script} \"$@\"\n"))?;
        Ok(wrapper)
    }
}

/// The identities [`Service::identity_sh`] (and the wrappers) of `dir` recorded, one per run.
pub fn recorded_identities(dir: &Path) -> Vec<ProcIdentity> {
    let Ok(rd) = fs::read_dir(dir.join("as-service/identity")) else { return Vec::new() };
    // A record still being written lacks some of the lines read (a CapAmb at least): left out.
    rd.flatten().filter_map(|e| ProcIdentity::parse(&fs::read_to_string(e.path()).ok()?)).collect()
}

/// Waits until a script of `dir`'s wrappers ran, and checks that every run was `svc`'s user with
/// exactly its capabilities (panics saying what differs).
pub fn assert_ran_as(svc: &Service, dir: &Path) {
    let ids = crate::util::wait_until(crate::util::DEFAULT_TIMEOUT, || {
        let ids = recorded_identities(dir);
        (!ids.is_empty()).then_some(ids)
    })
    .unwrap_or_else(|_| panic!("no script wrapped in {} ran", dir.display()));
    for id in ids {
        if let Err(e) = id.check(svc) {
            panic!("a script: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNIT: &str = "[Unit]\nDescription=Kea IPv4 DHCP daemon\n[Service]\nUser=root\n\
        AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW\nEnvironment=\"KEA_LOCKFILE_DIR=/run/lock/kea\"\n\
        RuntimeDirectory=kea lock/kea\nRuntimeDirectoryMode=0750\nLogsDirectory=kea\nLogsDirectoryMode=0750\n\
        StateDirectory=kea\nExecStart=/usr/sbin/kea-dhcp4 -c /etc/kea/kea-dhcp4.conf\n";

    #[test]
    fn a_unit_and_its_drop_in_are_read_with_systemds_rules() {
        let s = Service::from_unit(Path::new("u"), UNIT).unwrap();
        assert_eq!(s.ambient, ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]);
        assert_eq!(s.cap_mask(), 0x2400);
        assert_eq!(s.environment, [("KEA_LOCKFILE_DIR".to_string(), "/run/lock/kea".to_string())]);
        assert_eq!(s.runtime, (vec!["kea".to_string(), "lock/kea".to_string()], 0o750));
        assert_eq!((s.state.1, s.logs.1), (0o755, 0o750));
        assert_eq!(s.setpriv_args()[3], "--inh-caps=-all,+net_bind_service,+net_raw");
        let more = s.clone().drop_in("[Service]\nAmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_NET_ADMIN\n").unwrap();
        assert_eq!(more.cap_mask(), 0x3400, "merged");
        let reset = s.clone().drop_in("[Service]\nAmbientCapabilities=\nAmbientCapabilities=cap_net_admin\n").unwrap();
        assert_eq!(reset.ambient, ["CAP_NET_ADMIN"]);
        assert!(s.drop_in("[Service]\nAmbientCapabilities=CAP_NOPE\n").is_err());
    }

    #[test]
    fn unit_paths_name_the_private_directories() {
        let mut d = ServerDirs::single(Path::new("/p"));
        d.lock = "/p/run/lock/kea".into();
        assert_eq!(map_unit_path("/run/lock/kea", &d), "/p/run/lock/kea");
        assert_eq!(map_unit_path("/run/lock/kea/x", &d), "/p/run/lock/kea/x");
        assert_eq!(map_unit_path("/run/lock/keax", &d), "/run/lock/keax");
        assert_eq!(split_words("\"A=b c\" D=e ''"), ["A=b c", "D=e", ""]);
    }

    #[test]
    fn proc_status_identity() {
        let t = "Name:\tsh\nUid:\t102\t102\t102\t102\nGid:\t105\t105\t105\t105\nCapInh:\t0000000000002400\n\
            CapPrm:\t0000000000002400\nCapEff:\t0000000000002400\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000002400\n";
        let id = ProcIdentity::parse(t).unwrap();
        assert_eq!((id.uid[1], id.cap_amb), (102, 0x2400));
    }
}
