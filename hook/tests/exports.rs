//! Kea looks the library's entry points up by name (dlsym): they must be exported from the .so,
//! and nothing of the C++ callouts needs to be (they are registered in load()).

use std::process::Command;

fn library() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("libkea_runscript.so")
}

#[test]
fn entry_points_are_exported() {
    let so = library();
    let out = Command::new("nm").args(["-D", "--defined-only"]).arg(&so).output().expect("nm (binutils) runs");
    assert!(out.status.success(), "nm failed on {}", so.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let exported: Vec<&str> =
        text.lines().filter_map(|l| l.split_whitespace().collect::<Vec<_>>().get(2).copied()).collect();
    for symbol in ["version", "load", "unload", "multi_threading_compatible"] {
        assert!(exported.contains(&symbol), "{symbol} is not exported by {}", so.display());
    }
}

#[test]
fn links_the_kea_libraries_it_uses() {
    let out = Command::new("readelf").args(["-d"]).arg(library()).output().expect("readelf runs");
    let text = String::from_utf8_lossy(&out.stdout);
    // Kea 3.0 renamed libkea-dhcp++ to libkea-dhcp.
    let dhcp = if kea_runscript_testbed::kea_version().at_least(3, 0) { "libkea-dhcp.so" } else { "libkea-dhcp++" };
    for lib in ["libkea-hooks", dhcp, "libkea-dhcpsrv", "libkea-log"] {
        assert!(text.contains(lib), "{lib} is not a NEEDED entry:\n{text}");
    }
}
