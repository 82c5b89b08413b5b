//! The project's own spec: it loads, keeps the seed's contract, and docs/reference.md shows its tables.

use kea_runscript_codegen::{
    env_table, generate, load, reference, splice_generated, workspace_root, write_if_changed, GENERATED_BEGIN, GENERATED_COMMAND, GENERATED_DOC,
};

#[test]
fn the_spec_covers_the_seeds_hook_points_and_variables() {
    let model = load(&workspace_root().join("spec/spec.toml")).unwrap_or_else(|e| panic!("{e}"));
    let seed_hooks = [
        "pkt4_receive", "pkt4_send", "subnet4_select", "lease4_select", "lease4_renew", "lease4_release",
        "lease4_decline", "lease4_expire", "lease4_recover", "pkt6_receive", "pkt6_send", "subnet6_select",
        "lease6_select", "lease6_renew", "lease6_rebind", "lease6_decline", "lease6_release", "lease6_expire",
        "lease6_recover",
    ];
    for h in seed_hooks {
        assert!(model.hook(h).is_some(), "hook point {h} missing");
    }
    // The seed README's per-hook-point lists, by group (DHCPv4 then DHCPv6).
    let q4 = "TYPE INTERFACE IFINDEX HWADDR HWADDR_SOURCE HWADDR_TYPE RELAYED RELAY_HOPS CIADDR SIADDR YIADDR GIADDR RAI RAI_CIRCUIT_ID RAI_REMOTE_ID OPTION60";
    let r4 = "TYPE INTERFACE IFINDEX HWADDR HWADDR_SOURCE HWADDR_TYPE RELAYED RELAY_HOPS CIADDR SIADDR YIADDR GIADDR";
    let l4 = "ADDRESS TYPE STATE IS_EXPIRED HWADDR HOSTNAME CLIENT_LAST_TRANSMISSION VALID_LIFETIME";
    let q6 = "TYPE INTERFACE IFINDEX DUID HWADDR HWADDR_TYPE HWADDR_SOURCE LOCAL_ADDRESS LOCAL_PORT REMOTE_ADDRESS REMOTE_PORT LABEL TRANSACTION_ID";
    let l6 = "TYPE ADDRESS DELEGATED_PREFIX DELEGATED_PREFIXLEN CLIENT_DUID HWADDR HOSTNAME STATE IS_EXPIRED CLIENT_LAST_TRANSMISSION VALID_LIFETIME PREFERRED_LIFETIME IAID";
    let group = |prefix: &str, names: &str| names.split(' ').map(|n| format!("{prefix}{n}")).collect::<Vec<_>>();
    let s4 = vec!["KEA_SUBNET4".to_string(), "KEA_SUBNET4_PREFIX".into(), "KEA_SUBNET4_PREFIXLEN".into()];
    let s6 = vec!["KEA_SUBNET6".to_string(), "KEA_SUBNET6_PREFIX".into(), "KEA_SUBNET6_PREFIXLEN".into()];
    let fake = vec!["KEA_FAKE_ALLOCATION".to_string()];
    let remove = vec!["KEA_REMOVE_LEASE".to_string()];
    let (q4, r4, l4) = (group("KEA_QUERY4_", q4), group("KEA_RESPONSE4_", r4), group("KEA_LEASE4_", l4));
    let (q6, r6, l6) = (group("KEA_QUERY6_", q6), group("KEA_RESPONSE6_", q6), group("KEA_LEASE6_", l6));
    let expected: Vec<(&str, Vec<&Vec<String>>)> = vec![
        ("pkt4_receive", vec![&q4]),
        ("pkt4_send", vec![&q4, &r4]),
        ("subnet4_select", vec![&q4, &s4]),
        ("lease4_select", vec![&q4, &s4, &fake, &l4]),
        ("lease4_renew", vec![&q4, &s4, &l4]),
        ("lease4_release", vec![&q4, &l4]),
        ("lease4_decline", vec![&q4, &l4]),
        ("lease4_expire", vec![&l4, &remove]),
        ("lease4_recover", vec![&l4]),
        ("pkt6_receive", vec![&q6]),
        ("pkt6_send", vec![&q6, &r6]),
        ("subnet6_select", vec![&q6, &s6]),
        ("lease6_select", vec![&q6, &s6, &fake, &l6]),
        ("lease6_renew", vec![&q6, &l6]),
        ("lease6_rebind", vec![&q6, &l6]),
        ("lease6_decline", vec![&q6, &l6]),
        ("lease6_release", vec![&q6, &l6]),
        ("lease6_expire", vec![&l6, &remove]),
        ("lease6_recover", vec![&l6]),
    ];
    for (hook, groups) in expected {
        let carried: Vec<&str> =
            model.hook(hook).unwrap().variables.iter().map(|&v| model.variables[v].name.as_str()).collect();
        for name in groups.into_iter().flatten() {
            assert!(carried.contains(&name.as_str()), "{hook} does not carry {name}");
        }
    }
}

#[test]
fn generated_cpp_and_rust_carry_the_header_and_every_hook_point() {
    let model = load(&workspace_root().join("spec/spec.toml")).unwrap();
    // The newest release has every hook point of the spec.
    let newest = model.at(model.newest());
    let g = generate(&newest, "callouts.cc");
    let table = env_table(&newest);
    let markdown = reference(&model);
    for text in [&g.callouts, &g.messages_h, &g.messages_cc, &table, &g.messages_rs, &g.limits_rs] {
        assert!(text.starts_with("// @generated"), "{}", &text[..text.len().min(200)]);
    }
    for hook in &model.hooks {
        let function = if hook.library {
            format!("void library_{}(Event& event, ", hook.name)
        } else {
            format!("int callout_{}(isc::hooks::CalloutHandle& handle)", hook.name)
        };
        assert!(g.callouts.contains(&function), "{function} not generated");
        assert!(table.contains(&format!("name: \"{}\"", hook.name)));
        assert!(markdown.contains(&format!("| `{}` |", hook.name)));
    }
}

/// rust-analyzer's pattern: a plain `cargo test` refreshes docs/reference.md and fails when it had
/// drifted.
#[test]
fn reference_tables_match_the_spec() {
    let root = workspace_root();
    let model = load(&root.join("spec/spec.toml")).unwrap();
    let path = root.join(GENERATED_DOC);
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{GENERATED_DOC}: {e}"));
    let fresh = splice_generated(&doc, &reference(&model))
        .unwrap_or_else(|| panic!("{GENERATED_DOC} lacks the generated-block markers"));
    if fresh != doc {
        write_if_changed(&path, &fresh).unwrap();
        panic!(
            "{GENERATED_DOC}'s generated tables were out of date with spec/spec.toml and have been rewritten; \
             review and commit {GENERATED_DOC} (the same as `{GENERATED_COMMAND}`)."
        );
    }
}

/// The marker in the page names the command that rewrites it.
#[test]
fn the_marker_names_the_command() {
    assert!(GENERATED_BEGIN.contains(&format!("`{GENERATED_COMMAND}`")), "{GENERATED_BEGIN}");
}

/// The docs quote a limit with a link to it, `… 100 lines per run ([`LINES_PER_RUN`](reference.md#limits))`:
/// the value written in the few words before the link must be the spec's, so that prose cannot
/// drift from what the code does.
#[test]
fn limits_quoted_in_the_docs_are_the_specs() {
    let root = workspace_root();
    let model = load(&root.join("spec/spec.toml")).unwrap();
    let mut quoted = 0;
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Lines are joined so that a value may stand at the end of the line before its link.
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for (at, _) in flat.match_indices("](reference.md#limits))") {
            let Some(open) = flat[..at].rfind(" ([`") else { continue };
            let name = flat[open + 4..at].trim_end_matches('`');
            let words: Vec<&str> = flat[..open].split(' ').collect();
            let before = words[words.len().saturating_sub(4)..].join(" ");
            match model.limits.iter().find(|l| l.name == name) {
                Some(limit) if before.contains(&limit.text()) => quoted += 1,
                Some(limit) => wrong.push(format!("{}: {name} is {}, the text says {before:?}", path.display(), limit.text())),
                None => wrong.push(format!("{}: {name} is not a limit of the spec", path.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "limits quoted wrongly in docs/:\n{}", wrong.join("\n"));
    assert!(quoted >= 10, "only {quoted} limits quoted in docs/");
}
