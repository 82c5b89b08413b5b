//! `cargo run -p kea-runscript-codegen -- readme`: rewrite README.md's generated tables from spec/spec.toml.
//! `cargo run -p kea-runscript-codegen -- check`: validate the spec and print every error.

use std::process::ExitCode;

fn main() -> ExitCode {
    let root = kea_runscript_codegen::workspace_root();
    let command = std::env::args().nth(1).unwrap_or_default();
    let model = match kea_runscript_codegen::load(&root.join("spec/spec.toml")) {
        Ok(model) => model,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    match command.as_str() {
        "check" => {
            println!("spec/spec.toml: {} hook points, {} variables", model.hooks.len(), model.variables.len());
            ExitCode::SUCCESS
        }
        "readme" => {
            let path = root.join("README.md");
            let readme = std::fs::read_to_string(&path).unwrap_or_default();
            let tables = kea_runscript_codegen::generate(&model).markdown;
            let Some(new) = kea_runscript_codegen::splice_readme(&readme, &tables) else {
                eprintln!("README.md lacks the markers {} / {}", kea_runscript_codegen::README_BEGIN, kea_runscript_codegen::README_END);
                return ExitCode::FAILURE;
            };
            match kea_runscript_codegen::write_if_changed(&path, &new) {
                Ok(changed) => {
                    println!("README.md {}", if changed { "rewritten" } else { "already up to date" });
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot write README.md: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: kea-runscript-codegen readme|check");
            ExitCode::FAILURE
        }
    }
}
