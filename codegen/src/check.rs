//! Stage 2: validate the spec and build the model. Every error is collected, none stops the pass.

use crate::error::{Diagnostic, Lines};
use crate::model::{
    Argument, Each, Format, Hook, Limit, Message, Model, OptionSource, Release, Scope, ScriptsDirectory, Severity, Source, Statistic,
    Unit, ValueType, Variable, LEASE_EVENTS, MAX_MESSAGE_ARGS,
};
use crate::spec::{HookDecl, KeaDecl, LeaseEventDecl, LimitDecl, MessageDecl, SpecFile, StatisticDecl, VariableDecl};
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;

struct Checker<'a> {
    lines: &'a Lines,
    errors: Vec<Diagnostic>,
    /// `[[kea]]` versions in order, for `since`.
    versions: Vec<String>,
}

impl Checker<'_> {
    fn error<T>(&mut self, at: &Spanned<T>, item: String, message: String) {
        let line = self.line(at);
        self.errors.push(Diagnostic { line, item, message });
    }

    fn line<T>(&self, at: &Spanned<T>) -> usize {
        self.lines.line(at.span().start)
    }

    /// The release index a `since` names (0 when absent).
    fn release(&mut self, since: Option<&Spanned<String>>, item: &str) -> usize {
        let Some(since) = since else { return 0 };
        self.release_named(since, since.get_ref(), item)
    }

    fn release_named<T>(&mut self, at: &Spanned<T>, version: &str, item: &str) -> usize {
        match self.versions.iter().position(|v| v == version) {
            Some(i) => i,
            None => {
                let known = if self.versions.is_empty() { "none: add [[kea]] tables".to_string() } else { self.versions.join(", ") };
                self.error(at, item.to_string(), format!("{version:?} is not a Kea release of the spec (known: {known})"));
                0
            }
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_variable_name(s: &str) -> bool {
    s.len() > 4
        && s.starts_with("KEA_")
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `expr` uses `ident` as a whole identifier (not as part of a longer one).
pub(crate) fn mentions(expr: &str, ident: &str) -> bool {
    let bytes = expr.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    expr.match_indices(ident).any(|(i, _)| {
        let end = i + ident.len();
        (i == 0 || !word(bytes[i - 1])) && (end == bytes.len() || !word(bytes[end]))
    })
}

/// `source` names the spec file in the model (for the generated code's `#line` directives).
pub fn check(spec: SpecFile, lines: &Lines, source: &str) -> Result<Model, Vec<Diagnostic>> {
    let mut c = Checker { lines, errors: Vec::new(), versions: Vec::new() };
    let releases = check_releases(&mut c, &spec.releases);
    if releases.is_empty() {
        c.errors.push(Diagnostic { line: 1, item: "spec".into(), message: "lists no Kea release: add a [[kea]] table".into() });
    }
    let hooks = check_hooks(&mut c, &spec);
    let variables: Vec<Variable> =
        spec.variables.iter().filter_map(|v| check_variable(&mut c, &hooks, v)).collect();
    check_unique_variables(&mut c, &spec);
    let options = check_options(&mut c, &spec, &hooks);
    let limits = check_limits(&mut c, &spec.limits);
    let messages = check_messages(&mut c, &spec.messages, &limits);
    let statistics = check_statistics(&mut c, &spec.statistics);
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    let mut hooks = hooks;
    for (index, var) in variables.iter().enumerate() {
        for &h in &var.hooks {
            hooks[h].variables.push(index);
        }
    }
    let model = Model {
        source: source.to_string(),
        hooks,
        variables,
        options,
        releases,
        scope: Scope::AllReleases,
        limits,
        messages,
        statistics,
    };
    check_isc_names(&mut c, &model, &spec.variables);
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    Ok(model)
}

fn check_releases(c: &mut Checker, decls: &[KeaDecl]) -> Vec<Release> {
    let mut releases: Vec<Release> = Vec::new();
    for decl in decls {
        let version = decl.version.get_ref();
        let item = format!("kea {version}");
        let well_formed = version.split('.').count() == 2 && version.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !well_formed {
            c.error(&decl.version, item.clone(), "a version is major.minor, e.g. \"2.6\"".into());
        }
        if releases.iter().any(|r| &r.version == version) {
            c.error(&decl.version, item.clone(), "defined twice".into());
        }
        let hooks_version = *decl.hooks_version.get_ref();
        if let Some(last) = releases.last() {
            if hooks_version <= last.hooks_version {
                c.error(
                    &decl.hooks_version,
                    item.clone(),
                    format!("releases go oldest first: hooks-version {hooks_version} is not above {}'s {}", last.version, last.hooks_version),
                );
            }
        }
        if decl.libraries.is_empty() {
            c.error(&decl.version, item.clone(), "lists no library to link against".into());
        }
        c.versions.push(version.clone());
        releases.push(Release {
            version: version.clone(),
            hooks_version,
            debian: decl.debian.trim().to_string(),
            libraries: decl.libraries.clone(),
            includes: decl.includes.clone(),
            scripts_directory: decl.scripts_directory.as_ref().map(|d| ScriptsDirectory {
                default: d.default.clone(),
                env: d.env.clone(),
                enforced: d.enforced.get_ref().clone(),
                enforced_line: c.line(&d.enforced),
            }),
        });
    }
    releases
}

fn check_hooks(c: &mut Checker, spec: &SpecFile) -> Vec<Hook> {
    let mut seen = BTreeSet::new();
    // The C++ type an argument name was first given, to catch the same name typed two ways.
    let mut argument_types: BTreeMap<String, String> = BTreeMap::new();
    let mut hooks = Vec::new();
    for decl in &spec.hooks {
        let name = decl.name.get_ref();
        let item = format!("hook point {name}");
        if !seen.insert(name.as_str()) {
            c.error(&decl.name, item.clone(), "defined twice".into());
        }
        if !is_identifier(name) || name.bytes().any(|b| b.is_ascii_uppercase()) {
            c.error(&decl.name, item.clone(), "a hook point name is lower-case letters, digits and _".into());
        }
        let family = match (&decl.family, decl.library) {
            (Some(f), false) if *f.get_ref() == 4 || *f.get_ref() == 6 => *f.get_ref(),
            (Some(f), false) => {
                c.error(f, item.clone(), format!("family must be 4 or 6, not {}", f.get_ref()));
                0
            }
            (None, false) => {
                c.error(&decl.name, item.clone(), "family is missing (4 or 6)".into());
                0
            }
            // A library hook point of one server only (the replays).
            (Some(f), true) if *f.get_ref() == 4 || *f.get_ref() == 6 => *f.get_ref(),
            (Some(f), true) => {
                c.error(f, item.clone(), format!("family must be 4 or 6 (or absent: both), not {}", f.get_ref()));
                0
            }
            (None, true) => 0,
        };
        let hook_since = c.release(decl.since.as_ref(), &item);
        if decl.library && !decl.each.is_empty() {
            c.error(&decl.name, item.clone(), "a library hook point has no collection to run `each` over".into());
        }
        if let Some(isc) = &decl.isc {
            if decl.library {
                c.error(isc, item.clone(), "ISC's run_script serves no library hook point: drop `isc`".into());
            }
            for arg in isc.get_ref() {
                if !decl.arguments.iter().any(|a| a.name.get_ref() == arg) {
                    c.error(isc, item.clone(), format!("isc: {arg} is not an argument of this hook point"));
                }
            }
        }
        let mut arguments = Vec::new();
        let source = if decl.library { Source::Library } else { Source::Callout };
        // Per argument: the Kea name, the release it comes with, its later types.
        let mut versions: BTreeMap<&str, (String, usize, Vec<(usize, String)>)> = BTreeMap::new();
        // Per argument: the other names Kea may give it, ISC's prefix for its variables.
        let mut alternatives: BTreeMap<&str, (Vec<String>, Option<String>)> = BTreeMap::new();
        // Per computed argument: its C++ expression and the expression's line.
        let mut reads: BTreeMap<&str, (String, usize)> = BTreeMap::new();
        for arg in &decl.arguments {
            match &arg.read {
                Some(read) => {
                    reads.insert(arg.name.get_ref().as_str(), (read.get_ref().clone(), c.line(read)));
                    arguments.push((&arg.name, &arg.cpp_type, Source::Computed));
                }
                None => arguments.push((&arg.name, &arg.cpp_type, source)),
            }
            let since = match &arg.since {
                Some(s) => {
                    let r = c.release(Some(s), &item);
                    if r <= hook_since {
                        c.error(s, item.clone(), format!("argument {} comes with the hook point: drop its `since`", arg.name.get_ref()));
                    }
                    r
                }
                None => hook_since,
            };
            let mut later = Vec::new();
            if let Some(types) = &arg.type_since {
                for (version, ty) in types.get_ref() {
                    let r = c.release_named(types, version, &item);
                    if r <= since {
                        c.error(types, item.clone(), format!("argument {}: type_since {version:?} is not after the argument's first release", arg.name.get_ref()));
                    }
                    later.push((r, ty.clone()));
                }
            }
            later.sort();
            let kea_name = arg.kea_name.as_ref().map(|n| n.get_ref().clone()).unwrap_or_else(|| arg.name.get_ref().clone());
            if arg.kea_name.as_ref().is_some_and(|n| n.get_ref() == arg.name.get_ref()) {
                c.error(arg.kea_name.as_ref().unwrap(), item.clone(), "kea_name repeats name: drop it".into());
            }
            let mut kea_name = kea_name;
            let mut others = Vec::new();
            if let Some(names) = &arg.kea_names {
                match (names.get_ref().split_first(), &arg.kea_name) {
                    (_, Some(_)) => c.error(names, item.clone(), "give kea_name or kea_names, not both".into()),
                    (None, None) => c.error(names, item.clone(), "kea_names lists no name".into()),
                    (Some((first, rest)), None) => {
                        kea_name = first.clone();
                        others = rest.to_vec();
                    }
                }
            }
            if let Some(prefix) = &arg.isc {
                if !is_isc_name(prefix.get_ref()) {
                    c.error(prefix, item.clone(), format!("argument {}: ISC's prefix is upper-case letters, digits and _, not KEA_", arg.name.get_ref()));
                }
            }
            alternatives.insert(arg.name.get_ref().as_str(), (others, arg.isc.as_ref().map(|p| p.get_ref().clone())));
            versions.insert(arg.name.get_ref().as_str(), (kea_name, since, later));
        }
        for each in &decl.each {
            if let Some(list) = &each.isc {
                if !is_isc_name(list.get_ref()) {
                    c.error(list, item.clone(), "ISC's list name is upper-case letters, digits and _, not KEA_".into());
                }
            }
            if !decl.arguments.iter().any(|a| a.name.get_ref() == each.over.get_ref()) {
                c.error(&each.over, item.clone(), format!("`each` runs over {}, which is not an argument", each.over.get_ref()));
            }
            // Several collections may share the element name (leases4, deleted_leases4 → lease4).
            if !arguments.iter().any(|(n, _, _)| n.get_ref() == each.name.get_ref()) {
                arguments.push((&each.name, &each.cpp_type, Source::Element));
            }
        }
        let mut arg_names = BTreeSet::new();
        for (arg_name, cpp_type, _) in &arguments {
            let n = arg_name.get_ref().as_str();
            if !is_identifier(n) || n == "deleted" {
                c.error(arg_name, item.clone(), format!("argument name {n:?} is not a C++ identifier or is reserved"));
            }
            if !arg_names.insert(n) {
                c.error(arg_name, item.clone(), format!("argument {n} is listed twice"));
            }
            let later = versions.get(n).map(|v| &v.2[..]).unwrap_or(&[]);
            let later: Vec<String> = later.iter().map(|(r, t)| format!(", from {} {t}", c.versions[*r])).collect();
            let ty = &format!("{}{}", cpp_type.get_ref(), later.concat());
            match argument_types.get(n) {
                Some(first) if first != ty => c.error(
                    cpp_type,
                    item.clone(),
                    format!("argument {n} has type {ty} here but {first} at an earlier hook point"),
                ),
                _ => {
                    argument_types.insert(n.to_string(), ty.clone());
                }
            }
        }
        let mut arguments: Vec<Argument> = arguments
            .into_iter()
            .map(|(n, t, source)| {
                let name = n.get_ref().clone();
                let (kea_name, since, later_types) =
                    versions.remove(name.as_str()).unwrap_or_else(|| (name.clone(), hook_since, Vec::new()));
                let type_line = c.line(t);
                let (other_kea_names, isc_prefix) = alternatives.remove(name.as_str()).unwrap_or_default();
                let read = reads.remove(name.as_str());
                Argument {
                    read,
                    name,
                    kea_name,
                    other_kea_names,
                    isc_prefix,
                    cpp_type: t.get_ref().clone(),
                    type_line,
                    later_types,
                    since,
                    source,
                }
            })
            .collect();
        if !decl.each.is_empty() {
            arguments.push(Argument {
                name: "deleted".into(),
                kea_name: "deleted".into(),
                other_kea_names: Vec::new(),
                isc_prefix: None,
                cpp_type: "bool".into(),
                type_line: 0,
                later_types: Vec::new(),
                since: hook_since,
                source: Source::Deleted,
                read: None,
            });
        }
        let lease_event = check_lease_event(c, decl, &item, &arguments);
        if let Some((argument, _)) = &lease_event {
            arguments.push(argument.clone());
        }
        hooks.push(Hook {
            name: name.clone(),
            since: hook_since,
            family,
            library: decl.library,
            default: decl.default.unwrap_or(true),
            each: decl
                .each
                .iter()
                .map(|e| Each {
                    over: e.over.get_ref().clone(),
                    name: e.name.get_ref().clone(),
                    cpp_type: e.cpp_type.get_ref().clone(),
                    type_line: c.line(&e.cpp_type),
                    deleted: e.deleted,
                    isc: e.isc.as_ref().map(|l| l.get_ref().clone()),
                })
                .collect(),
            isc: decl.isc.as_ref().map(|a| a.get_ref().clone()),
            description: decl.description.trim().to_string(),
            skip: decl.skip.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            drop: decl.drop.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
            arguments,
            variables: Vec::new(),
            lease_event: lease_event.map(|(_, gives)| gives),
        });
    }
    hooks
}

/// `lease-event`: the computed argument `lease_event` it gives the hook point's fill, and what
/// it gives, for the reference.
fn check_lease_event(c: &mut Checker, decl: &HookDecl, item: &str, arguments: &[Argument]) -> Option<(Argument, String)> {
    let at = decl.lease_event.as_ref()?;
    let line = c.line(at);
    let (read, gives) = match at.get_ref() {
        LeaseEventDecl::Word(word) => {
            if !LEASE_EVENTS.contains(&word.as_str()) {
                let known = LEASE_EVENTS.join(", ");
                c.error(at, item.to_string(), format!("lease-event {word:?} is none of {known}"));
            }
            (format!("\"{word}\""), format!("`{word}`"))
        }
        LeaseEventDecl::Read { read, gives } => {
            if !LEASE_EVENTS.iter().any(|w| read.contains(&format!("\"{w}\""))) && !read.contains('(') {
                c.error(at, item.to_string(), "lease-event's read names no event (add, renew, del, offer, old) and calls nothing".into());
            }
            (read.clone(), gives.trim().to_string())
        }
    };
    if arguments.iter().any(|a| a.name == "lease_event") {
        c.error(&decl.name, item.to_string(), "an argument is named lease_event: that name is lease-event's".into());
    }
    let argument = Argument {
        name: "lease_event".into(),
        kea_name: "lease_event".into(),
        other_kea_names: Vec::new(),
        isc_prefix: None,
        cpp_type: "const char*".into(),
        type_line: line,
        later_types: Vec::new(),
        since: arguments.first().map_or(0, |a| a.since),
        source: Source::Computed,
        read: Some((read, line)),
    };
    Some((argument, gives))
}

/// ISC's run_script names: upper-case letters, digits and `_`, and not `KEA_…`.
fn is_isc_name(s: &str) -> bool {
    is_identifier(s) && !s.starts_with("KEA_") && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn check_variable(c: &mut Checker, hooks: &[Hook], decl: &VariableDecl) -> Option<Variable> {
    let Some(at) = decl.name.as_ref().or(decl.isc.as_ref()) else {
        c.error(decl.read.as_ref().unwrap_or(&decl.value_type), "variable".into(), "has neither a name (KEA_…) nor an ISC name (isc)".into());
        return None;
    };
    let name = at.get_ref();
    let item = format!("variable {name}");
    let errors_before = c.errors.len();
    if let Some(kea) = &decl.name {
        if !is_variable_name(kea.get_ref()) {
            c.error(kea, item.clone(), "a variable name is KEA_ followed by upper-case letters, digits and _".into());
        }
    }
    if let Some(isc) = &decl.isc {
        if !is_isc_name(isc.get_ref()) {
            c.error(isc, item.clone(), "an ISC name is upper-case letters, digits and _, without KEA_".into());
        }
    }
    if decl.absent.is_some() && (decl.name.is_some() || decl.isc.is_none()) {
        c.error(at, item.clone(), "`absent` applies to a variable with ISC's names only (isc, no name): a KEA_ variable is always there".into());
    }
    if decl.isc_note.is_some() && decl.isc.is_none() {
        c.error(at, item.clone(), "`isc-note` needs an ISC name (isc)".into());
    }
    let value_type = ValueType::ALL.iter().find(|(n, _)| n == decl.value_type.get_ref()).map(|(_, t)| *t);
    if value_type.is_none() {
        let known: Vec<&str> = ValueType::ALL.iter().map(|(n, _)| *n).collect();
        c.error(
            &decl.value_type,
            item.clone(),
            format!("unknown type {:?}; expected one of {}", decl.value_type.get_ref(), known.join(", ")),
        );
    }
    let since = c.release(decl.since.as_ref(), &item);
    let format = match &decl.format {
        None => Format::Text,
        Some(f) => match Format::ALL.iter().find(|(n, _, _)| n == f.get_ref()) {
            Some(_) if value_type != Some(ValueType::String) => {
                c.error(f, item.clone(), "a format applies to a string only".into());
                Format::Text
            }
            Some((_, format, _)) => *format,
            None => {
                let known: Vec<&str> = Format::ALL.iter().map(|(n, _, _)| *n).collect();
                c.error(f, item.clone(), format!("unknown format {:?}; expected one of {}", f.get_ref(), known.join(", ")));
                Format::Text
            }
        },
    };
    let library = match &decl.source {
        None => false,
        Some(s) if s.get_ref() == "library" => true,
        Some(s) => {
            c.error(s, item.clone(), format!("unknown source {:?}; the only one is \"library\" (set by the library on every event)", s.get_ref()));
            false
        }
    };
    if library {
        for (given, field) in [(decl.argument.is_some(), "argument"), (decl.read.is_some(), "read"), (decl.hooks.is_some(), "hooks"), (decl.isc.is_some(), "isc")] {
            if given {
                c.error(at, item.clone(), format!("`{field}` does not apply to a variable the library sets (source = \"library\"): every event carries it"));
            }
        }
        if decl.name.is_none() {
            c.error(at, item.clone(), "a variable the library sets needs a KEA_ name".into());
        }
        if c.errors.len() != errors_before {
            return None;
        }
        return Some(Variable {
            name: name.clone(),
            kea: true,
            isc: None,
            absent: None,
            isc_note: None,
            since,
            value_type: value_type?,
            description: decl.description.trim().to_string(),
            reference: decl.reference.clone().filter(|r| !r.trim().is_empty()),
            argument: String::new(),
            read: String::new(),
            read_line: 0,
            library: true,
            format,
            empty: decl.empty.as_ref().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()),
            hooks: (0..hooks.len()).collect(),
        });
    }
    let (Some(argument_at), Some(read_at), Some(hook_list)) = (&decl.argument, &decl.read, &decl.hooks) else {
        let missing: Vec<&str> = [(decl.argument.is_none(), "argument"), (decl.read.is_none(), "read"), (decl.hooks.is_none(), "hooks")]
            .into_iter()
            .filter_map(|(absent, field)| absent.then_some(field))
            .collect();
        c.error(at, item.clone(), format!("needs {} (or source = \"library\")", missing.join(", ")));
        return None;
    };
    let argument = argument_at.get_ref();
    if !hooks.iter().any(|h| h.arguments.iter().any(|a| &a.name == argument)) {
        c.error(argument_at, item.clone(), format!("no hook point has an argument named {argument}"));
    }
    if !mentions(read_at.get_ref(), argument) {
        c.error(read_at, item.clone(), format!("`read` does not use its argument {argument}"));
    }
    if hook_list.get_ref().is_empty() {
        c.error(hook_list, item.clone(), "lists no hook point".into());
    }
    let mut carried = Vec::new();
    for entry in hook_list.get_ref() {
        let entry_name = entry.get_ref().as_str();
        if let Some(arg) = entry_name.strip_prefix('@') {
            // `@arg`: every hook point that has that argument.
            let matching: Vec<usize> = (0..hooks.len())
                .filter(|&i| hooks[i].arguments.iter().any(|a| a.name == arg))
                .collect();
            if matching.is_empty() {
                c.error(entry, item.clone(), format!("{entry_name}: no hook point has an argument named {arg}"));
            }
            carried.extend(matching);
            continue;
        }
        match hooks.iter().position(|h| h.name == entry_name) {
            None => c.error(entry, item.clone(), format!("unknown hook point {entry_name:?}")),
            Some(i) => carried.push(i),
        }
    }
    carried.sort_unstable();
    for pair in carried.windows(2) {
        if pair[0] == pair[1] {
            c.error(hook_list, item.clone(), format!("hook point {} is listed twice", hooks[pair[0]].name));
        }
    }
    carried.dedup();
    for &h in &carried {
        if !hooks[h].arguments.iter().any(|a| &a.name == argument) {
            c.error(
                hook_list,
                item.clone(),
                format!("hook point {} has no argument {argument} to read this variable from", hooks[h].name),
            );
        }
    }
    if c.errors.len() != errors_before {
        return None;
    }
    // Where ISC's names put this variable under another prefix (a hook point's `isc` prefix for
    // its argument, a list's elements), its ISC name must start with the argument's own.
    if let Some(isc) = &decl.isc {
        let own = format!("{}_", argument.to_uppercase());
        let renamed = carried.iter().any(|&h| {
            hooks[h].arguments.iter().any(|a| &a.name == argument && a.isc_prefix.is_some())
                || hooks[h].each.iter().any(|e| &e.name == argument && e.isc.is_some())
        });
        if renamed && !isc.get_ref().starts_with(&own) {
            c.error(isc, item.clone(), format!("ISC's names rename {argument}'s variables at some hook point: this one must start with {own}"));
        }
    }
    if c.errors.len() != errors_before {
        return None;
    }
    Some(Variable {
        name: name.clone(),
        kea: decl.name.is_some(),
        isc: decl.isc.as_ref().map(|i| i.get_ref().clone()),
        absent: decl.absent.as_ref().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()),
        isc_note: decl.isc_note.as_ref().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()),
        since,
        value_type: value_type?,
        description: decl.description.trim().to_string(),
        reference: decl.reference.clone().filter(|r| !r.trim().is_empty()),
        argument: argument.clone(),
        read: read_at.get_ref().trim().to_string(),
        read_line: c.line(read_at),
        library: false,
        format,
        empty: decl.empty.as_ref().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()),
        hooks: carried,
    })
}

fn check_unique_variables(c: &mut Checker, spec: &SpecFile) {
    let mut first_line = BTreeMap::new();
    for at in spec.variables.iter().flat_map(|d| d.name.iter().chain(&d.isc)) {
        let name = at.get_ref().as_str();
        let line = c.lines.line(at.span().start);
        if let Some(first) = first_line.insert(name, line) {
            c.error(at, format!("variable {name}"), format!("defined twice (first at line {first})"));
            first_line.insert(name, first);
        }
    }
}

/// With ISC's names, no two values of a hook point may share a name (a renamed prefix or a
/// list's `_SIZE` could meet another variable). Runs on the model; `decls` in the same order.
fn check_isc_names(c: &mut Checker, model: &Model, decls: &[VariableDecl]) {
    for hook in &model.hooks {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let lists = model.isc_lists(hook);
        let names = model.isc_variables(hook).into_iter().chain(lists.iter().flat_map(|(list, vars)| {
            let first = vars.first().map_or(0, |(v, _)| *v);
            std::iter::once((first, format!("{list}_SIZE"))).chain(vars.iter().map(move |(v, rest)| (*v, format!("{list}_AT0{rest}"))))
        }));
        for (v, name) in names {
            if let Some(other) = seen.insert(name.clone(), v) {
                if let Some(at) = decls[v].isc.as_ref().or(decls[v].name.as_ref()) {
                    let first = &model.variables[other].name;
                    c.error(at, format!("hook point {}", hook.name), format!("ISC's name {name} is given twice here (also by {first})"));
                }
            }
        }
    }
}

fn check_options(c: &mut Checker, spec: &SpecFile, hooks: &[Hook]) -> Vec<OptionSource> {
    let mut out = Vec::new();
    for decl in &spec.options {
        let argument = decl.argument.get_ref();
        let prefix = decl.prefix.get_ref();
        let item = format!("options of {argument}");
        let families: BTreeSet<u8> = hooks
            .iter()
            .filter(|h| h.arguments.iter().any(|a| &a.name == argument && a.source == Source::Callout))
            .map(|h| h.family)
            .collect();
        if families.len() != 1 {
            c.error(&decl.argument, item.clone(), format!("{argument} must be a callout argument of hook points of one family"));
        }
        if !is_variable_name(&format!("{prefix}1")) {
            c.error(&decl.prefix, item.clone(), "the prefix must start a KEA_ variable name".into());
        }
        if let Some(isc) = &decl.isc {
            if !is_isc_name(&format!("{}1", isc.get_ref())) {
                c.error(isc, item, "ISC's prefix is upper-case letters, digits and _, without KEA_".into());
            }
        }
        out.push(OptionSource {
            argument: argument.clone(),
            prefix: prefix.clone(),
            isc_prefix: decl.isc.as_ref().map(|i| i.get_ref().clone()),
            family: families.into_iter().next().unwrap_or(0),
            description: decl.description.trim().to_string(),
        });
    }
    out
}

fn is_constant_name(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn check_statistics(c: &mut Checker, decls: &[StatisticDecl]) -> Vec<Statistic> {
    let mut statistics: Vec<Statistic> = Vec::new();
    for decl in decls {
        let name = decl.name.get_ref();
        let item = format!("statistic {name}");
        let words_ok = !name.is_empty()
            && name.split('-').all(|w| w.bytes().next().is_some_and(|b| b.is_ascii_lowercase()) && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if !words_ok {
            c.error(&decl.name, item.clone(), "a statistic name is lower-case words of letters and digits joined by - (as Kea's own: pkt4-received)".into());
        }
        if statistics.iter().any(|s| &s.name == name) {
            c.error(&decl.name, item.clone(), "defined twice".into());
        }
        let gauge = match decl.kind.get_ref().as_str() {
            "counter" => false,
            "gauge" => true,
            other => {
                c.error(&decl.kind, item.clone(), format!("unknown kind {other:?}; expected counter (a count since load) or gauge (a value now)"));
                false
            }
        };
        statistics.push(Statistic { name: name.clone(), gauge, description: decl.description.trim().to_string() });
    }
    statistics
}

fn check_limits(c: &mut Checker, decls: &[LimitDecl]) -> Vec<Limit> {
    let mut limits: Vec<Limit> = Vec::new();
    for decl in decls {
        let name = decl.name.get_ref();
        let item = format!("limit {name}");
        if !is_constant_name(name) {
            c.error(&decl.name, item.clone(), "a limit name is upper-case letters, digits and _ (a Rust constant)".into());
        }
        if limits.iter().any(|l| &l.name == name) {
            c.error(&decl.name, item.clone(), "defined twice".into());
        }
        let unit = Unit::ALL.iter().find(|(n, _)| n == decl.unit.get_ref()).map(|(_, u)| *u);
        if unit.is_none() {
            let known: Vec<&str> = Unit::ALL.iter().map(|(n, _)| *n).collect();
            c.error(&decl.unit, item.clone(), format!("unknown unit {:?}; expected one of {}", decl.unit.get_ref(), known.join(", ")));
        }
        if unit == Some(Unit::Percent) && !(1..=100).contains(decl.value.get_ref()) {
            c.error(&decl.value, item.clone(), "a percent is 1 to 100".into());
        }
        if unit == Some(Unit::Count) && u32::try_from(*decl.value.get_ref()).is_err() {
            c.error(&decl.value, item, "a count must fit in 32 bits".into());
        }
        limits.push(Limit {
            name: name.clone(),
            value: *decl.value.get_ref(),
            unit: unit.unwrap_or(Unit::Count),
            description: decl.description.trim().to_string(),
        });
    }
    limits
}

/// `text` with every `{LIMIT}` replaced by that limit's value; an unknown name is an error.
fn quote_limits(c: &mut Checker, at: &Spanned<String>, item: &str, limits: &[Limit]) -> String {
    let text = at.get_ref().trim();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            c.error(at, item.to_string(), "an unclosed `{` (a limit is quoted as {NAME})".into());
            return out;
        };
        let name = &rest[open + 1..open + close];
        match limits.iter().find(|l| l.name == name) {
            Some(limit) => out.push_str(&limit.text()),
            None => {
                let known: Vec<&str> = limits.iter().map(|l| l.name.as_str()).collect();
                c.error(at, item.to_string(), format!("{{{name}}} is not a limit of the spec (known: {})", known.join(", ")));
            }
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// The arguments a text takes: `%1` … `%N`, each used, none beyond [`MAX_MESSAGE_ARGS`].
fn placeholders(c: &mut Checker, at: &Spanned<String>, item: &str) -> usize {
    let text = at.get_ref();
    let mut used = Vec::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('%') {
        let digits: String = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).map(|&b| b as char).collect();
        match digits.parse::<usize>() {
            Ok(n) if n >= 1 => used.push(n),
            _ => c.error(at, item.to_string(), "a `%` must start a placeholder %1, %2…".into()),
        }
    }
    let count = used.iter().copied().max().unwrap_or(0);
    if let Some(missing) = (1..=count).find(|n| !used.contains(n)) {
        c.error(at, item.to_string(), format!("uses %{count} but not %{missing}: placeholders are %1 to %N, each used"));
    }
    if count > MAX_MESSAGE_ARGS {
        c.error(at, item.to_string(), format!("takes {count} arguments; a message takes at most {MAX_MESSAGE_ARGS} (the bridge's `log`)"));
    }
    count
}

fn check_messages(c: &mut Checker, decls: &[MessageDecl], limits: &[Limit]) -> Vec<Message> {
    let mut messages: Vec<Message> = Vec::new();
    for decl in decls {
        let id = decl.id.get_ref();
        let item = format!("message {id}");
        if !id.starts_with("KRS_") || id.len() == 4 || !is_constant_name(id) {
            c.error(&decl.id, item.clone(), "a message id is KRS_ followed by upper-case letters, digits and _".into());
        }
        if let Some(first) = messages.iter().find(|m| &m.id == id) {
            c.error(&decl.id, item.clone(), format!("defined twice (first at line {})", first.line));
        }
        let severity = Severity::ALL.iter().find(|(n, _)| n == decl.severity.get_ref()).map(|(_, s)| *s);
        if severity.is_none() {
            let known: Vec<&str> = Severity::ALL.iter().map(|(n, _)| *n).collect();
            c.error(&decl.severity, item.clone(), format!("unknown severity {:?}; expected one of {}", decl.severity.get_ref(), known.join(", ")));
        }
        let debug_level = match (&decl.debug_level, severity) {
            (Some(level), Some(Severity::Debug)) if *level.get_ref() <= 99 => *level.get_ref(),
            (Some(level), Some(Severity::Debug)) => {
                c.error(level, item.clone(), format!("debug-level {} is not a Kea debug level (0 to 99)", level.get_ref()));
                0
            }
            (None, Some(Severity::Debug)) => {
                c.error(&decl.severity, item.clone(), "a debug message needs its debug-level (Kea's: 0 to 99)".into());
                0
            }
            (Some(level), _) => {
                c.error(level, item.clone(), "debug-level goes with severity = \"debug\" only".into());
                0
            }
            (None, _) => 0,
        };
        let args = placeholders(c, &decl.text, &item);
        if decl.description.get_ref().contains('%') {
            c.error(&decl.description, item.clone(), "a description cannot take arguments (%N)".into());
        }
        let text = quote_limits(c, &decl.text, &item, limits);
        let description = quote_limits(c, &decl.description, &item, limits);
        messages.push(Message {
            id: id.clone(),
            severity: severity.unwrap_or(Severity::Error),
            debug_level,
            text,
            args,
            description,
            line: c.line(&decl.id),
        });
    }
    messages
}
