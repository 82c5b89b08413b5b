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

#[derive(Debug)]
pub struct Model {
    pub hooks: Vec<Hook>,
    pub variables: Vec<Variable>,
}

#[derive(Debug)]
pub struct Hook {
    pub name: String,
    pub family: u8,
    pub description: String,
    /// What Kea does when a callout sets `NEXT_STEP_SKIP` here; `None`: Kea ignores it.
    pub skip: Option<String>,
    /// What Kea does when a callout sets `NEXT_STEP_DROP` here; `None`: Kea ignores it.
    pub drop: Option<String>,
    pub arguments: Vec<Argument>,
    /// Variables this hook point carries, in spec order.
    pub variables: Vec<usize>,
}

#[derive(Debug)]
pub struct Argument {
    pub name: String,
    pub cpp_type: String,
}

impl Argument {
    /// Smart pointers (`...Ptr`) may be null: their variables are read only when set.
    pub fn nullable(&self) -> bool {
        self.cpp_type.ends_with("Ptr")
    }
}

#[derive(Debug)]
pub struct Variable {
    pub name: String,
    pub value_type: ValueType,
    pub description: String,
    pub reference: Option<String>,
    pub argument: String,
    /// C++ expression reading the value; the argument is in scope under its own name.
    pub read: String,
    /// Hook points carrying this variable, in spec order.
    pub hooks: Vec<usize>,
}

impl Model {
    pub fn hook(&self, name: &str) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.name == name)
    }

    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name == name)
    }

    pub fn families(&self) -> Vec<u8> {
        let mut f: Vec<u8> = self.hooks.iter().map(|h| h.family).collect();
        f.dedup();
        f
    }
}
