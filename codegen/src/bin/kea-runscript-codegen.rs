//! `cargo run -p kea-runscript-codegen -- docs`: rewrite docs/reference.md's generated tables from
//! spec/spec.toml (`readme`, the command's former name, does the same).
//! `cargo run -p kea-runscript-codegen -- check`: validate the spec and print every error.

use kea_runscript_codegen::{GENERATED_BEGIN, GENERATED_DOC, GENERATED_END};
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
        "docs" | "readme" => {
            let path = root.join(GENERATED_DOC);
            let doc = std::fs::read_to_string(&path).unwrap_or_default();
            let tables = kea_runscript_codegen::reference(&model);
            let Some(new) = kea_runscript_codegen::splice_generated(&doc, &tables) else {
                eprintln!("{GENERATED_DOC} lacks the markers {GENERATED_BEGIN} / {GENERATED_END}");
                return ExitCode::FAILURE;
            };
            match kea_runscript_codegen::write_if_changed(&path, &new) {
                Ok(changed) => {
                    println!("{GENERATED_DOC} {}", if changed { "rewritten" } else { "already up to date" });
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot write {GENERATED_DOC}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: kea-runscript-codegen docs|check");
            ExitCode::FAILURE
        }
    }
}
