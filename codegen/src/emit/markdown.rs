//! Emit README.md's reference tables: per DHCP family, the variables, then each hook point with what it carries.

use crate::model::Model;
use std::fmt::Write as _;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn emit(model: &Model) -> String {
    let mut md = String::new();
    // The release name of a `since` index ("2.2" when the spec lists no release).
    let release = |i: usize| model.releases.get(i).map(|r| r.version.as_str()).unwrap_or("2.2");
    if !model.releases.is_empty() {
        md.push_str("### Kea releases\n\n");
        md.push_str("| Kea | Where | `KEA_HOOKS_VERSION` from | Scripts accepted from |\n|---|---|---|---|\n");
        for r in &model.releases {
            let scripts = match &r.scripts_directory {
                Some(d) => format!("only `${}`, else `{}` (not enforced under `-X`)", d.env, d.default),
                None => "anywhere (absolute path)".to_string(),
            };
            let _ = writeln!(md, "| {} | {} | {} | {scripts} |", r.version, cell(&r.debian), r.hooks_version);
        }
        md.push('\n');
    }
    for family in model.families() {
        let title = if family == 0 { "Library hook points (both servers)".to_string() } else { format!("DHCPv{family}") };
        let in_family = |h: usize| model.hooks[h].family == family;
        let _ = writeln!(md, "### {title}: variables\n");
        md.push_str("| Variable | Type | Description | Reference | Kea |\n|---|---|---|---|---|\n");
        for var in model.variables.iter().filter(|v| v.hooks.iter().any(|&h| in_family(h))) {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} | {}+ |",
                var.name,
                var.value_type.name(),
                cell(&var.description),
                var.reference.as_deref().map(cell).unwrap_or_default(),
                release(var.since)
            );
        }
        let _ = writeln!(md, "\n### {title}: hook points\n");
        md.push_str("| Hook point | When it runs | Default | Kea | Variables |\n|---|---|---|---|---|\n");
        for hook in model.hooks.iter().filter(|h| h.family == family) {
            let vars: Vec<String> = hook
                .variables
                .iter()
                .map(|&v| {
                    let var = &model.variables[v];
                    match model.carried_since(hook, var) {
                        since if since > hook.since => format!("`{}` ({}+)", var.name, release(since)),
                        _ => format!("`{}`", var.name),
                    }
                })
                .collect();
            let default = if hook.default { "yes" } else { "no" };
            let _ = writeln!(
                md,
                "| `{}` | {} | {default} | {}+ | {} |",
                hook.name,
                cell(&hook.description),
                release(hook.since),
                vars.join(" ")
            );
        }
        for o in model.options.iter().filter(|o| o.family == family) {
            let _ = writeln!(md, "\n`{}<code>`: {}", o.prefix, cell(&o.description));
        }
        if family != 0 {
            let _ = writeln!(md, "\n### {title}: what `exit-status` can ask for\n");
            md.push_str("| Hook point | `skip` | `drop` |\n|---|---|---|\n");
            for hook in model.hooks.iter().filter(|h| h.family == family) {
                let status = |s: &Option<String>| s.as_deref().map(cell).unwrap_or_else(|| "(ignored by Kea)".into());
                let _ = writeln!(md, "| `{}` | {} | {} |", hook.name, status(&hook.skip), status(&hook.drop));
            }
        }
        md.push('\n');
    }
    md.truncate(md.trim_end().len());
    md.push('\n');
    md
}
