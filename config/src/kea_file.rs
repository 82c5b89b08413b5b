//! Reading a Kea configuration file to find this library's `hooks-libraries` entries, for the
//! pre-flight check (`kea-dhcp4 -t` does not call hook libraries' `load()`).

use crate::{parse_map_as, scripts_directory, trust, Config};
use serde_json::{Map, Value};

/// One `hooks-libraries` entry that loads this library.
#[derive(Debug)]
pub struct Entry {
    /// `Dhcp4` or `Dhcp6`.
    pub server: String,
    /// Position in `hooks-libraries`, from 1.
    pub position: usize,
    pub library: String,
    pub result: Result<Config, String>,
}

/// Whether a `library` path names this hook library (`libkea_runscript.so` or a renamed copy
/// with `kea-runscript`/`kea_runscript` in its file name).
pub fn is_this_library(library: &str) -> bool {
    let name = library.rsplit('/').next().unwrap_or(library);
    name.contains("kea_runscript") || name.contains("kea-runscript")
}

/// Every entry of this library in a Kea configuration text (Kea's JSON with `#`, `//` and
/// `/* */` comments), each with the verdict of the very parser `load()` uses, for a Kea that runs
/// as this process's effective user.
pub fn check(text: &str) -> Result<Vec<Entry>, String> {
    check_as(text, trust::effective_uid())
}

/// [`check`] for a Kea that runs as `kea_uid` (whose scripts only it and root may change).
pub fn check_as(text: &str, kea_uid: u32) -> Result<Vec<Entry>, String> {
    if text.contains("<?include") {
        return Err("<?include ...?> is not supported by this check: run it on the included file too".into());
    }
    let value: Value =
        serde_json::from_str(&strip_comments(text)).map_err(|e| format!("not a Kea configuration (JSON): {e}"))?;
    let mut entries = Vec::new();
    let dir = scripts_directory(true);
    for (server, family) in [("Dhcp4", 4), ("Dhcp6", 6)] {
        let Some(libs) = value.get(server).and_then(|s| s.get("hooks-libraries")).and_then(Value::as_array) else {
            continue;
        };
        for (i, lib) in libs.iter().enumerate() {
            let Some(library) = lib.get("library").and_then(Value::as_str) else { continue };
            if !is_this_library(library) {
                continue;
            }
            let empty = Map::new();
            let result = match lib.get("parameters") {
                None => parse_map_as(&empty, family, dir.as_deref(), kea_uid),
                Some(Value::Object(map)) => parse_map_as(map, family, dir.as_deref(), kea_uid),
                Some(_) => Err("\"parameters\" must be a map".into()),
            };
            entries.push(Entry { server: server.into(), position: i + 1, library: library.into(), result });
        }
    }
    Ok(entries)
}

/// Kea's comment syntax (`#`, `//`, `/* */`) removed: comments become spaces (newlines stay), so
/// that the JSON parser's errors have the line and column of the original text. Hand-written:
/// the `json_comments` crate (which the test bed uses) turns a block comment's newlines into
/// spaces and refuses a lone `/` without a position.
pub fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        let c = b[i];
        if in_string {
            out.push(c);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1]);
                i += 1;
            } else if c == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        let line_comment = c == b'#' || (c == b'/' && b.get(i + 1) == Some(&b'/'));
        if line_comment {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            out.extend(b[i..end].iter().map(|&x| if x == b'\n' { b'\n' } else { b' ' }));
            i = end;
            continue;
        }
        in_string = c == b'"';
        out.push(c);
        i += 1;
    }
    String::from_utf8(out).expect("only ASCII bytes were replaced")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_stripped_but_not_inside_strings() {
        let text = "{ // a\n \"a\": \"x // y # z /* w */\", # b\n /* c\n d */ \"b\": 1, \"c\": \"q\\\"# /* \\\\\" /**/ }";
        let v: Value = serde_json::from_str(&strip_comments(text)).unwrap();
        assert_eq!(v["a"], "x // y # z /* w */");
        assert_eq!(v["b"], 1);
        assert_eq!(v["c"], "q\"# /* \\");
    }

    #[test]
    fn error_positions_stay_those_of_the_original_text() {
        let text = "{ # a\n /* b\n c */ \"x\": 1, // d\n \"y\": ]\n}";
        let stripped = strip_comments(text);
        assert_eq!((stripped.len(), stripped.lines().count()), (text.len(), text.lines().count()));
        let e = serde_json::from_str::<Value>(&stripped).unwrap_err();
        assert_eq!((e.line(), e.column()), (4, 7), "{e}");
        assert!(check(text).unwrap_err().contains("line 4 column 7"));
        // A `/` that starts no comment stays, and the parser stops there; so at the very end.
        for (text, at) in [("{\"a\": 1 / 2 /* c */}", (1, 9)), ("/* a\n */ {\"a\": 1} # b\n/", (3, 1))] {
            let e = serde_json::from_str::<Value>(&strip_comments(text)).unwrap_err();
            assert_eq!((e.line(), e.column()), at, "{text:?}: {e}");
        }
        // Unterminated: a string is left to the parser, a block comment is blanked to the end.
        assert!(serde_json::from_str::<Value>(&strip_comments("{\"a\": \"b # c")).unwrap_err().is_eof());
        assert_eq!(strip_comments("{} /* a\n b"), "{}     \n  ");
    }

    #[test]
    fn finds_this_librarys_entries_only() {
        let text = r#"{"Dhcp4": {"hooks-libraries": [
            {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so"},
            {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libkea_runscript.so", "parameters": {"script": "/bin/true"}},
            {"library": "/opt/libkea_runscript.so", "parameters": {"script": "relative"}}
        ]}}"#;
        let entries = check(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].server.as_str(), entries[0].position), ("Dhcp4", 2));
        // A build for Kea 3.0 takes scripts from its scripts directory only (a bare name from
        // there); other builds, anywhere by absolute path.
        match scripts_directory(true).filter(|d| d != std::path::Path::new("/bin")) {
            None => {
                assert!(entries[0].result.is_ok());
                assert!(entries[1].result.as_ref().unwrap_err().contains("must be an absolute path"));
            }
            Some(_) => {
                assert!(entries[0].result.as_ref().unwrap_err().contains("is not in"));
                assert!(entries[1].result.as_ref().unwrap_err().contains("cannot be used"));
            }
        }
    }
}
