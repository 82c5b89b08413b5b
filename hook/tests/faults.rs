//! The fault matrix: scripts that cannot be started, that die, hang, flood
//! their output or leave a daemon behind, in a real kea-dhcp4 serving a real
//! client (the project's Python client, DORA). Whatever the script does, Kea
//! keeps serving, the hook says what happened in Kea's log, and nothing the
//! script started is left running. Plus: bounded background runs
//! (`max-running`, `max-queued`) under perfdhcp, Kea's own children (kea-lfc)
//! beside the scripts, and a measurement (ignored by default). Needs root.
//!
//! A slice runs both as root and as Debian's unit runs Kea (`_kea`, the unit's capabilities:
//! the `_as_the_service` tests, [`RunAs`]): a script that cannot be run, one killed by a signal,
//! one ignoring SIGTERM, kea-lfc beside the scripts; each also checks who Kea and its scripts ran as.

mod faultkit;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use faultkit::*;

/// The hook points one DORA goes through, each twice (DISCOVER, REQUEST).
const DORA_HOOKS: [&str; 4] = ["pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send"];

fn v4(script: &std::path::Path, wait: bool, more: &[(&str, &str)]) -> KeaConfig {
    KeaConfig::v4().runscript_with(&hook_so(), script, wait, more)
}

// ------------------------------------------------------------ spawn failures

/// A script that cannot be started: the client is served as if the hook were
/// absent, `KRS_SPAWN_FAILED` (ERROR) names each hook point and the OS error.
fn spawn_failure(wait: bool, body: &str, break_it: impl Fn(&std::path::Path), os_error: &str) {
    spawn_failure_as(RunAs::Root, wait, body, break_it, os_error)
}

fn spawn_failure_as(run: RunAs, wait: bool, body: &str, break_it: impl Fn(&std::path::Path), os_error: &str) {
    let ns = v4_bare();
    let script = sh_script(ns.dir(), "script.sh", body);
    let kea = Kea::start(&ns, &run.config(&ns, v4(&script, wait, &[]))).unwrap();
    run.check(&ns, &kea, false);
    break_it(&script);
    served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
    // Every callout of the DORA tried and failed: 2 × 4 hook points.
    let lines = wait_msg(&kea, "KRS_SPAWN_FAILED", 8, Duration::from_secs(10));
    for hook in DORA_HOOKS {
        assert!(lines.iter().any(|l| has_word(l, hook)), "no KRS_SPAWN_FAILED naming {hook}: {lines:#?}");
    }
    for l in &lines {
        assert_eq!(severity(l), "ERROR", "{l}");
        assert!(l.contains(os_error), "KRS_SPAWN_FAILED without the OS error {os_error:?}: {l}");
    }
    // Still serving, and nothing else went wrong.
    served_within(&ns, &kea, &mac(2), Duration::from_secs(10));
    assert_eq!(unexpected_errors(&kea, &["KRS_SPAWN_FAILED"]), Vec::<String>::new());
    wait_only_kea_left(&ns, &kea, Duration::from_secs(5));
}

#[test]
fn script_deleted_after_load() {
    for wait in [true, false] {
        spawn_failure(wait, "exit 0", |s| fs::remove_file(s).unwrap(), "No such file or directory");
    }
}

#[test]
fn script_made_non_executable_after_load() {
    // Root may execute a file only if some execute bit is set.
    let chmod = |s: &std::path::Path| fs::set_permissions(s, fs::Permissions::from_mode(0o644)).unwrap();
    for wait in [true, false] {
        spawn_failure(wait, "exit 0", chmod, "Permission denied");
    }
}

#[test]
fn script_made_non_executable_after_load_as_the_service() {
    let chmod = |s: &std::path::Path| fs::set_permissions(s, fs::Permissions::from_mode(0o644)).unwrap();
    for wait in [true, false] {
        spawn_failure_as(RunAs::Service, wait, "exit 0", chmod, "Permission denied");
    }
}

#[test]
fn script_with_a_missing_interpreter() {
    // load() checks the file, not its #! line: the failure comes at each run.
    let body = "#!/nonexistent/interpreter\nexit 0";
    for wait in [true, false] {
        let ns = v4_bare();
        let script = ns.dir().join("script.sh");
        write_executable(&script, body).unwrap();
        let kea = Kea::start(&ns, &v4(&script, wait, &[])).unwrap();
        served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
        let lines = wait_msg(&kea, "KRS_SPAWN_FAILED", 8, Duration::from_secs(10));
        for hook in DORA_HOOKS {
            assert!(lines.iter().any(|l| has_word(l, hook)), "no KRS_SPAWN_FAILED naming {hook}: {lines:#?}");
        }
        assert!(lines.iter().all(|l| l.contains("No such file or directory")), "{lines:#?}");
        served_within(&ns, &kea, &mac(2), Duration::from_secs(10));
        assert_eq!(unexpected_errors(&kea, &["KRS_SPAWN_FAILED"]), Vec::<String>::new());
    }
}

// ------------------------------------------------------------------- signals

/// A script killed by a signal: `KRS_SCRIPT_SIGNALED` (WARN) names the hook
/// point, the script's pid and the signal; the client is served.
#[test]
fn script_killed_by_a_signal() {
    script_killed_by_a_signal_as(RunAs::Root);
}

#[test]
fn script_killed_by_a_signal_as_the_service() {
    script_killed_by_a_signal_as(RunAs::Service);
}

fn script_killed_by_a_signal_as(run: RunAs) {
    for wait in [true, false] {
        let ns = v4_bare();
        // Record (the event gives the pid), then die of SIGUSR1 (10).
        let rec = EventLog::create(ns.dir(), "sig", &format!("{}kill -USR1 $$", run.identity_sh(&ns))).unwrap();
        let script = rec.script();
        let kea = Kea::start(&ns, &run.config(&ns, v4(&script, wait, &[]))).unwrap();
        served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
        let evs = rec.wait_for("the DORA's eight runs", |e| e.len() >= 8);
        let lines = wait_msg(&kea, "KRS_SCRIPT_SIGNALED", evs.len(), Duration::from_secs(10));
        for ev in &evs {
            let l = lines.iter().find(|l| names_pid(msg_text(l, "KRS_SCRIPT_SIGNALED"), ev.pid));
            let l = l.unwrap_or_else(|| panic!("no KRS_SCRIPT_SIGNALED for pid {} ({}): {lines:#?}", ev.pid, ev.hook));
            assert_eq!(severity(l), "WARN", "{l}");
            assert!(has_word(l, &ev.hook), "{l} does not name {}", ev.hook);
            let t = msg_text(l, "KRS_SCRIPT_SIGNALED");
            assert!(numbers_in(t).contains(&10) || t.contains("SIGUSR1"), "signal not named: {l}");
        }
        served_within(&ns, &kea, &mac(2), Duration::from_secs(10));
        assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
        wait_only_kea_left(&ns, &kea, Duration::from_secs(5));
        wait_no_zombie_children(&kea, Duration::from_secs(5));
        run.check(&ns, &kea, true);
    }
}

// --------------------------------------------------------------------- hangs

/// Every run in `evs` has a `KRS_SCRIPT_TIMEOUT` (WARN) naming its hook
/// point, its pid, and an elapsed time between the limit and limit + 1 s
/// (+ `slack_ms` for a loaded machine).
fn check_timeouts(kea: &Kea, evs: &[Event], timeout_ms: u64, slack_ms: u64) {
    let lines = wait_msg(kea, "KRS_SCRIPT_TIMEOUT", evs.len(), Duration::from_secs(10));
    for ev in evs {
        let l = lines
            .iter()
            .find(|l| names_pid(msg_text(l, "KRS_SCRIPT_TIMEOUT"), ev.pid))
            .unwrap_or_else(|| panic!("no KRS_SCRIPT_TIMEOUT for pid {} ({}): {lines:#?}", ev.pid, ev.hook));
        assert_eq!(severity(l), "WARN", "{l}");
        assert!(has_word(l, &ev.hook), "{l} does not name {}", ev.hook);
        let t = msg_text(l, "KRS_SCRIPT_TIMEOUT");
        let elapsed: Vec<u64> = numbers_in(t)
            .into_iter()
            .filter(|&n| n != ev.pid as u64 && (timeout_ms..=timeout_ms + 1000 + slack_ms).contains(&n))
            .collect();
        assert!(!elapsed.is_empty(), "no elapsed time in [{timeout_ms}, {}] ms: {l}", timeout_ms + 1000 + slack_ms);
    }
}

/// With `wait: true`, consecutive runs of one client's DORA start at most
/// `max` apart (the callout returned by then), and at least `min`.
fn check_gaps(evs: &[Event], min: Duration, max: Duration) {
    for w in evs.windows(2) {
        let gap = Duration::from_nanos((w[1].time_ns - w[0].time_ns) as u64);
        assert!(gap <= max, "{} → {}: the callout took {gap:?} (> {max:?})", w[0].hook, w[1].hook);
        assert!(gap >= min, "{} → {}: the callout took only {gap:?} (< {min:?})", w[0].hook, w[1].hook);
    }
}

/// A script hanging in `sleep` at every hook point, `timeout-ms` 500: each
/// run is ended (its process group: the sleep too) and logged; the client is
/// still served; with `wait: true` each callout returns after ~0.5 s.
fn hang(wait: bool) {
    let ns = v4_bare();
    let tag = unique_tag();
    let sleep_arg = format!("1000.{tag}");
    let rec = EventLog::create(ns.dir(), "hang", &format!("/bin/sleep {sleep_arg}")).unwrap();
    let kea = Kea::start(&ns, &v4(rec.script(), wait, &[("timeout-ms", "500")])).unwrap();
    // Sync: 8 callouts of 0.5 s, the OFFER after 4 of them. Async: at once.
    let bound = if wait { Duration::from_secs(12) } else { Duration::from_secs(4) };
    served_within(&ns, &kea, &mac(1), bound);
    let evs = rec.wait_for("the DORA's eight runs", |e| e.len() >= 8);
    let evs = &evs[..8];
    check_timeouts(&kea, evs, 500, 1000);
    if wait {
        check_gaps(evs, Duration::from_millis(450), Duration::from_millis(2000));
    }
    // The runs were ended with their process group: no sleep is left.
    wait_none_with_arg(&sleep_arg, Duration::from_secs(3));
    wait_only_kea_left(&ns, &kea, Duration::from_secs(3));
    wait_no_zombie_children(&kea, Duration::from_secs(3));
    assert!(
        msg_lines(&kea, "KRS_SCRIPT_KILLED").is_empty(),
        "SIGTERM sufficed: {:#?}",
        msg_lines(&kea, "KRS_SCRIPT_KILLED")
    );
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

#[test]
fn hanging_script_wait() {
    hang(true);
}

#[test]
fn hanging_script_nowait() {
    hang(false);
}

/// A script that ignores SIGTERM (its sleep inherits the ignored signal),
/// at lease4_select only: SIGKILL 1 s after the SIGTERM, `KRS_SCRIPT_KILLED`.
fn hang_ignoring_sigterm(wait: bool) {
    hang_ignoring_sigterm_as(RunAs::Root, wait)
}

fn hang_ignoring_sigterm_as(run: RunAs, wait: bool) {
    let ns = v4_bare();
    let tag = unique_tag();
    let sleep_arg = format!("1000.{tag}");
    let rec = EventLog::create(
        ns.dir(),
        "stubborn",
        &format!("{}[ \"$1\" = lease4_select ] || exit 0\ntrap '' TERM\n/bin/sleep {sleep_arg}", run.identity_sh(&ns)),
    )
    .unwrap();
    let script = rec.script();
    let kea = Kea::start(&ns, &run.config(&ns, v4(&script, wait, &[("timeout-ms", "500")]))).unwrap();
    served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
    let evs = rec.wait_for("the DORA's eight runs", |e| e.len() >= 8);
    let stuck: Vec<Event> = evs.iter().filter(|e| e.hook == "lease4_select").cloned().collect();
    assert_eq!(stuck.len(), 2, "{}", summary(&evs));
    check_timeouts(&kea, &stuck, 500, 1000);
    let killed = wait_msg(&kea, "KRS_SCRIPT_KILLED", 2, Duration::from_secs(10));
    for ev in &stuck {
        let l = killed.iter().find(|l| names_pid(msg_text(l, "KRS_SCRIPT_KILLED"), ev.pid));
        let l = l.unwrap_or_else(|| panic!("no KRS_SCRIPT_KILLED for pid {}: {killed:#?}", ev.pid));
        assert_eq!(severity(l), "WARN", "{l}");
    }
    if wait {
        // lease4_select → pkt4_send: 0.5 s to the SIGTERM, 1 s to the SIGKILL.
        for (i, ev) in evs.iter().enumerate().take(8) {
            if ev.hook == "lease4_select" {
                let next = &evs[i + 1];
                let gap = Duration::from_nanos((next.time_ns - ev.time_ns) as u64);
                assert!(
                    gap >= Duration::from_millis(1400) && gap <= Duration::from_millis(2600),
                    "lease4_select callout took {gap:?}, expected ~1.5 s"
                );
            }
        }
    }
    wait_none_with_arg(&sleep_arg, Duration::from_secs(3));
    wait_only_kea_left(&ns, &kea, Duration::from_secs(3));
    wait_no_zombie_children(&kea, Duration::from_secs(3));
    run.check(&ns, &kea, true);
}

#[test]
fn script_ignoring_sigterm_is_killed_wait() {
    hang_ignoring_sigterm(true);
}

#[test]
fn script_ignoring_sigterm_is_killed_wait_as_the_service() {
    hang_ignoring_sigterm_as(RunAs::Service, true);
}

#[test]
fn script_ignoring_sigterm_is_killed_nowait() {
    hang_ignoring_sigterm(false);
}

// -------------------------------------------------------------------- floods

/// Kea's memory, sampled while a closure runs: (baseline kB, largest kB).
fn rss_during<T>(kea: &Kea, f: impl FnOnce() -> T) -> (u64, u64, T) {
    let pid = kea.pid();
    let base = procs::rss_kb(pid).unwrap();
    let sampler = Sampler::start(Duration::from_millis(20), move || procs::rss_kb(pid).unwrap_or(0));
    let r = f();
    let max = sampler.stop().into_iter().max().unwrap_or(base);
    (base, max, r)
}

/// KRS_SCRIPT_STDOUT lines per script pid.
fn stdout_lines_per_pid(kea: &Kea, hook: &str) -> std::collections::BTreeMap<u32, usize> {
    let mut m = std::collections::BTreeMap::new();
    for l in msg_lines(kea, "KRS_SCRIPT_STDOUT") {
        let t = msg_text(&l, "KRS_SCRIPT_STDOUT");
        // "<hook> (pid N) stdout: <line>"
        if let Some(rest) = t.strip_prefix(&format!("{hook} (pid ")) {
            if let Some(pid) = rest.split(')').next().and_then(|p| p.parse().ok()) {
                *m.entry(pid).or_insert(0) += 1;
            }
        }
    }
    m
}

/// Only the DISCOVER's pkt4_receive runs `body` (after recording).
fn discover_only(body: &str) -> String {
    format!("[ \"$1\" = pkt4_receive ] && [ \"$KEA_QUERY4_TYPE\" = DHCPDISCOVER ] || exit 0\n{body}")
}

/// The run at the DISCOVER's pkt4_receive (waits for its record).
fn discover_run(rec: &EventLog) -> Event {
    let is = |e: &Event| e.hook == "pkt4_receive" && e.get("KEA_QUERY4_TYPE") == Some("DHCPDISCOVER");
    let evs = rec.wait_for("the DISCOVER's pkt4_receive run", |evs| evs.iter().any(is));
    evs.into_iter().find(is).unwrap()
}

/// What `KRS_OUTPUT_SUPPRESSED` counted for run `pid`.
fn suppressed_for(kea: &Kea, pid: u32) -> Option<u64> {
    let who = format!("(pid {pid}):");
    msg_lines(kea, "KRS_OUTPUT_SUPPRESSED")
        .iter()
        .find(|l| msg_text(l, "KRS_OUTPUT_SUPPRESSED").contains(&who))
        .and_then(|l| numbers_in(msg_text(l, "KRS_OUTPUT_SUPPRESSED").split_once(&who)?.1).first().copied())
}

/// A flood with `wait: true`: the DISCOVER's pkt4_receive prints lines
/// without end (`yes`) until `timeout-ms` (3 s) ends it. The callout returns
/// then, the client is served, at most 100 lines reach the log, Kea's memory
/// and log stay small.
#[test]
fn flooding_stdout_while_kea_waits() {
    let ns = v4_bare();
    let rec = EventLog::create(ns.dir(), "flood", &discover_only("/usr/bin/yes 'flood line'")).unwrap();
    let kea = Kea::start(&ns, &v4(rec.script(), true, &[("timeout-ms", "3000")])).unwrap();
    let captured = TrimCapturedOutput::new(&kea);
    let log_before = kea.log_size();
    let (base, max, _) = rss_during(&kea, || served_within(&ns, &kea, &mac(1), Duration::from_secs(12)));
    assert!(captured.size() < 1 << 20, "{} bytes of script output went to Kea's stdout/stderr", captured.size());
    let run = discover_run(&rec);
    check_timeouts(&kea, std::slice::from_ref(&run), 3000, 1000);
    let logged = stdout_lines_per_pid(&kea, "pkt4_receive").get(&run.pid).copied().unwrap_or(0);
    assert_eq!(logged, 100, "run {} logged {logged} stdout lines", run.pid);
    wait_until(Duration::from_secs(5), || suppressed_for(&kea, run.pid))
        .unwrap_or_else(|_| panic!("no KRS_OUTPUT_SUPPRESSED for {}:\n{}", run.pid, log_tail(&kea, 20)));
    let grown = kea.log_size() - log_before;
    assert!(grown < 1 << 20, "Kea's log grew by {grown} bytes");
    assert!(max.saturating_sub(base) < 50 << 10, "Kea's RSS grew from {base} kB to {max} kB");
    eprintln!("flooding_stdout_while_kea_waits: RSS {base} → max {max} kB, log +{grown} bytes");
    wait_only_kea_left(&ns, &kea, Duration::from_secs(5));
    served_within(&ns, &kea, &mac(2), Duration::from_secs(12));
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

/// 1 GiB of short lines (`yes | head -c 1G`) from a background run: the
/// hook reads all of it (100 lines logged + the rest counted = every line),
/// Kea's memory and log stay small, Kea serves meanwhile.
#[test]
fn flooding_stdout_with_a_gigabyte_of_lines() {
    let ns = v4_bare();
    let rec =
        EventLog::create(ns.dir(), "flood", &discover_only("/usr/bin/yes 'flood line' | /usr/bin/head -c 1G")).unwrap();
    let kea = Kea::start(&ns, &v4(rec.script(), false, &[("timeout-ms", "120000")])).unwrap();
    let captured = TrimCapturedOutput::new(&kea);
    let log_before = kea.log_size();
    let (base, max, run) = rss_during(&kea, || {
        served_within(&ns, &kea, &mac(1), Duration::from_secs(5));
        let run = discover_run(&rec);
        // Served again while the flood goes on.
        if !running_with_arg(&rec.script().to_string_lossy()).is_empty() {
            served_within(&ns, &kea, &mac(2), Duration::from_secs(5));
        }
        wait_only_kea_left(&ns, &kea, Duration::from_secs(100));
        run
    });
    assert!(captured.size() < 1 << 20, "{} bytes of script output went to Kea's stdout/stderr", captured.size());
    let logged = stdout_lines_per_pid(&kea, "pkt4_receive").get(&run.pid).copied().unwrap_or(0) as u64;
    let suppressed = wait_until(Duration::from_secs(5), || suppressed_for(&kea, run.pid))
        .unwrap_or_else(|_| panic!("no KRS_OUTPUT_SUPPRESSED for {}:\n{}", run.pid, log_tail(&kea, 20)));
    // 1 GiB of "flood line\n" (11 bytes): 97612893 lines and a last "f".
    let lines = (1u64 << 30).div_ceil(11);
    assert_eq!(logged, 100);
    assert_eq!(logged + suppressed, lines, "lines logged + counted != lines printed");
    assert!(msg_lines(&kea, "KRS_SCRIPT_TIMEOUT").is_empty(), "the flood was cut by timeout-ms");
    let grown = kea.log_size() - log_before;
    assert!(grown < 1 << 20, "Kea's log grew by {grown} bytes");
    assert!(max.saturating_sub(base) < 50 << 10, "Kea's RSS grew from {base} kB to {max} kB");
    eprintln!("flooding_stdout_with_a_gigabyte_of_lines: RSS {base} → max {max} kB, log +{grown} bytes");
    served_within(&ns, &kea, &mac(3), Duration::from_secs(5));
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

/// 1 GiB on stdout without a newline from a background run: one line,
/// cut to 512 bytes + `...`; Kea's memory stays small.
#[test]
fn flooding_stdout_with_one_endless_line() {
    let ns = v4_bare();
    let rec =
        EventLog::create(ns.dir(), "flood1", &discover_only("/usr/bin/head -c 1G /dev/zero | /usr/bin/tr '\\0' x"))
            .unwrap();
    let kea = Kea::start(&ns, &v4(rec.script(), false, &[("timeout-ms", "120000")])).unwrap();
    let captured = TrimCapturedOutput::new(&kea);
    let log_before = kea.log_size();
    let (base, max, _) = rss_during(&kea, || {
        served_within(&ns, &kea, &mac(1), Duration::from_secs(5));
        wait_only_kea_left(&ns, &kea, Duration::from_secs(100));
    });
    assert!(captured.size() < 1 << 20, "{} bytes of script output went to Kea's stdout/stderr", captured.size());
    let lines = msg_lines(&kea, "KRS_SCRIPT_STDOUT");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let t = msg_text(&lines[0], "KRS_SCRIPT_STDOUT");
    let xs = t.bytes().filter(|&b| b == b'x').count();
    assert!(t.ends_with("..."), "a 1 GB line must be cut with '...': {}", &t[..t.len().min(200)]);
    assert!((500..=512).contains(&xs), "{xs} bytes of the line logged (want at most 512)");
    assert!(msg_lines(&kea, "KRS_SCRIPT_TIMEOUT").is_empty(), "the flood was cut by timeout-ms");
    let grown = kea.log_size() - log_before;
    assert!(grown < 1 << 20, "Kea's log grew by {grown} bytes");
    assert!(max.saturating_sub(base) < 50 << 10, "Kea's RSS grew from {base} kB to {max} kB");
    eprintln!("flooding_stdout_with_one_endless_line: RSS {base} → max {max} kB, log +{grown} bytes");
    served_within(&ns, &kea, &mac(2), Duration::from_secs(5));
}

/// A script that leaves a daemon holding its stdout: the run is complete at
/// the script's exit (the callout does not wait for the daemon), Kea serves.
#[test]
fn daemon_holding_stdout_open() {
    let ns = v4_bare();
    let tag = unique_tag();
    let sleep_arg = format!("30.{tag}");
    // The subshell exits at once; its sleep keeps stdout and stderr open.
    let rec =
        EventLog::create(ns.dir(), "daemon", &format!("( /bin/sleep {sleep_arg} & )\necho started\nexit 0")).unwrap();
    let kea = Kea::start(&ns, &v4(rec.script(), true, &[])).unwrap();
    served_within(&ns, &kea, &mac(1), Duration::from_secs(8));
    let evs = rec.wait_for("the DORA's eight runs", |e| e.len() >= 8);
    // Each callout returned when its script exited, not when the daemon did.
    check_gaps(&evs[..8], Duration::ZERO, Duration::from_millis(1500));
    assert_eq!(running_with_arg(&sleep_arg).len(), 8, "the daemons are alive (the hook leaves them alone)");
    // Their output still reached the log.
    let started = stdout_lines_per_pid(&kea, "pkt4_receive");
    assert_eq!(started.len(), 2, "{:#?}", msg_lines(&kea, "KRS_SCRIPT_STDOUT"));
    served_within(&ns, &kea, &mac(2), Duration::from_secs(8));
    wait_no_zombie_children(&kea, Duration::from_secs(5));
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

// ------------------------------------------------------------ bounded async

/// `max-running: 2, max-queued: 5`, a script sleeping 0.5 s, perfdhcp at
/// 50 exchanges/s: never more than 2 scripts at once, `KRS_QUEUE_FULL` with a
/// count at most once a second, Kea serving at full speed, no zombie.
#[test]
fn bounded_background_runs() {
    let ns = v4_perf();
    let rec = EventLog::create(ns.dir(), "slow", "/bin/sleep 0.5").unwrap();
    let cfg = v4(rec.script(), false, &[("max-running", "2"), ("max-queued", "5")]);
    let kea = Kea::start(&ns, &cfg).unwrap();
    let script = rec.script().to_string_lossy().into_owned();
    let s2 = script.clone();
    // Runs are Kea's children running the script (a fork of the script's shell, before it execs
    // `sleep` or `mktemp`, shows the same command line: its parent is the script, not Kea).
    let kea_pid = kea.pid();
    let sampler = Sampler::start(Duration::from_millis(10), move || {
        procs::processes_with_arg(&s2).iter().filter(|p| p.ppid == kea_pid).count()
    });
    let t0 = Instant::now();
    let perf = Perfdhcp { rate: 50, clients: 90, period: 5, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    let result = perf.run(&ns).unwrap();
    let elapsed = t0.elapsed();
    // Drain: at most 2 running + 5 queued, 0.5 s each.
    wait_only_kea_left(&ns, &kea, Duration::from_secs(10));
    let samples = sampler.stop();
    let most = samples.iter().copied().max().unwrap_or(0);
    assert!(samples.len() > 100, "too few samples ({})", samples.len());
    assert!(most <= 2, "{most} scripts ran at once (max-running 2)");
    assert!(most >= 1, "no script was ever seen running");

    let acks = result.leases.iter().filter(|l| l.exchange == "REQUEST-ACK").count();
    assert!(acks >= 50, "Kea served only {acks} DORAs at 50/s for 5 s:\n{}", result.stdout);

    let full = wait_msg(&kea, "KRS_QUEUE_FULL", 1, Duration::from_secs(5));
    let secs = elapsed.as_secs() + 12;
    assert!(full.len() as u64 <= secs, "{} KRS_QUEUE_FULL in ~{secs} s (at most one a second)", full.len());
    for l in &full {
        assert_eq!(severity(l), "WARN", "{l}");
        assert!(numbers_in(msg_text(l, "KRS_QUEUE_FULL")).iter().any(|&n| n > 0), "no count: {l}");
    }
    // What ran is what the bounds allow: ~2 per 0.5 s, plus the queue.
    let ran = rec.events().len() as u64;
    let allowed = 2 * 2 * (t0.elapsed().as_secs() + 1) + 5;
    assert!(ran <= allowed, "{ran} runs in {:?} with max-running 2 (at most {allowed})", t0.elapsed());
    wait_no_zombie_children(&kea, Duration::from_secs(5));
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
    eprintln!("bounded_background_runs: {acks} DORAs, {ran} runs, {} KRS_QUEUE_FULL, max {most} at once", full.len());
}

// ----------------------------------------------------- Kea's own children

/// Lease file with kea-lfc every second, scripts at traffic, in both `wait`
/// modes: kea-lfc runs and finishes (Kea reaps it with `waitpid(-1)`, which
/// may also collect a script: `KRS_STATUS_LOST` is allowed), the scripts run,
/// Kea serves, no zombie is left.
#[test]
fn kea_lfc_beside_the_scripts() {
    kea_lfc_beside_the_scripts_as(RunAs::Root);
}

/// The same as the service: kea-lfc, started by Kea as `_kea`, compacts the lease file in the
/// unit's state directory.
#[test]
fn kea_lfc_beside_the_scripts_as_the_service() {
    kea_lfc_beside_the_scripts_as(RunAs::Service);
}

fn kea_lfc_beside_the_scripts_as(run: RunAs) {
    for wait in [true, false] {
        let ns = v4_perf();
        let rec = EventLog::create(ns.dir(), "recorder", &run.identity_sh(&ns)).unwrap();
        let script = rec.script();
        let cfg = run.config(&ns, v4(&script, wait, &[]).persist_leases(1));
        let kea = Kea::start(&ns, &cfg).unwrap();
        let perf = Perfdhcp { rate: 10, clients: 50, period: 6, renew_rate: 2, release_rate: 0, ..Perfdhcp::v4() };
        let result = perf.run(&ns).unwrap();
        let acks = result.leases.iter().filter(|l| l.exchange == "REQUEST-ACK").count();
        assert!(acks >= 10, "wait {wait}: Kea served only {acks} DORAs:\n{}", result.stdout);
        rec.wait_for_hooks(&DORA_HOOKS);
        let evs = rec.wait_quiet(Duration::from_millis(300));
        assert!(evs.len() >= 8 * 10, "wait {wait}: {}", summary(&evs));
        // kea-lfc ran, more than once, and completed.
        let starts = wait_msg(&kea, "DHCPSRV_MEMFILE_LFC_START", 2, Duration::from_secs(10));
        let lease_file = kea.lease_file();
        let completed = lease_file.with_file_name(format!("{}.2", lease_file.file_name().unwrap().to_string_lossy()));
        wait_until(Duration::from_secs(10), || completed.exists().then_some(())).unwrap_or_else(|_| {
            panic!(
                "kea-lfc never completed ({} is missing): {:?}\n{}",
                completed.display(),
                fs::read_dir(lease_file.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect::<Vec<_>>(),
                log_tail(&kea, 40)
            )
        });
        let lfc_errors: Vec<String> = kea
            .log()
            .lines()
            .filter(|l| l.contains("LFC") && matches!(severity(l), "ERROR" | "FATAL"))
            .map(str::to_string)
            .collect();
        assert!(lfc_errors.is_empty(), "{lfc_errors:#?}");
        wait_no_zombie_children(&kea, Duration::from_secs(5));
        served_within_perf(&ns, &kea);
        let lost = msg_lines(&kea, "KRS_STATUS_LOST").len();
        eprintln!(
            "kea_lfc_beside_the_scripts (wait {wait}): {acks} DORAs, {} runs, {} LFC runs, {lost} KRS_STATUS_LOST",
            evs.len(),
            starts.len()
        );
        assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
        run.check(&ns, &kea, true);
        if let Some(svc) = run.service() {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(fs::metadata(&completed).unwrap().uid(), svc.uid, "kea-lfc did not run as {}", svc.user);
        }
    }
}

/// A short perfdhcp run after the fact: Kea still answers.
fn served_within_perf(ns: &Netns, kea: &Kea) {
    let perf = Perfdhcp { rate: 5, clients: 5, period: 2, renew_rate: 0, release_rate: 0, ..Perfdhcp::v4() };
    let r = perf.run(ns).unwrap();
    assert!(
        r.leases.iter().any(|l| l.exchange == "REQUEST-ACK"),
        "no lease any more:\n{}\n{}",
        r.stdout,
        log_tail(kea, 30)
    );
}

// -------------------------------------------------------------- measurement

/// Not run by default (`cargo test -p kea-runscript --test faults -- --ignored
/// --nocapture measure`): `KRS_MEASURE_EVENTS` (default 100000) background
/// events (DORAs × 8 hook points, at `KRS_MEASURE_RATE` DORAs/s, default 250)
/// against a script slower than the event rate (`KRS_MEASURE_SLEEP` s,
/// default 0.2), `max-running` at its default. Prints the largest number of
/// processes in the server namespace, Kea's memory growth, how many scripts
/// ran and what `KRS_QUEUE_FULL` counted. (The events Kea generates are fewer
/// than requested when Kea cannot keep up and perfdhcp's queries go unanswered.)
#[test]
#[ignore]
fn measure_many_background_events() {
    let events: u64 = std::env::var("KRS_MEASURE_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let rate: u32 = std::env::var("KRS_MEASURE_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(250);
    let sleep: String = std::env::var("KRS_MEASURE_SLEEP").unwrap_or_else(|_| "0.2".into());
    let ns = v4_perf();
    // Each run appends its hook point's name (one short O_APPEND write) to a
    // file, then sleeps: slower than the event rate (0.2 s each, at most 32
    // at once by default = 160/s against ~2000 events/s offered).
    let runs_file = ns.dir().join("runs");
    let script = sh_script(
        ns.dir(),
        "slow.sh",
        &format!("echo \"$1\" >> {}\n/bin/sleep {sleep}", kea_runscript_testbed::util::sh_quote(&runs_file)),
    );
    let kea = Kea::start(&ns, &v4(&script, false, &[])).unwrap();
    let pid = kea.pid();
    let base_rss = procs::rss_kb(pid).unwrap();
    let base_threads = procs::thread_count(pid).unwrap();
    let srv = ns.server.clone();
    let sampler = Sampler::start(Duration::from_millis(50), move || {
        let n = kea_runscript_testbed::util::ip(&["netns", "pids", &srv])
            .map(|o| o.split_whitespace().count())
            .unwrap_or(0);
        (n.saturating_sub(1), procs::rss_kb(pid).unwrap_or(0), procs::thread_count(pid).unwrap_or(0))
    });
    // Each DORA is 8 events (4 hook points × DISCOVER, REQUEST); the 90
    // simulated clients keep their leases, so the pool never runs out.
    let exchanges = events.div_ceil(8);
    let period = (exchanges / rate as u64 + 5) as u32;
    let t0 = Instant::now();
    let perf = Perfdhcp {
        rate,
        clients: 90,
        period,
        renew_rate: 0,
        release_rate: 0,
        extra: vec!["-n".into(), exchanges.to_string()],
        ..Perfdhcp::v4()
    };
    let result = perf.run(&ns).unwrap();
    let traffic = t0.elapsed();
    wait_only_kea_left(&ns, &kea, Duration::from_secs(120));
    let drained = t0.elapsed();
    let samples = sampler.stop();
    let max_procs = samples.iter().map(|s| s.0).max().unwrap_or(0);
    let max_rss = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let max_threads = samples.iter().map(|s| s.2).max().unwrap_or(0);
    let end_rss = procs::rss_kb(pid).unwrap();
    let acks = result.leases.iter().filter(|l| l.exchange == "REQUEST-ACK").count();
    let full = msg_lines(&kea, "KRS_QUEUE_FULL");
    let dropped: u64 = full.iter().filter_map(|l| numbers_in(msg_text(l, "KRS_QUEUE_FULL")).into_iter().next()).sum();
    let spawn_failed = msg_lines(&kea, "KRS_SPAWN_FAILED").len();
    let runs = fs::read_to_string(&runs_file).unwrap_or_default().lines().count();
    println!("measure_many_background_events:");
    println!("  requested events      {events} ({exchanges} DORAs at {rate}/s offered, script sleeps {sleep} s)");
    println!("  scripts run           {runs}");
    println!("  perfdhcp ACKs         {acks}");
    println!("  traffic / drained     {traffic:?} / {drained:?}");
    println!("  max processes besides Kea in its namespace  {max_procs} (scripts and their sleeps)");
    println!(
        "  Kea RSS               {base_rss} kB → max {max_rss} kB (+{} kB), end {end_rss} kB",
        max_rss.saturating_sub(base_rss)
    );
    println!("  Kea threads           {base_threads} → max {max_threads}");
    println!("  KRS_QUEUE_FULL        {} messages, {dropped} events dropped in all", full.len());
    println!("  events seen           {} (scripts run + dropped)", runs as u64 + dropped);
    println!("  KRS_SPAWN_FAILED      {spawn_failed}");
    println!("{}", result.stdout.lines().take(30).collect::<Vec<_>>().join("\n"));
    assert!(kea.exited().is_none());
    wait_no_zombie_children(&kea, Duration::from_secs(10));
}
