//! One hook point's values, filled by the generated C++ callout, turned into the script's environment.

use kea_runscript_config::table::{HookPoint, Kind, HOOK_POINTS, VARIABLES};
use std::ffi::CString;
use std::sync::Arc;

enum Value {
    Bytes(Vec<u8>),
    Int(i64),
    Bool(bool),
}

pub struct Event {
    hook: u16,
    values: Vec<Option<Value>>,
    /// Option codes to export (`options`), and the `<prefix><code>=<hex>` entries found.
    wanted: Arc<[u16]>,
    options: Vec<CString>,
}

impl Event {
    pub fn new(hook: u16, wanted: Arc<[u16]>) -> Event {
        let mut values = Vec::new();
        values.resize_with(VARIABLES.len(), || None);
        Event { hook, values, wanted, options: Vec::new() }
    }

    pub fn wanted_options(&self) -> &[u16] {
        &self.wanted
    }

    /// `<prefix><code>=<payload in lower-case hex>`.
    pub fn put_option(&mut self, prefix: &str, code: u16, payload: &[u8]) {
        let mut entry = format!("{prefix}{code}=").into_bytes();
        push_hex(&mut entry, payload, b"0123456789abcdef");
        self.options.extend(CString::new(entry).ok());
    }

    pub fn hook(&self) -> Option<&'static HookPoint> {
        HOOK_POINTS.get(self.hook as usize)
    }

    pub fn hook_id(&self) -> u16 {
        self.hook
    }

    fn set(&mut self, var: u16, value: Value) {
        if let Some(slot) = self.values.get_mut(var as usize) {
            *slot = Some(value);
        }
    }

    pub fn put_string(&mut self, var: u16, value: &[u8]) {
        self.set(var, Value::Bytes(value.to_vec()));
    }

    pub fn put_int(&mut self, var: u16, value: i64) {
        self.set(var, Value::Int(value));
    }

    pub fn put_bool(&mut self, var: u16, value: bool) {
        self.set(var, Value::Bool(value));
    }

    pub fn put_hex(&mut self, var: u16, value: &[u8]) {
        self.set(var, Value::Bytes(value.to_vec()));
    }

    /// `NAME=value` for every variable of this hook point, in spec order (a variable Kea had no
    /// value for is present and empty), then the exported options, then `extra`.
    pub fn environment(&self, extra: &[CString]) -> Vec<CString> {
        let Some(hook) = HOOK_POINTS.get(self.hook as usize) else { return Vec::new() };
        let mut env: Vec<CString> = hook
            .variables
            .iter()
            .map(|&id| {
                let var = &VARIABLES[id as usize];
                let mut entry = var.assign.to_vec();
                if let Some(value) = &self.values[id as usize] {
                    render(var.kind, value, &mut entry);
                }
                // A NUL cannot be carried in an environment entry: it is dropped (documented).
                entry.retain(|&b| b != 0);
                CString::new(entry).expect("NUL bytes removed")
            })
            .collect();
        env.extend(self.options.iter().cloned());
        env.extend(extra.iter().cloned());
        env
    }
}

/// Two hex digits per byte, from `digits` (upper- or lower-case).
fn push_hex(out: &mut Vec<u8>, bytes: &[u8], digits: &[u8; 16]) {
    for b in bytes {
        out.extend_from_slice(&[digits[(b >> 4) as usize], digits[(b & 15) as usize]]);
    }
}

fn render(kind: Kind, value: &Value, out: &mut Vec<u8>) {
    match (kind, value) {
        (Kind::Hex, Value::Bytes(bytes)) => {
            if !bytes.is_empty() {
                out.extend_from_slice(b"0x");
                push_hex(out, bytes, b"0123456789ABCDEF");
            }
        }
        (_, Value::Bytes(bytes)) => out.extend_from_slice(bytes),
        (_, Value::Int(i)) => out.extend_from_slice(i.to_string().as_bytes()),
        (_, Value::Bool(b)) => out.push(if *b { b'1' } else { b'0' }),
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
        event.environment(&[]).into_iter().map(|c| c.into_string().unwrap()).collect()
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
        assert_eq!(env.len(), hp.variables.len());
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
        event.environment(&[]).into_iter().map(|c| c.into_bytes()).collect()
    }

    #[test]
    fn exported_options_and_extra_variables_follow_the_spec_ones() {
        let mut e = Event::new(hook("pkt4_receive"), Arc::from(vec![50u16]));
        assert_eq!(e.wanted_options(), [50]);
        e.put_option("KEA_QUERY4_OPTION", 50, &[0xc0, 0x00, 0x02, 0x64]);
        let extra = [CString::new("SITE=paris").unwrap()];
        let env: Vec<String> = e.environment(&extra).into_iter().map(|c| c.into_string().unwrap()).collect();
        let n = HOOK_POINTS[hook("pkt4_receive") as usize].variables.len();
        assert_eq!(env[n..], ["KEA_QUERY4_OPTION50=c0000264".to_string(), "SITE=paris".to_string()]);
    }

    #[test]
    fn out_of_range_ids_are_ignored() {
        let mut e = Event::new(u16::MAX, none());
        e.put_int(u16::MAX, 1);
        assert!(e.environment(&[]).is_empty());
    }
}
