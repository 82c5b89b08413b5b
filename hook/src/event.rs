//! One hook point's values, filled by the generated C++ callout, turned into the script's environment
//! (spawn mode) or into one JSON line (worker mode): both from the same name/value pairs.

use kea_runscript_config::table::{HookPoint, Kind, OptionSource, HOOK_POINTS, OPTION_SOURCES, VARIABLES, VAR_KEA_EVENT_ID};
use kea_runscript_config::Naming;
use crate::environ::Environment;
use crate::ffi::bridge::Namings;
use std::ffi::CString;
use std::sync::Arc;

/// A slot no value is in.
const NONE: u16 = u16::MAX;

/// The reads flags of an event every variable is read for (no `"variables"` list at its hook
/// point, or no configuration).
pub fn read_all() -> Arc<[u8]> {
    Arc::from(vec![1u8; VARIABLES.len()])
}

/// A value as the callout gave it; bytes live in the event's one buffer (`Event::data`).
#[derive(Clone, Copy)]
enum Value {
    Bytes { start: u32, len: u32 },
    Int(i64),
    Bool(bool),
}

/// How one script sees an event: the names its variables have and, with `"variables": [...]`,
/// the only ones it gets (per variable id).
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub naming: Naming,
    pub only: Option<&'a [bool]>,
}

impl From<Naming> for View<'static> {
    fn from(naming: Naming) -> View<'static> {
        View { naming, only: None }
    }
}

impl View<'_> {
    fn shows(&self, id: u16) -> bool {
        self.only.is_none_or(|only| only.get(id as usize).copied().unwrap_or(false))
    }
}

pub struct Event {
    hook: u16,
    /// Per variable id: whether the callout reads it (1) or leaves it out (0): no script at this
    /// hook point gets it (`"variables": [...]`).
    reads: Arc<[u8]>,
    /// Per variable id, where its value is in `values` (`NONE`: not given): two bytes a
    /// variable instead of a value's sixteen keep an event's allocations small (malloc's fast
    /// path; the 3 KB table of values was a profile's top allocation).
    slots: Vec<u16>,
    values: Vec<Value>,
    /// The bytes of every `Bytes` value, back to back (one allocation for the whole event).
    data: Vec<u8>,
    /// Option codes to export (`options`), and those found: where (the packet's options table
    /// entry), the code and the payload.
    wanted: Arc<[u16]>,
    options: Vec<(&'static OptionSource, u16, Vec<u8>)>,
    /// With ISC's names at a hook point with `each`: this event holds the lists (one event per
    /// callout), their elements in `elements` (list index, element).
    lists: bool,
    elements: Vec<(u8, Box<Event>)>,
    /// The namings of the scripts at this hook point: the callout reads the values only one
    /// naming carries only for it.
    namings: Namings,
}

impl Event {
    pub fn new(hook: u16, wanted: Arc<[u16]>) -> Event {
        Event::for_namings(hook, wanted, Namings::BOTH, read_all())
    }

    /// An event for scripts with these namings, that get the variables `reads` marks.
    pub fn for_namings(hook: u16, wanted: Arc<[u16]>, namings: Namings, reads: Arc<[u8]>) -> Event {
        Event {
            namings,
            reads,
            hook,
            slots: vec![NONE; VARIABLES.len()],
            values: Vec::with_capacity(48),
            data: Vec::with_capacity(1024),
            wanted,
            options: Vec::new(),
            lists: false,
            elements: Vec::new(),
        }
    }

    /// Per variable id, whether a script here gets it (the callout reads only those).
    pub fn reads(&self) -> &[u8] {
        &self.reads
    }

    /// Whether some script here has `KEA_*` names.
    pub fn wants_kea(&self) -> bool {
        self.namings.kea
    }

    /// Whether some script here has ISC's names.
    pub fn wants_isc(&self) -> bool {
        self.namings.isc
    }

    /// This event holds ISC's lists (see [`Event::add_element`]), for the scripts with ISC's names.
    pub fn mark_lists(&mut self) {
        self.lists = true;
    }

    /// Whether this event holds ISC's lists (else, at a hook point with `each`, it is one element's).
    pub fn has_lists(&self) -> bool {
        self.lists
    }

    /// One element of list `list` (an index into the hook point's `isc_lists`).
    pub fn add_element(&mut self, list: u8, element: Box<Event>) {
        self.elements.push((list, element));
    }

    pub fn wanted_options(&self) -> &[u16] {
        &self.wanted
    }

    /// An option the `options` parameter asks for, found in the packet whose options table
    /// entry has `prefix`.
    pub fn put_option(&mut self, prefix: &str, code: u16, payload: &[u8]) {
        if let Some(source) = OPTION_SOURCES.iter().find(|o| o.prefix == prefix) {
            self.options.push((source, code, payload.to_vec()));
        }
    }

    /// The bytes of a string or hex value the callout gave (`None`: none, or another type).
    pub fn bytes_of(&self, var: u16) -> Option<&[u8]> {
        match self.value(var)? {
            Value::Bytes { start, len } => self.data.get(start as usize..(start + len) as usize),
            _ => None,
        }
    }

    /// With ISC's lists: the elements' events.
    pub fn elements(&self) -> impl Iterator<Item = &Event> {
        self.elements.iter().map(|(_, e)| &**e)
    }

    pub fn hook(&self) -> Option<&'static HookPoint> {
        HOOK_POINTS.get(self.hook as usize)
    }

    /// The bytes of its values (what its line's values take, about).
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    pub fn hook_id(&self) -> u16 {
        self.hook
    }

    /// Variable `var`'s value, if the callout gave one.
    fn value(&self, var: u16) -> Option<Value> {
        self.slots.get(var as usize).and_then(|&slot| self.values.get(slot as usize)).copied()
    }

    fn set(&mut self, var: u16, value: Value) {
        let Some(slot) = self.slots.get_mut(var as usize) else { return };
        match self.values.get_mut(*slot as usize) {
            Some(old) => *old = value,
            None => {
                *slot = self.values.len() as u16;
                self.values.push(value);
            }
        }
    }

    fn put_bytes(&mut self, var: u16, value: &[u8]) {
        self.put_text(var, |out| out.extend_from_slice(value));
    }

    pub fn put_string(&mut self, var: u16, value: &[u8]) {
        self.put_bytes(var, value);
    }

    pub fn put_int(&mut self, var: u16, value: i64) {
        self.set(var, Value::Int(value));
    }

    pub fn put_bool(&mut self, var: u16, value: bool) {
        self.set(var, Value::Bool(value));
    }

    pub fn put_hex(&mut self, var: u16, value: &[u8]) {
        self.put_bytes(var, value);
    }

    /// A hardware address, DUID or client id, as Kea's `toText()` writes it.
    pub fn put_colon_hex(&mut self, var: u16, value: &[u8]) {
        self.put_text(var, |out| crate::text::push_colon_hex(out, value));
    }

    /// An address (4 or 16 bytes) as `IOAddress::toText()` writes it; with `/prefix_len` when
    /// that is not negative (`Subnet::toText()`).
    pub fn put_address(&mut self, var: u16, value: &[u8], prefix_len: i32) {
        self.put_text(var, |out| {
            crate::text::push_address(out, value);
            if prefix_len >= 0 {
                out.push(b'/');
                out.extend_from_slice(itoa::Buffer::new().format(prefix_len).as_bytes());
            }
        });
    }

    /// A DHCPv6 packet's label (`Pkt6::getLabel()`): `duid=[<DUID>]` (`no info` without one),
    /// `, [no hwaddr info]` from Kea 2.6 on, `, tid=0x<transaction id>`.
    pub fn put_label6(&mut self, var: u16, duid: &[u8], has_duid: bool, transid: u32, hwaddr_info: bool) {
        self.put_text(var, |out| crate::text::push_label6(out, has_duid.then_some(duid), transid, hwaddr_info));
    }

    /// A value written by `write` straight into the event's buffer.
    fn put_text(&mut self, var: u16, write: impl FnOnce(&mut Vec<u8>)) {
        let Ok(start) = u32::try_from(self.data.len()) else { return };
        write(&mut self.data);
        let Ok(len) = u32::try_from(self.data.len() - start as usize) else { return };
        self.set(var, Value::Bytes { start, len });
    }

    /// Each variable of this hook point, named as `naming` says, with its value as the script
    /// gets it: `f(name, writer of the value)`; the exported options follow them. The one
    /// source of both [`Event::environment`] and [`Event::json_line`].
    ///
    /// `KEA_*` names: every variable, in spec order (a variable Kea had no value for is present
    /// and empty). ISC's names: ISC's variables of the hook point (one Kea had no value for is
    /// present and empty, or left out where the spec says `absent`), then each list's
    /// `<list>_SIZE` and its elements' `<list>_AT<i>_…`; booleans are `true`/`false`.
    fn each_variable(&self, view: View, f: &mut dyn FnMut(&str, &dyn Fn(&mut Vec<u8>))) {
        let Some(hook) = self.hook() else { return };
        let naming = view.naming;
        match naming {
            Naming::Runscript => {
                // `KEA_EVENT_ID` differs per script: appended to what is rendered for each
                // (crate::identity).
                for &id in hook.variables.iter().filter(|&&id| id != VAR_KEA_EVENT_ID && view.shows(id)) {
                    self.variable(id, naming, |name_value| f(VARIABLES[id as usize].name, name_value));
                }
            }
            Naming::Isc => {
                for v in hook.isc_variables {
                    if self.value(v.var).is_some() || !VARIABLES[v.var as usize].absent {
                        self.variable(v.var, naming, |value| f(v.name, value));
                    }
                }
                let mut name = String::new();
                for (index, list) in hook.isc_lists.iter().enumerate() {
                    let elements = || self.elements.iter().filter(|(l, _)| *l as usize == index).map(|(_, e)| e);
                    let size = elements().count();
                    f(list.size, &|out: &mut Vec<u8>| out.extend_from_slice(itoa::Buffer::new().format(size).as_bytes()));
                    for (i, element) in elements().enumerate() {
                        for v in list.elements {
                            name.clear();
                            let _ = std::fmt::Write::write_fmt(&mut name, format_args!("{}_AT{i}{}", list.name, v.name));
                            element.variable(v.var, naming, |value| f(&name, value));
                        }
                    }
                }
            }
        }
        for (source, code, payload) in &self.options {
            let value = |out: &mut Vec<u8>| match naming {
                Naming::Runscript => push_hex(out, payload, b"0123456789abcdef"),
                Naming::Isc => push_hex_0x(out, payload),
            };
            let prefix = match naming {
                Naming::Runscript => source.prefix,
                Naming::Isc => source.isc_prefix,
            };
            f(&format!("{prefix}{code}"), &value);
        }
    }

    /// Variable `id`'s value as `naming` renders it, handed to `f` as a writer.
    fn variable(&self, id: u16, naming: Naming, f: impl FnOnce(&dyn Fn(&mut Vec<u8>))) {
        let var = &VARIABLES[id as usize];
        let value = self.value(id);
        f(&|out: &mut Vec<u8>| {
            if let Some(v) = value {
                render(var.kind, naming, v, &self.data, out);
            }
        });
    }

    /// `NAME=value` for every variable of this hook point, in spec order (a variable Kea had no
    /// value for is present and empty; a NUL byte in a value is dropped), then the exported
    /// options, then `extra`. Built in one buffer.
    pub fn environment<'a>(&self, view: impl Into<View<'a>>, extra: &[CString]) -> Environment {
        let mut env = Environment::with_capacity(2048, 64);
        self.each_variable(view.into(), &mut |name, value| env.push_with(name, value));
        for entry in extra {
            env.push_entry(entry);
        }
        env
    }

    /// The event as a worker reads it: one line of JSON, `{"hook":"<hook point>","NAME":"value",...}`
    /// and a newline, with the same variables and values as [`Event::environment`] (without
    /// `extra-env`/`pass-env`, which are in the worker's own environment; NUL dropped as there).
    /// JSON text is Unicode: bytes that are not UTF-8 (a client's hostname can be anything)
    /// become U+FFFD.
    pub fn json_line<'a>(&self, view: impl Into<View<'a>>) -> Vec<u8> {
        let mut line = Vec::with_capacity(2048);
        self.push_json_line(view.into(), &mut line);
        line
    }

    /// [`Event::json_line`], appended to `line` (a batch of lines being written).
    pub fn push_json_line(&self, view: View, line: &mut Vec<u8>) {
        let hook = self.hook().map_or("", |h| h.name);
        line.extend_from_slice(b"{\"hook\":");
        push_json_string(line, hook.as_bytes());
        let mut scratch = Vec::new();
        self.each_variable(view, &mut |name, write| {
            line.push(b',');
            push_json_string(line, name.as_bytes());
            line.extend_from_slice(b":\"");
            // Written in place; the few values that JSON cannot take as they are (a quote, a
            // control character, a NUL, not ASCII) are taken out again and escaped.
            let start = line.len();
            write(line);
            if line[start..].iter().all(|&b| json_plain(b)) {
                line.push(b'"');
            } else {
                scratch.clear();
                scratch.extend(line[start..].iter().copied().filter(|&b| b != 0));
                line.truncate(start - 1);
                push_json_string(line, &scratch);
            }
        });
        line.extend_from_slice(b"}\n");
    }
}

/// A JSON string (quoted and escaped by serde_json: a newline in a value stays inside the line);
/// bytes that are not UTF-8 become U+FFFD.
fn push_json_string(out: &mut Vec<u8>, s: &[u8]) {
    // Most values (addresses, names, numbers, hex) are printable ASCII that JSON takes as it is.
    if s.iter().all(|&b| json_plain(b)) {
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    serde_json::to_writer(&mut *out, &String::from_utf8_lossy(s)).expect("a string serializes into a Vec");
}

/// A byte JSON text takes inside a string as it is.
fn json_plain(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'
}

/// Two hex digits per byte, from `digits` (upper- or lower-case).
fn push_hex(out: &mut Vec<u8>, bytes: &[u8], digits: &[u8; 16]) {
    for b in bytes {
        out.extend_from_slice(&[digits[(b >> 4) as usize], digits[(b & 15) as usize]]);
    }
}

/// `0x` and upper-case hex digits, nothing for no bytes (Kea's `Option::toHexString`).
fn push_hex_0x(out: &mut Vec<u8>, bytes: &[u8]) {
    if !bytes.is_empty() {
        out.extend_from_slice(b"0x");
        push_hex(out, bytes, b"0123456789ABCDEF");
    }
}

fn render(kind: Kind, naming: Naming, value: Value, data: &[u8], out: &mut Vec<u8>) {
    match (kind, value) {
        (_, Value::Bytes { start, len }) => {
            let bytes = &data[start as usize..(start + len) as usize];
            if kind != Kind::Hex {
                out.extend_from_slice(bytes);
            } else {
                push_hex_0x(out, bytes);
            }
        }
        // itoa: an event carries a dozen integers, and `format!` costs several times as much.
        (_, Value::Int(i)) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        (_, Value::Bool(b)) => match naming {
            Naming::Runscript => out.push(if b { b'1' } else { b'0' }),
            // As ISC's run_script writes booleans.
            Naming::Isc => out.extend_from_slice(if b { b"true" } else { b"false" }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> u16 {
        VARIABLES.iter().position(|v| v.name == name).unwrap() as u16
    }

    fn hook(name: &str) -> u16 {
        HOOK_POINTS.iter().position(|h| h.name == name).unwrap() as u16
    }

    fn env(event: &Event) -> Vec<String> {
        event.environment(Naming::Runscript, &[]).entries().map(|e| String::from_utf8(e.to_vec()).unwrap()).collect()
    }

    fn none() -> Arc<[u16]> {
        Arc::from(Vec::new())
    }

    #[test]
    fn renders_each_kind_and_leaves_missing_values_empty() {
        let mut e = Event::new(hook("lease4_select"), none());
        e.put_string(id("KEA_LEASE4_ADDRESS"), b"192.0.2.100");
        e.put_int(id("KEA_LEASE4_VALID_LIFETIME"), 4000);
        e.put_bool(id("KEA_FAKE_ALLOCATION"), true);
        e.put_hex(id("KEA_QUERY4_RAI"), &[0x01, 0x02, 0xab]);
        e.put_hex(id("KEA_QUERY4_RAI_REMOTE_ID"), &[]);
        let env = env(&e);
        for expected in [
            "KEA_LEASE4_ADDRESS=192.0.2.100",
            "KEA_LEASE4_VALID_LIFETIME=4000",
            "KEA_FAKE_ALLOCATION=1",
            "KEA_QUERY4_RAI=0x0102AB",
            "KEA_QUERY4_RAI_REMOTE_ID=",
            "KEA_LEASE4_HOSTNAME=",
        ] {
            assert!(env.iter().any(|e| e == expected), "{expected} missing from {env:?}");
        }
        let hp = &HOOK_POINTS[hook("lease4_select") as usize];
        assert_eq!(env.len(), hp.variables.len() - 1, "all but KEA_EVENT_ID, which each script's delivery appends");
        assert!(!env.iter().any(|e| e.starts_with("KEA_RESPONSE4_")), "lease4_select carries no response");
    }

    #[test]
    fn hostile_bytes_stay_data_and_nul_is_dropped() {
        let mut e = Event::new(hook("lease4_select"), none());
        e.put_string(id("KEA_LEASE4_HOSTNAME"), b"a\0b;$(reboot)\nc=d\xff");
        let env = env_bytes(&e);
        assert!(env.iter().any(|e| e == b"KEA_LEASE4_HOSTNAME=ab;$(reboot)\nc=d\xff"));
    }

    fn env_bytes(event: &Event) -> Vec<Vec<u8>> {
        event.environment(Naming::Runscript, &[]).entries().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn exported_options_and_extra_variables_follow_the_spec_ones() {
        let mut e = Event::new(hook("pkt4_receive"), Arc::from(vec![50u16]));
        assert_eq!(e.wanted_options(), [50]);
        e.put_option("KEA_QUERY4_OPTION", 50, &[0xc0, 0x00, 0x02, 0x64]);
        let extra = [CString::new("SITE=paris").unwrap()];
        let env: Vec<String> = e.environment(Naming::Runscript, &extra).entries().map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        let n = HOOK_POINTS[hook("pkt4_receive") as usize].variables.len() - 1; // but KEA_EVENT_ID
        assert_eq!(env[n..], ["KEA_QUERY4_OPTION50=c0000264".to_string(), "SITE=paris".to_string()]);
    }

    #[test]
    fn out_of_range_ids_are_ignored() {
        let mut e = Event::new(u16::MAX, none());
        e.put_int(u16::MAX, 1);
        assert_eq!(e.environment(Naming::Runscript, &[]).entries().count(), 0);
        assert_eq!(e.json_line(Naming::Runscript), b"{\"hook\":\"\"}\n");
    }

    /// The JSON line carries exactly the environment's names and values (without `extra`), the
    /// hook point first, on one line whatever the values hold.
    #[test]
    fn the_json_line_says_what_the_environment_says() {
        let mut e = Event::new(hook("lease4_select"), Arc::from(vec![50u16]));
        e.put_string(id("KEA_LEASE4_ADDRESS"), b"192.0.2.100");
        e.put_int(id("KEA_LEASE4_VALID_LIFETIME"), 4000);
        e.put_bool(id("KEA_FAKE_ALLOCATION"), false);
        e.put_hex(id("KEA_QUERY4_CLIENT_ID"), &[0x01, 0xab]);
        e.put_string(id("KEA_LEASE4_HOSTNAME"), b"a\"b\\c\nd\0e;$(x)");
        e.put_option("KEA_QUERY4_OPTION", 50, &[0xc0, 0x00, 0x02, 0x64]);
        let line = e.json_line(Naming::Runscript);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        assert!(line.starts_with(b"{\"hook\":\"lease4_select\","));
        let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&line).unwrap();
        let mut from_json: Vec<(String, String)> = parsed
            .iter()
            .filter(|(k, _)| *k != "hook")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let mut from_env: Vec<(String, String)> = env(&e)
            .into_iter()
            .map(|entry| {
                let (k, v) = entry.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        from_json.sort();
        from_env.sort();
        assert_eq!(from_json, from_env);
        assert_eq!(parsed["hook"], "lease4_select");
        assert_eq!(parsed["KEA_LEASE4_HOSTNAME"], "a\"b\\c\nde;$(x)");
        assert_eq!(parsed["KEA_QUERY4_CLIENT_ID"], "0x01AB");
        assert_eq!(parsed["KEA_QUERY4_OPTION50"], "c0000264");
        assert_eq!(parsed["KEA_FAKE_ALLOCATION"], "0");
    }

    #[test]
    fn invalid_utf8_becomes_the_replacement_character_in_json() {
        let mut e = Event::new(hook("lease4_select"), none());
        e.put_string(id("KEA_LEASE4_HOSTNAME"), b"h\xffst");
        let parsed: serde_json::Value = serde_json::from_slice(&e.json_line(Naming::Runscript)).unwrap();
        assert_eq!(parsed["KEA_LEASE4_HOSTNAME"], "h\u{FFFD}st");
    }

    fn isc_env(event: &Event) -> Vec<String> {
        event.environment(Naming::Isc, &[]).entries().map(|e| String::from_utf8(e.to_vec()).unwrap()).collect()
    }

    fn lease(address: &[u8]) -> Box<Event> {
        let mut e = Box::new(Event::new(hook("leases4_committed"), none()));
        e.put_string(id("KEA_LEASE4_ADDRESS"), address);
        e.put_string(id("KEA_QUERY4_TYPE"), b"DHCPREQUEST");
        e
    }

    /// ISC's names: its variables only (absent ones left out), booleans as words, and at a
    /// hook point with `each` one event with the lists and their sizes.
    #[test]
    fn isc_names_lists_and_absent_options() {
        let isc_id = |name: &str| VARIABLES.iter().position(|v| v.isc == name).unwrap() as u16;
        let mut e = Event::new(hook("leases4_committed"), Arc::from(vec![50u16]));
        e.mark_lists();
        e.put_string(id("KEA_QUERY4_TYPE"), b"DHCPREQUEST");
        e.put_bool(id("KEA_QUERY4_RELAYED"), true);
        e.put_hex(isc_id("QUERY4_OPTION_82"), &[0x01, 0x02, 0xab, 0xcd]);
        e.put_option("KEA_QUERY4_OPTION", 50, &[0xc0, 0x00, 0x02, 0x64]);
        e.add_element(0, lease(b"192.0.2.100"));
        e.add_element(0, lease(b"192.0.2.101"));
        e.add_element(1, lease(b"192.0.2.7"));
        let env = isc_env(&e);
        for expected in [
            "QUERY4_TYPE=DHCPREQUEST",
            "QUERY4_RELAYED=true",
            "QUERY4_OPTION_82=0x0102ABCD",
            "QUERY4_TXID=",
            "LEASES4_SIZE=2",
            "LEASES4_AT0_ADDRESS=192.0.2.100",
            "LEASES4_AT1_ADDRESS=192.0.2.101",
            "LEASES4_AT1_HOSTNAME=",
            "DELETED_LEASES4_SIZE=1",
            "DELETED_LEASES4_AT0_ADDRESS=192.0.2.7",
            "QUERY4_OPTION_50=0xC0000264",
        ] {
            assert!(env.iter().any(|e| e == expected), "{expected} missing from {env:?}");
        }
        assert!(!env.iter().any(|e| e.starts_with("KEA_")), "no KEA_ name: {env:?}");
        assert!(!env.iter().any(|e| e.starts_with("QUERY4_OPTION_82_SUB_OPTION_1=")), "an absent sub-option is left out");
        assert!(!env.iter().any(|e| e.starts_with("LEASES4_AT2_")), "{env:?}");
        // The same in a worker's line.
        let line: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&e.json_line(Naming::Isc)).unwrap();
        assert_eq!(line["LEASES4_AT1_ADDRESS"], "192.0.2.101");
        assert_eq!(line["QUERY4_RELAYED"], "true");
        assert_eq!(line.len(), env.len() + 1, "the line holds the environment and the hook point");
    }

    /// ISC's names at a hook point are those of the arguments ISC's hook reads there:
    /// `addr6_register`'s lease is its NEW_LEASE6 (Kea 3.0), its response is not read.
    #[test]
    fn isc_names_follow_the_hook_point() {
        let names = |hook: &str| -> Vec<&str> {
            HOOK_POINTS.iter().find(|h| h.name == hook).map_or(vec![], |h| h.isc_variables.iter().map(|v| v.name).collect())
        };
        let renew = names("lease6_renew");
        assert!(renew.contains(&"PKT6_IA_IAID") && renew.contains(&"LEASE6_PREFIX_LEN") && renew.contains(&"QUERY6_TXID"), "{renew:?}");
        let expire = names("lease6_expire");
        assert!(expire.contains(&"REMOVE_LEASE") && !expire.iter().any(|n| n.starts_with("QUERY6_")), "{expire:?}");
        if HOOK_POINTS.iter().any(|h| h.name == "addr6_register") {
            let register = names("addr6_register");
            assert!(register.contains(&"NEW_LEASE6_ADDRESS") && register.contains(&"ADDRESS6"), "{register:?}");
            assert!(!register.iter().any(|n| n.starts_with("LEASE6_") || n.starts_with("RESPONSE6_")), "{register:?}");
        }
    }
}
