//! Emit the Rust tables that turn extracted values into the script's environment.

use crate::model::{Model, ValueType};
use quote::{format_ident, quote};

pub fn emit(model: &Model) -> String {
    let variables = model.variables.iter().map(|v| {
        let name = &v.name;
        let assign = proc_macro2::Literal::byte_string(format!("{}=", v.name).as_bytes());
        let kind = format_ident!(
            "{}",
            match v.value_type {
                ValueType::String => "String",
                ValueType::Int => "Int",
                ValueType::Bool => "Bool",
                ValueType::Hex => "Hex",
            }
        );
        quote! {
            Variable { name: #name, assign: #assign, kind: Kind::#kind }
        }
    });
    let hooks = model.hooks.iter().map(|h| {
        let name = &h.name;
        let family = h.family;
        let vars = h.variables.iter().map(|&v| v as u16);
        let (skip, drop, default, library) = (h.skip.is_some(), h.drop.is_some(), h.default, h.library);
        quote! {
            HookPoint {
                name: #name, family: #family, library: #library, default: #default,
                skip: #skip, drop: #drop, variables: &[#(#vars),*]
            }
        }
    });
    let options = model.options.iter().map(|o| {
        let (prefix, family) = (&o.prefix, o.family);
        quote! { OptionSource { prefix: #prefix, family: #family } }
    });
    let release = model.current_release();
    let (version, hooks_version) = release.map(|r| (r.version.as_str(), r.hooks_version)).unwrap_or(("", 0));
    let scripts_directory = match release.and_then(|r| r.scripts_directory.as_ref()) {
        Some(d) => {
            let (default, env) = (&d.default, &d.env);
            quote! { Some(ScriptsDirectory { default: #default, env: #env }) }
        }
        None => quote! { None },
    };
    let option_count = model.options.len();
    let var_count = model.variables.len();
    let hook_count = model.hooks.len();
    let tokens = quote! {
        /// The Kea release this build is for (spec: `[[kea]]`).
        pub static KEA: KeaRelease = KeaRelease {
            version: #version, hooks_version: #hooks_version, scripts_directory: #scripts_directory
        };
        /// Every variable of spec/spec.toml; a variable's id is its index here.
        pub static VARIABLES: [Variable; #var_count] = [#(#variables),*];
        /// Every hook point of spec/spec.toml, in the order of the C++ callout table; a hook point's id is its index here.
        pub static HOOK_POINTS: [HookPoint; #hook_count] = [#(#hooks),*];
        /// Packets whose options the `options` parameter exports, as `<prefix><code>`.
        pub static OPTION_SOURCES: [OptionSource; #option_count] = [#(#options),*];
    };
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
