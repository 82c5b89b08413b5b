//! The repository's Markdown: every relative link and image points to a file that exists, and
//! every `#anchor` to a heading of the Markdown file it names (GitHub's heading ids).
//!
//! Links are found by a CommonMark parser (pulldown-cmark), so those inside code blocks and
//! inline code are not links, and reference-style links are resolved. `http:`, `https:` and
//! `mailto:` links are not followed.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

/// A link of a Markdown file: its line and destination.
#[derive(Debug, PartialEq)]
struct Link {
    line: usize,
    dest: String,
}

fn parser(text: &str) -> Parser<'_> {
    Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Every link and image of `text`, with the line it starts on; autolinks of e-mail addresses
/// (`<a@b.c>`) are left out.
fn links(text: &str) -> Vec<Link> {
    parser(text)
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Link { link_type: LinkType::Email, .. }) => None,
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                Some(Link { line: line_of(text, range.start), dest: dest_url.into_string() })
            }
            _ => None,
        })
        .collect()
}

/// GitHub's id for a heading's text: lower case; every character but letters, digits, `_`, `-`
/// and spaces dropped; spaces → `-`.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The ids of `text`'s headings, in order; a repeated one gets `-1`, `-2`… as on GitHub. A
/// heading's text is what it shows: inline code without its backticks, a link's text.
fn anchors(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut heading: Option<String> = None;
    for event in parser(text) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(heading.take().unwrap_or_default().trim());
                let n = seen.entry(base.clone()).or_insert(0);
                ids.push(if *n == 0 { base.clone() } else { format!("{base}-{n}") });
                *n += 1;
            }
            _ => {}
        }
    }
    ids
}

/// `%XX` escapes decoded (a link to `a%20b.md` names `a b.md`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` with its `.` and `..` components resolved by name (links name files, not symbolic links).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn is_external(dest: &str) -> bool {
    let lower = dest.to_ascii_lowercase();
    ["http:", "https:", "mailto:"].iter().any(|scheme| lower.starts_with(scheme))
}

/// The `*.md` files below `dir`, skipping `target/` and hidden directories.
fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" {
                markdown_files(&path, found);
            }
        } else if name.ends_with(".md") {
            found.push(path);
        }
    }
}

/// What is wrong with the relative links of the Markdown files below `root`: one line each,
/// `file:line: link: why`.
fn broken_links(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    markdown_files(root, &mut files);
    let mut anchors_of: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let shown = file.strip_prefix(root).unwrap().display().to_string();
        for Link { line, dest } in links(&text) {
            if is_external(&dest) {
                continue;
            }
            let (path, anchor) = match dest.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (dest.as_str(), None),
            };
            let path = percent_decode(path);
            let target = normalize(&if path.is_empty() {
                file.clone()
            } else if let Some(from_root) = path.strip_prefix('/') {
                root.join(from_root)
            } else {
                file.parent().unwrap().join(&path)
            });
            let why = if !target.exists() {
                Some(format!("{} does not exist", target.strip_prefix(root).unwrap_or(&target).display()))
            } else if let Some(anchor) = anchor.filter(|_| target.extension().is_some_and(|e| e == "md")) {
                let ids = anchors_of.entry(target.clone()).or_insert_with(|| {
                    anchors(&std::fs::read_to_string(&target).unwrap_or_else(|e| panic!("{}: {e}", target.display())))
                });
                let anchor = percent_decode(anchor);
                (!ids.contains(&anchor)).then(|| {
                    format!("no heading with id \"{anchor}\" in {}", target.strip_prefix(root).unwrap_or(&target).display())
                })
            } else {
                None
            };
            if let Some(why) = why {
                broken.push(format!("{shown}:{line}: ({dest}): {why}"));
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_of_the_markdown_files_resolves() {
    let root = kea_runscript_codegen::workspace_root();
    let broken = broken_links(&root);
    assert!(broken.is_empty(), "{} broken link(s) in the repository's Markdown:\n{}", broken.len(), broken.join("\n"));
}

#[test]
fn slugs_follow_github() {
    let ids = anchors(
        "# Kea releases\n\n## Pre-flight check: `kea-runscript-check`\n\n### DHCPv4: what `exit-status` can ask for\n\n\
         ## `[[variable]]`: a `KEA_*` environment variable\n\n## Notes\n\n## Notes\n\nText\n---\n\n## Notes\n\n\
         ## Worker mode, *in short* (v2.6+)\n",
    );
    assert_eq!(
        ids,
        [
            "kea-releases",
            "pre-flight-check-kea-runscript-check",
            "dhcpv4-what-exit-status-can-ask-for",
            "variable-a-kea_-environment-variable",
            "notes",
            "notes-1",
            "text",
            "notes-2",
            "worker-mode-in-short-v26",
        ]
    );
}

#[test]
fn links_in_code_are_not_links() {
    let text = "See [a](a.md#x) and ![i](img/i.png).\n\n```\n[not](b.md)\n```\n\n`[nor](c.md)` \
                [ref][r] <https://example.org> <a@b.c>\n\n    [indented](d.md)\n\n[r]: e.md#y\n";
    let dests: Vec<_> = links(text).into_iter().map(|l| (l.line, l.dest)).collect();
    assert_eq!(
        dests,
        [(1, "a.md#x".to_string()), (1, "img/i.png".into()), (7, "e.md#y".into()), (7, "https://example.org".into())]
    );
}

#[test]
fn percent_escapes_are_decoded() {
    assert_eq!(percent_decode("a%20b.md"), "a b.md");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
}
