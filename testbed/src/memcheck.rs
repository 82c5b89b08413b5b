//! Valgrind's memcheck around a real Kea server that runs kea-runscript at every hook point in
//! every way a script runs ([`crate::longrun`]), under real traffic, `config-reload`s and worker
//! kills; then Kea is stopped with SIGTERM and Valgrind's XML report is read: each error and leak
//! is attributed to the library when one of its frames is in `libkea_runscript.so`.
//!
//! Used by the `memcheck` command (`scripts/valgrind.sh`) and by the short test in
//! `hook/tests/memcheck.rs`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::clients::{dhcp4_client, dhcp6_client, Perfdhcp};
use crate::kea::{Family, Kea};
use crate::longrun::{self, Scripts, Tally};
use crate::netns::Netns;
use crate::util::{other, wait_until};

/// The library's file name, as Valgrind names the object of a frame.
pub const LIBRARY: &str = "libkea_runscript.so";

/// One run: a server, its settings, and what to drive through it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub family: Family,
    /// Kea's multi-threading (`None`: Kea's default).
    pub mt: Option<bool>,
    pub reloads: u32,
    /// Worker kills, spread over the reloads.
    pub kills: u32,
    /// Answers (ACK / REPLY) to wait for between two reloads.
    pub answers_between: i64,
    /// perfdhcp's new exchanges per second in bursts of 10 s between the Python clients' runs; 0:
    /// none. The Python clients (one exchange at a time, each waiting for its answer) always run:
    /// they send what perfdhcp does not (DECLINE, REBIND) and cannot outrun a slow server.
    pub perfdhcp_rate: u32,
    /// kea-runscript's `timeout-ms`.
    pub timeout_ms: u32,
    pub so: PathBuf,
    pub suppressions: PathBuf,
}

/// One Valgrind error (a leak is one too), as its XML report gives it.
#[derive(Debug, Clone, Default)]
pub struct VgError {
    /// `InvalidRead`, `InvalidWrite`, `Leak_DefinitelyLost`, ...
    pub kind: String,
    pub what: String,
    pub leaked_bytes: u64,
    /// `fn (obj or file:line)` per frame, innermost first.
    pub frames: Vec<String>,
    /// One of the frames is in [`LIBRARY`].
    pub library: bool,
}

/// What one run found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub family: Option<Family>,
    pub mt: Option<bool>,
    pub errors: Vec<VgError>,
    /// Valgrind's counts of suppressed errors, by suppression name.
    pub suppressed: BTreeMap<String, u64>,
    /// Hook points at which the spawned script ran, with counts.
    pub hooks_reached: BTreeMap<String, u64>,
    pub reloads_done: u32,
    pub kills_done: u32,
    pub traffic_runs: u64,
    pub traffic_failures: u64,
    /// Kea's exit status on SIGTERM (under Valgrind).
    pub exit: Option<std::process::ExitStatus>,
    pub problems: Vec<String>,
    pub xml: PathBuf,
    pub seconds: u64,
}

impl Outcome {
    /// Errors that are not leaks.
    pub fn non_leaks(&self) -> impl Iterator<Item = &VgError> {
        self.errors.iter().filter(|e| !e.kind.starts_with("Leak_"))
    }

    pub fn leaked(&self, kind: &str, library: bool) -> u64 {
        self.errors.iter().filter(|e| e.kind == kind && e.library == library).map(|e| e.leaked_bytes).sum()
    }

    /// The verdict's reasons to fail: an error (invalid read or write, use of uninitialised
    /// memory, bad free, ...) or a definite leak with a frame in the library, and any problem of
    /// the run itself (Kea died, a reload failed, a worker did not come back).
    pub fn failures(&self) -> Vec<String> {
        let mut v = self.problems.clone();
        for e in self.non_leaks().filter(|e| e.library) {
            v.push(format!("{}: {}\n    {}", e.kind, e.what, e.frames.join("\n    ")));
        }
        for e in self.errors.iter().filter(|e| e.library && e.kind == "Leak_DefinitelyLost") {
            v.push(format!("{}: {}\n    {}", e.kind, e.what, e.frames.join("\n    ")));
        }
        v
    }

    /// The summary lines: errors by kind and whose, definite and indirect bytes, suppressions.
    pub fn summary(&self) -> String {
        let name = self.family.map_or("?", Family::binary);
        let mt = self.mt.map_or("Kea's default", |m| if m { "on" } else { "off" });
        let mut by_kind: BTreeMap<(&str, bool), usize> = BTreeMap::new();
        for e in self.non_leaks() {
            *by_kind.entry((e.kind.as_str(), e.library)).or_default() += 1;
        }
        let kinds = if by_kind.is_empty() {
            "none".to_string()
        } else {
            by_kind
                .iter()
                .map(|((k, lib), n)| format!("{n} {k} ({})", if *lib { "library" } else { "not the library" }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let supp: u64 = self.suppressed.values().sum();
        format!(
            "{name}, multi-threading {mt}: {}s, {} reloads, {} worker kills, {} client runs ({} failed), exit {}\n  \
             errors: {kinds}\n  \
             definitely lost: {} bytes in the library, {} bytes elsewhere; indirectly lost: {} / {} bytes\n  \
             suppressed: {supp} ({})\n  \
             hook points reached: {}\n  \
             report: {}",
            self.seconds,
            self.reloads_done,
            self.kills_done,
            self.traffic_runs,
            self.traffic_failures,
            self.exit.map_or("none".to_string(), |s| s.to_string()),
            self.leaked("Leak_DefinitelyLost", true),
            self.leaked("Leak_DefinitelyLost", false),
            self.leaked("Leak_IndirectlyLost", true),
            self.leaked("Leak_IndirectlyLost", false),
            self.suppressed.iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join(", "),
            self.hooks_reached.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
            self.xml.display()
        )
    }
}

/// Valgrind's command line before Kea's: memcheck, full leak check of definite and indirect
/// leaks, the report as XML in `xml`. `--keep-debuginfo`: the library is unloaded at every
/// reload, and without it the frames of its code would print as `???` and be attributed to no one.
pub fn valgrind_wrapper(xml: &Path, log: &Path, suppressions: &Path) -> Vec<String> {
    vec![
        "valgrind".into(),
        "--tool=memcheck".into(),
        "--leak-check=full".into(),
        "--show-leak-kinds=definite,indirect".into(),
        "--errors-for-leak-kinds=definite,indirect".into(),
        "--keep-debuginfo=yes".into(),
        "--num-callers=40".into(),
        // Kea's threads get turns (multi-threading): without it one thread can starve the rest.
        "--fair-sched=yes".into(),
        "--trace-children=no".into(),
        "--child-silent-after-fork=yes".into(),
        format!("--suppressions={}", suppressions.display()),
        "--xml=yes".into(),
        format!("--xml-file={}", xml.display()),
        format!("--log-file={}", log.display()),
    ]
}

/// Runs one plan in `ns`.
pub fn run(ns: &Netns, plan: &Plan) -> io::Result<Outcome> {
    let started = Instant::now();
    let tag = format!("{}-mt-{}", plan.family.binary(), plan.mt.map_or("default", |m| if m { "on" } else { "off" }));
    let scripts = Scripts::write_recording(&ns.dir().join(format!("scripts-{tag}")))?;
    let xml = ns.dir().join(format!("valgrind-{tag}.xml"));
    let log = ns.dir().join(format!("valgrind-{tag}.log"));
    let mut cfg = longrun::config(plan.family, &plan.so, &scripts, 8, plan.mt, plan.timeout_ms)
        .decline_probation_period(3);
    cfg.wrapper = valgrind_wrapper(&xml, &log, &plan.suppressions);
    let mut out = Outcome { family: Some(plan.family), mt: plan.mt, xml: xml.clone(), ..Outcome::default() };
    let kea = Kea::start(ns, &cfg)?;
    // Under Valgrind everything is slow: generous deadlines, each on a condition.
    let slow = Duration::from_secs(300);

    let stop = AtomicBool::new(false);
    let tally = Tally::default();
    let stat = longrun::answers_statistic(plan.family);
    let answers = |kea: &Kea| kea.statistics().ok().and_then(|m| m.get(stat).copied()).unwrap_or(0);
    std::thread::scope(|s| {
        let perf = match plan.family {
            Family::V4 => Perfdhcp::v4(),
            Family::V6 => Perfdhcp::v6(),
        };
        // `-d 30`: an answer may take seconds under Valgrind (every hook point runs a script and
        // waits), which perfdhcp would otherwise count as lost after its 1 s default.
        let perf = Perfdhcp {
            rate: plan.perfdhcp_rate.max(2),
            clients: 4,
            period: 10,
            renew_rate: 1,
            release_rate: 1,
            print_leases: false,
            // An answer may take seconds under Valgrind: perfdhcp's default 1 s counts it lost.
            extra: vec!["-d".into(), "30".into()],
            ..perf
        };
        let (stop, tally, family, with_perf) = (&stop, &tally, plan.family, plan.perfdhcp_rate > 0);
        s.spawn(move || {
            let mut n = 0u32;
            let slow = ["--timeout", "30", "--retries", "3"];
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let mac = format!("02:00:00:00:7e:{:02x}", n % 256);
                // Alternately a lease renewed and released, and one declined (then recovered).
                let then = match (family, n % 2) {
                    (Family::V4, 0) => "renew,release",
                    (Family::V4, _) => "decline",
                    (Family::V6, 0) => "renew,rebind,release",
                    (Family::V6, _) => "decline",
                };
                let r = match family {
                    Family::V4 => dhcp4_client(ns, &[&["--mac", &mac, "--then", then][..], &slow[..]].concat()),
                    Family::V6 => dhcp6_client(ns, &[&["--mac", &mac, "--pd", "--then", then][..], &slow[..]].concat()),
                };
                tally.runs.fetch_add(1, Ordering::SeqCst);
                if r.is_err() {
                    tally.failures.fetch_add(1, Ordering::SeqCst);
                }
                if with_perf && n % 4 == 0 && !stop.load(Ordering::SeqCst) {
                    tally.runs.fetch_add(1, Ordering::SeqCst);
                    if perf.run(ns).is_err() {
                        tally.failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });

        let kill_every = if plan.kills == 0 { u32::MAX } else { (plan.reloads / plan.kills).max(1) };
        let mut base = answers(&kea);
        for i in 1..=plan.reloads {
            if let Some(st) = kea.exited() {
                out.problems.push(format!("{} exited ({st}) before reload {i}", plan.family.binary()));
                break;
            }
            let want = base + plan.answers_between;
            if poll_slowly(slow, || answers(&kea) >= want || kea.exited().is_some()).is_err() {
                out.problems.push(format!("reload {i}: fewer than {} answers within {slow:?}", plan.answers_between));
            }
            match longrun::reload(&kea, slow) {
                Ok(()) => out.reloads_done += 1,
                Err(e) => out.problems.push(format!("reload {i}: {e}")),
            }
            if i % kill_every == 0 && out.kills_done < plan.kills {
                match longrun::kill_workers(&kea, &scripts, slow) {
                    Ok(_) => out.kills_done += 1,
                    Err(e) => out.problems.push(format!("worker kill after reload {i}: {e}")),
                }
            }
            // Kea may reset its statistics at a reload: count from what it shows now.
            base = answers(&kea);
        }
        stop.store(true, Ordering::SeqCst);
    });
    out.traffic_runs = tally.runs.load(Ordering::SeqCst);
    out.traffic_failures = tally.failures.load(Ordering::SeqCst);

    if kea.exited().is_none() {
        kea.signal(libc::SIGTERM);
    }
    // Valgrind's leak check runs after Kea's own shutdown: minutes on a busy machine.
    match wait_until(Duration::from_secs(900), || kea.exited()) {
        Ok(st) => {
            out.exit = Some(st);
            if !st.success() {
                out.problems.push(format!("{} exited {st} on SIGTERM", plan.family.binary()));
            }
        }
        Err(e) => out.problems.push(format!("{} did not stop on SIGTERM: {e}", plan.family.binary())),
    }
    let text = fs::read_to_string(&xml).map_err(|e| other(format!("{}: {e}", xml.display())))?;
    if !text.contains("</valgrindoutput>") {
        out.problems.push(format!("Valgrind's report {} is incomplete", xml.display()));
    }
    let (errors, suppressed) = parse_xml(&text);
    out.errors = errors;
    out.suppressed = suppressed;
    out.hooks_reached = scripts.hooks_reached();
    out.seconds = started.elapsed().as_secs();
    Ok(out)
}

/// Like [`wait_until`], checking once a second: each check is a command to Kea, which Valgrind
/// makes slow, and a check every few milliseconds would take Kea's time from the traffic.
fn poll_slowly(timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<(), crate::util::Elapsed> {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(crate::util::Elapsed(timeout));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The text of each `<tag>...</tag>` in `s`, in order.
fn all<'a>(s: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut v = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        v.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    v
}

fn first<'a>(s: &'a str, tag: &str) -> Option<&'a str> {
    all(s, tag).into_iter().next()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// Valgrind's XML report (protocol 4): the errors, and the suppression counts.
pub fn parse_xml(text: &str) -> (Vec<VgError>, BTreeMap<String, u64>) {
    let mut errors = Vec::new();
    for e in all(text, "error") {
        let mut err = VgError { kind: first(e, "kind").unwrap_or("").to_string(), ..VgError::default() };
        let xwhat = first(e, "xwhat");
        err.what = unescape(xwhat.and_then(|x| first(x, "text")).or_else(|| first(e, "what")).unwrap_or(""));
        err.leaked_bytes = xwhat.and_then(|x| first(x, "leakedbytes")).and_then(|b| b.parse().ok()).unwrap_or(0);
        for f in all(e, "frame") {
            let obj = first(f, "obj").unwrap_or("");
            if obj.ends_with(LIBRARY) {
                err.library = true;
            }
            let func = unescape(first(f, "fn").unwrap_or("???"));
            let place = match (first(f, "file"), first(f, "line")) {
                (Some(file), Some(line)) => format!("{file}:{line}"),
                _ => obj.rsplit('/').next().unwrap_or(obj).to_string(),
            };
            err.frames.push(format!("{func} ({place})"));
        }
        errors.push(err);
    }
    let mut suppressed = BTreeMap::new();
    if let Some(sc) = first(text, "suppcounts") {
        for p in all(sc, "pair") {
            if let (Some(n), Some(name)) = (first(p, "count").and_then(|c| c.parse::<u64>().ok()), first(p, "name")) {
                *suppressed.entry(name.to_string()).or_insert(0) += n;
            }
        }
    }
    (errors, suppressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_errors_leaks_and_suppressions() {
        let xml = "<valgrindoutput><error><unique>0x1</unique><kind>InvalidRead</kind><what>Invalid read of size 8</what>\
            <stack><frame><ip>0x1</ip><obj>/x/libkea_runscript.so</obj><fn>krs::f&lt;T&gt;</fn><file>a.rs</file><line>3</line></frame>\
            <frame><ip>0x2</ip><obj>/usr/sbin/kea-dhcp4</obj><fn>main</fn></frame></stack></error>\
            <error><kind>Leak_DefinitelyLost</kind><xwhat><text>24 bytes in 1 blocks are definitely lost</text>\
            <leakedbytes>24</leakedbytes><leakedblocks>1</leakedblocks></xwhat><stack><frame><obj>/usr/lib/libc.so.6</obj><fn>malloc</fn></frame></stack></error>\
            <suppcounts><pair><count>3</count><name>kea-log</name></pair></suppcounts></valgrindoutput>";
        let (e, s) = parse_xml(xml);
        assert_eq!(e.len(), 2);
        assert!(e[0].library && e[0].kind == "InvalidRead" && e[0].frames[0] == "krs::f<T> (a.rs:3)");
        assert!(!e[1].library && e[1].leaked_bytes == 24);
        assert_eq!(s["kea-log"], 3);
        let o = Outcome { errors: e, ..Outcome::default() };
        assert_eq!(o.failures().len(), 1);
        assert_eq!(o.leaked("Leak_DefinitelyLost", false), 24);
    }
}
