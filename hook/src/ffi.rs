//! The cxx bridge between the Rust runtime and the C++ shim (shim/entry.cc, shim/log.cc,
//! shim/glue.h) and the generated callouts.

#[cxx::bridge(namespace = "kea_runscript")]
pub mod bridge {
    /// What a callout tells Kea to do next (`CalloutHandle::NextStep`), ordered so that the
    /// strongest of several scripts' answers wins: drop over skip over continue.
    #[derive(Debug, PartialOrd, Ord)]
    enum NextStep {
        Continue,
        Skip,
        Drop,
    }

    /// Which namings the scripts at a hook point use: the callout reads a value only one
    /// naming carries, and builds ISC's list event or the per-element ones, only for it.
    #[derive(Debug, Clone, Copy, Default)]
    struct Namings {
        /// Some script has `KEA_*` names.
        kea: bool,
        /// Some script has ISC's names.
        isc: bool,
    }

    /// What starting a replay did: its number (0: none started) and the answer to the command
    /// `runscript-replay` (Kea's `result`, `text`, and `arguments` as JSON text).
    #[derive(Debug)]
    struct ReplayStart {
        generation: u64,
        result: i32,
        text: String,
        arguments: String,
    }

    /// One statistic as Kea's statistics manager names it, and its value.
    #[derive(Debug)]
    struct StatValue {
        name: String,
        value: i64,
    }

    /// The answer to a control command: Kea's `result`, `text`, and `arguments` as JSON text.
    #[derive(Debug)]
    struct CommandAnswer {
        result: i32,
        text: String,
        arguments: String,
    }

    extern "Rust" {
        type Event;
        fn new_event(hook: u16) -> Box<Event>;
        fn put_string(self: &mut Event, var: u16, value: &[u8]);
        fn put_int(self: &mut Event, var: u16, value: i64);
        fn put_bool(self: &mut Event, var: u16, value: bool);
        fn put_hex(self: &mut Event, var: u16, value: &[u8]);
        /// Identifiers and addresses from their bytes, as Kea's `toText()` writes them
        /// (hook/src/text.rs); `prefix_len` -1 for none.
        fn put_colon_hex(self: &mut Event, var: u16, value: &[u8]);
        /// Per variable id, 1 where some script at this hook point gets it (`"variables"`).
        fn reads(self: &Event) -> &[u8];
        fn put_address(self: &mut Event, var: u16, value: &[u8], prefix_len: i32);
        fn put_label6(self: &mut Event, var: u16, duid: &[u8], has_duid: bool, transid: u32, hwaddr_info: bool);
        /// Option codes the `options` parameter asks for.
        fn wanted_options(self: &Event) -> &[u16];
        fn put_option(self: &mut Event, prefix: &str, code: u16, payload: &[u8]);
        /// With ISC's names at a hook point with `each`: this event holds the lists, and one
        /// element of list `list` (its index among the hook point's lists).
        fn mark_lists(self: &mut Event);
        /// Whether some script at this hook point has `KEA_*` names, ISC's: values only one
        /// naming carries are read only for it.
        fn wants_kea(self: &Event) -> bool;
        fn wants_isc(self: &Event) -> bool;
        /// The namings of the scripts at hook point `hook` (none when nothing is loaded).
        fn hook_namings(hook: u16) -> Namings;
        fn add_element(self: &mut Event, list: u8, element: Box<Event>);
        fn dispatch(event: Box<Event>) -> NextStep;
        fn hook_enabled(hook: u16) -> bool;
        fn configure(parameters_json: &str, family: i32) -> Result<String>;
        fn shutdown();
        /// Replays (hook/src/replay.rs), from Kea's thread: start one of hook point `hook`
        /// (`why`: for the log); whether replay `generation` wants the next page; a held lease
        /// read; a page read (`more`: the database may hold more; `error`: why reading failed;
        /// `micros`: what it cost Kea's thread).
        fn replay_begin(hook: u16, why: &str) -> ReplayStart;
        fn replay_wants_page(generation: u64) -> bool;
        fn replay_push(generation: u64, event: Box<Event>);
        fn replay_page_read(generation: u64, more: bool, error: &str, micros: u64);
        /// Leases read at a time (`REPLAY_PAGE`).
        fn replay_page_size() -> usize;
        /// Statistics (hook/src/stats.rs), from Kea's thread: those changed since the last call
        /// (every one: `all`); how often to ask (`STATS_EVERY`).
        fn statistics_changed(all: bool) -> Vec<StatValue>;
        fn statistics_every_ms() -> i64;
        /// `runscript-status` (hook/src/status.rs): `arguments_json` is the command's arguments
        /// (empty: none).
        fn command_status_answer(arguments_json: &str) -> CommandAnswer;
    }

    unsafe extern "C++" {
        include!("shim/entry.h");
        #[namespace = "isc::hooks"]
        type LibraryHandle;
        fn kea_hooks_version() -> i32;
        fn script_paths_enforced() -> bool;
        unsafe fn shim_load(handle: *mut LibraryHandle) -> i32;
        fn shim_unload();
        /// Message `id` of the generated catalogue (`log::msg`), with its arguments; call it
        /// through [`crate::log::log`], which checks their number.
        fn log_message(id: u16, arg1: &str, arg2: &str);
        /// A replay's `begin` or `end` event of hook point `hook` (shim/replay.cc), with its
        /// counts at `end` (`counts`).
        fn replay_mark_event(hook: u16, phase: &str, count: i64, failed: i64, counts: bool) -> Box<Event>;
        /// Post the reading of replay `generation`'s next page to Kea's IO service (false: Kea
        /// gave the library none).
        fn replay_post_page(generation: u64) -> bool;
    }
}

use crate::event::Event;
use crate::runtime::{
    configure, dispatch, hook_enabled, hook_namings, new_event, replay_begin, replay_page_read, replay_push,
    replay_page_size, replay_wants_page, shutdown, statistics_changed, statistics_every_ms,
};
use crate::status::command_status_answer;
use kea_runscript_config::Naming;

impl bridge::Namings {
    /// Both namings: what an event made without a loaded configuration reads.
    pub const BOTH: bridge::Namings = bridge::Namings { kea: true, isc: true };

    /// These namings and `naming`.
    pub fn with(self, naming: Naming) -> bridge::Namings {
        match naming {
            Naming::Runscript => bridge::Namings { kea: true, ..self },
            Naming::Isc => bridge::Namings { isc: true, ..self },
        }
    }
}
