//! A C++ error in a spec `read` expression is reported at the spec's line, not in the
//! generated callouts.cc: the generator puts a `#line` directive before each pasted expression.
//! Compiles a callouts.cc generated from a deliberately broken copy of spec/spec.toml with the
//! very compiler and flags of the hook's build (OUT_DIR/cxx-command.txt, from hook/build.rs).

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The spec with `read = "<old>"` of variable `name` replaced by `new`; its line.
fn broken_spec(name: &str, new: &str) -> (String, usize) {
    let text = std::fs::read_to_string(workspace().join("spec/spec.toml")).unwrap();
    let start = text.find(&format!("name = \"{name}\"")).unwrap_or_else(|| panic!("{name} not in the spec"));
    let read = start + text[start..].find("read = \"").unwrap();
    let end = read + text[read..].find('\n').unwrap();
    let line = text[..read].matches('\n').count() + 1;
    (format!("{}read = \"{new}\"{}", &text[..read], &text[end..]), line)
}

/// Compiles the callouts generated from `spec` (written at `dir/spec.toml`) and returns the
/// compiler's diagnostics.
fn compile(dir: &Path, spec: &str) -> String {
    let spec_path = dir.join("spec.toml");
    std::fs::write(&spec_path, spec).unwrap();
    let model = kea_runscript_codegen::load_str(spec, &spec_path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    let version = kea_runscript_codegen::hooks_version(&kea_runscript_codegen::kea_include()).unwrap();
    let model = model.at(model.release_for(version).unwrap());
    let callouts = dir.join("callouts.cc");
    let generated = kea_runscript_codegen::generate(&model, &callouts.display().to_string());
    std::fs::write(&callouts, &generated.callouts).unwrap();
    let command = std::fs::read_to_string(Path::new(env!("OUT_DIR")).join("cxx-command.txt")).unwrap();
    let mut words = command.lines();
    let out = Command::new(words.next().unwrap())
        .args(words)
        .args(["-fsyntax-only", "-o", "/dev/null"])
        .arg(&callouts)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the broken spec compiled");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_cxx_error_in_a_read_expression_names_the_spec_line() {
    let dir = std::env::temp_dir().join(format!("krs-spec-lines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec_path = dir.join("spec.toml").display().to_string();
    // A misspelt member, and a value of the wrong type for a string variable (an integer, which
    // Kea's IOAddress would take implicitly).
    for (name, read) in [("KEA_QUERY4_TYPE", "query4->getNaem()"), ("KEA_LEASE4_ADDRESS", "lease4->valid_lft_")] {
        let (spec, line) = broken_spec(name, read);
        let errors = compile(&dir, &spec);
        let at = format!("{spec_path}:{line}:");
        assert!(errors.lines().any(|l| l.starts_with(&at) && l.contains("error")), "{name}: no error at {at}:\n{errors}");
        // Nothing is blamed on the generated file's own lines near it.
        assert!(!errors.lines().any(|l| l.contains("callouts.cc:") && l.contains(": error")), "{name}:\n{errors}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
