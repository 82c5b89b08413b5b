//! spec/spec.toml → (codegen) → OUT_DIR/env_table.rs: the hook points and variables, shared by
//! the hook (environment building) and the parameter parser (hook point names).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let spec = manifest.parent().unwrap().join("spec/spec.toml");
    // Narrowed to the installed Kea's release: its hook points and variables only.
    let model = kea_runscript_codegen::load_for_installed_kea(&spec).unwrap_or_else(|errors| {
        eprintln!("{errors}");
        std::process::exit(1);
    });
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("env_table.rs");
    kea_runscript_codegen::write_if_changed(&out, &kea_runscript_codegen::env_table(&model))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    println!("cargo:rerun-if-changed={}", spec.display());
    println!("cargo:rerun-if-env-changed=KEA_INCLUDE");
}
