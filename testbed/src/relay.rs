//! ISC dhcrelay (Debian's `isc-dhcp-relay`) as a real DHCPv6 relay agent between the client
//! and the server of [`Netns::with_relay`].

use std::fs;
use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::netns::{Netns, RELAY_LINK_V6};
use crate::util::{other, read_or_empty, wait_until, Proc, DEFAULT_TIMEOUT};

/// What the relay adds to each RELAY-FORW besides its fixed fields (hop-count 0, link-address
/// [`RELAY_LINK_V6`], peer-address the client's link-local address).
#[derive(Debug, Clone, Default)]
pub struct Dhcrelay6Options {
    /// `-I` and `#<n>` on the lower interface: Interface-ID option 18 carrying `n` as dhcrelay
    /// 4.4 writes it, a 4-byte integer in the relay host's byte order (see
    /// [`Dhcrelay::interface_id_bytes`]).
    pub interface_id: Option<u32>,
    /// `-s`: Subscriber-ID option 38 with these bytes.
    pub subscriber_id: Option<String>,
}

/// `dhcrelay -6 -d` in the relay namespace, listening on the client link (`lower_if`) and
/// forwarding to the server's link-local address on the server link (`upper_if`). It runs in
/// the foreground as our child, without a pid file, and is killed (by PID) on drop.
#[derive(Debug)]
pub struct Dhcrelay {
    proc: Proc,
    log: PathBuf,
}

impl Dhcrelay {
    /// Starts the relay and waits until it listens on both interfaces.
    pub fn start6(ns: &Netns, opts: &Dhcrelay6Options) -> io::Result<Dhcrelay> {
        let r = ns.relay.as_ref().ok_or_else(|| other("dhcrelay needs Netns::with_relay"))?;
        let server = ns.server_link_local()?;
        let dir = ns.subdir("dhcrelay")?;
        let n = fs::read_dir(&dir)?.count();
        let log = dir.join(format!("dhcrelay-{n}.log"));
        let mut lower = format!("{RELAY_LINK_V6}%{}", r.lower_if);
        let mut cmd = ns.relay_cmd("dhcrelay")?;
        cmd.args(["-6", "-d", "--no-pid"]);
        if let Some(id) = opts.interface_id {
            cmd.arg("-I");
            lower.push_str(&format!("#{id}"));
        }
        if let Some(s) = &opts.subscriber_id {
            cmd.args(["-s", s]);
        }
        cmd.args(["-l", &lower, "-u", &format!("{server}%{}", r.upper_if)])
            .stdout(Stdio::from(fs::File::create(&log)?))
            .stderr(Stdio::from(fs::File::options().append(true).open(&log)?));
        let proc = ns.spawn("dhcrelay", &mut cmd)?;
        let relay = Dhcrelay { proc, log };
        let ready = [format!("Listening on Socket/{}", r.lower_if), format!("Listening on Socket/{}", r.upper_if)];
        let r = wait_until(DEFAULT_TIMEOUT, || {
            let text = relay.log();
            if ready.iter().all(|l| text.contains(l.as_str())) {
                return Some(Ok(()));
            }
            relay.proc.try_status().map(Err)
        });
        match r {
            Ok(Ok(())) => Ok(relay),
            Ok(Err(st)) => Err(other(format!("dhcrelay exited ({st}):\n{}", relay.log()))),
            Err(e) => Err(other(format!("dhcrelay not listening: {e}\n{}", relay.log()))),
        }
    }

    /// The Interface-ID option's payload for `#n` (dhcrelay 4.4 copies an `int`).
    pub fn interface_id_bytes(n: u32) -> [u8; 4] {
        (n as i32).to_ne_bytes()
    }

    /// What dhcrelay printed ("Relaying Solicit from ... going up." per message).
    pub fn log(&self) -> String {
        read_or_empty(&self.log)
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

impl Drop for Dhcrelay {
    fn drop(&mut self) {
        self.proc.terminate(Duration::from_secs(3));
    }
}
