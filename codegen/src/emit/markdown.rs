//! Emit the generated reference (docs/reference.md): the Kea releases; per DHCP family the
//! variables, each hook point with what it carries, and what `exit-status` can ask there; the
//! log messages and the limits they quote. From the whole spec ([`Scope::AllReleases`]).

use crate::model::{Format, Model, Scope, Severity};
use std::fmt::Write as _;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn emit(model: &Model) -> String {
    assert_eq!(model.scope, Scope::AllReleases, "the reference shows every release: give it the whole spec");
    let mut md = String::new();
    // The release name of a `since` index (the checker makes sure each names one).
    let release = |i: usize| model.releases[i].version.as_str();
    md.push_str("## Kea releases\n\n");
    md.push_str("| Kea | Where | `KEA_HOOKS_VERSION` from | Scripts accepted from |\n|---|---|---|---|\n");
    for r in &model.releases {
        let scripts = match &r.scripts_directory {
            Some(d) => format!("only `${}`, else `{}` (not enforced under `-X`)", d.env, d.default),
            None => "anywhere (absolute path)".to_string(),
        };
        let _ = writeln!(md, "| {} | {} | {} | {scripts} |", r.version, cell(&r.debian), r.hooks_version);
    }
    md.push('\n');
    for family in model.families() {
        let title = if family == 0 { "Library hook points (both servers)".to_string() } else { format!("DHCPv{family}") };
        let in_family = |h: usize| model.hooks[h].family == family;
        let _ = writeln!(md, "## {title}: variables\n");
        md.push_str("| Variable | Type | Description | Reference | Kea |\n|---|---|---|---|---|\n");
        for var in model.variables.iter().filter(|v| v.hooks.iter().any(|&h| in_family(h))) {
            let ty = match var.format {
                Format::Text => var.value_type.name().to_string(),
                format => format!("{}: {}", var.value_type.name(), format.docs()),
            };
            let description = match &var.empty {
                Some(when) => format!("{}. Empty when {when}.", var.description.trim_end_matches('.')),
                None => var.description.clone(),
            };
            let _ = writeln!(
                md,
                "| `{}` | {ty} | {} | {} | {}+ |",
                var.name,
                cell(&description),
                var.reference.as_deref().map(cell).unwrap_or_default(),
                release(var.since)
            );
        }
        let _ = writeln!(md, "\n## {title}: hook points\n");
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
            let _ = writeln!(md, "\n## {title}: what `exit-status` can ask for\n");
            md.push_str("| Hook point | `skip` | `drop` |\n|---|---|---|\n");
            for hook in model.hooks.iter().filter(|h| h.family == family) {
                let status = |s: &Option<String>| s.as_deref().map(cell).unwrap_or_else(|| "(ignored by Kea)".into());
                let _ = writeln!(md, "| `{}` | {} | {} |", hook.name, status(&hook.skip), status(&hook.drop));
            }
        }
        md.push('\n');
    }
    messages(model, &mut md);
    md.truncate(md.trim_end().len());
    md.push('\n');
    md
}

/// The log catalogue and the limits its texts quote.
fn messages(model: &Model, md: &mut String) {
    if model.messages.is_empty() {
        return;
    }
    md.push_str("## Log messages\n\n");
    md.push_str("Logger `kea-dhcp4.kea-runscript` or `kea-dhcp6.kea-runscript`; `%1`, `%2` stand for what the message names.\n\n");
    md.push_str("| ID | Severity | Text | Meaning |\n|---|---|---|---|\n");
    for m in &model.messages {
        let severity = match m.severity {
            Severity::Debug => format!("DEBUG ({})", m.debug_level),
            other => other.upper().to_string(),
        };
        let _ = writeln!(md, "| `{}` | {severity} | {} | {} |", m.id, cell(&m.text), cell(&m.description));
    }
    if !model.limits.is_empty() {
        md.push_str("\n## Limits\n\n");
        md.push_str("| Limit | Value | What it bounds |\n|---|---|---|\n");
        for l in &model.limits {
            let _ = writeln!(md, "| `{}` | {} | {} |", l.name, l.text(), cell(&l.description));
        }
    }
    md.push('\n');
}
