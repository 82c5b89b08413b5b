//! The event's identity, so that the streams of many servers can be merged: `KEA_SERVER_NAME`
//! and `KEA_EVENT_TIME` (put in each event when it is made, [`Identity::stamp_event`]) and
//! `KEA_EVENT_ID`, `<server name>:<load id>:<sequence>`, which differs per script: each script
//! has its own [`Stream`] (a load id drawn at load, a sequence from 1) and the id is appended to
//! what was rendered for it ([`EventId::append_to_env`], [`EventId::append_to_line`]) once it is
//! sure to be delivered, so that a gap in one script's sequence means events it did not get.

use crate::environ::Environment;
use crate::event::Event;
use kea_runscript_config::table::{VAR_KEA_EVENT_TIME, VAR_KEA_SERVER_NAME};
use kea_runscript_config::valid_server_name;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// The variable `EventId` writes (the spec's name; `VAR_KEA_EVENT_ID` is its id).
pub const EVENT_ID: &str = "KEA_EVENT_ID";

/// What every event of this load carries.
pub struct Identity {
    pub server_name: String,
}

impl Identity {
    /// `server-name`, else the machine's host name (as a server name may be written; `kea` if it
    /// has none that fits).
    pub fn new(server_name: Option<&str>) -> Identity {
        Identity { server_name: server_name.map_or_else(host_name, str::to_string) }
    }

    /// `KEA_SERVER_NAME` and `KEA_EVENT_TIME` (now: the hook point fires as its event is made).
    pub fn stamp_event(&self, event: &mut Event) {
        event.put_string(VAR_KEA_SERVER_NAME, self.server_name.as_bytes());
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let mut time = [0u8; 32];
        let n = write_time(&mut time, now.as_secs(), now.subsec_micros());
        event.put_string(VAR_KEA_EVENT_TIME, &time[..n]);
    }
}

/// `secs.micros` (six digits) into `out`; returns the length.
fn write_time(out: &mut [u8; 32], secs: u64, micros: u32) -> usize {
    let mut buffer = itoa::Buffer::new();
    let s = buffer.format(secs).as_bytes();
    out[..s.len()].copy_from_slice(s);
    out[s.len()] = b'.';
    let mut m = micros.min(999_999);
    for i in (0..6).rev() {
        out[s.len() + 1 + i] = b'0' + (m % 10) as u8;
        m /= 10;
    }
    s.len() + 7
}

/// One script's events since load.
pub struct Stream {
    /// `<server name>:<load id>:`.
    prefix: Arc<str>,
    last: AtomicU64,
}

impl Stream {
    pub fn new(identity: &Identity) -> Stream {
        Stream { prefix: format!("{}:{:016x}:", identity.server_name, load_id()).into(), last: AtomicU64::new(0) }
    }

    /// The next event's id.
    pub fn next(&self) -> EventId {
        EventId { prefix: Arc::clone(&self.prefix), sequence: self.last.fetch_add(1, Ordering::Relaxed) + 1 }
    }

    /// The ids given so far (the last sequence number).
    pub fn given(&self) -> u64 {
        self.last.load(Ordering::Relaxed)
    }

    /// `<server name>:<load id>`, for `runscript-status`.
    pub fn name(&self) -> &str {
        self.prefix.trim_end_matches(':')
    }
}

/// An event's id, given in Kea's thread (in the order of the events) and written where its line
/// is rendered (for a background worker, in the feeding thread).
pub struct EventId {
    prefix: Arc<str>,
    sequence: u64,
}

impl EventId {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.prefix.as_bytes());
        out.extend_from_slice(itoa::Buffer::new().format(self.sequence).as_bytes());
    }

    pub fn append_to_env(&self, env: &mut Environment) {
        env.push_with(EVENT_ID, |out| self.write(out));
    }

    /// A worker's line: the id as its last member (the line ends with `}` and a newline, or is a
    /// batch of such lines and gets it on the last one only: ids are given per event, before
    /// batching).
    pub fn append_to_line(&self, line: &mut Vec<u8>) {
        if line.ends_with(b"}\n") {
            line.truncate(line.len() - 2);
            line.extend_from_slice(b",\"");
            line.extend_from_slice(EVENT_ID.as_bytes());
            line.extend_from_slice(b"\":\"");
            self.write(line);
            line.extend_from_slice(b"\"}\n");
        }
    }
}

/// The machine's host name, if it can stand as a server name; else `kea`.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its length; gethostname NUL-terminates within it or fails.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    let name = String::from_utf8_lossy(&buf[..len]).into_owned();
    if ok && valid_server_name(&name) {
        name
    } else {
        "kea".into()
    }
}

/// 64 random bits from the kernel (getrandom: no file, no dependency); the clock's nanoseconds
/// and the pid if it fails.
fn load_id() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: `bytes` is writable for its length.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if got == bytes.len() as isize {
        return u64::from_ne_bytes(bytes);
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    (now.as_nanos() as u64) ^ ((std::process::id() as u64) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_has_six_digits_of_microseconds() {
        let mut out = [0u8; 32];
        let n = write_time(&mut out, 1764576000, 123);
        assert_eq!(&out[..n], b"1764576000.000123");
        let n = write_time(&mut out, 5, 999_999);
        assert_eq!(&out[..n], b"5.999999");
    }

    #[test]
    fn ids_are_per_stream_and_count_from_one() {
        let identity = Identity::new(Some("dhcp-a.example"));
        let (a, b) = (Stream::new(&identity), Stream::new(&identity));
        assert_ne!(a.name(), b.name(), "each stream draws its own load id");
        let mut line = b"{\"hook\":\"x\"}\n".to_vec();
        a.next().append_to_line(&mut line);
        let parsed: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let id = parsed[EVENT_ID].as_str().unwrap();
        let parts: Vec<&str> = id.split(':').collect();
        assert_eq!((parts[0], parts[1].len(), parts[2]), ("dhcp-a.example", 16, "1"), "{id}");
        assert_eq!(a.next().sequence, 2);
        assert_eq!(a.given(), 2);
        let mut env = Environment::default();
        b.next().append_to_env(&mut env);
        let entry = String::from_utf8(env.entries().next().unwrap().to_vec()).unwrap();
        assert!(entry.starts_with("KEA_EVENT_ID=dhcp-a.example:") && entry.ends_with(":1"), "{entry}");
    }

    #[test]
    fn the_host_name_stands_in() {
        let name = Identity::new(None).server_name;
        assert!(valid_server_name(&name), "{name}");
    }
}
