//! Kea's text forms of addresses and identifiers, written by the library from their bytes: the
//! same text as Kea's `toText()` (which goes through a `std::stringstream` or `inet_ntop` and
//! `sprintf` per value, and was a fifth of Kea's thread in a worker's profile, docs/benchmark.md).

/// `IOAddress::toText()`: boost's `to_string`, i.e. glibc's `inet_ntop` (4 or 16 bytes; anything
/// else writes nothing). Kea builds the addresses of packets and leases from bytes, so they carry
/// no scope (`%eth0`), which is the one thing boost adds.
pub fn push_address(out: &mut Vec<u8>, bytes: &[u8]) {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        push_ipv4(out, v4);
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        push_ipv6(out, &v6);
    }
}

fn push_ipv4(out: &mut Vec<u8>, bytes: [u8; 4]) {
    let mut digits = itoa::Buffer::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(digits.format(*b).as_bytes());
    }
}

/// glibc's `inet_ntop6` (resolv/inet_ntop.c), step for step: the first longest run of two or
/// more zero words becomes `::`; `::a.b.c.d` and `::ffff:a.b.c.d` keep the IPv4 form.
fn push_ipv6(out: &mut Vec<u8>, bytes: &[u8; 16]) {
    let words: [u16; 8] = std::array::from_fn(|i| u16::from_be_bytes([bytes[2 * i], bytes[2 * i + 1]]));
    // (base, len) of the first longest zero run; the end of the words closes the last one.
    let (mut best, mut run) = (None::<(usize, usize)>, None::<(usize, usize)>);
    for i in 0..=8 {
        if words.get(i) == Some(&0) {
            run = Some(run.map_or((i, 1), |(b, l)| (b, l + 1)));
        } else if let Some(r) = run.take() {
            if best.is_none_or(|b| r.1 > b.1) {
                best = Some(r);
            }
        }
    }
    let best = best.filter(|b| b.1 >= 2);
    for i in 0..8 {
        if let Some((base, len)) = best {
            if (base..base + len).contains(&i) {
                if i == base {
                    out.push(b':');
                }
                continue;
            }
        }
        if i != 0 {
            out.push(b':');
        }
        if i == 6 && best.is_some_and(|(base, len)| base == 0 && (len == 6 || (len == 5 && words[5] == 0xffff))) {
            push_ipv4(out, [bytes[12], bytes[13], bytes[14], bytes[15]]);
            return;
        }
        push_hex_number(out, u32::from(words[i]));
    }
    if best.is_some_and(|(base, len)| base + len == 8) {
        out.push(b':');
    }
}

/// `%x` (`std::hex`): lower-case, no leading zeros.
fn push_hex_number(out: &mut Vec<u8>, n: u32) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in (0..8).rev().map(|i| 4 * i) {
        let d = (n >> shift) & 15;
        if d != 0 || started || shift == 0 {
            out.push(DIGITS[d as usize]);
            started = true;
        }
    }
}

/// `Pkt6::makeLabel(duid, transid, null)`: `duid=[…]`, on Kea 2.6 and later `, [no hwaddr
/// info]`, then `, tid=0x` and the transaction id in lower-case hex.
pub fn push_label6(out: &mut Vec<u8>, duid: Option<&[u8]>, transid: u32, hwaddr_info: bool) {
    out.extend_from_slice(b"duid=[");
    match duid {
        Some(bytes) => push_colon_hex(out, bytes),
        None => out.extend_from_slice(b"no info"),
    }
    out.push(b']');
    if hwaddr_info {
        out.extend_from_slice(b", [no hwaddr info]");
    }
    out.extend_from_slice(b", tid=0x");
    push_hex_number(out, transid);
}

/// `HWAddr::toText(false)`, `DUID::toText()`, `ClientId::toText()`: two lower-case hex digits
/// per byte, separated by colons.
pub fn push_colon_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        out.extend_from_slice(&[DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" {
        // glibc's; the libc crate does not declare it.
        fn inet_ntop(af: libc::c_int, src: *const libc::c_void, dst: *mut libc::c_char, size: libc::socklen_t) -> *const libc::c_char;
    }

    /// glibc's own text for an IPv6 address.
    fn libc_ntop6(bytes: &[u8; 16]) -> String {
        let mut buf = [0 as libc::c_char; 64];
        // SAFETY: 16 bytes in, a buffer of 64 (INET6_ADDRSTRLEN is 46) out.
        let p = unsafe { inet_ntop(libc::AF_INET6, bytes.as_ptr().cast(), buf.as_mut_ptr(), 64) };
        assert!(!p.is_null());
        // SAFETY: inet_ntop wrote a NUL-terminated string into `buf`.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_string()
    }

    fn ours(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        push_address(&mut out, bytes);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ipv4_is_dotted_decimal() {
        assert_eq!(ours(&[192, 0, 2, 1]), "192.0.2.1");
        assert_eq!(ours(&[0, 0, 0, 0]), "0.0.0.0");
        assert_eq!(ours(&[255, 255, 255, 255]), "255.255.255.255");
        assert_eq!(ours(&[1, 2, 3]), "");
    }

    /// Every address whose eight words are each 0, 1, 0xffff or 0x2001 (65,536 of them: every
    /// shape of zero runs, the IPv4 forms among them), then random ones, as glibc writes them.
    #[test]
    fn ipv6_is_what_inet_ntop_writes() {
        let pick = [0u16, 1, 0xffff, 0x2001];
        for n in 0u32..(1 << 16) {
            let mut bytes = [0u8; 16];
            for i in 0..8 {
                let w = pick[((n >> (2 * i)) & 3) as usize];
                bytes[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
            }
            assert_eq!(ours(&bytes), libc_ntop6(&bytes), "{bytes:?}");
        }
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            let mut bytes = [0u8; 16];
            for b in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Mostly zero bytes, so that zero runs of every length come up.
                *b = if state % 3 == 0 { (state >> 8) as u8 } else { 0 };
            }
            assert_eq!(ours(&bytes), libc_ntop6(&bytes), "{bytes:?}");
        }
    }

    #[test]
    fn label6_is_kea_s() {
        let mut out = Vec::new();
        push_label6(&mut out, Some(&[0, 1, 0xab]), 0x12ab, false);
        assert_eq!(out, b"duid=[00:01:ab], tid=0x12ab");
        out.clear();
        push_label6(&mut out, None, 0, true);
        assert_eq!(out, b"duid=[no info], [no hwaddr info], tid=0x0");
    }

    #[test]
    fn colon_hex_is_kea_s() {
        let mut out = Vec::new();
        push_colon_hex(&mut out, &[0x02, 0x00, 0xab, 0x0f]);
        assert_eq!(out, b"02:00:ab:0f");
        out.clear();
        push_colon_hex(&mut out, &[]);
        assert_eq!(out, b"");
    }
}
