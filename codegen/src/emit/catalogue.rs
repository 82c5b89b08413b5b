//! Emit the C++ side of the log catalogue: `messages.h` (a typed constant per message, for the
//! shim's own calls) and `messages.cc` (Kea's `MessageID`s, the ID/text dictionary Kea loads, and
//! the table the shim's `log_message` looks a message's severity up in).

use crate::emit::cpp::HEADER;
use crate::model::{Model, Severity};
use crate::out::Out;

fn c_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `messages.h`: `msg::LOADED` and the rest, each a `Message<N>` (N: its arguments), so that the
/// C++ compiler checks a call's argument count as the Rust one does.
pub fn header(model: &Model) -> String {
    let mut out = Out::default();
    out.comment(HEADER);
    out.line("#ifndef KEA_RUNSCRIPT_GENERATED_MESSAGES_H");
    out.line("#define KEA_RUNSCRIPT_GENERATED_MESSAGES_H");
    out.line("");
    out.line("#include \"shim/log.h\"");
    out.line("");
    out.line("namespace kea_runscript {");
    out.block("namespace msg", "} // namespace msg", |out| {
        for (id, m) in model.messages.iter().enumerate() {
            out.comment(&format!("{}: {} (spec/spec.toml:{})", m.id, m.text, m.line));
            out.line(format!("constexpr Message<{}> {}{{{id}}};", m.args, m.constant()));
        }
    });
    out.line("} // namespace kea_runscript");
    out.line("");
    out.line("#endif");
    out.finish()
}

/// `messages.cc`: the catalogue itself.
pub fn source(model: &Model) -> String {
    let mut out = Out::default();
    out.comment(HEADER);
    out.line("");
    out.line("#include \"shim/log.h\"");
    out.line("");
    out.line("#include <log/message_initializer.h>");
    out.line("");
    out.line("namespace kea_runscript {");
    out.line("namespace generated {");
    out.line("namespace {");
    out.line("");
    for m in &model.messages {
        out.line(format!("extern const isc::log::MessageID {0} = \"{0}\";", m.id));
    }
    out.line("");
    out.comment("ID, text: the dictionary Kea loads when it opens the library.");
    out.block("const char* dictionary[] =", "};", |out| {
        for m in &model.messages {
            out.line(format!("\"{}\", {},", m.id, c_string(&m.text)));
        }
        out.line("nullptr,");
    });
    out.line("const isc::log::MessageInitializer initializer(dictionary);");
    out.line("");
    out.line("} // namespace");
    out.line("");
    out.comment("Indexed by the ids of messages.h and of the Rust side's `msg` constants.");
    if model.messages.is_empty() {
        // C++ has no empty arrays.
        out.line("extern const MessageEntry MESSAGES[] = {{nullptr, Severity::Error, 0, 0}};");
        out.line("extern const std::size_t MESSAGE_COUNT = 0;");
    } else {
        out.block("extern const MessageEntry MESSAGES[] =", "};", |out| {
            for m in &model.messages {
                let severity = match m.severity {
                    Severity::Error => "Error",
                    Severity::Warn => "Warn",
                    Severity::Info => "Info",
                    Severity::Debug => "Debug",
                };
                out.line(format!("{{{}, Severity::{severity}, {}, {}}},", m.id, m.debug_level, m.args));
            }
        });
        out.line("extern const std::size_t MESSAGE_COUNT = sizeof(MESSAGES) / sizeof(MESSAGES[0]);");
    }
    out.line("");
    out.line("} // namespace generated");
    out.line("} // namespace kea_runscript");
    out.finish()
}
