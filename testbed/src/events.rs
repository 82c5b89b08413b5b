//! A recorder script for the hook to run, and the events it recorded.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::{sh_quote, wait_until, write_executable, DEFAULT_TIMEOUT};

/// One invocation of the recorder script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The script's first argument (the hook point name).
    pub hook: String,
    /// All further arguments (none expected).
    pub extra_args: Vec<String>,
    /// Start time of the script in nanoseconds since the epoch.
    pub time_ns: u128,
    /// PID of the script (breaks ties in ordering).
    pub pid: u32,
    /// Its whole environment (values as text, invalid UTF-8 replaced).
    pub vars: BTreeMap<String, String>,
    /// The same, values as the exact bytes the script received.
    pub raw: BTreeMap<String, Vec<u8>>,
    /// File the event was read from.
    pub file: PathBuf,
}

impl Event {
    /// A variable, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A variable's exact bytes, if present.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.raw.get(name).map(Vec::as_slice)
    }

    /// A variable that must be present (panics naming the event otherwise).
    pub fn var(&self, name: &str) -> &str {
        match self.vars.get(name) {
            Some(v) => v,
            None => panic!("{name} missing at {}: {self}", self.hook),
        }
    }

    /// A variable parsed as an integer (panics otherwise).
    pub fn int(&self, name: &str) -> i64 {
        let v = self.var(name);
        v.parse().unwrap_or_else(|_| panic!("{name}={v:?} at {} is not an integer", self.hook))
    }

    /// A variable that must be "0" or "1".
    pub fn flag(&self, name: &str) -> bool {
        match self.var(name) {
            "0" => false,
            "1" => true,
            v => panic!("{name}={v:?} at {} is not 0/1", self.hook),
        }
    }

    /// Variables whose name starts with `prefix`.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.vars.iter().filter(move |(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "== {} (pid {}, t {}) ==", self.hook, self.pid, self.time_ns)?;
        for (k, v) in &self.vars {
            writeln!(f, "  {k}={v}")?;
        }
        Ok(())
    }
}

/// A directory of events and the recorder script that fills it.
///
/// The script writes one file per invocation, atomically (`mktemp` in a
/// staging directory on the same filesystem, then `mv`): its start time in
/// nanoseconds, its PID, its arguments and its whole environment (`env -0`).
/// It uses absolute paths only, since the hook gives it no `PATH`.
#[derive(Debug, Clone)]
pub struct EventLog {
    dir: PathBuf,
    staging: PathBuf,
    script: PathBuf,
}

/// Exact format of an event file:
/// line 1 `time_ns`, line 2 `pid`, line 3 the argument count, then each
/// argument NUL-terminated, then the environment as `env -0` prints it.
const RECORDER: &str = r#"#!/bin/sh
# kea-runscript testbed recorder: one file per invocation, written atomically.
t0=$(/bin/date +%s%N)
tmp=$(/bin/mktemp -p $STAGING ev.XXXXXXXX) || exit 97
{
  printf '%s\n%s\n%s\n' "$t0" "$$" "$#"
  for a in "$@"; do printf '%s\0' "$a"; done
  /usr/bin/env -0
} > "$tmp" || exit 98
"#;

impl EventLog {
    /// Creates `<parent>/<name>/` with `events/`, `staging/` and the script
    /// `record.sh`. `extra_sh` is shell code appended after recording (e.g.
    /// `exit 3` or `/bin/sleep 1`).
    pub fn create(parent: &Path, name: &str, extra_sh: &str) -> io::Result<EventLog> {
        let base = parent.join(name);
        let dir = base.join("events");
        let staging = base.join("staging");
        fs::create_dir_all(&dir)?;
        fs::create_dir_all(&staging)?;
        let script = base.join("record.sh");
        // The directories are substituted as shell literals: the recorder must
        // not rely on any variable from its environment except KEA_*.
        let body = RECORDER.replace("$STAGING", &sh_quote(&staging));
        let body = format!("{body}/bin/mv \"$tmp\" {dir}/\"ev.$t0.$$\" || exit 99\n{extra_sh}\n", dir = sh_quote(&dir));
        write_executable(&script, &body)?;
        Ok(EventLog { dir, staging, script })
    }

    /// A recorder at `<parent>/events/record.sh` that only records.
    pub fn new(parent: &Path) -> io::Result<EventLog> {
        EventLog::create(parent, "recorder", "")
    }

    /// Absolute path of the recorder script (give it to the hook).
    pub fn script(&self) -> &Path {
        &self.script
    }

    /// The directory events land in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// All complete events so far, in the order the scripts started.
    pub fn events(&self) -> Vec<Event> {
        self.read_events(false)
    }

    /// The complete events so far, removed from the directory as they are read (for a long
    /// run, whose events would not fit on the disk), in the order the scripts started.
    pub fn take_events(&self) -> Vec<Event> {
        self.read_events(true)
    }

    fn read_events(&self, remove: bool) -> Vec<Event> {
        let mut out = Vec::new();
        let Ok(rd) = fs::read_dir(&self.dir) else { return out };
        for ent in rd.flatten() {
            let path = ent.path();
            if !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ev.")) {
                continue;
            }
            if let Ok(bytes) = fs::read(&path) {
                if remove {
                    let _ = fs::remove_file(&path);
                }
                match parse_event(&bytes, path.clone()) {
                    Some(ev) => out.push(ev),
                    None => eprintln!("testbed: unreadable event file {}", path.display()),
                }
            }
        }
        out.sort_by(|a, b| (a.time_ns, a.pid, &a.file).cmp(&(b.time_ns, b.pid, &b.file)));
        out
    }

    /// Events of one hook point, in order.
    pub fn of(&self, hook: &str) -> Vec<Event> {
        self.events().into_iter().filter(|e| e.hook == hook).collect()
    }

    /// Number of invocations still being written (staging files).
    pub fn in_flight(&self) -> usize {
        fs::read_dir(&self.staging).map(|rd| rd.count()).unwrap_or(0)
    }

    /// Polls until `cond(events)` holds; returns the events then. On timeout
    /// returns the events seen so far as the error.
    pub fn try_wait_for(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&[Event]) -> bool,
    ) -> Result<Vec<Event>, Vec<Event>> {
        let r = wait_until(timeout, || {
            let evs = self.events();
            cond(&evs).then_some(evs)
        });
        r.map_err(|_| self.events())
    }

    /// Like [`EventLog::try_wait_for`] with a default 30 s deadline, but
    /// panics on timeout with a summary of what was seen and `what`.
    pub fn wait_for(&self, what: &str, cond: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
        self.wait_for_timeout(what, DEFAULT_TIMEOUT, cond)
    }

    pub fn wait_for_timeout(&self, what: &str, timeout: Duration, cond: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
        match self.try_wait_for(timeout, cond) {
            Ok(evs) => evs,
            Err(evs) => panic!("timed out after {timeout:?} waiting for {what}; seen: {}", summary(&evs)),
        }
    }

    /// Waits until at least one event of each of `hooks` has been recorded.
    pub fn wait_for_hooks(&self, hooks: &[&str]) -> Vec<Event> {
        self.wait_for(&format!("hook points {hooks:?}"), |evs| hooks.iter().all(|h| evs.iter().any(|e| e.hook == *h)))
    }

    /// Waits until the recorder is quiescent: no invocation in flight and no
    /// new event for `quiet` (used before counting events when the hook runs
    /// scripts without waiting).
    pub fn wait_quiet(&self, quiet: Duration) -> Vec<Event> {
        let mut last = (usize::MAX, std::time::Instant::now());
        wait_until(DEFAULT_TIMEOUT, || {
            let n = self.events().len();
            let busy = self.in_flight() > 0;
            if n != last.0 || busy {
                last = (n, std::time::Instant::now());
                None
            } else if last.1.elapsed() >= quiet {
                Some(())
            } else {
                None
            }
        })
        .unwrap_or_else(|e| panic!("event log never became quiet: {e}"));
        self.events()
    }
}

/// "hook×count, ..." in first-seen order.
pub fn summary(evs: &[Event]) -> String {
    let mut order: Vec<(&str, usize)> = Vec::new();
    for e in evs {
        match order.iter_mut().find(|(h, _)| *h == e.hook) {
            Some((_, n)) => *n += 1,
            None => order.push((&e.hook, 1)),
        }
    }
    if order.is_empty() {
        return "(no events)".into();
    }
    order.iter().map(|(h, n)| format!("{h}×{n}")).collect::<Vec<_>>().join(", ")
}

fn parse_event(bytes: &[u8], file: PathBuf) -> Option<Event> {
    let mut rest = bytes;
    let mut line = || -> Option<String> {
        let i = rest.iter().position(|&b| b == b'\n')?;
        let l = String::from_utf8_lossy(&rest[..i]).into_owned();
        rest = &rest[i + 1..];
        Some(l)
    };
    let time_ns: u128 = line()?.trim().parse().ok()?;
    let pid: u32 = line()?.trim().parse().ok()?;
    let argc: usize = line()?.trim().parse().ok()?;
    let mut fields = rest.split(|&b| b == 0);
    let mut args = Vec::new();
    for _ in 0..argc {
        args.push(String::from_utf8_lossy(fields.next()?).into_owned());
    }
    let mut vars = BTreeMap::new();
    let mut raw = BTreeMap::new();
    for f in fields {
        if f.is_empty() {
            continue;
        }
        // The name ends at the first '='; the value is the rest, any bytes.
        let (k, v) = match f.iter().position(|&b| b == b'=') {
            Some(i) => (&f[..i], &f[i + 1..]),
            None => (f, &f[f.len()..]),
        };
        let k = String::from_utf8_lossy(k).into_owned();
        vars.insert(k.clone(), String::from_utf8_lossy(v).into_owned());
        raw.insert(k, v.to_vec());
    }
    let mut args = args.into_iter();
    let hook = args.next().unwrap_or_default();
    Some(Event { hook, extra_args: args.collect(), time_ns, pid, vars, raw, file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let b = b"123\n45\n1\npkt4_receive\0KEA_A=1\0KEA_B=\0PWD=/\0".to_vec();
        let e = parse_event(&b, PathBuf::from("x")).unwrap();
        assert_eq!(e.hook, "pkt4_receive");
        assert_eq!(e.time_ns, 123);
        assert_eq!(e.pid, 45);
        assert_eq!(e.get("KEA_A"), Some("1"));
        assert_eq!(e.get("KEA_B"), Some(""));
        assert_eq!(e.get("PWD"), Some("/"));
    }

    #[test]
    fn multiline_values() {
        let b = b"1\n2\n0\nKEA_X=a\nb\0".to_vec();
        let e = parse_event(&b, PathBuf::from("x")).unwrap();
        assert_eq!(e.hook, "");
        assert_eq!(e.get("KEA_X"), Some("a\nb"));
    }

    #[test]
    fn raw_values() {
        let b = b"1\n2\n0\nKEA_X=a=\xff\nb\0KEA_E=\0".to_vec();
        let e = parse_event(&b, PathBuf::from("x")).unwrap();
        assert_eq!(e.bytes("KEA_X"), Some(&b"a=\xff\nb"[..]));
        assert_eq!(e.get("KEA_X"), Some("a=\u{fffd}\nb"));
        assert_eq!(e.bytes("KEA_E"), Some(&b""[..]));
    }
}
