//! `kea-runscript-check` says what `load()` would say, before Kea is (re)started: the same
//! parser, so the same message as the real server's log for the same configuration file.

use kea_runscript_testbed::kea::{hook_library, Family, Kea, KeaConfig};
use kea_runscript_testbed::{hook_so_path, workspace_root, Netns, NetnsOptions};
use std::process::Command;

const CHECK: &str = env!("CARGO_BIN_EXE_kea-runscript-check");

/// Runs the check on a file, with the scripts directory Kea 3.0 would be started with for it (as
/// the test bed starts Kea: the directory of the file's scripts).
fn check(file: &std::path::Path) -> (i32, String, String) {
    let env = kea_runscript_testbed::versions::tool_env(&std::fs::read_to_string(file).unwrap_or_default());
    let out = Command::new(CHECK).arg(file).envs(env).output().expect("kea-runscript-check runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn the_shipped_examples_pass_once_their_paths_exist() {
    let examples = workspace_root().join("examples");
    let dir = std::env::temp_dir().join(format!("krs-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (conf, script) in [
        ("debug-kea-dhcp4.conf", "debug.sh"),
        ("routes/kea-dhcp4.conf", "routes/routes.sh"),
        ("routes/kea-dhcp6.conf", "routes/routes.sh"),
        ("committed/kea-dhcp4.conf", "committed/routes.sh"),
        ("committed/kea-dhcp6.conf", "committed/routes.sh"),
        ("worker/kea-dhcp4.conf", "worker/worker.py"),
        ("dns/kea-dhcp4.conf", "dns/dns.sh"),
        ("dns/kea-dhcp6.conf", "dns/dns.sh"),
        ("firewall/kea-dhcp4.conf", "firewall/firewall.sh"),
        ("firewall/kea-dhcp6.conf", "firewall/firewall.sh"),
        ("nats/kea-dhcp4.conf", "nats/worker.py"),
        ("nats/kea-dhcp6.conf", "nats/worker.py"),
    ] {
        let text = std::fs::read_to_string(examples.join(conf)).unwrap();
        let installed = format!("/usr/share/kea-runscript/examples/{script}");
        assert!(text.contains(&installed), "{conf} does not name {installed}");
        let file = dir.join(conf.replace('/', "-"));
        std::fs::write(&file, text.replace(&installed, examples.join(script).to_str().unwrap())).unwrap();
        let (code, stdout, stderr) = check(&file);
        assert_eq!(code, 0, "{conf}: {stdout}{stderr}");
        assert!(stdout.contains(": OK: script "), "{conf}: {stdout}");
        // As shipped, where the script is not installed, the check says so, as load() would.
        if std::path::Path::new(&installed).exists() {
            continue;
        }
        let (code, _, stderr) = check(&examples.join(conf));
        assert_eq!(code, 1, "{conf} as shipped: {stderr}");
        assert!(stderr.contains("parameter 'script'") && stderr.contains("cannot be used"), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_configuration_gets_the_message_kea_logs() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).expect("namespaces (needs root)");
    let cases = [
        r#"{"script": "/bin/true", "timeout-ms": 0, "wiat": true}"#,
        r#"{"script": "/bin/true", "exit-status": {"3": "skip"}}"#,
        r#"{"script": "relative.sh", "max-running": "many"}"#,
        r#"{"script": "/bin/true", "mode": "worker", "redeliver": true}"#,
        // ISC run_script's form: its parameters, refused as load() refuses them.
        r#"{"name": "/bin/true", "sync": "yes"}"#,
        r#"{"name": "/bin/true", "script": "/bin/true"}"#,
    ];
    for params in cases {
        let cfg = KeaConfig::new(Family::V4).hook(hook_library(&hook_so_path(), params));
        let log = Kea::expect_load_failure(&ns, &cfg).unwrap_or_else(|e| panic!("{params}: {e}"));
        let file = ns.dir().join("kea.json");
        // Comments, as Kea allows them, must not bother the check.
        let conf = format!("// pre-flight\n{}", cfg.clone().no_interfaces().render(&ns.server_if, ns.dir()));
        std::fs::write(&file, conf).unwrap();
        let (code, _, stderr) = check(&file);
        assert_eq!(code, 1, "{params}: {stderr}");
        let message = stderr.split("kea-runscript refused its configuration: ").nth(1).unwrap().trim();
        assert!(log.contains(message), "{params}: Kea's log lacks the check's message {message:?}:\n{log}");
    }
}

/// An entry written for ISC's run_script, with only `library` changed, passes and is reported
/// as ISC's form.
#[test]
fn isc_form_is_reported_as_such() {
    let dir = std::env::temp_dir().join(format!("krs-check-isc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = workspace_root().join("examples/isc-leases/isc-leases.sh");
    let file = dir.join("isc.json");
    let entry = hook_library(&hook_so_path(), format!(r#"{{"name": "{}", "sync": false}}"#, script.display()));
    std::fs::write(&file, format!(r#"{{"Dhcp6": {{"hooks-libraries": [{entry}]}}}}"#)).unwrap();
    let (code, stdout, stderr) = check(&file);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(": OK: ISC run_script form: name ") && stdout.contains("ISC's variable names"), "{stdout}");
    assert!(stdout.contains("leases6_committed") && !stdout.contains("lease6_select"), "ISC's hook points: {stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn files_without_the_library_or_unreadable_are_told_apart() {
    let dir = std::env::temp_dir().join(format!("krs-check2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let none = dir.join("none.json");
    std::fs::write(&none, r#"{"Dhcp4": {"hooks-libraries": [{"library": "/x/libdhcp_lease_cmds.so"}]}}"#).unwrap();
    let (code, stdout, _) = check(&none);
    assert_eq!(code, 0);
    assert!(stdout.contains("no kea-runscript entry"), "{stdout}");
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{ not json").unwrap();
    assert_eq!(check(&broken).0, 2);
    assert_eq!(check(&dir.join("missing.json")).0, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Script trust: the check refuses what load() refuses, with Kea's message; `--user` names the
/// user Kea runs as (who may own the script); an unchecked script passes with a warning.
#[test]
fn script_trust_as_load_and_for_the_user_kea_runs_as() {
    use std::os::unix::fs::PermissionsExt;
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).expect("namespaces (needs root)");
    let open = ns.dir().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = open.join("hook.sh");
    kea_runscript_testbed::util::write_executable(&script, "#!/bin/sh\n").unwrap();
    let write = |name: &str, params: &serde_json::Value| {
        let cfg = KeaConfig::new(Family::V4).hook(hook_library(&hook_so_path(), params.clone()));
        let file = ns.dir().join(name);
        std::fs::write(&file, cfg.clone().no_interfaces().render(&ns.server_if, ns.dir())).unwrap();
        (cfg, file)
    };
    let (cfg, file) = write("open.json", &serde_json::json!({"script": script}));
    let log = Kea::expect_load_failure(&ns, &cfg).unwrap();
    let (code, _, stderr) = check(&file);
    assert_eq!(code, 1, "{stderr}");
    let message = stderr.split("kea-runscript refused its configuration: ").nth(1).unwrap().trim();
    assert!(message.contains(&format!("{} is writable by others (mode 0777)", open.display())), "{message}");
    assert!(log.contains(message), "Kea's log lacks the check's message {message:?}:\n{log}");

    let (_, file) = write("unchecked.json", &serde_json::json!({"script": script, "script-trust": "unchecked"}));
    let (code, stdout, stderr) = check(&file);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("script-trust unchecked"), "{stdout}");
    let warning = format!(r#"WARNING: script {} is run without the trust check ("script-trust": "unchecked"): {} is writable"#, script.display(), open.display());
    assert!(stdout.contains(&warning), "{stdout}");

    // Owned by the user Kea runs as: refused for root's Kea, fine for that user's.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&script, Some(65534), None).unwrap();
    let (_, file) = write("theirs.json", &serde_json::json!({"script": script}));
    let (code, _, stderr) = check(&file);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is owned by uid 65534 (nobody), not root or Kea's user (root)"), "{stderr}");
    let env = kea_runscript_testbed::versions::tool_env(&std::fs::read_to_string(&file).unwrap());
    let run = |args: &[&str]| {
        let out = Command::new(CHECK).args(args).arg(&file).envs(env.clone()).output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    for user in [&["--user", "nobody"][..], &["--user=65534"], &["--user", "65534"]] {
        let (code, out) = run(user);
        assert_eq!(code, 0, "{user:?}: {out}");
        assert!(out.contains(": OK: script "), "{user:?}: {out}");
    }
    let (code, out) = run(&["--user", "krs-no-such-user"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no such user"), "{out}");
}
