//! Bad parameters make Kea's configuration fail at load time (real
//! kea-dhcp4/kea-dhcp6 started with no interface), and the reason is in
//! Kea's log. Needs root (the server runs in a namespace of its own).

mod common;

use std::path::Path;

use common::*;

fn lone() -> Netns {
    Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap()
}

#[test]
fn bad_parameters_fail_the_configuration() {
    let ns = lone();
    let plain = ns.dir().join("not-executable.sh");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let plain_params = format!("{{\"script\": {:?}}}", plain.to_str().unwrap());
    let cases: Vec<(String, &str)> = vec![
        ("{}".into(), "parameter 'script' is missing"),
        (r#"{"script": 3}"#.into(), "parameter 'script' must be a string"),
        // Kea 3.0 takes scripts from its scripts directory only: a relative path is not in it.
        (r#"{"script": "bin/true"}"#.into(), if kea_at_least(3, 0) { "is not in" } else { "must be an absolute path" }),
        (r#"{"script": "/nonexistent/krs-script"}"#.into(), "cannot be used"),
        (plain_params, "is not executable"),
        (format!("{{\"script\": {:?}}}", ns.dir().to_str().unwrap()), "is not a regular file"),
        (r#"{"script": "/bin/true", "wait": "yes"}"#.into(), "parameter 'wait' must be true or false"),
        (r#"{"script": "/bin/true", "wiat": true}"#.into(), "unknown parameter 'wiat'"),
    ];
    for family in [Family::V4, Family::V6] {
        for (params, expected) in &cases {
            let cfg = KeaConfig::new(family).hook(hook_library(&hook_so(), params));
            let log = Kea::expect_load_failure(&ns, &cfg).unwrap_or_else(|e| panic!("{params}: {e}"));
            assert!(log.contains("KRS_LOAD_FAILED"), "{family:?} {params}: no KRS_LOAD_FAILED:\n{log}");
            assert!(log.contains(expected), "{family:?} {params}: {expected:?} not in the log:\n{log}");
            assert!(log.contains("HOOKS_LOAD_ERROR") || log.contains("INIT_FAIL"), "{params}:\n{log}");
        }
    }
}

#[test]
fn good_parameters_load() {
    let ns = lone();
    for (family, wait) in [(Family::V4, true), (Family::V4, false), (Family::V6, true)] {
        let cfg = KeaConfig::new(family).no_interfaces().runscript(&hook_so(), Path::new("/bin/true"), wait);
        let kea = Kea::start(&ns, &cfg).unwrap();
        let hooks = if family == Family::V4 { "DHCPv4: script /bin/true" } else { "DHCPv6: script /bin/true" };
        let count = if family == Family::V4 { "9 hook points)" } else { "10 hook points)" };
        let log = kea.log();
        assert!(log.contains("HOOKS_LIBRARY_LOADED") && log.contains("KRS_LOADED"), "{log}");
        assert!(log.contains(hooks) && log.contains(count), "{log}");
        drop(kea);
    }
}
