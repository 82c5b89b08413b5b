//! A bad spec fails with every error at once, each naming the item and its line.

use kea_runscript_codegen::load_str;

const HOOKS: &str = r#"
[[kea]]
version = "2.2"
hooks-version = 20200
debian = "bookworm"
libraries = ["kea-dhcp++"]

[[hook]]
name = "pkt4_receive"
family = 4
description = "d"
arguments = [{ name = "query4", type = "isc::dhcp::Pkt4Ptr" }]

[[hook]]
name = "lease4_expire"
family = 4
description = "d"
arguments = [{ name = "lease4", type = "isc::dhcp::Lease4Ptr" }]
"#;

fn errors(variables: &str) -> String {
    let text = format!("{HOOKS}{variables}");
    match load_str(&text, "spec.toml") {
        Ok(_) => panic!("spec accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Line (1-based) of the first line containing `needle` in the full spec text.
fn line_of(variables: &str, needle: &str, nth: usize) -> usize {
    let text = format!("{HOOKS}{variables}");
    text.lines().enumerate().filter(|(_, l)| l.contains(needle)).nth(nth).unwrap().0 + 1
}

fn variable(name: &str, ty: &str, argument: &str, read: &str, hooks: &str) -> String {
    format!(
        "\n[[variable]]\nname = \"{name}\"\ntype = \"{ty}\"\ndescription = \"d\"\nargument = \"{argument}\"\nread = \"{read}\"\nhooks = {hooks}\n"
    )
}

#[test]
fn a_valid_spec_builds_the_model() {
    let vars = variable("KEA_QUERY4_TYPE", "string", "query4", "query4->getName()", r#"["@query4"]"#)
        + &variable("KEA_LEASE4_ADDRESS", "string", "lease4", "lease4->addr_.toText()", r#"["lease4_expire"]"#);
    let model = load_str(&format!("{HOOKS}{vars}"), "spec.toml").unwrap();
    assert_eq!(model.hook("pkt4_receive").unwrap().variables, vec![0]);
    assert_eq!(model.hook("lease4_expire").unwrap().variables, vec![1]);
}

#[test]
fn unknown_hook_point() {
    let vars = variable("KEA_QUERY4_TYPE", "string", "query4", "query4->getName()", r#"["pkt4_recieve"]"#);
    let e = errors(&vars);
    let line = line_of(&vars, "hooks =", 0);
    assert!(e.contains(&format!("spec.toml:{line}: variable KEA_QUERY4_TYPE: unknown hook point \"pkt4_recieve\"")), "{e}");
}

#[test]
fn duplicate_variable() {
    let one = variable("KEA_QUERY4_TYPE", "string", "query4", "query4->getName()", r#"["@query4"]"#);
    let vars = format!("{one}{one}");
    let e = errors(&vars);
    let first = line_of(&vars, "name = \"KEA_QUERY4_TYPE\"", 0);
    let second = line_of(&vars, "name = \"KEA_QUERY4_TYPE\"", 1);
    assert!(
        e.contains(&format!("spec.toml:{second}: variable KEA_QUERY4_TYPE: defined twice (first at line {first})")),
        "{e}"
    );
}

#[test]
fn variable_whose_argument_the_hook_point_lacks() {
    let vars = variable("KEA_QUERY4_TYPE", "string", "query4", "query4->getName()", r#"["pkt4_receive", "lease4_expire"]"#);
    let e = errors(&vars);
    let line = line_of(&vars, "hooks =", 0);
    assert!(
        e.contains(&format!(
            "spec.toml:{line}: variable KEA_QUERY4_TYPE: hook point lease4_expire has no argument query4"
        )),
        "{e}"
    );
}

#[test]
fn bad_type() {
    let vars = variable("KEA_QUERY4_TYPE", "text", "query4", "query4->getName()", r#"["@query4"]"#);
    let e = errors(&vars);
    let line = line_of(&vars, "type = \"text\"", 0);
    assert!(
        e.contains(&format!("spec.toml:{line}: variable KEA_QUERY4_TYPE: unknown type \"text\"; expected one of string, int, bool, hex")),
        "{e}"
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let vars = variable("kea_lower", "int", "nosuch", "x", r#"["@nosuch", "nowhere"]"#);
    let e = errors(&vars);
    for expected in [
        "variable kea_lower: a variable name is KEA_",
        "variable kea_lower: no hook point has an argument named nosuch",
        "variable kea_lower: `read` does not use its argument nosuch",
        "variable kea_lower: @nosuch: no hook point has an argument named nosuch",
        "variable kea_lower: unknown hook point \"nowhere\"",
    ] {
        assert!(e.contains(expected), "{expected:?} not in:\n{e}");
    }
}

#[test]
fn hook_point_errors() {
    let extra = "\n[[hook]]\nname = \"pkt4_receive\"\nfamily = 5\ndescription = \"d\"\narguments = [{ name = \"query4\", type = \"isc::dhcp::Pkt6Ptr\" }]\n";
    let e = errors(extra);
    let name_line = line_of(extra, "name = \"pkt4_receive\"", 1);
    let family_line = line_of(extra, "family = 5", 0);
    assert!(e.contains(&format!("spec.toml:{name_line}: hook point pkt4_receive: defined twice")), "{e}");
    assert!(e.contains(&format!("spec.toml:{family_line}: hook point pkt4_receive: family must be 4 or 6, not 5")), "{e}");
    assert!(e.contains("argument query4 has type isc::dhcp::Pkt6Ptr here but isc::dhcp::Pkt4Ptr at an earlier hook point"), "{e}");
}

#[test]
fn syntax_and_unknown_keys_name_the_line() {
    let vars = "\n[[variable]]\nname = \"KEA_X\"\ncolour = \"red\"\n";
    let e = errors(vars);
    let line = line_of(vars, "colour", 0);
    assert!(e.contains(&format!("spec.toml:{line}: spec: unknown field `colour`")), "{e}");
}

#[test]
fn each_and_library_errors() {
    let extra = "\n[[hook]]\nname = \"leases4_committed\"\nfamily = 4\ndescription = \"d\"\n\
        arguments = [{ name = \"query4\", type = \"isc::dhcp::Pkt4Ptr\" }]\n\
        each = [{ over = \"leases4\", name = \"lease4\", type = \"isc::dhcp::Lease4Ptr\" }]\n\
        \n[[hook]]\nname = \"load\"\nlibrary = true\nfamily = 5\ndescription = \"d\"\n\
        \n[[hook]]\nname = \"lease4_replay\"\nlibrary = true\nfamily = 4\ndescription = \"d\"\nlease-event = \"gone\"\n\
        \n[[hook]]\nname = \"nofamily\"\ndescription = \"d\"\n";
    let e = errors(extra);
    let over = line_of(extra, "each = ", 0);
    let family = line_of(extra, "library = true", 0) + 1;
    let nofamily = line_of(extra, "name = \"nofamily\"", 0);
    assert!(e.contains(&format!("spec.toml:{over}: hook point leases4_committed: `each` runs over leases4, which is not an argument")), "{e}");
    assert!(e.contains(&format!("spec.toml:{family}: hook point load: family must be 4 or 6 (or absent: both), not 5")), "{e}");
    let word = line_of(extra, "lease-event", 0);
    assert!(e.contains(&format!("spec.toml:{word}: hook point lease4_replay: lease-event \"gone\" is none of add, renew, del, offer, old")), "{e}");
    assert!(e.contains(&format!("spec.toml:{nofamily}: hook point nofamily: family is missing")), "{e}");
}

#[test]
fn each_makes_the_element_an_argument_for_variables() {
    let extra = "\n[[hook]]\nname = \"leases4_committed\"\nfamily = 4\ndescription = \"d\"\n\
        arguments = [{ name = \"leases4\", type = \"isc::dhcp::Lease4CollectionPtr\" }]\n\
        each = [{ over = \"leases4\", name = \"lease4\", type = \"isc::dhcp::Lease4Ptr\" }]\n";
    let vars = variable("KEA_LEASE4_ADDRESS", "string", "lease4", "lease4->addr_.toText()", r#"["@lease4"]"#)
        + &variable("KEA_LEASE_DELETED", "bool", "deleted", "deleted", r#"["@deleted"]"#);
    let model = load_str(&format!("{HOOKS}{extra}{vars}"), "spec.toml").unwrap();
    assert_eq!(model.hook("leases4_committed").unwrap().variables, vec![0, 1]);
    assert_eq!(model.hook("lease4_expire").unwrap().variables, vec![0]);
    let cpp = kea_runscript_codegen::generate(&model.at(0), "callouts.cc").callouts;
    assert!(cpp.contains("for (const isc::dhcp::Lease4Ptr& lease4 : *leases4)"), "{cpp}");
    assert!(cpp.contains("put_bool(event, var::KEA_LEASE_DELETED, deleted);"), "{cpp}");
}

#[test]
fn format_and_empty() {
    let ok = variable("KEA_LEASE4_ADDRESS", "string", "lease4", "lease4->addr_.toText()", r#"["lease4_expire"]"#)
        .replace("description = \"d\"\n", "description = \"d\"\nformat = \"ipv4\"\nempty = \"never, really \"\n");
    let model = load_str(&format!("{HOOKS}{ok}"), "spec.toml").unwrap_or_else(|e| panic!("{e}"));
    let var = model.variable("KEA_LEASE4_ADDRESS").unwrap();
    assert_eq!(var.format, kea_runscript_codegen::model::Format::Ipv4);
    assert_eq!(var.empty.as_deref(), Some("never, really"));

    let bad = variable("KEA_A", "int", "lease4", "1 + lease4->valid_lft_", r#"["lease4_expire"]"#)
        .replace("description = \"d\"\n", "description = \"d\"\nformat = \"ipv4\"\n")
        + &variable("KEA_B", "string", "lease4", "lease4->hostname_", r#"["lease4_expire"]"#)
            .replace("description = \"d\"\n", "description = \"d\"\nformat = \"email\"\n");
    let e = errors(&bad);
    let a = line_of(&bad, "format = \"ipv4\"", 0);
    let b = line_of(&bad, "format = \"email\"", 0);
    assert!(e.contains(&format!("spec.toml:{a}: variable KEA_A: a format applies to a string only")), "{e}");
    assert!(e.contains(&format!("spec.toml:{b}: variable KEA_B: unknown format \"email\"; expected one of text, ipv4")), "{e}");
}

/// ISC's names: the variable's own, renamed per hook point argument, in lists, and the checks
/// on them, each at its line.
#[test]
fn isc_names() {
    let extra = "\n[[hook]]\nname = \"leases4_committed\"\nfamily = 4\ndescription = \"d\"\nisc = [\"query4\", \"leases4\"]\n\
        arguments = [{ name = \"query4\", type = \"isc::dhcp::Pkt4Ptr\" }, { name = \"leases4\", type = \"isc::dhcp::Lease4CollectionPtr\" }]\n\
        each = [{ over = \"leases4\", name = \"lease4\", type = \"isc::dhcp::Lease4Ptr\", isc = \"LEASES4\" }]\n";
    let ok = variable("KEA_LEASE4_ADDRESS", "string", "lease4", "lease4->addr_.toText()", r#"["@lease4"]"#)
        .replace("type = ", "isc = \"LEASE4_ADDRESS\"\ntype = ")
        + &variable("KEA_QUERY4_TYPE", "string", "query4", "query4->getName()", r#"["@query4"]"#)
            .replace("type = ", "isc = \"QUERY4_TYPE\"\ntype = ")
        + "\n[[variable]]\nisc = \"QUERY4_OPTION_82\"\ntype = \"hex\"\ndescription = \"d\"\nabsent = \"no option 82\"\n\
           argument = \"query4\"\nread = \"option_hex_if(query4, 82)\"\nhooks = [\"@query4\"]\n";
    let model = load_str(&format!("{HOOKS}{extra}{ok}"), "spec.toml").unwrap_or_else(|e| panic!("{e}"));
    let committed = model.hook("leases4_committed").unwrap();
    let names: Vec<String> = model.isc_variables(committed).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["QUERY4_TYPE", "QUERY4_OPTION_82"], "the element's variables are in the list");
    assert_eq!(model.isc_lists(committed), vec![("LEASES4".to_string(), vec![(0, "_ADDRESS".to_string())])]);
    let option = model.variable("QUERY4_OPTION_82").unwrap();
    assert!(!option.kea && option.absent.is_some());
    let cpp = kea_runscript_codegen::generate(&model.at(0), "callouts.cc").callouts;
    assert!(cpp.contains("const Namings namings = hook_namings(2);"), "{cpp}");
    assert!(cpp.contains("if (namings.isc)") && cpp.contains("event.add_element(0, std::move(element));"), "{cpp}");
    assert!(cpp.contains("if (event.wants_isc())"), "an ISC-only value is read only for ISC's names: {cpp}");
    let rust = kea_runscript_codegen::env_table(&model.at(0));
    assert!(rust.contains("name: \"\"") && rust.contains("isc: \"QUERY4_OPTION_82\""), "{rust}");

    let bad = extra.replace("isc = \"LEASES4\"", "isc = \"leases\"").replace("isc = [\"query4\", \"leases4\"]", "isc = [\"query6\"]")
        + &variable("KEA_LEASE4_HOSTNAME", "string", "lease4", "lease4->hostname_", r#"["@lease4"]"#)
            .replace("type = ", "isc = \"HOSTNAME\"\ntype = ")
        + &variable("KEA_QUERY4_NAME", "string", "query4", "query4->getName()", r#"["@query4"]"#)
            .replace("type = ", "isc = \"KEA_QUERY4_NAME\"\nabsent = \"never\"\ntype = ")
        + "\n[[variable]]\ntype = \"int\"\ndescription = \"d\"\nargument = \"query4\"\nread = \"query4->getTransid()\"\nhooks = [\"@query4\"]\n"
        + &variable("KEA_QUERY4_TYPE", "string", "query4", "query4->getName()", r#"["@query4"]"#)
            .replace("type = ", "isc = \"Q_TYPE\"\ntype = ")
        + &variable("KEA_QUERY4_KIND", "string", "query4", "query4->getName()", r#"["@query4"]"#)
            .replace("type = ", "isc = \"Q_TYPE\"\ntype = ");
    let e = errors(&bad);
    let at = |needle: &str| line_of(&bad, needle, 0);
    for expected in [
        format!("spec.toml:{}: hook point leases4_committed: ISC's list name is upper-case", at("isc = \"leases\"")),
        format!("spec.toml:{}: hook point leases4_committed: isc: query6 is not an argument", at("isc = [\"query6\"]")),
        format!("spec.toml:{}: variable KEA_LEASE4_HOSTNAME: ISC's names rename lease4's variables at some hook point: this one must start with LEASE4_", at("isc = \"HOSTNAME\"")),
        format!("spec.toml:{}: variable KEA_QUERY4_NAME: an ISC name is upper-case letters, digits and _, without KEA_", at("isc = \"KEA_QUERY4_NAME\"")),
        format!("spec.toml:{}: variable KEA_QUERY4_NAME: `absent` applies to a variable with ISC's names only", at("name = \"KEA_QUERY4_NAME\"")),
        format!("spec.toml:{}: variable: has neither a name (KEA_…) nor an ISC name (isc)", at("read = \"query4->getTransid()\"")),
        format!("spec.toml:{}: variable Q_TYPE: defined twice (first at line {})", line_of(&bad, "isc = \"Q_TYPE\"", 1), at("isc = \"Q_TYPE\"")),
    ] {
        assert!(e.contains(&expected), "{e}\nlacks {expected}");
    }
}

/// A variable the library sets (`source = "library"`) is on every hook point and reads nothing
/// from Kea; what does not apply to it, a missing `argument`/`read`, and bad statistics are
/// refused at their lines.
#[test]
fn library_variables_and_statistics() {
    let good = "\n[[variable]]\nname = \"KEA_EVENT_ID\"\ntype = \"string\"\ndescription = \"d\"\nsource = \"library\"\n";
    let model = load_str(&format!("{HOOKS}{good}"), "spec.toml").unwrap();
    assert!(model.hooks.iter().all(|h| h.variables == vec![0]), "every hook point carries it");
    assert!(model.variables[0].library && model.variables[0].read.is_empty());

    let bad = good.replace("source = \"library\"\n", "source = \"library\"\nargument = \"query4\"\n")
        + "\n[[variable]]\nname = \"KEA_X\"\ntype = \"string\"\ndescription = \"d\"\nsource = \"kea\"\n"
        + "\n[[variable]]\nname = \"KEA_Y\"\ntype = \"string\"\ndescription = \"d\"\nargument = \"query4\"\n"
        + "\n[[statistic]]\nname = \"Runs\"\nkind = \"counter\"\ndescription = \"d\"\n"
        + "\n[[statistic]]\nname = \"runs\"\nkind = \"meter\"\ndescription = \"d\"\n"
        + "\n[[statistic]]\nname = \"runs\"\nkind = \"gauge\"\ndescription = \"d\"\n";
    let e = errors(&bad);
    let at = |needle: &str, nth: usize| line_of(&bad, needle, nth);
    for expected in [
        format!("spec.toml:{}: variable KEA_EVENT_ID: `argument` does not apply to a variable the library sets", at("name = \"KEA_EVENT_ID\"", 0)),
        format!("spec.toml:{}: variable KEA_X: unknown source \"kea\"", at("source = \"kea\"", 0)),
        format!("spec.toml:{}: variable KEA_Y: needs read, hooks (or source = \"library\")", at("name = \"KEA_Y\"", 0)),
        format!("spec.toml:{}: statistic Runs: a statistic name is lower-case words", at("name = \"Runs\"", 0)),
        format!("spec.toml:{}: statistic runs: unknown kind \"meter\"", at("kind = \"meter\"", 0)),
        format!("spec.toml:{}: statistic runs: defined twice", at("name = \"runs\"", 1)),
    ] {
        assert!(e.contains(&expected), "{e}\nlacks {expected}");
    }
}
