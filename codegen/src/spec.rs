//! Stage 1: the spec file as written, deserialized with source positions.
//!
//! Nothing here checks meaning; `check` does that and turns this into the model.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    #[serde(default, rename = "hook")]
    pub hooks: Vec<HookDecl>,
    #[serde(default, rename = "variable")]
    pub variables: Vec<VariableDecl>,
    #[serde(default, rename = "options")]
    pub options: Vec<OptionsDecl>,
    #[serde(default, rename = "kea")]
    pub releases: Vec<KeaDecl>,
    #[serde(default, rename = "limit")]
    pub limits: Vec<LimitDecl>,
    #[serde(default, rename = "message")]
    pub messages: Vec<MessageDecl>,
    #[serde(default, rename = "statistic")]
    pub statistics: Vec<StatisticDecl>,
}

/// `[[statistic]]`: one of the library's statistics in Kea's statistics manager, per script
/// (`runscript[N].<name>`) and summed (`runscript.<name>`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatisticDecl {
    /// Lower-case letters, digits and `-`, e.g. `exited-nonzero`.
    pub name: Spanned<String>,
    /// `counter` (only grows from load on) or `gauge` (a value now).
    pub kind: Spanned<String>,
    pub description: String,
}

/// `[[limit]]`: a bound of the library's behaviour that a message or the docs quote; the Rust
/// code uses the generated constant, so the text and the behaviour cannot part.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitDecl {
    /// An upper-case Rust constant name, e.g. `LINES_PER_RUN`; texts quote it as `{LINES_PER_RUN}`.
    pub name: Spanned<String>,
    pub value: Spanned<u64>,
    /// `count`, `bytes` or `ms`.
    pub unit: Spanned<String>,
    pub description: String,
}

/// `[[message]]`: one entry of the library's log catalogue (Kea's `MessageID`s).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MessageDecl {
    /// `KRS_` followed by upper-case letters, digits and `_`.
    pub id: Spanned<String>,
    /// `error`, `warn`, `info` or `debug`.
    pub severity: Spanned<String>,
    /// Kea's debug level (0 to 99), with `severity = "debug"` only.
    #[serde(default)]
    pub debug_level: Option<Spanned<u32>>,
    /// The logged text: `%1`, `%2` are the arguments the code passes; `{LIMIT}` a limit's value.
    pub text: Spanned<String>,
    /// What it means, for the docs; may quote `{LIMIT}` too.
    pub description: Spanned<String>,
}

/// `[[kea]]`: one Kea release the hook builds against, oldest first. `since` keys elsewhere name
/// one of these.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeaDecl {
    /// `major.minor`, e.g. `"2.6"`.
    pub version: Spanned<String>,
    /// The lowest `KEA_HOOKS_VERSION` (hooks/hooks.h) of this release, e.g. 20600.
    pub hooks_version: Spanned<u32>,
    /// Where operators get it, for the README (e.g. `Debian 13 (trixie)`).
    pub debian: String,
    /// The Kea libraries the hook links against (`-l` names).
    pub libraries: Vec<String>,
    /// Extra Kea headers the generated code includes for this release.
    #[serde(default)]
    pub includes: Vec<String>,
    /// Scripts are accepted only from one trusted directory (Kea 3.0's rule for hook scripts).
    #[serde(default)]
    pub scripts_directory: Option<ScriptsDirectoryDecl>,
}

/// The trusted scripts directory: `env` when set, else `default`; enforced while `enforced`
/// (a C++ expression) is true.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptsDirectoryDecl {
    pub default: String,
    pub env: String,
    pub enforced: Spanned<String>,
}

/// `[[options]]`: a packet argument whose options the `options` parameter exports, as
/// `<prefix><code>` in lower-case hex.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsDecl {
    pub argument: Spanned<String>,
    pub prefix: Spanned<String>,
    /// With ISC's names: the prefix instead (`QUERY4_OPTION_`), the payload as `0x` and
    /// upper-case hex, as ISC's hook writes the options it exports.
    #[serde(default)]
    pub isc: Option<Spanned<String>>,
    pub description: String,
}

/// `[[hook]]`: one Kea hook point.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookDecl {
    pub name: Spanned<String>,
    /// 4 or 6; absent for a library hook point (`library = true`) that both servers have.
    #[serde(default)]
    pub family: Option<Spanned<u8>>,
    /// Run by the library itself (`load`, `unload`, the replays), not a Kea callout.
    #[serde(default)]
    pub library: bool,
    /// Among the hook points a script runs at when `hook-points` is not given (default: true).
    #[serde(default)]
    pub default: Option<bool>,
    pub description: String,
    /// The first Kea release (`[[kea]] version`) with this hook point; absent: every release.
    #[serde(default)]
    pub since: Option<Spanned<String>>,
    /// What `NEXT_STEP_SKIP` does at this hook point; absent: Kea ignores it here.
    #[serde(default)]
    pub skip: Option<String>,
    /// What `NEXT_STEP_DROP` does at this hook point; absent: Kea ignores it here.
    #[serde(default)]
    pub drop: Option<String>,
    #[serde(default)]
    pub arguments: Vec<ArgumentDecl>,
    /// Collections run one event per element (e.g. `leases4_committed`).
    #[serde(default)]
    pub each: Vec<EachDecl>,
    /// ISC's own run_script hook serves this hook point (from the hook point's first release),
    /// reading these arguments: one of the hook points a script with ISC's names runs at by
    /// default, carrying those arguments' variables only.
    #[serde(default)]
    pub isc: Option<Spanned<Vec<String>>>,
    /// What a lease event here means to a mirror of Kea's leases (`KEA_LEASE_EVENT`): one word,
    /// or a C++ expression choosing among them.
    #[serde(default, rename = "lease-event")]
    pub lease_event: Option<Spanned<LeaseEventDecl>>,
}

/// `lease-event = "del"`, or `lease-event = { read = "fake_allocation ? \"offer\" : \"add\"",
/// gives = "`offer` when …, else `add`" }`: `read` is C++ over the hook point's arguments giving
/// a `const char*` (null: none), `gives` says what for the reference.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum LeaseEventDecl {
    Word(String),
    Read { read: String, gives: String },
}

/// `{ over = "leases4", name = "lease4", type = "isc::dhcp::Lease4Ptr", deleted = false }`: one
/// event per element of the collection argument `over`, the element in scope as `name`, and the
/// bool `deleted` telling which collection it came from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EachDecl {
    pub over: Spanned<String>,
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub cpp_type: Spanned<String>,
    #[serde(default)]
    pub deleted: bool,
    /// ISC's name of the list, e.g. `LEASES4`: with ISC's names the hook point is one event
    /// carrying every element as `<isc>_AT<i>_…` and their number as `<isc>_SIZE`.
    #[serde(default)]
    pub isc: Option<Spanned<String>>,
}

/// One callout argument a hook point carries, as `CalloutHandle::getArgument` names and types it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgumentDecl {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub cpp_type: Spanned<String>,
    /// The name Kea gives it, when the spec names it otherwise (so that e.g. `new_lease6` carries
    /// the `@lease6` variables); absent: `name`.
    #[serde(default)]
    pub kea_name: Option<Spanned<String>>,
    /// Kea passes it under one of these names (the first it has), e.g. `["ia_na", "ia_pd"]`;
    /// instead of `kea_name`.
    #[serde(default)]
    pub kea_names: Option<Spanned<Vec<String>>>,
    /// ISC's prefix for this argument's variables here, instead of the argument's own upper-case
    /// name (`NEW_LEASE6` for `addr6_register`'s lease).
    #[serde(default)]
    pub isc: Option<Spanned<String>>,
    /// The first Kea release that passes it here; absent: the hook point's.
    #[serde(default)]
    pub since: Option<Spanned<String>>,
    /// Its C++ type from a later release on, e.g. `{ "3.0" = "isc::dhcp::ConstSubnet4Ptr" }`.
    #[serde(default)]
    pub type_since: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// Not passed by Kea or the library: computed from the other arguments by this C++
    /// expression (e.g. a replayed lease's subnet from its `subnet_id_`).
    #[serde(default)]
    pub read: Option<Spanned<String>>,
}

/// `[[variable]]`: one value, as a `KEA_*` variable (`name`), under ISC's run_script names
/// (`isc`), or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    /// The `KEA_*` name; absent: only with ISC's names.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// ISC's run_script name of the same value, e.g. `LEASE4_ADDRESS`; absent: ISC has none.
    #[serde(default)]
    pub isc: Option<Spanned<String>>,
    /// With ISC's names only: the variable is left out of the environment (as ISC's hook leaves
    /// out an option the query does not carry) when Kea has no value; says when.
    #[serde(default)]
    pub absent: Option<String>,
    /// How ISC's value differs from the `KEA_*` one nearest to it, for the migration table.
    #[serde(default, rename = "isc-note")]
    pub isc_note: Option<String>,
    #[serde(rename = "type")]
    pub value_type: Spanned<String>,
    pub description: String,
    #[serde(default)]
    pub reference: Option<String>,
    /// The callout argument it is read from, and the C++ expression reading it; both absent
    /// with `source = "library"`.
    #[serde(default)]
    pub argument: Option<Spanned<String>>,
    #[serde(default)]
    pub read: Option<Spanned<String>>,
    /// `"library"`: set by the library on every event (the event's identity), not read from
    /// Kea: no `argument`, `read`, `hooks` or `isc`; every hook point carries it.
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    /// The hook points carrying it; absent with `source = "library"`.
    #[serde(default)]
    pub hooks: Option<Spanned<Vec<Spanned<String>>>>,
    /// The shape of a non-empty `string` value (`ipv4`, `mac`, …), for the docs and the tests.
    #[serde(default)]
    pub format: Option<Spanned<String>>,
    /// When the value is empty (e.g. "the client sent no host name"); absent: never empty.
    #[serde(default)]
    pub empty: Option<String>,
    /// The first Kea release with this value; absent: every release.
    #[serde(default)]
    pub since: Option<Spanned<String>>,
}

pub fn parse(text: &str) -> Result<SpecFile, toml::de::Error> {
    toml::from_str(text)
}
