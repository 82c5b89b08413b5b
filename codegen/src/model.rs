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
    pub options: Vec<OptionSource>,
}

/// Options of a packet argument exported on request (`options` parameter) as `<prefix><code>`.
#[derive(Debug)]
pub struct OptionSource {
    pub argument: String,
    pub prefix: String,
    pub family: u8,
    pub description: String,
}

#[derive(Debug)]
pub struct Hook {
    pub name: String,
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
    /// Variables this hook point carries, in spec order.
    pub variables: Vec<usize>,
}

#[derive(Debug)]
pub struct Argument {
    pub name: String,
    pub cpp_type: String,
    pub source: Source,
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
}

#[derive(Debug)]
pub struct Each {
    pub over: String,
    pub name: String,
    pub cpp_type: String,
    pub deleted: bool,
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
