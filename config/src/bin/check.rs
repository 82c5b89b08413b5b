//! `kea-runscript-check KEA-CONFIG...`: the pre-flight check `kea-dhcp4 -t` cannot give.
//!
//! Kea's configuration test does not call hook libraries' `load()`, so a wrong hook parameter is
//! found only when the server starts (or refuses a `config-reload`). This runs the very parser
//! `load()` runs on every kea-runscript entry of the files, with the same messages, and exits 1
//! when one is wrong (2 when a file cannot be read as a Kea configuration).
//!
//! `--user NAME` (or a uid): the user Kea runs as, whose scripts only it and root may be able to
//! change (`script-trust`); by default the user running the check, as `load()` takes Kea's.

use kea_runscript_config::{table, trust};
use std::process::ExitCode;

const USAGE: &str = "usage: kea-runscript-check [--user KEA-USER] KEA-CONFIG-FILE...";

fn main() -> ExitCode {
    let mut files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() || files.iter().any(|f| f == "-h" || f == "--help") {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut kea_uid = trust::effective_uid();
    if files[0] == "--user" || files[0].starts_with("--user=") {
        let user = match files[0].strip_prefix("--user=") {
            Some(u) => u.to_string(),
            None if files.len() > 1 => files.remove(1),
            None => String::new(),
        };
        files.remove(0);
        match trust::uid_of(&user) {
            Some(uid) => kea_uid = uid,
            None => {
                eprintln!("--user {user:?}: no such user; {USAGE}");
                return ExitCode::from(2);
            }
        }
        if files.is_empty() {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let mut status = 0u8;
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                status = status.max(2);
                continue;
            }
        };
        let entries = match kea_runscript_config::kea_file::check_as(&text, kea_uid) {
            Ok(entries) => entries,
            Err(e) => {
                eprintln!("{file}: {e}");
                status = status.max(2);
                continue;
            }
        };
        if entries.is_empty() {
            println!("{file}: no kea-runscript entry in hooks-libraries");
        }
        for entry in entries {
            let at = format!("{file}: {} hooks-libraries entry {} ({})", entry.server, entry.position, entry.library);
            match entry.result {
                Ok(c) => {
                    for s in &c.scripts {
                        let hooks: Vec<&str> = s.hooks.iter().map(|&h| table::HOOK_POINTS[h as usize].name).collect();
                        println!("{at}: OK: {}: {}", s.describe(), hooks.join(" "));
                        if let Some(today) = s.trust.unchecked() {
                            // load() logs this as KRS_SCRIPT_UNCHECKED.
                            let script = s.script.to_string_lossy();
                            println!("{at}: WARNING: script {script} is run without the trust check (\"script-trust\": \"unchecked\"): {today}");
                        }
                    }
                }
                Err(e) => {
                    eprintln!("{at}: kea-runscript refused its configuration: {e}");
                    status = status.max(1);
                }
            }
        }
    }
    ExitCode::from(status)
}

