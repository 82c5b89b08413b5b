//! Hostile client data reaches the script as data: hostnames, vendor classes
//! and client identifiers (DHCPv4), FQDNs, vendor classes and DUIDs (DHCPv6)
//! holding NUL, newlines, `=`, `$(...)`, backquotes, `;`, invalid UTF-8,
//! control characters and 255-byte payloads. The variables carry exactly the
//! bytes Kea stored or received (NUL dropped, as an environment cannot carry
//! it), no injected command ever runs, and Kea keeps serving. The stored
//! values are read back from Kea itself (ISC's lease_cmds, `lease4-get` /
//! `lease6-get` over the control socket). Needs root.

mod faultkit;

use std::path::Path;
use std::time::Duration;

use faultkit::*;
use kea_runscript_testbed::serde_json;

const LEASE_CMDS: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so";

/// Marker files an injected command would create: `/tmp/krsinj<pid><n>`
/// (lower case: Kea lower-cases hostnames).
fn marker(n: u32) -> String {
    format!("/tmp/krsinj{}{n}", std::process::id())
}

fn markers_present() -> Vec<String> {
    (0..10).map(marker).filter(|m| Path::new(m).exists()).collect()
}

fn remove_markers() {
    for m in (0..10).map(marker) {
        let _ = std::fs::remove_file(m);
    }
}

/// No injected command ran, and no problem was found.
fn assert_no_injection_and_no_problems(problems: &[String]) {
    assert_eq!(markers_present(), Vec::<String>::new(), "an injected command ran");
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// Whether `e` is the granted (not fake) `hook` event of the client whose `var` is `value`.
fn granted(e: &Event, hook: &str, var: &str, value: &str) -> bool {
    e.hook == hook && e.get(var) == Some(value) && e.var("KEA_FAKE_ALLOCATION") == "0"
}

/// The hostname variable `var` of the granted event `sel` holds what Kea stored with the lease
/// (`stored`, its `lease4-get`/`lease6-get` answer), NUL dropped; a mismatch is added to
/// `problems`.
fn check_stored_hostname(problems: &mut Vec<String>, name: &str, sel: &Event, var: &str, stored: &serde_json::Value) {
    let want = without_nul(&json_bytes(stored, "hostname"));
    let got = sel.bytes(var).unwrap_or_default();
    if got != want.as_slice() {
        problems.push(format!(
            "{name}: {var} {:?}, Kea stored {:?}",
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(&want)
        ));
    }
    eprintln!("{name}: Kea stored hostname {:?}", String::from_utf8_lossy(&want));
}

/// The payloads: each at most 255 bytes, at least 2.
fn payloads() -> Vec<(&'static str, Vec<u8>)> {
    let mut long = Vec::new();
    let pattern: &[u8] = b"|&>'\"\\$;`{}*?[]!~%1%2%s%n\t\x1b[31m\r\x7f\xc3\x28 $(touch ";
    while long.len() < 255 {
        long.push(pattern[long.len() % pattern.len()]);
    }
    vec![
        ("nul", b"nul\0inside".to_vec()),
        ("newline", b"line1\nline2".to_vec()),
        ("equals", b"KEA_LEASE4_ADDRESS=1.2.3.4 a=b=c".to_vec()),
        ("dollar-paren", format!("$(touch {})", marker(1)).into_bytes()),
        ("backquotes", format!("`touch {}`", marker(2)).into_bytes()),
        ("semicolon", format!("x; touch {}; #", marker(3)).into_bytes()),
        ("invalid-utf8", b"\xff\xfe\xc3( bad \x80utf8".to_vec()),
        ("control", b"-e \x01\x02\x1b]0;title\x07\x7f end".to_vec()),
        ("dots", b"a..b...".to_vec()),
        ("253-byte-name", long_name()),
        ("255-bytes", long),
    ]
}

/// A 253-byte name Kea accepts as a hostname (labels of at most 63 bytes),
/// each label full of shell syntax.
fn long_name() -> Vec<u8> {
    let label = |n: usize| -> Vec<u8> { b"$(x)`y`;z|&<>'\"{}*?[]!~=".iter().copied().cycle().take(n).collect() };
    let mut v = Vec::new();
    for n in [63, 63, 63, 61] {
        if !v.is_empty() {
            v.push(b'.');
        }
        v.extend(label(n));
    }
    assert_eq!(v.len(), 253);
    v
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

fn without_nul(b: &[u8]) -> Vec<u8> {
    b.iter().copied().filter(|&c| c != 0).collect()
}

/// A string member of a command's `arguments`, or "" when absent.
fn json_text(v: &serde_json::Value, key: &str) -> String {
    v.get("arguments").and_then(|a| a.get(key)).and_then(|h| h.as_str()).unwrap_or("").to_string()
}

/// The bytes Kea holds for a string it wrote in JSON: Kea escapes every byte
/// outside printable ASCII as `\u00XX`, so each character is one byte.
fn json_bytes(v: &serde_json::Value, key: &str) -> Vec<u8> {
    json_text(v, key)
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or_else(|_| panic!("{key}: character {c:?} is not a byte")))
        .collect()
}

/// A script that records, then uses the variables the way a careful script
/// does (quoted): prints them, and tests them in `[ ]` and `case`.
const CAREFUL: &str = r#"printf '%s|%s\n' "$KEA_LEASE4_HOSTNAME$KEA_LEASE6_HOSTNAME" "$KEA_QUERY4_OPTION60"
[ -n "$KEA_LEASE4_HOSTNAME" ] && case "$KEA_LEASE4_HOSTNAME" in *x*) : ;; esac
exit 0"#;

/// Kea of `family` with the [`CAREFUL`] recorder (`<ns dir>/<rec_name>/`), a control socket
/// and lease_cmds (to read back what it stored), and every hostname character let through;
/// its captured output trimmed while the guard lives.
fn start_careful<'a>(ns: &'a Netns, family: Family, rec_name: &str) -> (EventLog, Kea<'a>, TrimCapturedOutput) {
    let rec = EventLog::create(ns.dir(), rec_name, CAREFUL).unwrap();
    let cfg = KeaConfig::new(family)
        .control_socket()
        // Kea's default replaces all but [A-Za-z0-9.-] in hostnames: let
        // everything through, so that the hook sees the worst.
        .extra(serde_json::json!({"hostname-char-set": ""}))
        .hook(hook_library(Path::new(LEASE_CMDS), serde_json::json!({})))
        .runscript(&hook_so(), rec.script(), true);
    let kea = Kea::start(ns, &cfg).unwrap();
    let captured = TrimCapturedOutput::new(&kea);
    (rec, kea, captured)
}

#[test]
fn hostile_dhcp4_data_is_passed_as_data() {
    remove_markers();
    let ns = v4_bare();
    let (rec, kea, _captured) = start_careful(&ns, Family::V4, "careful");
    let mut problems = Vec::new();
    for (n, (name, p)) in payloads().into_iter().enumerate() {
        let m = mac(0x400 + n as u32);
        // Client identifier: type 0, then the payload (Kea 2.2 drops a
        // packet whose client identifier is longer than 128 bytes).
        let mut cid = vec![0u8];
        cid.extend_from_slice(&p[..p.len().min(127)]);
        let (r, _) = dora(
            &ns,
            &m,
            &[
                "--option",
                &format!("12:{}", hex(&p)),
                "--option",
                &format!("60:{}", hex(&p)),
                "--client-id",
                &hex(&cid),
            ],
        )
        .unwrap_or_else(|e| panic!("{name}: client not served: {e}\n{}", log_tail(&kea, 30)));
        let addr = r.str("address").unwrap().to_string();
        let stored = kea
            .command_ok(&format!(r#"{{"command": "lease4-get", "arguments": {{"ip-address": "{addr}"}}}}"#))
            .unwrap();
        let is_sel = |e: &Event| granted(e, "lease4_select", "KEA_QUERY4_HWADDR", &m);
        let evs = rec.wait_for(&format!("{name}: granted lease4_select"), |e| e.iter().any(is_sel));
        let sel = evs.iter().find(|e| is_sel(e)).unwrap();
        // Option 60: the client's bytes, NUL dropped (Kea trims trailing NULs itself).
        for ev in evs.iter().filter(|e| e.get("KEA_QUERY4_HWADDR") == Some(&m)) {
            let got = ev.bytes("KEA_QUERY4_OPTION60").unwrap_or_default();
            if got != without_nul(&p).as_slice() {
                problems.push(format!(
                    "{name} {}: KEA_QUERY4_OPTION60 {:?}, sent {:?}",
                    ev.hook,
                    String::from_utf8_lossy(got),
                    String::from_utf8_lossy(&p)
                ));
            }
        }
        // Client identifier: hex of what was sent, as Kea recorded it.
        if sel.var("KEA_LEASE4_CLIENT_ID") != hex(&cid) {
            problems.push(format!("{name}: KEA_LEASE4_CLIENT_ID {} != {}", sel.var("KEA_LEASE4_CLIENT_ID"), hex(&cid)));
        }
        if json_text(&stored, "client-id") != hex(&cid) {
            problems.push(format!(
                "{name}: Kea stored client-id {} (sent {})",
                json_text(&stored, "client-id"),
                hex(&cid)
            ));
        }
        // Hostname: what Kea stored with the lease, NUL dropped.
        check_stored_hostname(&mut problems, name, sel, "KEA_LEASE4_HOSTNAME", &stored);
    }
    assert_no_injection_and_no_problems(&problems);
    served_within(&ns, &kea, &mac(0x4ff), Duration::from_secs(10));
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}

/// What the script prints of hostile data reaches Kea's log escaped: one log
/// line per output line, no raw control character (a tab may stay), Kea's
/// `%N` placeholders in the data left as they are.
#[test]
fn hostile_script_output_is_escaped_in_kea_log() {
    let ns = v4_bare();
    let script = sh_script(
        ns.dir(),
        "echo.sh",
        "[ \"$1\" = pkt4_receive ] || exit 0\nprintf 'v=%s\\n' \"$KEA_QUERY4_OPTION60\"",
    );
    let kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), &script, true)).unwrap();
    let _captured = TrimCapturedOutput::new(&kea);
    let sent: Vec<&[u8]> = vec![
        b"ctl \x01\x02\x07\x08\x0b\x0c\x1b[31m\x1b]0;t\x07 \r end",
        b"first\nKRS_LOADED forged line",
        b"fmt %1 %2 %3 %s %n {} end",
        b"tab\there",
    ];
    for (n, p) in sent.iter().enumerate() {
        dora(&ns, &mac(0x500 + n as u32), &["--option", &format!("60:{}", hex(p))])
            .unwrap_or_else(|e| panic!("not served: {e}\n{}", log_tail(&kea, 20)));
    }
    wait_until(Duration::from_secs(10), || {
        (msg_lines(&kea, "KRS_SCRIPT_STDOUT").len() >= 2 * (sent.len() + 1)).then_some(())
    })
    .unwrap_or_else(|_| panic!("the script's output did not reach Kea's log:\n{}", log_tail(&kea, 30)));
    let raw = std::fs::read(kea.dir().join("kea.log")).unwrap();
    // A tab is left as it is (harmless in a log line); every other control byte is escaped.
    let bad: Vec<u8> = raw.iter().copied().filter(|&b| b < 0x20 && b != b'\n' && b != b'\t').collect();
    assert!(bad.is_empty(), "raw control bytes in Kea's log: {bad:02x?}");
    let text = String::from_utf8_lossy(&raw);
    for line in text.lines() {
        let ts = line.get(..4).is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()));
        assert!(ts, "a log line that is not Kea's (forged by a newline?): {line:?}");
    }
    let outs = msg_lines(&kea, "KRS_SCRIPT_STDOUT");
    let texts: Vec<&str> = outs.iter().map(|l| msg_text(l, "KRS_SCRIPT_STDOUT")).collect();
    let has = |needle: &str| texts.iter().any(|t| t.to_ascii_lowercase().contains(&needle.to_ascii_lowercase()));
    assert!(has(r"stdout: v=ctl \x01\x02\x07\x08\x0b\x0c\x1b[31m\x1b]0;t\x07 \x0d end"), "{texts:#?}");
    assert!(has("stdout: v=first") && has("stdout: KRS_LOADED forged line"), "{texts:#?}");
    assert!(has("stdout: v=fmt %1 %2 %3 %s %n {} end"), "placeholders in data changed: {texts:#?}");
    assert!(has("stdout: v=tab\there") || has(r"stdout: v=tab\x09here"), "{texts:#?}");
    // The forged line is logged as the script's output, not as a message of its own.
    assert_eq!(msg_lines(&kea, "KRS_LOADED").len(), 1, "{:#?}", msg_lines(&kea, "KRS_LOADED"));
}

/// A Client FQDN option (39) payload: flags (S), then `labels` in wire
/// format, with the root label when `absolute`.
fn fqdn_wire(labels: &[&[u8]], absolute: bool) -> Vec<u8> {
    let mut v = vec![0x01];
    for l in labels {
        assert!(l.len() <= 63);
        v.push(l.len() as u8);
        v.extend_from_slice(l);
    }
    if absolute {
        v.push(0);
    }
    v
}

#[test]
fn hostile_dhcp6_data_is_passed_as_data() {
    remove_markers();
    let ns = Netns::new().unwrap();
    let (rec, kea, _captured) = start_careful(&ns, Family::V6, "careful6");
    let m4 = marker(4);
    let m5 = marker(5);
    let l63: Vec<u8> = b"$(touch x)`;`\\\"'&|<>{}*?[]!~=\x01\x7f\xff".iter().copied().cycle().take(63).collect();
    let l61: Vec<u8> = l63[..61].to_vec();
    let names: Vec<(&str, Vec<u8>)> = vec![
        ("dollar-paren", fqdn_wire(&[format!("$(touch {m4})").as_bytes(), b"example", b"org"], true)),
        ("backquote-semicolon", fqdn_wire(&[format!("`touch {m5}`;x=1").as_bytes()], false)),
        ("nul-in-label", fqdn_wire(&[b"nul\0label", b"x"], true)),
        ("newline", fqdn_wire(&[b"line1\nline2"], false)),
        ("dot-in-label", fqdn_wire(&[b"a.b", b"c"], true)),
        ("invalid-utf8", fqdn_wire(&[b"\xff\xfe\xc3(", b"x"], true)),
        ("control", fqdn_wire(&[b"-e \x01\x1b[31m\x7f"], false)),
        ("255-byte-name", fqdn_wire(&[&l63, &l63, &l63, &l61], true)),
    ];
    let mut problems = Vec::new();
    for (n, (name, fqdn)) in names.iter().enumerate() {
        let m = mac(0x600 + n as u32);
        // A DUID of 128 bytes (Kea's maximum) of every byte value but none.
        let duid: Vec<u8> = (0..128u32).map(|i| ((i * 37 + n as u32) % 255 + 1) as u8).collect();
        // Vendor Class (16): enterprise 4491, one data item of hostile bytes.
        let data: Vec<u8> = fqdn.iter().copied().rev().collect();
        let mut vendor = vec![0, 0, 0x11, 0x8b];
        vendor.extend_from_slice(&(data.len() as u16).to_be_bytes());
        vendor.extend_from_slice(&data);
        let r = dhcp6_client(
            &ns,
            &[
                "--mac",
                &m,
                "--duid",
                &hex(&duid),
                "--option",
                &format!("39:{}", hex(fqdn)),
                "--option",
                &format!("16:{}", hex(&vendor)),
            ],
        )
        .unwrap_or_else(|e| panic!("{name}: client not served: {e}\n{}", log_tail(&kea, 30)));
        let addr = r.str("address").unwrap().to_string();
        let stored = kea
            .command_ok(&format!(r#"{{"command": "lease6-get", "arguments": {{"ip-address": "{addr}"}}}}"#))
            .unwrap();
        let dhex = hex(&duid);
        let is_sel = |e: &Event| granted(e, "lease6_select", "KEA_QUERY6_DUID", &dhex);
        let evs = rec.wait_for(&format!("{name}: granted lease6_select"), |e| e.iter().any(is_sel));
        for ev in evs.iter().filter(|e| e.get("KEA_QUERY6_DUID") == Some(&dhex)) {
            if let Some(d) = ev.get("KEA_LEASE6_CLIENT_DUID") {
                if d != dhex {
                    problems.push(format!("{name} {}: KEA_LEASE6_CLIENT_DUID {d}", ev.hook));
                }
            }
        }
        let sel = evs.iter().find(|e| is_sel(e)).unwrap();
        if sel.var("KEA_LEASE6_ADDRESS") != addr {
            problems.push(format!("{name}: KEA_LEASE6_ADDRESS {} != {addr}", sel.var("KEA_LEASE6_ADDRESS")));
        }
        check_stored_hostname(&mut problems, name, sel, "KEA_LEASE6_HOSTNAME", &stored);
    }
    assert_no_injection_and_no_problems(&problems);
    let r = dhcp6_client(&ns, &["--mac", &mac(0x6ff)]).unwrap();
    assert!(r.str("address").is_some(), "Kea no longer serves");
    assert_eq!(unexpected_errors(&kea, &[]), Vec::<String>::new());
}
