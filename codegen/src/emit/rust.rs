//! Emit the Rust side: the tables that turn extracted values into the script's environment
//! (`env_table.rs`, for the config crate), the log catalogue's typed message ids
//! (`messages.rs`) and the limits (`limits.rs`), for the hook.

use crate::model::{Format, Model, Unit, ValueType};
use quote::{format_ident, quote};

/// The `@generated` header and the pretty-printed tokens.
fn file(tokens: proc_macro2::TokenStream) -> String {
    let file = syn::parse2::<syn::File>(tokens).expect("generated Rust parses");
    let mut text = String::new();
    for line in super::cpp::HEADER.lines() {
        text.push_str("// ");
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&prettyplease::unparse(&file));
    text
}

fn kind_variant(t: ValueType) -> &'static str {
    match t {
        ValueType::String => "String",
        ValueType::Int => "Int",
        ValueType::Bool => "Bool",
        ValueType::Hex => "Hex",
    }
}

/// `env_table.rs` for a model narrowed to one release ([`Model::at`]).
pub fn env_table(model: &Model) -> String {
    let release = model.release().expect("the tables are generated for one release: narrow the model with Model::at");
    let variables = model.variables.iter().map(|v| {
        let name = if v.kea { v.name.as_str() } else { "" };
        let isc = v.isc.as_deref().unwrap_or("");
        let kind = format_ident!("{}", kind_variant(v.value_type));
        let format = format_ident!("{}", v.format.variant());
        let (may_be_empty, absent) = (v.empty.is_some(), v.absent.is_some());
        quote! {
            Variable {
                name: #name, isc: #isc, kind: Kind::#kind, format: Format::#format,
                may_be_empty: #may_be_empty, absent: #absent
            }
        }
    });
    let isc_var = |(v, name): &(usize, String)| {
        let v = *v as u16;
        quote! { IscVar { var: #v, name: #name } }
    };
    let hooks = model.hooks.iter().map(|h| {
        let name = &h.name;
        let family = h.family;
        let vars = h.variables.iter().filter(|&&v| model.variables[v].kea).map(|&v| v as u16);
        let isc_vars = model.isc_variables(h);
        let isc_vars = isc_vars.iter().map(isc_var);
        let lists = model.isc_lists(h);
        let lists = lists.iter().map(|(list, elements)| {
            let size = format!("{list}_SIZE");
            let elements = elements.iter().map(isc_var);
            quote! { IscList { name: #list, size: #size, elements: &[#(#elements),*] } }
        });
        let (skip, drop, default, library) = (h.skip.is_some(), h.drop.is_some(), h.default, h.library);
        let isc_default = h.isc.is_some();
        quote! {
            HookPoint {
                name: #name, family: #family, library: #library, default: #default, isc_default: #isc_default,
                skip: #skip, drop: #drop, variables: &[#(#vars),*],
                isc_variables: &[#(#isc_vars),*], isc_lists: &[#(#lists),*]
            }
        }
    });
    let options = model.options.iter().map(|o| {
        let (prefix, family) = (&o.prefix, o.family);
        let isc_prefix = o.isc_prefix.as_deref().unwrap_or("");
        quote! { OptionSource { prefix: #prefix, isc_prefix: #isc_prefix, family: #family } }
    });
    let (version, hooks_version) = (release.version.as_str(), release.hooks_version);
    let scripts_directory = match &release.scripts_directory {
        Some(d) => {
            let (default, env) = (&d.default, &d.env);
            quote! { Some(ScriptsDirectory { default: #default, env: #env }) }
        }
        None => quote! { None },
    };
    // The library sets these itself (the event's identity): the code names their ids.
    let library_ids = model.variables.iter().enumerate().filter(|(_, v)| v.library).map(|(id, v)| {
        let constant = format_ident!("VAR_{}", v.name);
        let doc = format!(" The id of `{}`, which the library sets on every event.", v.name);
        let id = id as u16;
        quote! { #[doc = #doc] pub const #constant: u16 = #id; }
    });
    let option_count = model.options.len();
    let var_count = model.variables.len();
    let hook_count = model.hooks.len();
    let kinds = ValueType::ALL.iter().map(|(name, t)| {
        let variant = format_ident!("{}", kind_variant(*t));
        let doc = format!(" The spec's `{name}`.");
        quote! { #[doc = #doc] #variant }
    });
    let formats = Format::ALL.iter().map(|(name, f, docs)| {
        let variant = format_ident!("{}", f.variant());
        let doc = if docs.is_empty() { format!(" `{name}`: any bytes.") } else { format!(" `{name}`: {docs}.") };
        quote! { #[doc = #doc] #variant }
    });
    file(quote! {
        /// How a variable's value is rendered (the spec's `type`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind { #(#kinds),* }
        /// The shape of a non-empty `string` value (the spec's `format`): what the docs promise
        /// and the tests check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Format { #(#formats),* }
        /// The Kea release this build is for (spec: `[[kea]]`).
        pub static KEA: KeaRelease = KeaRelease {
            version: #version, hooks_version: #hooks_version, scripts_directory: #scripts_directory
        };
        /// Every variable of spec/spec.toml; a variable's id is its index here.
        pub static VARIABLES: [Variable; #var_count] = [#(#variables),*];
        #(#library_ids)*
        /// Every hook point of spec/spec.toml, in the order of the C++ callout table; a hook point's id is its index here.
        pub static HOOK_POINTS: [HookPoint; #hook_count] = [#(#hooks),*];
        /// Packets whose options the `options` parameter exports, as `<prefix><code>`.
        pub static OPTION_SOURCES: [OptionSource; #option_count] = [#(#options),*];
    })
}

/// `messages.rs`: a `Message<N>` constant per message (N: its arguments), named as in C++
/// (`msg::LOADED`), so that a call with the wrong number of arguments does not compile.
pub fn messages(model: &Model) -> String {
    let constants = model.messages.iter().enumerate().map(|(id, m)| {
        let doc = format!(" `{}` ({}): \"{}\" (spec/spec.toml:{})", m.id, m.severity.upper(), m.text, m.line);
        let name = format_ident!("{}", m.constant());
        let (id, args) = (id as u16, m.args);
        quote! {
            #[doc = #doc]
            pub const #name: Message<#args> = Message::new(#id);
        }
    });
    let ids = model.messages.iter().map(|m| m.id.as_str());
    let count = model.messages.len();
    file(quote! {
        #(#constants)*
        /// Each message's id as Kea logs it, indexed by the message's number.
        pub static IDS: [&str; #count] = [#(#ids),*];
    })
}

/// `statistics.rs`: the library's statistics (`Stat`, in spec order; each variant's doc says its
/// kind) and their names (`STATISTICS`, indexed by `Stat`).
pub fn statistics(model: &Model) -> String {
    let variants = model.statistics.iter().map(|st| {
        let variant = format_ident!("{}", st.variant());
        let doc = format!(" `{}` ({}): {}", st.name, if st.gauge { "gauge" } else { "counter" }, st.description);
        quote! { #[doc = #doc] #variant }
    });
    let entries = model.statistics.iter().map(|st| {
        let name = &st.name;
        quote! { Statistic { name: #name } }
    });
    let count = model.statistics.len();
    file(quote! {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Stat { #(#variants),* }
        /// Each statistic's name, indexed by `Stat as usize`.
        pub static STATISTICS: [Statistic; #count] = [#(#entries),*];
    })
}

/// `limits.rs`: each limit as the constant the code uses, and `<NAME>_TEXT` as texts quote it.
pub fn limits(model: &Model) -> String {
    let constants = model.limits.iter().map(|l| {
        let doc = format!(" {} (spec: `{}`)", l.description, l.name);
        let name = format_ident!("{}", l.name);
        let text_name = format_ident!("{}_TEXT", l.name);
        let text = l.text();
        let v = l.value;
        let (ty, value) = match l.unit {
            Unit::Count | Unit::Percent => (quote! { u32 }, { let v = v as u32; quote! { #v } }),
            Unit::Bytes => (quote! { usize }, { let v = v as usize; quote! { #v } }),
            Unit::Millis => (quote! { std::time::Duration }, quote! { std::time::Duration::from_millis(#v) }),
        };
        quote! {
            #[doc = #doc]
            pub const #name: #ty = #value;
            pub const #text_name: &str = #text;
        }
    });
    file(quote! { #(#constants)* })
}
