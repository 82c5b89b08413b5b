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
        let leases: Vec<_> = model.hooks.iter().filter(|h| h.family == family && h.lease_event.is_some()).collect();
        if !leases.is_empty() {
            let _ = writeln!(md, "\n## {title}: `KEA_LEASE_EVENT`, per hook point\n");
            md.push_str("What the event means to a copy of the leases Kea holds: upsert on `add`, `renew` and `old`, remove on `del`, nothing on `offer`.\n\n");
            md.push_str("| Hook point | `KEA_LEASE_EVENT` |\n|---|---|\n");
            for hook in leases {
                let _ = writeln!(md, "| `{}` | {} |", hook.name, cell(hook.lease_event.as_deref().unwrap_or("")));
            }
        }
        if family != 0 {
            let _ = writeln!(md, "\n## {title}: what `exit-status` can ask for\n");
            md.push_str("| Hook point | `skip` | `drop` |\n|---|---|---|\n");
            for hook in model.hooks.iter().filter(|h| h.family == family && !h.library) {
                let status = |s: &Option<String>| s.as_deref().map(cell).unwrap_or_else(|| "(ignored by Kea)".into());
                let _ = writeln!(md, "| `{}` | {} | {} |", hook.name, status(&hook.skip), status(&hook.drop));
            }
        }
        md.push('\n');
    }
    isc_names(model, &mut md);
    messages(model, &mut md);
    md.truncate(md.trim_end().len());
    md.push('\n');
    md
}

/// ISC run_script's names (`"variables": "isc"`, the default of ISC's form): per family, the
/// hook points with the variables each carries under those names, then the migration table.
fn isc_names(model: &Model, md: &mut String) {
    let release = |i: usize| model.releases[i].version.as_str();
    if !model.variables.iter().any(|v| v.isc.is_some()) {
        return;
    }
    for family in model.families().into_iter().filter(|&f| f != 0) {
        let _ = writeln!(md, "## DHCPv{family}: ISC's names, per hook point
");
        md.push_str("With `\"variables\": \"isc\"` (the default of ISC's form, `\"name\"`), a script sees these, and only these (no `PATH` unless `pass-env` asks). ");
        md.push_str("`<L>_AT<i>_…` is the i-th element (from 0) of list `<L>`, `<L>_SIZE` their number: one run per callout.\n\n");
        md.push_str("| Hook point | ISC's hook serves it | Variables |\n|---|---|---|\n");
        for hook in model.hooks.iter().filter(|h| h.family == family) {
            let mut names: Vec<String> = model
                .isc_variables(hook)
                .into_iter()
                .map(|(v, name)| match model.carried_since(hook, &model.variables[v]) {
                    since if since > hook.since => format!("`{name}` ({}+)", release(since)),
                    _ => format!("`{name}`"),
                })
                .collect();
            for (list, elements) in model.isc_lists(hook) {
                names.push(format!("`{list}_SIZE`"));
                names.extend(elements.iter().map(|(_, rest)| format!("`{list}_AT<i>{rest}`")));
            }
            let served = if hook.isc.is_some() { format!("yes ({}+)", release(hook.since)) } else { "no".into() };
            let _ = writeln!(md, "| `{}` | {served} | {} |", hook.name, names.join(" "));
        }
        if let Some(o) = model.options.iter().find(|o| o.family == family && o.isc_prefix.is_some()) {
            let _ = writeln!(
                md,
                "\nWith the `options` parameter: `{}<code>`, the payload as `0x` and upper-case hex, when the client sent it.",
                o.isc_prefix.as_deref().unwrap_or("")
            );
        }
        md.push('\n');
    }
    md.push_str("## Migration from ISC's run_script\n\n");
    md.push_str("Each of ISC's names, the `KEA_*` variable with the same value, and how they differ. ");
    md.push_str("Booleans are `true`/`false` with ISC's names, `1`/`0` with `KEA_*` ones.\n\n");
    md.push_str("| ISC's name | `KEA_*` name | Type | Differences | Kea |\n|---|---|---|---|---|\n");
    for var in model.variables.iter().filter(|v| v.isc.is_some()) {
        let isc = var.isc.as_deref().unwrap_or("");
        let mut also: Vec<String> = Vec::new();
        for &h in &var.hooks {
            let hook = &model.hooks[h];
            for (list, elements) in model.isc_lists(hook) {
                let name = elements.iter().find(|(v, _)| model.variables[*v].name == var.name).map(|(_, rest)| format!("`{list}_AT<i>{rest}`"));
                also.extend(name.filter(|n| !also.contains(n)));
            }
            if let Some(name) = model.isc_name(hook, var).filter(|n| n != isc) {
                let name = format!("`{name}` at `{}`", hook.name);
                if !also.contains(&name) {
                    also.push(name);
                }
            }
        }
        let isc_cell = if also.is_empty() { format!("`{isc}`") } else { format!("`{isc}`, also {}", also.join(", ")) };
        let kea = if var.kea { format!("`{}`", var.name) } else { "—".to_string() };
        let mut differences: Vec<String> = Vec::new();
        if var.value_type == crate::model::ValueType::Bool {
            differences.push("`true`/`false` against `1`/`0`".into());
        }
        if let Some(absent) = &var.absent {
            differences.push(format!("left out when {absent}"));
        }
        if let Some(note) = &var.isc_note {
            differences.push(note.clone());
        }
        if differences.is_empty() {
            differences.push(if var.kea { "none".into() } else { cell(&var.description) });
        }
        let _ = writeln!(
            md,
            "| {isc_cell} | {kea} | {} | {} | {}+ |",
            var.value_type.name(),
            cell(&differences.join("; ")),
            release(var.since)
        );
    }
    md.push('\n');
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
    statistics(model, md);
}

/// The statistics the library keeps in Kea's statistics manager.
fn statistics(model: &Model, md: &mut String) {
    if model.statistics.is_empty() {
        return;
    }
    md.push_str("## Statistics

");
    md.push_str(
        "In Kea's statistics manager (`statistic-get`, `statistic-get-all`), for each configured script \
         `runscript[N].<name>` (N: its place in `scripts`, from 1; a top-level `script` is 1) and summed over \
         the scripts `runscript.<name>`; also in the answer of `runscript-status`. Set to 0 at load, removed at unload.\n\n",
    );
    md.push_str("| Statistic | Kind | What it counts |\n|---|---|---|\n");
    for st in &model.statistics {
        let kind = if st.gauge { "gauge (now)" } else { "counter (since load)" };
        let _ = writeln!(md, "| `{}` | {kind} | {} |", st.name, cell(&st.description));
    }
    md.push('\n');
}
