//! Held leases for the "leases already held" rows: a memfile CSV lease file written before Kea
//! starts (`persist: true`), with the header the installed Kea writes itself.
//!
//! Only the benchmarking range 198.18.0.0/15 and the documentation prefix 2001:db8::/32 are used.
//! The held leases lie in the served subnet (id 1) but outside its pool, so Kea's allocator never
//! walks over them: the run hands out addresses as on an empty server, with the lease database
//! (and Kea's memory) of a server holding them.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use kea_runscript_testbed::Family;

/// DHCPv4 held leases: 198.18.0.10 up to 198.19.127.255 ...
pub const V4_HELD_FIRST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
pub const V4_HELD_LAST: Ipv4Addr = Ipv4Addr::new(198, 19, 127, 255);
/// ... and the pool of the held-leases rows is the rest of the /15: 32,767 addresses, room for
/// the leases a run hands out.
pub const V4_HELD_POOL: &str = "198.19.128.0 - 198.19.255.254";
/// The most DHCPv4 leases 198.18.0.0/15 can hold beside that pool.
pub const V4_HELD_MAX: u64 = u32::from_be_bytes(V4_HELD_LAST.octets()) as u64
    - u32::from_be_bytes(V4_HELD_FIRST.octets()) as u64
    + 1;

/// DHCPv6 held leases: 2001:db8:1::2:0:0 onwards (the pool is 2001:db8:1::1:0:0/96).
pub const V6_HELD_FIRST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 2, 0, 0);

/// Lifetime of the held leases: they stay valid for the whole benchmark.
const HELD_LIFETIME: u64 = 86_400;

/// How many held leases a family can have when `wanted` are asked for.
pub fn held_count(family: Family, wanted: u64) -> u64 {
    match family {
        Family::V4 => wanted.min(V4_HELD_MAX),
        Family::V6 => wanted,
    }
}

/// The value of column `column` for held lease number `i`.
fn value(family: Family, column: &str, i: u64, now: u64) -> String {
    let b = (i as u32).to_be_bytes();
    match (family, column) {
        (Family::V4, "address") => Ipv4Addr::from(u32::from_be_bytes(V4_HELD_FIRST.octets()) + i as u32).to_string(),
        (Family::V6, "address") => Ipv6Addr::from(u128::from_be_bytes(V6_HELD_FIRST.octets()) + i as u128).to_string(),
        // Locally administered MACs (perfdhcp's clients use 00:0c:01:...).
        (Family::V4, "hwaddr") => format!("02:00:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3]),
        // DUID-LL of such a MAC.
        (_, "duid") => format!("00:03:00:01:02:00:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3]),
        (_, "valid_lifetime") | (_, "pref_lifetime") => HELD_LIFETIME.to_string(),
        (_, "expire") => (now + HELD_LIFETIME).to_string(),
        (_, "subnet_id") => "1".into(),
        (_, "lease_type") => "0".into(), // IA_NA
        (_, "iaid") => "1".into(),
        (_, "prefix_len") => "128".into(),
        (_, "fqdn_fwd") | (_, "fqdn_rev") | (_, "state") | (_, "hwaddr_source") | (_, "pool_id") => "0".into(),
        (_, "hwtype") => "1".into(),
        _ => String::new(),
    }
}

/// Writes `header` (the lease file header Kea writes, e.g. `address,hwaddr,client_id,...`) and
/// `count` held leases to `path`.
pub fn write_lease_file(path: &Path, family: Family, header: &str, count: u64, now: u64) -> io::Result<()> {
    let columns: Vec<&str> = header.trim().split(',').collect();
    if !columns.contains(&"address") {
        return Err(io::Error::other(format!("not a lease file header: {header:?}")));
    }
    let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    writeln!(w, "{}", header.trim())?;
    for i in 0..count {
        let row: Vec<String> = columns.iter().map(|c| value(family, c, i, now)).collect();
        writeln!(w, "{}", row.join(","))?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H4: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context";
    const H6: &str = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source";

    #[test]
    fn v4_rows_follow_the_header() {
        let dir = std::env::temp_dir().join(format!("krs-bench-leases-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("l4.csv");
        write_lease_file(&p, Family::V4, H4, 3, 1000).unwrap();
        let text = fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], H4);
        assert_eq!(lines[1], "198.18.0.10,02:00:00:00:00:00,,86400,87400,1,0,0,,0,");
        assert_eq!(lines[3], "198.18.0.12,02:00:00:00:00:02,,86400,87400,1,0,0,,0,");
        let p6 = dir.join("l6.csv");
        write_lease_file(&p6, Family::V6, H6, 2, 0).unwrap();
        let t6 = fs::read_to_string(&p6).unwrap();
        assert_eq!(
            t6.lines().nth(2).unwrap(),
            "2001:db8:1::2:0:1,00:03:00:01:02:00:00:00:00:01,86400,86400,1,86400,0,1,128,0,0,,,0,,1,0"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn v4_held_leases_stay_in_the_benchmarking_range_outside_the_pool() {
        assert_eq!(V4_HELD_MAX, 65_536 + 32_768 - 10);
        assert_eq!(held_count(Family::V4, 500_000), V4_HELD_MAX);
        assert_eq!(held_count(Family::V6, 500_000), 500_000);
        let last = value(Family::V4, "address", V4_HELD_MAX - 1, 0);
        assert_eq!(last, "198.19.127.255");
        assert!(write_lease_file(Path::new("/nonexistent/x"), Family::V4, "a,b", 1, 0).is_err());
    }
}
