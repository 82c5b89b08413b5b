//! spec/spec.toml → (codegen) → OUT_DIR/callouts.cc → C++ built with cxx-build
//! against the installed Kea headers. Writes nothing outside OUT_DIR.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let spec = root.join("spec/spec.toml");

    // The spec narrowed to the release of the installed Kea headers (KEA_HOOKS_VERSION).
    let model = kea_runscript_codegen::load_for_installed_kea(&spec).unwrap_or_else(|errors| {
        eprintln!("{errors}");
        std::process::exit(1);
    });
    let release = model.current_release().expect("the spec lists Kea releases");
    let generated = kea_runscript_codegen::generate(&model);
    let callouts = out.join("callouts.cc");
    write(&callouts, &generated.cpp);
    let kea_include = kea_runscript_codegen::kea_include();

    cxx_build::bridge("src/ffi.rs")
        .file(root.join("shim/entry.cc"))
        .file(&callouts)
        .include(&root)
        .include(&kea_include)
        // A stand-in for headers Debian's kea-dev 2.2.0 lacks; a real header wins where installed.
        .flag("-idirafter")
        .flag(root.join("shim/compat").to_str().unwrap())
        .std("c++17")
        .flag_if_supported("-Wno-deprecated-declarations")
        .flag_if_supported("-Wno-unused-parameter")
        .compile("kea_runscript_shim");

    if let Ok(dir) = std::env::var("KEA_LIB") {
        println!("cargo:rustc-link-search=native={dir}");
    }
    for lib in &release.libraries {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
    for path in ["spec/spec.toml", "shim"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-changed=src/ffi.rs");
    println!("cargo:rerun-if-env-changed=KEA_INCLUDE");
    println!("cargo:rerun-if-env-changed=KEA_LIB");
}

fn write(path: &Path, contents: &str) {
    kea_runscript_codegen::write_if_changed(path, contents)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
