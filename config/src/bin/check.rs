//! `kea-runscript-check KEA-CONFIG...`: the pre-flight check `kea-dhcp4 -t` cannot give.
//!
//! Kea's configuration test does not call hook libraries' `load()`, so a wrong hook parameter is
//! found only when the server starts (or refuses a `config-reload`). This runs the very parser
//! `load()` runs on every kea-runscript entry of the files, with the same messages, and exits 1
//! when one is wrong (2 when a file cannot be read as a Kea configuration).

use kea_runscript_config::table;
use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() || files.iter().any(|f| f == "-h" || f == "--help") {
        eprintln!("usage: kea-runscript-check KEA-CONFIG-FILE...");
        return ExitCode::from(2);
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
        let entries = match kea_runscript_config::kea_file::check(&text) {
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
