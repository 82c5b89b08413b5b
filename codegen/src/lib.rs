//! kea-runscript's generator: spec/spec.toml → C++ callouts and log catalogue, Rust tables,
//! message ids and limits, the generated reference (docs/reference.md).
//!
//! A pipeline: [`spec::parse`] → [`check::check`] → [`model::Model`] → [`emit`].
//! The spec format is documented in `codegen/SPEC.md`.

pub mod check;
pub mod emit;
pub mod error;
pub mod model;
mod out;
pub mod spec;

pub use error::{Diagnostic, Errors};
pub use model::Model;

use std::path::{Path, PathBuf};

/// The hook's code generated for one Kea release (a model narrowed with [`Model::at`]).
pub struct Generated {
    /// `callouts.cc`: the callouts and the tables `load()` registers them from.
    pub callouts: String,
    /// `generated/messages.h`: the C++ message ids (`msg::LOADED`, …).
    pub messages_h: String,
    /// `messages.cc`: the catalogue Kea loads, and each message's severity.
    pub messages_cc: String,
    /// `messages.rs`: the Rust message ids (the hook's `log::msg`).
    pub messages_rs: String,
    /// `limits.rs`: the limits (the hook's `limits`).
    pub limits_rs: String,
    /// `statistics.rs`: the statistics (the hook's `stats`).
    pub statistics_rs: String,
}

/// Parse and check a spec given as text; `path` only names it in errors.
pub fn load_str(text: &str, path: &str) -> Result<Model, Errors> {
    let lines = error::Lines::new(text);
    let errors = |diagnostics| Errors { path: path.to_string(), diagnostics };
    let spec = spec::parse(text).map_err(|e| {
        let line = e.span().map(|s| lines.line(s.start)).unwrap_or(0);
        errors(vec![Diagnostic { line, item: "spec".into(), message: e.message().to_string() }])
    })?;
    check::check(spec, &lines, path).map_err(errors)
}

pub fn load(path: &Path) -> Result<Model, Errors> {
    let text = std::fs::read_to_string(path).map_err(|e| Errors {
        path: path.display().to_string(),
        diagnostics: vec![Diagnostic { line: 0, item: "spec".into(), message: format!("cannot read: {e}") }],
    })?;
    load_str(&text, &path.display().to_string())
}

/// Everything a build generates, from `model` narrowed to its release; `callouts_path` is where
/// `callouts.cc` is written (its `#line` directives name it after each line pasted from the spec).
pub fn generate(model: &Model, callouts_path: &str) -> Generated {
    Generated {
        callouts: emit::cpp::emit(model, callouts_path),
        messages_h: emit::catalogue::header(model),
        messages_cc: emit::catalogue::source(model),
        messages_rs: emit::rust::messages(model),
        limits_rs: emit::rust::limits(model),
        statistics_rs: emit::rust::statistics(model),
    }
}

/// `env_table.rs` (hook points and variables: the config crate's `table`), from `model` narrowed
/// to its release.
pub fn env_table(model: &Model) -> String {
    emit::rust::env_table(model)
}

/// The generated reference (the tables of docs/reference.md), from the whole spec.
pub fn reference(model: &Model) -> String {
    emit::markdown::emit(model)
}

/// The directory of the Kea headers to build against: `$KEA_INCLUDE`, else `/usr/include/kea`.
pub fn kea_include() -> PathBuf {
    std::env::var_os("KEA_INCLUDE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/include/kea"))
}

/// `KEA_HOOKS_VERSION` of the Kea headers in `include` (a `const int` in `hooks/hooks.h`).
pub fn hooks_version(include: &Path) -> Result<u32, String> {
    let header = include.join("hooks/hooks.h");
    let text = std::fs::read_to_string(&header).map_err(|e| {
        format!(
            "Kea's development headers were not found: cannot read {}: {e}.\n\
             Install them with `apt-get install kea-dev libboost-dev`, or set KEA_INCLUDE.",
            header.display()
        )
    })?;
    text.lines()
        .filter_map(|l| l.split_once("KEA_HOOKS_VERSION")?.1.trim().strip_prefix('='))
        .filter_map(|v| v.trim().trim_end_matches(';').trim().parse().ok())
        .next()
        .ok_or_else(|| format!("{} does not define KEA_HOOKS_VERSION", header.display()))
}

/// The spec at `spec`, narrowed to the Kea release of the headers in [`kea_include`]: what a
/// build script generates from. Errors are ready to print.
pub fn load_for_installed_kea(spec: &Path) -> Result<Model, String> {
    let model = load(spec).map_err(|e| e.to_string())?;
    let version = hooks_version(&kea_include())?;
    let release = model.release_for(version)?;
    Ok(model.at(release))
}

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("codegen/ has a parent").to_path_buf()
}

/// The page the generated reference tables live in, relative to the workspace root.
pub const GENERATED_DOC: &str = "docs/reference.md";
/// The command that rewrites [`GENERATED_DOC`]'s generated block.
pub const GENERATED_COMMAND: &str = "cargo run -p kea-runscript-codegen -- docs";
pub const GENERATED_BEGIN: &str =
    "<!-- BEGIN GENERATED from spec/spec.toml: edit the spec, then run `cargo run -p kea-runscript-codegen -- docs` -->";
pub const GENERATED_END: &str = "<!-- END GENERATED -->";

/// `doc` (the text of [`GENERATED_DOC`]) with the block between [`GENERATED_BEGIN`] and
/// [`GENERATED_END`] replaced by `tables`; `None` when the markers are missing.
pub fn splice_generated(doc: &str, tables: &str) -> Option<String> {
    let begin = doc.find(GENERATED_BEGIN)? + GENERATED_BEGIN.len();
    let end = begin + doc[begin..].find(GENERATED_END)?;
    Some(format!("{}\n{}\n{}", &doc[..begin], tables.trim_end(), &doc[end..]))
}

/// Write `contents` to `path` only when they differ, so that nothing rebuilds for nothing.
/// Returns whether the file changed.
pub fn write_if_changed(path: &Path, contents: &str) -> std::io::Result<bool> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return Ok(false);
    }
    std::fs::write(path, contents)?;
    Ok(true)
}
