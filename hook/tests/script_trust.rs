//! Script trust against real Kea: a script someone besides root and Kea's user could change is
//! refused at load (KRS_LOAD_FAILED naming the parameter, the path at fault and why), loads with
//! `"script-trust": "unchecked"` (KRS_SCRIPT_UNCHECKED at every load), and one made untrusted
//! after load is not run (KRS_SCRIPT_UNTRUSTED) while Kea goes on serving; made safe again, it
//! runs again. Kea runs as root here, so "Kea's user" is root. Needs root.

mod faultkit;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use faultkit::*;

/// A uid nobody on the machine has: "another user".
const OTHER: u32 = 54_321;

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// `<ns dir>/<name>`, a directory of mode `mode`.
fn dir(ns: &Netns, name: &str, mode: u32) -> std::path::PathBuf {
    let d = ns.dir().join(name);
    fs::create_dir_all(&d).unwrap();
    chmod(&d, mode);
    d
}

#[test]
fn an_untrusted_script_is_refused_at_load_unless_unchecked() {
    let ns = v4_bare();
    let open = dir(&ns, "open", 0o777);
    let script = sh_script(&open, "hook.sh", "exit 0");
    let writable = format!("{} is writable by others (mode 0777)", open.display());
    let owned = dir(&ns, "owned", 0o755);
    let theirs = sh_script(&owned, "hook.sh", "exit 0");
    std::os::unix::fs::chown(&theirs, Some(OTHER), None).unwrap();
    let cases = [
        (runscript_params(&script, true), "parameter 'script' (", writable.clone()),
        (
            serde_json::json!({"scripts": [{"script": "/bin/true"}, {"name": script.to_str().unwrap(), "mode": "spawn"}]}),
            "parameter 'scripts[1].name' (",
            writable.clone(),
        ),
        (
            serde_json::json!({"script": script.to_str().unwrap(), "mode": "worker"}),
            "parameter 'script' (",
            writable.clone(),
        ),
        (
            runscript_params(&theirs, false),
            "parameter 'script' (",
            format!("{} is owned by uid {OTHER}, not root or Kea's user (root)", theirs.display()),
        ),
    ];
    for family in [Family::V4, Family::V6] {
        for (params, parameter, fault) in &cases {
            let cfg = KeaConfig::new(family).hook(hook_library(&hook_so(), params.clone()));
            let log = Kea::expect_load_failure(&ns, &cfg).unwrap_or_else(|e| panic!("{params}: {e}"));
            let line = log.lines().find(|l| l.contains("KRS_LOAD_FAILED")).unwrap_or_else(|| panic!("{params}: no KRS_LOAD_FAILED:\n{log}"));
            assert!(line.contains(parameter) && line.contains(&format!("): {fault}")), "{family:?} {params}: {line}");
            assert!(line.contains("\"script-trust\": \"unchecked\""), "the opt-out is named: {line}");
        }
    }

    // The opt-out: Kea loads, warns naming the script and what the check found, and runs it.
    let rec = EventLog::create(&open, "rec", "exit 0").unwrap();
    let cfg = KeaConfig::v4().runscript_with(&hook_so(), rec.script(), true, &[("script-trust", r#""unchecked""#)]);
    let kea = Kea::start(&ns, &cfg).unwrap();
    let warned = wait_msg(&kea, "KRS_SCRIPT_UNCHECKED", 1, Duration::from_secs(5));
    assert_eq!(severity(&warned[0]), "WARN", "{warned:?}");
    let text = msg_text(&warned[0], "KRS_SCRIPT_UNCHECKED");
    assert!(text.contains(rec.script().to_str().unwrap()) && text.contains(&writable), "{text}");
    served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
    rec.wait_for("the DORA's runs", |e| e.len() >= 8);
    // At every load: a reload (SIGHUP) warns again.
    kea.signal(libc::SIGHUP);
    wait_msg(&kea, "KRS_SCRIPT_UNCHECKED", 2, Duration::from_secs(10));
    served_within(&ns, &kea, &mac(2), Duration::from_secs(10));
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

/// Made untrusted after load (a directory on its path opened to others, or the file replaced by
/// another user's): each run is refused with KRS_SCRIPT_UNTRUSTED naming the hook point, the
/// script and the fault; the client is served as if the hook were absent; safe again, it runs.
#[test]
fn a_script_made_untrusted_after_load_is_not_run() {
    for wait in [true, false] {
        let ns = v4_bare();
        let hooks = dir(&ns, "hooks", 0o755);
        let rec = EventLog::create(&hooks, "rec", "exit 0").unwrap();
        let script = rec.script().to_path_buf();
        let kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), &script, wait)).unwrap();
        served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
        let before = rec.wait_for("the first DORA's runs", |e| e.len() >= 8).len();

        let rec_dir = script.parent().unwrap();
        chmod(rec_dir, 0o777);
        served_within(&ns, &kea, &mac(2), Duration::from_secs(10));
        let lines = wait_msg(&kea, "KRS_SCRIPT_UNTRUSTED", 8, Duration::from_secs(10));
        let fault = format!("{}: {} is writable by others (mode 0777)", script.display(), rec_dir.display());
        for l in &lines {
            assert_eq!(severity(l), "ERROR", "{l}");
            assert!(l.contains(&fault), "{l} lacks {fault:?}");
        }
        for hook in ["pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send"] {
            assert!(lines.iter().any(|l| has_word(l, hook)), "no KRS_SCRIPT_UNTRUSTED naming {hook}: {lines:#?}");
        }
        let events = rec.events();
        assert!(events.iter().all(|e| e.get("KEA_QUERY4_HWADDR") != Some(mac(2).as_str())), "{}", summary(&events));

        // Safe again: it runs again (each run is checked anew).
        chmod(rec_dir, 0o755);
        served_within(&ns, &kea, &mac(3), Duration::from_secs(10));
        rec.wait_for("the third DORA's runs", |e| e.len() >= before + 8);

        if wait {
            // Replaced (renamed over, as a deploy does) by a file another user owns.
            let n = kea.log_count("KRS_SCRIPT_UNTRUSTED");
            let new = rec_dir.join("record.sh.new");
            fs::copy(&script, &new).unwrap();
            std::os::unix::fs::chown(&new, Some(OTHER), None).unwrap();
            fs::rename(&new, &script).unwrap();
            served_within(&ns, &kea, &mac(4), Duration::from_secs(10));
            let lines = wait_msg(&kea, "KRS_SCRIPT_UNTRUSTED", n + 8, Duration::from_secs(10));
            let owned = format!("{} is owned by uid {OTHER}, not root or Kea's user (root)", script.display());
            assert!(lines[n..].iter().all(|l| l.contains(&owned)), "{:#?}", &lines[n..]);
        }
        assert!(kea.exited().is_none());
        assert_eq!(unexpected_errors(&kea, &["KRS_SCRIPT_UNTRUSTED"]), Vec::<String>::new());
    }
}

/// A worker is checked at each restart: killed while its directory is open to others, it is not
/// restarted (KRS_SCRIPT_UNTRUSTED, "worker", next try); safe again, the next try starts it.
#[test]
fn a_worker_made_untrusted_is_not_restarted() {
    let ns = v4_bare();
    let hooks = dir(&ns, "hooks", 0o755);
    let worker = sh_script(&hooks, "worker.sh", "while read -r line; do :; done");
    let cfg = KeaConfig::v4().hook(hook_library(&hook_so(), serde_json::json!({"script": worker.to_str().unwrap(), "mode": "worker"})));
    let kea = Kea::start(&ns, &cfg).unwrap();
    let started = wait_msg(&kea, "KRS_WORKER_STARTED", 1, Duration::from_secs(5));
    let pid = *numbers_in(msg_text(&started[0], "KRS_WORKER_STARTED")).last().expect("a pid") as u32;
    let entry = procs::proc_entry(pid).unwrap_or_else(|| panic!("worker {pid} is not running"));
    assert_eq!(entry.ppid, kea.pid(), "{pid} is not Kea's child: {entry:?}");
    chmod(&hooks, 0o777);
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    let refused = wait_msg(&kea, "KRS_SCRIPT_UNTRUSTED", 2, Duration::from_secs(10));
    let fault = format!("{}: {} is writable by others (mode 0777); next try in ", worker.display(), hooks.display());
    assert!(refused.iter().all(|l| has_word(l, "worker") && l.contains(&fault)), "{refused:#?}");
    assert_eq!(kea.log_count("KRS_WORKER_RESTARTED"), 0);
    served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
    chmod(&hooks, 0o755);
    wait_msg(&kea, "KRS_WORKER_RESTARTED", 1, Duration::from_secs(10));
    served_within(&ns, &kea, &mac(2), Duration::from_secs(10));
    assert_eq!(unexpected_errors(&kea, &["KRS_SCRIPT_UNTRUSTED", "KRS_WORKER_EXITED"]), Vec::<String>::new());
}
