//! spec/spec.toml → (codegen) → OUT_DIR: callouts.cc, the log catalogue (messages.cc,
//! generated/messages.h), the Rust message ids, limits and statistics (messages.rs, limits.rs,
//! statistics.rs); the C++ is built with cxx-build against the installed Kea headers. Writes
//! nothing outside OUT_DIR.

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
    let release = model.release().expect("narrowed to the installed release");
    let callouts = out.join("callouts.cc");
    let messages = out.join("messages.cc");
    let generated = kea_runscript_codegen::generate(&model, &callouts.display().to_string());
    std::fs::create_dir_all(out.join("generated")).expect("OUT_DIR is writable");
    write(&callouts, &generated.callouts);
    write(&messages, &generated.messages_cc);
    write(&out.join("generated/messages.h"), &generated.messages_h);
    write(&out.join("messages.rs"), &generated.messages_rs);
    write(&out.join("limits.rs"), &generated.limits_rs);
    write(&out.join("statistics.rs"), &generated.statistics_rs);
    let kea_include = kea_runscript_codegen::kea_include();

    let mut build = cxx_build::bridge("src/ffi.rs");
    build
        .file(root.join("shim/entry.cc"))
        .file(root.join("shim/log.cc"))
        .file(root.join("shim/replay.cc"))
        .file(root.join("shim/stats.cc"))
        .file(&callouts)
        .file(&messages)
        .include(&root)
        .include(&out)
        .include(&kea_include)
        // A stand-in for headers Debian's kea-dev 2.2.0 lacks; a real header wins where installed.
        .flag("-idirafter")
        .flag(root.join("shim/compat").to_str().unwrap())
        .std("c++17")
        .flag_if_supported("-Wno-deprecated-declarations")
        .flag_if_supported("-Wno-unused-parameter");
    // The compiler and its flags, for hook/tests/spec_lines.rs (which compiles a callouts.cc
    // generated from a broken spec the same way).
    let compiler = build.get_compiler();
    let mut command = vec![compiler.path().display().to_string()];
    command.extend(compiler.args().iter().map(|a| a.to_string_lossy().into_owned()));
    write(&out.join("cxx-command.txt"), &(command.join("\n") + "\n"));
    build.compile("kea_runscript_shim");

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
