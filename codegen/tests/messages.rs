//! `[[limit]]` and `[[message]]`: the log catalogue and the limits its texts quote. Errors name
//! the item and its line; the generated C++ and Rust type each message with its arguments.

use kea_runscript_codegen::{generate, load_str, reference};

const SPEC: &str = r#"
[[kea]]
version = "2.2"
hooks-version = 20200
debian = "bookworm"
libraries = ["kea-dhcp++"]

[[limit]]
name = "KILL_GRACE"
value = 1000
unit = "ms"
description = "After SIGTERM, the time before SIGKILL."

[[limit]]
name = "BATCH"
value = 65536
unit = "bytes"
description = "A write to a worker."

[[message]]
id = "KRS_LOADED"
severity = "info"
text = "kea-runscript loaded: %1"
description = "Loaded."

[[message]]
id = "KRS_SCRIPT_KILLED"
severity = "debug"
debug-level = 40
text = "%1: SIGKILL sent {KILL_GRACE} after SIGTERM (%2)"
description = "It outlived SIGTERM by {KILL_GRACE}; writes of {BATCH}."
"#;

fn errors(extra: &str) -> String {
    match load_str(&format!("{SPEC}{extra}"), "spec.toml") {
        Ok(_) => panic!("spec accepted:\n{extra}"),
        Err(e) => e.to_string(),
    }
}

/// Line (1-based) of the `nth` line containing `needle` in the whole spec text.
fn line_of(extra: &str, needle: &str, nth: usize) -> usize {
    let text = format!("{SPEC}{extra}");
    text.lines().enumerate().filter(|(_, l)| l.contains(needle)).nth(nth).unwrap().0 + 1
}

fn message(id: &str, severity: &str, text: &str) -> String {
    format!("\n[[message]]\nid = \"{id}\"\nseverity = \"{severity}\"\ntext = \"{text}\"\ndescription = \"d\"\n")
}

#[test]
fn messages_and_limits_reach_the_model_with_limits_written_in() {
    let model = load_str(SPEC, "spec.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.messages.len(), 2);
    let killed = &model.messages[1];
    assert_eq!(killed.text, "%1: SIGKILL sent 1 s after SIGTERM (%2)");
    assert_eq!(killed.description, "It outlived SIGTERM by 1 s; writes of 64 KiB.");
    assert_eq!((killed.args, killed.debug_level, killed.constant()), (2, 40, "SCRIPT_KILLED"));
    assert_eq!(killed.line, line_of("", "id = \"KRS_SCRIPT_KILLED\"", 0));
}

#[test]
fn the_generated_catalogue_types_each_message_with_its_arguments() {
    let model = load_str(SPEC, "spec.toml").unwrap();
    let g = generate(&model.at(0), "callouts.cc");
    assert!(g.messages_h.contains("constexpr Message<1> LOADED{0};"), "{}", g.messages_h);
    assert!(g.messages_h.contains("constexpr Message<2> SCRIPT_KILLED{1};"), "{}", g.messages_h);
    assert!(g.messages_cc.contains("extern const isc::log::MessageID KRS_SCRIPT_KILLED = \"KRS_SCRIPT_KILLED\";"));
    assert!(g.messages_cc.contains("\"KRS_SCRIPT_KILLED\", \"%1: SIGKILL sent 1 s after SIGTERM (%2)\","), "{}", g.messages_cc);
    assert!(g.messages_cc.contains("{KRS_SCRIPT_KILLED, Severity::Debug, 40, 2},"), "{}", g.messages_cc);
    assert!(g.messages_rs.contains("pub const SCRIPT_KILLED: Message<2usize> = Message::new(1u16);"), "{}", g.messages_rs);
    assert!(g.limits_rs.contains("pub const KILL_GRACE: std::time::Duration = std::time::Duration::from_millis(1000u64);"), "{}", g.limits_rs);
    assert!(g.limits_rs.contains("pub const KILL_GRACE_TEXT: &str = \"1 s\";"), "{}", g.limits_rs);
    assert!(g.limits_rs.contains("pub const BATCH: usize = 65536usize;"), "{}", g.limits_rs);
    let md = reference(&model);
    assert!(md.contains("| `KRS_SCRIPT_KILLED` | DEBUG (40) | %1: SIGKILL sent 1 s after SIGTERM (%2) | It outlived SIGTERM by 1 s; writes of 64 KiB. |"), "{md}");
    assert!(md.contains("| `KILL_GRACE` | 1 s | After SIGTERM, the time before SIGKILL. |"), "{md}");
}

#[test]
fn message_errors_name_the_item_and_the_line() {
    let extra = [
        message("KRS_LOADED", "info", "again %1"),
        message("LOADED_TOO", "info", "x"),
        message("KRS_NOISY", "loud", "x"),
        message("KRS_DEBUG", "debug", "x"),
        message("KRS_GAP", "warn", "%2 only"),
        message("KRS_MANY", "warn", "%1 %2 %3"),
        message("KRS_PERCENT", "warn", "100% sure"),
        message("KRS_LIMIT", "warn", "every {KILL_GRAC}"),
        "\n[[message]]\nid = \"KRS_LEVEL\"\nseverity = \"info\"\ndebug-level = 40\ntext = \"x\"\ndescription = \"d\"\n".into(),
        "\n[[message]]\nid = \"KRS_HIGH\"\nseverity = \"debug\"\ndebug-level = 120\ntext = \"x\"\ndescription = \"d\"\n".into(),
    ]
    .concat();
    let e = errors(&extra);
    let at = |needle: &str, nth: usize| format!("spec.toml:{}:", line_of(&extra, needle, nth));
    let first = line_of("", "id = \"KRS_LOADED\"", 0);
    for (line, expected) in [
        (at("id = \"KRS_LOADED\"", 1), format!("message KRS_LOADED: defined twice (first at line {first})")),
        (at("id = \"LOADED_TOO\"", 0), "message LOADED_TOO: a message id is KRS_".into()),
        (at("severity = \"loud\"", 0), "message KRS_NOISY: unknown severity \"loud\"".into()),
        // Without its level: named at its severity (the spec's own debug message is the first).
        (at("severity = \"debug\"", 1), "message KRS_DEBUG: a debug message needs its debug-level".into()),
        (at("text = \"%2 only\"", 0), "message KRS_GAP: uses %2 but not %1".into()),
        (at("text = \"%1 %2 %3\"", 0), "message KRS_MANY: takes 3 arguments; a message takes at most 2".into()),
        (at("text = \"100% sure\"", 0), "message KRS_PERCENT: a `%` must start a placeholder".into()),
        (at("text = \"every {KILL_GRAC}\"", 0), "message KRS_LIMIT: {KILL_GRAC} is not a limit of the spec (known: KILL_GRACE, BATCH)".into()),
        (at("debug-level = 40", 1), "message KRS_LEVEL: debug-level goes with severity = \"debug\" only".into()),
        (at("debug-level = 120", 0), "message KRS_HIGH: debug-level 120 is not a Kea debug level (0 to 99)".into()),
    ] {
        assert!(e.contains(&format!("{line} {expected}")), "missing {line} {expected}\n{e}");
    }
}

#[test]
fn limit_errors_name_the_item_and_the_line() {
    let extra = "\n[[limit]]\nname = \"KILL_GRACE\"\nvalue = 1\nunit = \"ms\"\ndescription = \"d\"\n\
                 \n[[limit]]\nname = \"lower\"\nvalue = 1\nunit = \"ms\"\ndescription = \"d\"\n\
                 \n[[limit]]\nname = \"WEEKS\"\nvalue = 1\nunit = \"weeks\"\ndescription = \"d\"\n\
                 \n[[limit]]\nname = \"HUGE\"\nvalue = 5000000000\nunit = \"count\"\ndescription = \"d\"\n";
    let e = errors(extra);
    let at = |needle: &str, nth: usize| format!("spec.toml:{}:", line_of(extra, needle, nth));
    for expected in [
        format!("{} limit KILL_GRACE: defined twice", at("name = \"KILL_GRACE\"", 1)),
        format!("{} limit lower: a limit name is upper-case letters", at("name = \"lower\"", 0)),
        format!("{} limit WEEKS: unknown unit \"weeks\"; expected one of count, bytes, ms", at("unit = \"weeks\"", 0)),
        format!("{} limit HUGE: a count must fit in 32 bits", at("value = 5000000000", 0)),
    ] {
        assert!(e.contains(&expected), "missing {expected}\n{e}");
    }
}

#[test]
fn a_spec_without_a_kea_release_is_refused() {
    let e = load_str("[[limit]]\nname = \"A\"\nvalue = 1\nunit = \"ms\"\ndescription = \"d\"\n", "spec.toml").unwrap_err().to_string();
    assert!(e.contains("spec.toml:1: spec: lists no Kea release: add a [[kea]] table"), "{e}");
}
