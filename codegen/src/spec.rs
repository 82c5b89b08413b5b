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
}

/// `[[hook]]`: one Kea hook point.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookDecl {
    pub name: Spanned<String>,
    pub family: Spanned<u8>,
    pub description: String,
    /// What `NEXT_STEP_SKIP` does at this hook point; absent: Kea ignores it here.
    #[serde(default)]
    pub skip: Option<String>,
    /// What `NEXT_STEP_DROP` does at this hook point; absent: Kea ignores it here.
    #[serde(default)]
    pub drop: Option<String>,
    #[serde(default)]
    pub arguments: Vec<ArgumentDecl>,
}

/// One callout argument a hook point carries, as `CalloutHandle::getArgument` names and types it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgumentDecl {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub cpp_type: Spanned<String>,
}

/// `[[variable]]`: one `KEA_*` environment variable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub value_type: Spanned<String>,
    pub description: String,
    #[serde(default)]
    pub reference: Option<String>,
    pub argument: Spanned<String>,
    pub read: Spanned<String>,
    pub hooks: Spanned<Vec<Spanned<String>>>,
}

pub fn parse(text: &str) -> Result<SpecFile, toml::de::Error> {
    toml::from_str(text)
}
