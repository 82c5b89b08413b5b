//! Kea releases in the spec: `since`, `type_since`, `kea_name`, and the model narrowed to one release.

use kea_runscript_codegen::load_str;

const SPEC: &str = r#"
[[kea]]
version = "2.2"
hooks-version = 20200
debian = "bookworm"
libraries = ["kea-dhcp++"]

[[kea]]
version = "2.6"
hooks-version = 20600
debian = "trixie"
libraries = ["kea-dhcp++"]

[[kea]]
version = "3.0"
hooks-version = 30000
debian = "sid"
libraries = ["kea-dhcp"]
includes = ["util/filesystem.h"]
scripts-directory = { default = "/usr/share/kea/scripts", env = "KEA_HOOK_SCRIPTS_PATH", enforced = "check()" }

[[hook]]
name = "pkt4_send"
family = 4
description = "d"
arguments = [
    { name = "response4", type = "isc::dhcp::Pkt4Ptr" },
    { name = "subnet4", type = "isc::dhcp::Subnet4Ptr", since = "2.6", type_since = { "3.0" = "isc::dhcp::ConstSubnet4Ptr" } },
]

[[hook]]
name = "lease4_select"
family = 4
description = "d"
arguments = [
    { name = "subnet4", type = "isc::dhcp::Subnet4Ptr", type_since = { "3.0" = "isc::dhcp::ConstSubnet4Ptr" } },
    { name = "lease4", type = "isc::dhcp::Lease4Ptr" },
]

[[hook]]
name = "lease4_offer"
family = 4
since = "2.6"
description = "d"
arguments = [{ name = "lease4", kea_name = "new_lease4", type = "isc::dhcp::Lease4Ptr" }]

[[variable]]
name = "KEA_SUBNET4"
type = "string"
description = "d"
argument = "subnet4"
read = "subnet4->toText()"
hooks = ["@subnet4"]

[[variable]]
name = "KEA_LEASE4_ADDRESS"
type = "string"
description = "d"
argument = "lease4"
read = "lease4->addr_.toText()"
hooks = ["@lease4"]

[[variable]]
name = "KEA_LEASE4_POOL_ID"
type = "int"
description = "d"
argument = "lease4"
read = "lease4->pool_id_"
hooks = ["@lease4"]
since = "2.6"
"#;

fn names(model: &kea_runscript_codegen::Model, hook: &str) -> Vec<String> {
    let hook = model.hook(hook).unwrap_or_else(|| panic!("no hook point {hook}"));
    hook.variables.iter().map(|&v| model.variables[v].name.clone()).collect()
}

#[test]
fn each_release_gets_its_own_hook_points_variables_and_types() {
    let model = load_str(SPEC, "spec.toml").unwrap();
    assert_eq!(model.release_for(20200), Ok(0));
    assert_eq!(model.release_for(20603), Ok(1));
    assert_eq!(model.release_for(30004), Ok(2));
    assert_eq!(model.release_for(30100), Ok(2), "a newer Kea builds as the newest known release");
    assert!(model.release_for(20000).unwrap_err().contains("older than every release supported (2.2, 2.6, 3.0)"));

    let v22 = model.at(0);
    assert!(v22.hook("lease4_offer").is_none());
    assert_eq!(names(&v22, "pkt4_send"), Vec::<String>::new());
    assert_eq!(names(&v22, "lease4_select"), ["KEA_SUBNET4", "KEA_LEASE4_ADDRESS"]);
    assert!(v22.variable("KEA_LEASE4_POOL_ID").is_none());
    let cpp = kea_runscript_codegen::generate(&v22, "callouts.cc").callouts;
    assert!(cpp.contains("isc::dhcp::Subnet4Ptr subnet4{};"), "{cpp}");
    assert!(!cpp.contains("subnet4\", subnet4);\n        isc::dhcp::Pkt4Ptr"), "pkt4_send reads no subnet on 2.2");
    assert!(cpp.contains("return false;"), "no script path rule on 2.2");
    assert!(!cpp.contains("util/filesystem.h"));

    let v26 = model.at(1);
    assert_eq!(names(&v26, "pkt4_send"), ["KEA_SUBNET4"]);
    assert_eq!(names(&v26, "lease4_offer"), ["KEA_LEASE4_ADDRESS", "KEA_LEASE4_POOL_ID"]);
    let cpp = kea_runscript_codegen::generate(&v26, "callouts.cc").callouts;
    assert!(cpp.contains("handle.getArgument(\"new_lease4\", lease4);"), "{cpp}");

    let v30 = model.at(2);
    let generated = kea_runscript_codegen::generate(&v30, "callouts.cc");
    assert!(generated.callouts.contains("isc::dhcp::ConstSubnet4Ptr subnet4{};"), "{}", generated.callouts);
    assert!(!generated.callouts.contains("isc::dhcp::Subnet4Ptr subnet4{}"));
    assert!(generated.callouts.contains("#include <util/filesystem.h>"));
    assert!(generated.callouts.contains("return check();"));
    let table = kea_runscript_codegen::env_table(&v30);
    assert!(table.contains("version: \"3.0\""), "{table}");
    assert!(table.contains("env: \"KEA_HOOK_SCRIPTS_PATH\""), "{table}");

    // The reference's tables come from the whole model and say from which release.
    let md = kea_runscript_codegen::reference(&model);
    assert!(md.contains("| `lease4_offer` | d | yes | 2.6+ |"), "{md}");
    assert!(md.contains("`KEA_SUBNET4` (2.6+)"), "{md}");
    assert!(md.contains("| `KEA_LEASE4_POOL_ID` | int | d |  | 2.6+ |"), "{md}");
}

fn errors(extra: &str) -> String {
    match load_str(&format!("{SPEC}{extra}"), "spec.toml") {
        Ok(_) => panic!("spec accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn release_errors_name_the_item_and_line() {
    let line = SPEC.lines().count();
    let e = errors("\n[[kea]]\nversion = \"2.5\"\nhooks-version = 20500\ndebian = \"x\"\nlibraries = []\n");
    assert!(e.contains(&format!("spec.toml:{}: kea 2.5: releases go oldest first: hooks-version 20500 is not above 3.0's 30000", line + 4)), "{e}");
    assert!(e.contains("kea 2.5: lists no library"), "{e}");

    let e = errors("\n[[hook]]\nname = \"x4\"\nfamily = 4\nsince = \"2.5\"\ndescription = \"d\"\n");
    assert!(e.contains(&format!("spec.toml:{}: hook point x4: \"2.5\" is not a Kea release of the spec (known: 2.2, 2.6, 3.0)", line + 5)), "{e}");

    let e = errors(
        "\n[[hook]]\nname = \"y4\"\nfamily = 4\nsince = \"2.6\"\ndescription = \"d\"\n\
         arguments = [{ name = \"lease4\", type = \"isc::dhcp::Lease4Ptr\", since = \"2.6\" }]\n",
    );
    assert!(e.contains("hook point y4: argument lease4 comes with the hook point: drop its `since`"), "{e}");

    let e = errors(
        "\n[[hook]]\nname = \"z4\"\nfamily = 4\ndescription = \"d\"\n\
         arguments = [{ name = \"subnet4\", type = \"isc::dhcp::Subnet4Ptr\" }]\n",
    );
    assert!(
        e.contains("argument subnet4 has type isc::dhcp::Subnet4Ptr here but isc::dhcp::Subnet4Ptr, from 3.0 isc::dhcp::ConstSubnet4Ptr at an earlier hook point"),
        "{e}"
    );
}
