//! What a script prints goes to Kea's log, bounded: one `KRS_SCRIPT_STDOUT`
//! (INFO) / `KRS_SCRIPT_STDERR` (WARN) line per output line, as
//! `<hook> (pid N) stdout: <line>`, long lines cut to 512 bytes + `...`,
//! control characters as `\xNN`, at most 100 lines per run and 200 per second
//! (the rest counted in `KRS_OUTPUT_SUPPRESSED`). Real kea-dhcp4, real client.
//! Needs root.

mod faultkit;

use std::time::Duration;

use faultkit::*;

/// A recorder that, after recording, runs `body` at the DISCOVER's
/// pkt4_receive only (one run per DORA prints).
fn printing_recorder(ns: &Netns, body: &str) -> EventLog {
    EventLog::create(
        ns.dir(),
        "print",
        &format!("[ \"$1\" = pkt4_receive ] && [ \"$KEA_QUERY4_TYPE\" = DHCPDISCOVER ] || exit 0\n{body}"),
    )
    .unwrap()
}

fn pid_of_discover_run(rec: &EventLog) -> u32 {
    let evs = rec.wait_for("the DISCOVER's pkt4_receive run", |e| {
        e.iter().any(|e| e.hook == "pkt4_receive" && e.get("KEA_QUERY4_TYPE") == Some("DHCPDISCOVER"))
    });
    evs.iter().find(|e| e.hook == "pkt4_receive" && e.var("KEA_QUERY4_TYPE") == "DHCPDISCOVER").unwrap().pid
}

/// The texts of the `id` lines of run `pid` at `hook` (`<hook> (pid N) <stream>: ` removed).
fn run_lines(kea: &Kea, id: &str, hook: &str, pid: u32, stream: &str) -> Vec<(String, String)> {
    let prefix = format!("{hook} (pid {pid}) {stream}: ");
    msg_lines(kea, id)
        .into_iter()
        .filter_map(|l| {
            let t = msg_text(&l, id);
            // An empty output line may leave the prefix's trailing space trimmed.
            let rest = t.strip_prefix(&prefix).or_else(|| (t == prefix.trim_end()).then_some(""))?;
            Some((severity(&l).to_string(), rest.to_string()))
        })
        .collect()
}

#[test]
fn script_output_reaches_kea_log() {
    for wait in [true, false] {
        let ns = v4_bare();
        let rec = printing_recorder(
            &ns,
            "printf 'hello stdout\\n'\n\
             printf 'hello stderr\\n' >&2\n\
             printf 'ctl:\\001\\033[31m\\r:end\\n'\n\
             printf '%0600d\\n' 0\n\
             printf 'no newline at end'",
        );
        let kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), rec.script(), wait)).unwrap();
        let captured = TrimCapturedOutput::new(&kea);
        served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
        let pid = pid_of_discover_run(&rec);
        wait_until(Duration::from_secs(10), || {
            (run_lines(&kea, "KRS_SCRIPT_STDOUT", "pkt4_receive", pid, "stdout").len() >= 4).then_some(())
        })
        .unwrap_or_else(|_| {
            panic!("wait {wait}: the script's stdout did not reach Kea's log:\n{}", log_tail(&kea, 30))
        });
        let out = run_lines(&kea, "KRS_SCRIPT_STDOUT", "pkt4_receive", pid, "stdout");
        let err = run_lines(&kea, "KRS_SCRIPT_STDERR", "pkt4_receive", pid, "stderr");
        assert!(out.iter().all(|(s, _)| s == "INFO"), "{out:?}");
        assert_eq!(err, vec![("WARN".to_string(), "hello stderr".to_string())], "wait {wait}");
        let texts: Vec<&str> = out.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts.len(), 4, "{texts:#?}");
        assert_eq!(texts[0], "hello stdout");
        assert_eq!(texts[1].to_ascii_lowercase(), r"ctl:\x01\x1b[31m\x0d:end", "control characters as \\xNN");
        let long = texts[2];
        let zeros = long.bytes().take_while(|&b| b == b'0').count();
        assert!(long.ends_with("...") && (500..=512).contains(&zeros), "a 600-byte line cut to 512 + '...': {long}");
        assert_eq!(texts[3], "no newline at end", "a last line without newline is logged too");
        // No raw control character from the script made it into the log.
        let raw = std::fs::read(kea.dir().join("kea.log")).unwrap();
        for b in [0x01u8, 0x1b, b'\r'] {
            assert!(!raw.contains(&b), "byte {b:#04x} in Kea's log");
        }
        assert!(captured.size() < 4096, "script output went to Kea's own stdout/stderr");
    }
}

#[test]
fn at_most_100_lines_per_run() {
    let ns = v4_bare();
    let rec = printing_recorder(&ns, "i=0\nwhile [ $i -lt 150 ]; do echo \"line $i\"; i=$((i+1)); done");
    let kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), rec.script(), true)).unwrap();
    let _captured = TrimCapturedOutput::new(&kea);
    served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
    let pid = pid_of_discover_run(&rec);
    let supp = wait_msg(&kea, "KRS_OUTPUT_SUPPRESSED", 1, Duration::from_secs(10));
    let out = run_lines(&kea, "KRS_SCRIPT_STDOUT", "pkt4_receive", pid, "stdout");
    let texts: Vec<String> = out.into_iter().map(|(_, t)| t).collect();
    let want: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
    assert_eq!(texts, want, "the first 100 lines, in order");
    let mine: Vec<&String> = supp.iter().filter(|l| names_pid(l, pid)).collect();
    assert_eq!(mine.len(), 1, "one KRS_OUTPUT_SUPPRESSED for the run: {supp:#?}");
    assert_eq!(severity(mine[0]), "WARN");
    assert!(numbers_in(msg_text(mine[0], "KRS_OUTPUT_SUPPRESSED")).contains(&50), "50 lines suppressed: {}", mine[0]);
}

/// Parses the time of day of a Kea log line (`2026-11-27 11:01:37.602 ...`)
/// in milliseconds.
fn log_ms(line: &str) -> Option<u64> {
    let t = line.split_whitespace().nth(1)?;
    let (hms, ms) = t.split_once('.')?;
    let mut it = hms.split(':').map(|x| x.parse::<u64>().ok());
    let (h, m, s) = (it.next()??, it.next()??, it.next()??);
    Some(((h * 60 + m) * 60 + s) * 1000 + ms.parse::<u64>().ok()?)
}

#[test]
fn at_most_200_lines_per_second() {
    let ns = v4_bare();
    // Every run of the DORA (8, in the background, overlapping) prints 90
    // lines: 720 lines in well under a second.
    let script = sh_script(ns.dir(), "chatty.sh", "i=0\nwhile [ $i -lt 90 ]; do echo \"$1 line $i\"; i=$((i+1)); done");
    let kea = Kea::start(&ns, &KeaConfig::v4().runscript(&hook_so(), &script, false)).unwrap();
    let _captured = TrimCapturedOutput::new(&kea);
    served_within(&ns, &kea, &mac(1), Duration::from_secs(10));
    wait_only_kea_left(&ns, &kea, Duration::from_secs(10));
    let supp = wait_msg(&kea, "KRS_OUTPUT_SUPPRESSED", 1, Duration::from_secs(5));
    let lines = msg_lines(&kea, "KRS_SCRIPT_STDOUT");
    let mut times: Vec<u64> = lines.iter().filter_map(|l| log_ms(l)).collect();
    times.sort_unstable();
    let span_s = (times.iter().max().unwrap_or(&0) - times.iter().min().unwrap_or(&0)) / 1000;
    // 200 per second, whatever the window: at most 200 × (span + 1).
    assert!(
        lines.len() as u64 <= 200 * (span_s + 1),
        "{} lines logged within {span_s} s (at most 200 a second)",
        lines.len()
    );
    assert!(lines.len() < 720, "nothing was suppressed");
    // Every second window holds at most 200 (+ one window's rounding).
    for (i, &t) in times.iter().enumerate() {
        let n = times[i..].iter().take_while(|&&u| u < t + 1000).count();
        assert!(n <= 200, "{n} lines within one second from {t} ms");
    }
    assert!(supp.iter().all(|l| severity(l) == "WARN"), "{supp:#?}");
}
