//! Stage 3: the checked model every emitter reads. Indices are positions in spec order.

/// How a variable's value is rendered in the script's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Bytes as Kea gives them (text such as an address, a name, an option's payload).
    String,
    /// A decimal integer.
    Int,
    /// `0` or `1`.
    Bool,
    /// Binary data as `0x` followed by upper-case hex digits (Kea's `Option::toHexString`), empty when there is none.
    Hex,
}

impl ValueType {
    pub const ALL: [(&'static str, ValueType); 4] = [
        ("string", ValueType::String),
        ("int", ValueType::Int),
        ("bool", ValueType::Bool),
        ("hex", ValueType::Hex),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, t)| *t == self).map(|(n, _)| *n).unwrap_or("?")
    }
}

/// The shape of a non-empty `string` value (spec: `format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Any bytes.
    Text,
    Ipv4,
    Ipv6,
    /// `aa:bb:cc:dd:ee:ff`.
    Mac,
    /// `192.0.2.0/24`.
    Prefix4,
    /// `2001:db8::/56`.
    Prefix6,
    /// Colon-separated hex bytes (a DUID, a client id as Kea prints it).
    ColonHex,
    /// Decimal codes, comma-separated: `1,3,6,15`.
    CodeList,
}

impl Format {
    /// Spec name, Rust variant, how the docs say it.
    pub const ALL: [(&'static str, Format, &'static str); 8] = [
        ("text", Format::Text, ""),
        ("ipv4", Format::Ipv4, "IPv4 address"),
        ("ipv6", Format::Ipv6, "IPv6 address"),
        ("mac", Format::Mac, "MAC address"),
        ("prefix4", Format::Prefix4, "IPv4 prefix/length"),
        ("prefix6", Format::Prefix6, "IPv6 prefix/length"),
        ("colon-hex", Format::ColonHex, "colon-separated hex"),
        ("code-list", Format::CodeList, "comma-separated codes"),
    ];

    pub fn variant(self) -> &'static str {
        match self {
            Format::Text => "Text",
            Format::Ipv4 => "Ipv4",
            Format::Ipv6 => "Ipv6",
            Format::Mac => "Mac",
            Format::Prefix4 => "Prefix4",
            Format::Prefix6 => "Prefix6",
            Format::ColonHex => "ColonHex",
            Format::CodeList => "CodeList",
        }
    }

    pub fn docs(self) -> &'static str {
        Self::ALL.iter().find(|(_, f, _)| *f == self).map(|(_, _, d)| *d).unwrap_or("")
    }
}

/// Which releases a model holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole spec: every release's items, each with its `since` (what the docs show).
    AllReleases,
    /// Narrowed by [`Model::at`] to what one release (an index into `releases`) has, renumbered
    /// (what the C++ and Rust of a build are generated from).
    Release(usize),
}

#[derive(Debug, Clone)]
pub struct Model {
    /// The spec file's path as it was loaded: `#line` directives in the generated C++ name it.
    pub source: String,
    pub hooks: Vec<Hook>,
    pub variables: Vec<Variable>,
    pub options: Vec<OptionSource>,
    /// The Kea releases of the spec, oldest first; `since` fields are indices here.
    pub releases: Vec<Release>,
    pub scope: Scope,
    pub limits: Vec<Limit>,
    pub messages: Vec<Message>,
    pub statistics: Vec<Statistic>,
}

/// One of the library's statistics in Kea's statistics manager (`[[statistic]]`).
#[derive(Debug, Clone)]
pub struct Statistic {
    /// As Kea names it after `runscript[N].`, e.g. `exited-nonzero`.
    pub name: String,
    /// A value now (`queued`), not a count since load.
    pub gauge: bool,
    pub description: String,
}

impl Statistic {
    /// The Rust variant naming it: `ExitedNonzero`.
    pub fn variant(&self) -> String {
        self.name.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
    }
}

/// A bound of the library's behaviour (`[[limit]]`), a constant in the Rust code and a value in
/// the texts that quote it.
#[derive(Debug, Clone)]
pub struct Limit {
    pub name: String,
    pub value: u64,
    pub unit: Unit,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of things (lines, events): `u32`.
    Count,
    /// A size: `usize`.
    Bytes,
    /// A duration in milliseconds: `std::time::Duration`.
    Millis,
    /// A share, 0 to 100: `u32`.
    Percent,
}

impl Unit {
    pub const ALL: [(&'static str, Unit); 4] =
        [("count", Unit::Count), ("bytes", Unit::Bytes), ("ms", Unit::Millis), ("percent", Unit::Percent)];
}

impl Limit {
    /// The value as texts quote it: `100`, `64 KiB`, `512 bytes`, `1 s`, `100 ms`.
    pub fn text(&self) -> String {
        let v = self.value;
        match self.unit {
            Unit::Count => v.to_string(),
            Unit::Bytes if v >= 1024 && v.is_multiple_of(1024) => format!("{} KiB", v / 1024),
            Unit::Bytes => format!("{v} bytes"),
            Unit::Millis if v >= 1000 && v.is_multiple_of(1000) => format!("{} s", v / 1000),
            Unit::Millis => format!("{v} ms"),
            Unit::Percent => format!("{v} %"),
        }
    }
}

/// One log message (`[[message]]`).
#[derive(Debug, Clone)]
pub struct Message {
    /// `KRS_…`, Kea's `MessageID`.
    pub id: String,
    pub severity: Severity,
    /// With [`Severity::Debug`]: Kea's debug level.
    pub debug_level: u32,
    /// The text with `%1`, `%2` for the arguments; limits already written in.
    pub text: String,
    /// How many arguments (`%1` … `%N`) the text takes.
    pub args: usize,
    /// Limits already written in.
    pub description: String,
    /// Its line in the spec, for the generated code's comments.
    pub line: usize,
}

impl Message {
    /// The name of the generated constants (Rust and C++): the id without `KRS_`.
    pub fn constant(&self) -> &str {
        self.id.strip_prefix("KRS_").unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warn,
    Info,
    Debug,
}

impl Severity {
    pub const ALL: [(&'static str, Severity); 4] =
        [("error", Severity::Error), ("warn", Severity::Warn), ("info", Severity::Info), ("debug", Severity::Debug)];

    /// As Kea's log shows it.
    pub fn upper(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Warn => "WARN",
            Severity::Info => "INFO",
            Severity::Debug => "DEBUG",
        }
    }
}

/// At most this many arguments per message: the bridge's `log` passes two strings.
pub const MAX_MESSAGE_ARGS: usize = 2;

/// One Kea release (`[[kea]]`).
#[derive(Debug, Clone)]
pub struct Release {
    /// `major.minor`.
    pub version: String,
    /// The lowest `KEA_HOOKS_VERSION` of the release.
    pub hooks_version: u32,
    pub debian: String,
    pub libraries: Vec<String>,
    pub includes: Vec<String>,
    pub scripts_directory: Option<ScriptsDirectory>,
}

/// Scripts only from this directory: `$env` when set, else `default`; while `enforced` (C++) holds.
#[derive(Debug, Clone)]
pub struct ScriptsDirectory {
    pub default: String,
    pub env: String,
    pub enforced: String,
    /// The spec line of `enforced`.
    pub enforced_line: usize,
}

/// Options of a packet argument exported on request (`options` parameter) as `<prefix><code>`.
#[derive(Debug, Clone)]
pub struct OptionSource {
    pub argument: String,
    pub prefix: String,
    /// With ISC's names: `<isc_prefix><code>`, the payload as `0x` + upper-case hex.
    pub isc_prefix: Option<String>,
    pub family: u8,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Hook {
    pub name: String,
    /// The first release with this hook point (index into `Model::releases`).
    pub since: usize,
    /// 4 or 6; 0 for a library hook point (both families).
    pub family: u8,
    /// Run by the library itself at load/unload, not a Kea callout.
    pub library: bool,
    /// Among the hook points a script runs at by default.
    pub default: bool,
    /// One event per element of these collections (in this order).
    pub each: Vec<Each>,
    pub description: String,
    /// What Kea does when a callout sets `NEXT_STEP_SKIP` here; `None`: Kea ignores it.
    pub skip: Option<String>,
    /// What Kea does when a callout sets `NEXT_STEP_DROP` here; `None`: Kea ignores it.
    pub drop: Option<String>,
    pub arguments: Vec<Argument>,
    /// Variables this hook point carries, in spec order (under either naming).
    pub variables: Vec<usize>,
    /// ISC's run_script serves it (`isc`), reading these arguments: a default hook point with
    /// ISC's names, carrying only those arguments' variables with them.
    pub isc: Option<Vec<String>>,
    /// What `KEA_LEASE_EVENT` is here (`lease-event`), for the reference; its value is the
    /// computed argument `lease_event`.
    pub lease_event: Option<String>,
}


#[derive(Debug, Clone)]
pub struct Argument {
    /// The name variables use (`argument = ...`), and the C++ variable's.
    pub name: String,
    /// The name `CalloutHandle::getArgument` knows it by (usually `name`).
    pub kea_name: String,
    /// More names Kea may pass it under instead (`kea_names`: the first Kea has is read).
    pub other_kea_names: Vec<String>,
    /// ISC's prefix for this argument's variables at this hook point (`isc`), replacing the
    /// argument's own upper-case name.
    pub isc_prefix: Option<String>,
    /// The C++ type in the first release that has the argument.
    pub cpp_type: String,
    /// The spec line of its type (0: not from the spec), for `#line` before the pasted type.
    pub type_line: usize,
    /// Later types: from release `.0` on, `.1`, in release order.
    pub later_types: Vec<(usize, String)>,
    /// The first release that passes it at this hook point.
    pub since: usize,
    pub source: Source,
    /// A computed argument's C++ expression and its spec line.
    pub read: Option<(String, usize)>,
}

/// Where an argument's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `CalloutHandle::getArgument`.
    Callout,
    /// An element of a collection argument (`each`).
    Element,
    /// `deleted`: whether the element came from a collection marked `deleted`.
    Deleted,
    /// Given by the library to a library hook point.
    Library,
    /// Computed from the other arguments (`read`, or the hook point's `lease-event`).
    Computed,
}

/// The words of `KEA_LEASE_EVENT` (a hook point's `lease-event`).
pub const LEASE_EVENTS: [&str; 5] = ["add", "renew", "del", "offer", "old"];

#[derive(Debug, Clone)]
pub struct Each {
    pub over: String,
    pub name: String,
    pub cpp_type: String,
    /// The spec line of `type`.
    pub type_line: usize,
    pub deleted: bool,
    /// ISC's name of the list (`LEASES4`).
    pub isc: Option<String>,
}

impl Argument {
    /// Its C++ type in release `release`.
    pub fn type_at(&self, release: usize) -> &str {
        self.later_types.iter().rev().find(|(r, _)| *r <= release).map(|(_, t)| t.as_str()).unwrap_or(&self.cpp_type)
    }

    /// Smart pointers (`...Ptr`) may be null: their variables are read only when set.
    pub fn nullable(&self) -> bool {
        self.cpp_type.ends_with("Ptr")
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    /// The `KEA_*` name, or ISC's when there is none (what the generated code calls it).
    pub name: String,
    /// Whether it is a `KEA_*` variable (else it exists with ISC's names only).
    pub kea: bool,
    /// ISC's name (with the argument's own prefix: a hook point's `isc` prefix and a list
    /// replace it there, see [`Model::isc_name`]).
    pub isc: Option<String>,
    /// With ISC's names: left out of the environment when Kea has no value; says when.
    pub absent: Option<String>,
    /// How ISC's value differs from the nearest `KEA_*` one.
    pub isc_note: Option<String>,
    /// The first release with this value.
    pub since: usize,
    pub value_type: ValueType,
    pub description: String,
    pub reference: Option<String>,
    pub argument: String,
    /// C++ expression reading the value; the argument is in scope under its own name.
    pub read: String,
    /// The spec line of `read`, for the `#line` directive before the pasted expression.
    pub read_line: usize,
    /// Set by the library on every event (`source = "library"`: the event's identity), not read
    /// from Kea; `argument` and `read` are empty.
    pub library: bool,
    /// The shape of a non-empty value.
    pub format: Format,
    /// When the value is empty; `None`: never.
    pub empty: Option<String>,
    /// Hook points carrying this variable, in spec order.
    pub hooks: Vec<usize>,
}

/// ISC's name of `var` without the argument's prefix (`_ADDRESS` of `LEASE4_ADDRESS`); the
/// checker makes sure every variable that is renamed has that prefix.
pub fn isc_suffix(var: &Variable) -> &str {
    let isc = var.isc.as_deref().unwrap_or("");
    isc.strip_prefix(var.argument.to_uppercase().as_str()).unwrap_or(isc)
}

impl Model {
    /// The first release in which hook point `hook` carries variable `var`: the latest of the
    /// variable's, the hook point's, and its argument's there.
    pub fn carried_since(&self, hook: &Hook, var: &Variable) -> usize {
        let arg = hook.arguments.iter().find(|a| a.name == var.argument).map(|a| a.since).unwrap_or(0);
        var.since.max(hook.since).max(arg)
    }

    /// The release a Kea of `hooks_version` (its `KEA_HOOKS_VERSION`) is: the newest release not
    /// newer than it. `Err` when it is older than every release of the spec.
    pub fn release_for(&self, hooks_version: u32) -> Result<usize, String> {
        self.releases.iter().rposition(|r| r.hooks_version <= hooks_version).ok_or_else(|| {
            let known: Vec<&str> = self.releases.iter().map(|r| r.version.as_str()).collect();
            format!("Kea with KEA_HOOKS_VERSION {hooks_version} is older than every release supported ({})", known.join(", "))
        })
    }

    /// This model narrowed to what Kea release `release` has: its hook points, arguments (with
    /// their types there) and variables, renumbered. What the C++ and Rust emitters read.
    pub fn at(&self, release: usize) -> Model {
        let mut hook_ids = vec![None; self.hooks.len()];
        let mut hooks = Vec::new();
        for (old, hook) in self.hooks.iter().enumerate().filter(|(_, h)| h.since <= release) {
            hook_ids[old] = Some(hooks.len());
            let mut hook = hook.clone();
            hook.arguments.retain(|a| a.since <= release);
            for arg in &mut hook.arguments {
                arg.cpp_type = arg.type_at(release).to_string();
                arg.later_types.clear();
                arg.since = 0;
            }
            hook.variables.clear();
            hook.since = 0;
            hooks.push(hook);
        }
        let mut variables = Vec::new();
        for var in self.variables.iter().filter(|v| v.since <= release) {
            let carried: Vec<usize> = var
                .hooks
                .iter()
                .filter(|&&h| self.carried_since(&self.hooks[h], var) <= release)
                .filter_map(|&h| hook_ids[h])
                .collect();
            if carried.is_empty() {
                continue;
            }
            for &h in &carried {
                hooks[h].variables.push(variables.len());
            }
            variables.push(Variable { hooks: carried, since: 0, ..var.clone() });
        }
        Model { hooks, variables, scope: Scope::Release(release), ..self.clone() }
    }

    /// The release a model narrowed by [`Model::at`] is for; `None` for the whole spec.
    pub fn release(&self) -> Option<&Release> {
        match self.scope {
            Scope::Release(r) => self.releases.get(r),
            Scope::AllReleases => None,
        }
    }

    /// The newest release of the spec (the checker makes sure there is one).
    pub fn newest(&self) -> usize {
        self.releases.len().saturating_sub(1)
    }

    /// ISC's name of variable `var` at hook point `hook` (outside a list), `None` when ISC's
    /// names have none: its own, with the argument's prefix replaced where the hook point gives
    /// one (`NEW_LEASE6_ADDRESS`).
    pub fn isc_name(&self, hook: &Hook, var: &Variable) -> Option<String> {
        let isc = var.isc.as_ref()?;
        let arg = hook.arguments.iter().find(|a| a.name == var.argument);
        match arg.and_then(|a| a.isc_prefix.as_ref()) {
            Some(prefix) => Some(format!("{prefix}{}", isc_suffix(var))),
            None => Some(isc.clone()),
        }
    }

    /// ISC's variables of hook point `hook`, with their names there, in spec order: those of
    /// a list's element excluded (see [`Model::isc_lists`]).
    pub fn isc_variables(&self, hook: &Hook) -> Vec<(usize, String)> {
        hook.variables
            .iter()
            .filter(|&&v| !hook.each.iter().any(|e| e.isc.is_some() && e.name == self.variables[v].argument))
            .filter(|&&v| hook.isc.as_ref().is_none_or(|args| args.contains(&self.variables[v].argument)))
            .filter_map(|&v| Some((v, self.isc_name(hook, &self.variables[v])?)))
            .collect()
    }

    /// ISC's lists at hook point `hook` (`each` with `isc`): the list's name and, for each
    /// variable of an element, its id and the rest of its name (`_ADDRESS`: the element's
    /// variables are `<list>_AT<i>_ADDRESS`).
    pub fn isc_lists(&self, hook: &Hook) -> Vec<(String, Vec<(usize, String)>)> {
        hook.each
            .iter()
            .filter_map(|e| {
                let list = e.isc.clone()?;
                let vars = hook
                    .variables
                    .iter()
                    .map(|&v| (v, &self.variables[v]))
                    .filter(|(_, var)| var.argument == e.name && var.isc.is_some())
                    .map(|(v, var)| (v, isc_suffix(var).to_string()))
                    .collect();
                Some((list, vars))
            })
            .collect()
    }

    pub fn hook(&self, name: &str) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.name == name)
    }

    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// The DHCP families, then 0 for library hook points if there are any.
    pub fn families(&self) -> Vec<u8> {
        let mut f: Vec<u8> = self.hooks.iter().map(|h| h.family).filter(|&f| f != 0).collect();
        f.sort_unstable();
        f.dedup();
        if self.hooks.iter().any(|h| h.family == 0) {
            f.push(0);
        }
        f
    }
}
