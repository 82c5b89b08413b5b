//! perfdhcp (ISC's DHCP benchmark tool, in kea-admin): bounded runs in the client namespace,
//! and the parsers of what it prints.

use std::fs;
use std::io;
use std::process::Stdio;
use std::time::Duration;

use crate::kea::Family;
use crate::netns::Netns;
use crate::util::{other, read_or_empty};

/// A bounded perfdhcp run (`-p` seconds).
#[derive(Debug, Clone)]
pub struct Perfdhcp {
    pub family: Family,
    /// `-r`: new exchanges per second.
    pub rate: u32,
    /// `-R`: number of simulated clients.
    pub clients: u32,
    /// `-p`: test period in seconds.
    pub period: u32,
    /// `-f`: renews per second.
    pub renew_rate: u32,
    /// `-F`: releases per second.
    pub release_rate: u32,
    /// `-o code,hex` options.
    pub options: Vec<String>,
    /// `-e`: lease type for DHCPv6 (e.g. `address-and-prefix`).
    pub lease_type: Option<String>,
    /// More raw arguments.
    pub extra: Vec<String>,
    /// `-x l`: print the leases obtained (see [`PerfdhcpResult::leases`]); off for a
    /// benchmark, where they are many.
    pub print_leases: bool,
}

/// What perfdhcp printed.
#[derive(Debug, Clone)]
pub struct PerfdhcpResult {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Leases perfdhcp printed (`-x l`): (exchange, client id, address, prefix).
    pub leases: Vec<PerfLease>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfLease {
    pub exchange: String,
    pub client_id: String,
    pub address: String,
    pub prefix: String,
}

impl Perfdhcp {
    /// `-r 4 -R 8 -p 4 -f 2 -F 2`.
    pub fn v4() -> Perfdhcp {
        Perfdhcp {
            family: Family::V4,
            rate: 4,
            clients: 8,
            period: 4,
            renew_rate: 2,
            release_rate: 2,
            options: Vec::new(),
            lease_type: None,
            extra: Vec::new(),
            print_leases: true,
        }
    }

    /// Like [`Perfdhcp::v4`] with `-6 -e address-and-prefix`.
    pub fn v6() -> Perfdhcp {
        Perfdhcp { family: Family::V6, lease_type: Some("address-and-prefix".into()), ..Perfdhcp::v4() }
    }

    pub fn option(mut self, code_hex: &str) -> Self {
        self.options.push(code_hex.to_string());
        self
    }

    /// Arguments after `perfdhcp`, for interface `iface`.
    pub fn args(&self, iface: &str) -> Vec<String> {
        let mut a = vec![
            match self.family {
                Family::V4 => "-4".to_string(),
                Family::V6 => "-6".to_string(),
            },
            "-l".into(),
            iface.into(),
            "-r".into(),
            self.rate.to_string(),
            "-R".into(),
            self.clients.to_string(),
            "-p".into(),
            self.period.to_string(),
        ];
        if self.renew_rate > 0 {
            a.extend(["-f".into(), self.renew_rate.to_string()]);
        }
        if self.release_rate > 0 {
            a.extend(["-F".into(), self.release_rate.to_string()]);
        }
        if let Some(t) = &self.lease_type {
            a.extend(["-e".into(), t.clone()]);
        }
        for o in &self.options {
            a.extend(["-o".into(), o.clone()]);
        }
        if self.print_leases {
            a.extend(["-x".into(), "l".into()]);
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    /// Runs it in the client namespace and waits for it to end (perfdhcp
    /// bounds itself with `-p`; it is killed if it overruns by 30 s). Exit
    /// status 3 ("some exchanges not completed") is normal with releases in
    /// DHCPv4, which get no answer.
    pub fn run(&self, ns: &Netns) -> io::Result<PerfdhcpResult> {
        let dir = ns.subdir("perfdhcp")?;
        let n = fs::read_dir(&dir)?.count();
        let (out_p, err_p) = (dir.join(format!("{n}.stdout")), dir.join(format!("{n}.stderr")));
        let mut cmd = ns.client_cmd("perfdhcp");
        cmd.args(self.args(&ns.client_if))
            .stdout(Stdio::from(fs::File::create(&out_p)?))
            .stderr(Stdio::from(fs::File::create(&err_p)?));
        let p = ns.spawn("perfdhcp", &mut cmd)?;
        let st = p.wait_timeout(Duration::from_secs(self.period as u64 + 30));
        if st.is_err() {
            p.kill();
        }
        let stdout = read_or_empty(&out_p);
        let stderr = read_or_empty(&err_p);
        let leases = parse_perf_leases(&stdout);
        let r = PerfdhcpResult { status: st.ok().and_then(|s| s.code()), stdout, stderr, leases };
        match r.status {
            Some(0) | Some(3) => Ok(r),
            _ => Err(other(format!("perfdhcp failed ({:?}):\n{}\n{}", r.status, r.stdout, r.stderr))),
        }
    }
}

/// One exchange's counters as perfdhcp prints them (`***Statistics for: DISCOVER-OFFER***`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerfExchange {
    /// `DISCOVER-OFFER`, `REQUEST-ACK`, `SOLICIT-ADVERTISE`, `REQUEST-REPLY`, ...
    pub name: String,
    pub sent: u64,
    pub received: u64,
    pub drops: u64,
}

impl PerfdhcpResult {
    /// perfdhcp's `Rate:` line: full exchanges (DORA, SARR) completed per second.
    pub fn rate(&self) -> Option<f64> {
        parse_rate(&self.stdout)
    }

    /// The counters of each exchange, in perfdhcp's order.
    pub fn exchanges(&self) -> Vec<PerfExchange> {
        parse_exchanges(&self.stdout)
    }
}

/// `Rate: 1205.48 4-way exchanges/second, expected rate: 30000`.
pub fn parse_rate(out: &str) -> Option<f64> {
    out.lines().find_map(|l| l.strip_prefix("Rate:")?.split_whitespace().next()?.parse().ok())
}

/// The `***Statistics for: X-Y***` blocks.
pub fn parse_exchanges(out: &str) -> Vec<PerfExchange> {
    let mut v: Vec<PerfExchange> = Vec::new();
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("***Statistics for: ") {
            v.push(PerfExchange { name: name.trim_end_matches('*').to_string(), ..Default::default() });
            continue;
        }
        let Some(cur) = v.last_mut() else { continue };
        let Some((key, val)) = line.split_once(':') else { continue };
        let Ok(n) = val.trim().parse::<u64>() else { continue };
        match key.trim() {
            "sent packets" => cur.sent = n,
            "received packets" => cur.received = n,
            "drops" => cur.drops = n,
            _ => {}
        }
    }
    v
}

fn parse_perf_leases(out: &str) -> Vec<PerfLease> {
    let mut v = Vec::new();
    let mut exchange: Option<String> = None;
    for line in out.lines() {
        if let Some(x) = line.strip_prefix("***Leases for ") {
            exchange = Some(x.trim_end_matches('*').to_string());
            continue;
        }
        if line.starts_with("***") || line.trim().is_empty() {
            if line.starts_with("***") {
                exchange = None;
            }
            continue;
        }
        let Some(ex) = &exchange else { continue };
        if line.starts_with("client_id") {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() >= 2 {
            v.push(PerfLease {
                exchange: ex.clone(),
                client_id: f[0].to_string(),
                address: f[1].to_string(),
                prefix: f.get(2).copied().unwrap_or("").to_string(),
            });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// perfdhcp 2.2's report (abridged: the delay lines are skipped by the parser).
    const PERF_OUT: &str = "Running: perfdhcp -4 -l kbx0c -r 30000 -R 1000000 -p 3
Scenario: basic.
Multi-thread mode enabled.
***Rate statistics***
Rate: 1205.48 4-way exchanges/second, expected rate: 30000

***Malformed Packets***
Malformed packets: 0
***Statistics for: DISCOVER-OFFER***
sent packets: 34254
received packets: 4343
drops: 29911
drops ratio: 87.3212 %
orphans: 0

min delay: 0.670 ms
collected packets: 4808

***Statistics for: REQUEST-ACK***
sent packets: 4343
received packets: 3625
drops: 718
drops ratio: 16.532 %
";

    #[test]
    fn perfdhcp_rate_and_counters() {
        assert_eq!(parse_rate(PERF_OUT), Some(1205.48));
        let x = parse_exchanges(PERF_OUT);
        assert_eq!(
            x,
            [
                PerfExchange { name: "DISCOVER-OFFER".into(), sent: 34254, received: 4343, drops: 29911 },
                PerfExchange { name: "REQUEST-ACK".into(), sent: 4343, received: 3625, drops: 718 },
            ]
        );
        assert_eq!(parse_rate("no rate"), None);
    }

    #[test]
    fn perf_leases() {
        let out = "***Leases for REQUEST-ACK***\nclient_id,adrress,prefix\n01000c01020304,192.0.2.100,\n\n\n***Leases for RELEASE***\nclient_id,adrress,prefix\n";
        let l = parse_perf_leases(out);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].exchange, "REQUEST-ACK");
        assert_eq!(l[0].address, "192.0.2.100");
    }
}
