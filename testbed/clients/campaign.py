"""Hostile-packet campaign: malformed and adversarial DHCPv4 or DHCPv6 packets, in bulk.

campaign.py --family 4|6 --iface IFACE --packets N [--seed S] [--first K] [--rate PPS]

Sends N packets from IFACE (run it in the client's network namespace) to the DHCP server on
the link: first one real exchange (DORA, or SOLICIT/ADVERTISE/REQUEST/REPLY), whose packets are
recorded, then packets K to K+N-1 of the campaign of seed S.  Packet i is built by its own
generator seeded with "S:i", so any packet is reproduced alone with `--first i --packets 1`
(the recorded exchange it may mutate comes from the same server: the client's side is built
from the seed).  Prints the seed on stderr at the start, a progress line there every 10,000
packets, and one JSON line on stdout at the end: the seed, packets sent, by kind.  Exit 0 when
every packet was sent; 2 when the real exchange got no answer; 71 on a socket error.

Needs python3-scapy (Debian's package) and root; see README.md beside this file.
"""

import argparse
import json
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True

import dhcpcommon  # noqa: E402
from dhcpcommon import die, iface_mac, udp_socket  # noqa: E402

import logging  # noqa: E402

logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.layers.dhcp import BOOTP, DHCP  # noqa: E402
from scapy.layers.dhcp6 import (  # noqa: E402
    DHCP6_Rebind,
    DHCP6_RelayForward,
    DHCP6_Release,
    DHCP6_Renew,
    DHCP6_Request,
    DHCP6_Solicit,
    DHCP6OptClientId,
    DHCP6OptElapsedTime,
    DHCP6OptIA_NA,
    DHCP6OptIA_PD,
    DHCP6OptIAAddress,
    DHCP6OptIAPrefix,
    DHCP6OptIfaceId,
    DHCP6OptOptReq,
    DHCP6OptRelayMsg,
    DHCP6OptRemoteID,
    DHCP6OptServerId,
    DUID_LL,
)
from scapy.packet import raw  # noqa: E402

# Hostile bytes for option payloads (shell syntax, controls, invalid UTF-8, NUL, newlines).
NASTY = b"$(x)`y`;|&<>'\"\\\n\r\t\0=\xff\xfe\xc3(\x1b[31m%s%n{}*?[]!~"

# -- shared -------------------------------------------------------------------


def rbytes(r, n):
    return r.randbytes(n)


def payload(r, n):
    """n bytes: random, hostile or printable."""
    k = r.randrange(3)
    if k == 0:
        return rbytes(r, n)
    if k == 1:
        return bytes(NASTY[(i + r.randrange(len(NASTY))) % len(NASTY)] for i in range(n))
    return bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz0123456789.-") for _ in range(n))


def mutate(r, data):
    """Seeded random mutations of recorded bytes: flips, overwrites, inserts, deletes, cuts,
    duplicated spans."""
    b = bytearray(data)
    for _ in range(1 + r.randrange(8)):
        if not b:
            b.extend(rbytes(r, 1 + r.randrange(16)))
            continue
        k = r.randrange(7)
        i = r.randrange(len(b))
        if k == 0:
            b[i] ^= 1 << r.randrange(8)
        elif k == 1:
            b[i] = r.choice((0, 1, 0x7F, 0x80, 0xFE, 0xFF, r.getrandbits(8)))
        elif k == 2:
            b[i:i] = rbytes(r, 1 + r.randrange(32))
        elif k == 3:
            del b[i:i + 1 + r.randrange(32)]
        elif k == 4:
            del b[i:]
        elif k == 5:
            j = r.randrange(i, len(b))
            b[j:j] = b[i:j + 1]
        else:
            b[i:i + 2] = struct.pack("!H", r.choice((0, 1, 0xFF, 0x100, 0xFFFF)))
    return bytes(b[:1400])


# -- DHCPv4 ---------------------------------------------------------------------


def opt4(code, data):
    return bytes((code, len(data) & 0xFF)) + data


class Side:
    """What both families' sides share: asking for an answer, draining what came meanwhile."""

    def ask(self, data, tid, want, timeout, tries):
        import select
        for _ in range(tries):
            self.send(data)
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([self.sock], [], [], left)[0]:
                    break
                got, _ = self.sock.recvfrom(4096)
                if self.is_answer(got, tid, want):
                    return got
        die(f"the real exchange got no answer (message type {want}) on {self.iface}", 2)

    def drain(self):
        try:
            while self.sock.recv(4096, socket.MSG_DONTWAIT):
                pass
        except BlockingIOError:
            pass


class V4(Side):
    SERVER_PORT, CLIENT_PORT = 67, 68

    def __init__(self, iface):
        self.iface = iface
        self.sock = udp_socket(socket.AF_INET, iface, "needs root")
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            self.sock.bind(("0.0.0.0", self.CLIENT_PORT))
        except OSError as e:
            die(f"bind 0.0.0.0:68 on {iface}: {e}", 71)
        self.mac = iface_mac(iface)
        self.recorded = []

    def send(self, data):
        self.sock.sendto(data, ("255.255.255.255", self.SERVER_PORT))

    def header(self, r, mac=None, htype=1, hlen=6, op=1, ciaddr="0.0.0.0", giaddr="0.0.0.0"):
        """The 236-byte BOOTP header, packed by hand: scapy's BOOTP() costs a millisecond a
        packet, the campaign's budget."""
        mac = mac if mac is not None else b"\x02" + rbytes(r, 5)
        return (struct.pack("!BBBBIHH", op, htype, hlen, 0, r.getrandbits(32), 0, 0x8000)
                + socket.inet_aton(ciaddr) + bytes(8) + socket.inet_aton(giaddr)
                + mac.ljust(16, b"\0")[:16] + bytes(192))

    def message(self, r, mtype, options=(), **kw):
        """A well-formed message with `options` (scapy's DHCP option tuples or raw bytes)."""
        return self.header(r, **kw) + b"\x63\x82\x53\x63" + raw(DHCP(options=[("message-type", mtype)] + list(options) + ["end"]))

    def raw_options(self, r, body, mtype=1, end=True, **kw):
        """A BOOTP header, the magic cookie, option 53 and the raw option bytes `body`."""
        head = self.header(r, **kw)
        return head + b"\x63\x82\x53\x63" + opt4(53, bytes((mtype,))) + body + (b"\xff" if end else b"")

    def exchange(self, r, timeout=5.0, tries=5):
        """A real DORA; records the client's and the server's packets."""
        xid = r.getrandbits(32)
        mac = self.mac
        disc = raw(BOOTP(xid=xid, flags=0x8000, chaddr=mac.ljust(16, b"\0"))
                   / DHCP(options=[("message-type", "discover"), ("hostname", b"campaign"),
                                   ("param_req_list", [1, 3, 6, 15, 51, 54]), "end"]))
        offer = self.ask(disc, xid, 2, timeout, tries)
        o = BOOTP(offer)
        server_id = dict((x[0], x[1]) for x in o[DHCP].options if isinstance(x, tuple)).get("server_id")
        req = raw(BOOTP(xid=xid, flags=0x8000, chaddr=mac.ljust(16, b"\0"))
                  / DHCP(options=[("message-type", "request"), ("server_id", server_id),
                                  ("requested_addr", o.yiaddr), ("hostname", b"campaign"),
                                  ("client_id", b"\x01" + mac), "end"]))
        ack = self.ask(req, xid, 5, timeout, tries)
        rel = raw(BOOTP(xid=xid, ciaddr=o.yiaddr, chaddr=mac.ljust(16, b"\0"))
                  / DHCP(options=[("message-type", "release"), ("server_id", server_id), "end"]))
        dec = raw(BOOTP(xid=xid, chaddr=mac.ljust(16, b"\0"))
                  / DHCP(options=[("message-type", "decline"), ("server_id", server_id),
                                  ("requested_addr", o.yiaddr), "end"]))
        inform = raw(BOOTP(xid=xid, ciaddr=o.yiaddr, chaddr=mac.ljust(16, b"\0"))
                     / DHCP(options=[("message-type", "inform"), "end"]))
        self.recorded = [disc, offer, req, ack, rel, dec, inform]
        return o.yiaddr

    @staticmethod
    def is_answer(got, xid, want):
        if len(got) <= 240 or struct.unpack("!I", got[4:8])[0] != xid:
            return False
        p = BOOTP(got)
        return DHCP in p and ("message-type", want) in p[DHCP].options

    # The kinds: each builds one packet from its own generator `r`.

    def k_truncated(self, r):
        base = r.choice(self.recorded) if self.recorded else self.message(r, "discover")
        return base[:r.randrange(len(base))]

    def k_overlong_option(self, r):
        code = r.choice((12, 60, 61, 77, 81, 82, 55, 50, 54, 43, 125, 124, 120, 119, r.randrange(1, 255)))
        data = payload(r, r.randrange(0, 40))
        claimed = r.choice((len(data) + 1, len(data) + 50, 255))
        return self.raw_options(r, bytes((code, claimed)) + data, mtype=r.choice((1, 3)), end=False)

    def k_option82(self, r):
        subs = []
        for _ in range(r.choice((0, 1, 2, 5, 40))):
            sc = r.choice((1, 2, 5, 6, 9, 11, 12, 151, 152, r.randrange(256)))
            kind = r.randrange(6)
            if kind == 0:
                subs.append(bytes((sc, 0)))                      # empty sub-option
            elif kind == 1:
                d = payload(r, r.randrange(1, 20))
                subs.append(bytes((sc, len(d) + r.randrange(1, 100))) + d)   # broken length
            elif kind == 2:
                d = payload(r, r.randrange(1, 16))
                subs.extend([bytes((sc, len(d))) + d] * r.randrange(2, 6))    # repeated
            elif kind == 3:
                subs.append(bytes((sc,)))                        # no length byte
            elif kind == 4 and sc == 5:
                subs.append(bytes((5, r.choice((3, 4, 5)))) + rbytes(r, 4))  # link selection, odd size
            else:
                d = payload(r, r.randrange(1, 120))
                subs.append(bytes((sc, len(d))) + d)
        body = b"".join(subs)
        form = r.randrange(4)
        if form == 0:
            opt = bytes((82, min(len(body), 255))) + body[:255]
        elif form == 1:
            opt = bytes((82, 255)) + (body + payload(r, 255))[:255]        # over-long: 255 bytes
        elif form == 2:
            opt = opt4(82, body[:255]) * r.randrange(2, 5)                # repeated option 82
        else:
            opt = bytes((82, 0))                                          # empty
        giaddr = r.choice(("0.0.0.0", "0.0.0.0", "198.51.100.1"))
        return self.raw_options(r, opt, mtype=r.choice((1, 3, 8)), giaddr=giaddr)

    def k_named_sizes(self, r):
        """Options 12, 60, 61, 77, 81 of 0 and 255 bytes (and in between)."""
        body = b""
        for code in r.sample((12, 60, 61, 77, 81), r.randrange(1, 6)):
            n = r.choice((0, 255, 1, 2, 3, 254, r.randrange(256)))
            body += bytes((code, n)) + payload(r, n)
        return self.raw_options(r, body, mtype=r.choice((1, 3, 1, 8)))

    def k_many_options(self, r):
        """Hundreds of options in one packet; sometimes with option overload (52)."""
        body = b""
        for _ in range(r.randrange(100, 400)):
            code = r.randrange(1, 255)
            if code == 53:
                continue
            n = r.choice((0, 0, 1, 2))
            body += bytes((code, n)) + payload(r, n)
        if r.randrange(3) == 0:
            body = opt4(52, bytes((r.choice((1, 2, 3, 0, 255)),))) + body
        return self.raw_options(r, body[:1200], mtype=r.choice((1, 3)))

    def k_hardware(self, r):
        """Hardware types and lengths Kea does not expect."""
        hlen = r.choice((0, 16, 255, 17, 1, 20, 6))
        htype = r.choice((1, 0, 6, 32, 255, r.randrange(256)))
        mac = rbytes(r, 16)
        return self.message(r, r.choice(("discover", "request", "release", "decline", "inform")),
                            [("client_id", b"\x00" + rbytes(r, r.randrange(0, 20)))] if r.randrange(2) else [],
                            mac=mac, htype=htype, hlen=hlen)

    def k_message_type(self, r):
        """Option 53 missing, empty, unknown, repeated; BOOTREPLY from a client; no magic cookie."""
        k = r.randrange(6)
        if k == 0:
            return self.header(r) + b"\x63\x82\x53\x63" + opt4(12, b"x") + b"\xff"
        if k == 1:
            return self.header(r) + b"\x63\x82\x53\x63" + bytes((53, 0)) + b"\xff"
        if k == 2:
            return self.raw_options(r, b"", mtype=r.choice((0, 9, 10, 18, 255, r.randrange(256))))
        if k == 3:
            return self.raw_options(r, opt4(53, bytes((r.randrange(1, 9),))) * 3)
        if k == 4:
            return self.raw_options(r, b"", mtype=r.choice((1, 3)), op=r.choice((2, 0, 255)))
        return self.header(r) + rbytes(r, 4) + opt4(53, b"\x01") + b"\xff"

    def k_no_end(self, r):
        """Options running to the end of the packet, pads only, or data after `end`."""
        k = r.randrange(3)
        if k == 0:
            return self.raw_options(r, opt4(12, payload(r, 10)), end=False)
        if k == 1:
            return self.raw_options(r, b"\x00" * r.randrange(1, 300))
        return self.raw_options(r, b"") + rbytes(r, r.randrange(1, 200))

    def k_mutated(self, r):
        return mutate(r, r.choice(self.recorded))

    def k_mutated_options(self, r):
        """A recorded client packet with its options region mutated (header kept)."""
        base = r.choice([p for i, p in enumerate(self.recorded) if i not in (1, 3)])
        return base[:240] + mutate(r, base[240:])

    KINDS = ("truncated", "overlong_option", "option82", "named_sizes", "many_options",
             "hardware", "message_type", "no_end", "mutated", "mutated", "mutated_options",
             "mutated_options")


# -- DHCPv6 ---------------------------------------------------------------------


def opt6(code, data):
    return struct.pack("!HH", code, len(data) & 0xFFFF) + data


class V6(Side):
    SERVER_PORT, CLIENT_PORT = 547, 546

    def __init__(self, iface):
        self.iface = iface
        self.ifindex = socket.if_nametoindex(iface)
        self.source = self.link_local(iface)
        s = udp_socket(socket.AF_INET6, iface, "needs root")
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        try:
            s.bind((self.source, self.CLIENT_PORT, 0, self.ifindex))
        except OSError as e:
            die(f"bind [{self.source}]:546 on {iface}: {e}", 71)
        self.sock = s
        self.mac = iface_mac(iface)
        self.recorded = []

    @staticmethod
    def link_local(iface):
        with open("/proc/net/if_inet6") as f:
            for line in f:
                a, _idx, _plen, scope, _flags, name = line.split()
                if name == iface and scope == "20":
                    return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(a))
        die(f"no link-local address on {iface}", 66)

    def send(self, data):
        self.sock.sendto(data, ("ff02::1:2", self.SERVER_PORT, 0, self.ifindex))

    def duid(self, r):
        return raw(DUID_LL(lladdr=":".join(f"{b:02x}" for b in b"\x02" + rbytes(r, 5))))

    def exchange(self, r, timeout=5.0, tries=5):
        """A real SOLICIT/ADVERTISE/REQUEST/REPLY with IA_NA and IA_PD; records the packets."""
        trid = r.getrandbits(24)
        cid = DHCP6OptClientId(duid=DUID_LL(lladdr=":".join(f"{b:02x}" for b in self.mac)))
        ias = DHCP6OptIA_NA(iaid=1) / DHCP6OptIA_PD(iaid=2)
        sol = raw(DHCP6_Solicit(trid=trid) / cid / DHCP6OptElapsedTime() / DHCP6OptOptReq() / ias)
        adv = self.ask(sol, trid, 2, timeout, tries)
        sid = self.find(adv[4:], 2)
        addr = self.find(self.find(adv[4:], 3)[12:], 5)[:16]
        req = raw(DHCP6_Request(trid=trid) / cid / DHCP6OptServerId() / DHCP6OptElapsedTime()
                  / DHCP6OptIA_NA(iaid=1, ianaopts=[DHCP6OptIAAddress(addr=socket.inet_ntop(socket.AF_INET6, addr))])
                  / DHCP6OptIA_PD(iaid=2, iapdopt=[DHCP6OptIAPrefix(prefix="2001:db8:8000::", plen=56)]))
        # The server id as the server sent it (scapy's default DUID is not the server's).
        req = req[:4] + b"".join(o if struct.unpack("!H", o[:2])[0] != 2 else opt6(2, sid)
                                 for o in self.options(req[4:]))
        rep = self.ask(req, trid, 7, timeout, tries)
        renew = bytes((5,)) + req[1:]
        rebind = bytes((6,)) + req[1:]
        release = bytes((8,)) + req[1:]
        decline = bytes((9,)) + req[1:]
        relayed = raw(DHCP6_RelayForward(hopcount=0, linkaddr="::", peeraddr=self.source)
                      / DHCP6OptIfaceId(ifaceid=b"campaign") / DHCP6OptRemoteID(enterprisenum=9, remoteid=b"x")
                      / DHCP6OptRelayMsg(message=DHCP6_Solicit(sol)))
        self.recorded = [sol, adv, req, rep, renew, rebind, release, decline, relayed]
        return socket.inet_ntop(socket.AF_INET6, addr)

    @staticmethod
    def options(data):
        out, i = [], 0
        while i + 4 <= len(data):
            n = struct.unpack("!H", data[i + 2:i + 4])[0]
            out.append(data[i:i + 4 + n])
            i += 4 + n
        return out

    def find(self, data, code):
        for o in self.options(data):
            if struct.unpack("!H", o[:2])[0] == code:
                return o[4:]
        die(f"the server's answer has no option {code}", 2)

    @staticmethod
    def is_answer(got, trid, want):
        return len(got) >= 4 and got[0] == want and int.from_bytes(got[1:4], "big") == trid

    def client(self, r, mtype=None, body=b""):
        mtype = mtype if mtype is not None else r.choice((1, 3, 5, 6, 8, 9, 11))
        return bytes((mtype,)) + rbytes(r, 3) + opt6(1, self.duid(r)) + body

    def k_truncated(self, r):
        base = r.choice(self.recorded)
        return base[:r.randrange(len(base))]

    def k_overlong_option(self, r):
        code = r.choice((1, 2, 3, 25, 39, 15, 16, 17, 6, 8, 14, r.randrange(1, 200)))
        data = payload(r, r.randrange(0, 40))
        return self.client(r, body=struct.pack("!HH", code, (len(data) + r.choice((1, 100, 0xFFFF))) & 0xFFFF) + data)

    def relay_chain(self, r, depth, inner):
        msg = inner
        for level in range(depth):
            opts = b""
            if r.randrange(3) == 0:
                opts += opt6(18, payload(r, r.choice((0, 1, 8, 255))))        # interface-id
            if r.randrange(3) == 0:
                opts += opt6(37, rbytes(r, 4) + payload(r, r.choice((0, 1, 8, 200))))  # remote-id
            if r.randrange(4) == 0:
                opts += opt6(38, payload(r, r.choice((0, 1, 40))))            # subscriber-id
            relay_len = len(msg) + r.choice((0, 0, 0, 0, 1, -1, 1000))
            hop = r.choice((depth - 1 - level, level, 0, 31, 32, 255))
            link = rbytes(r, 16) if r.randrange(2) else b"\0" * 16
            peer = rbytes(r, 16)
            msg = bytes((12, hop & 0xFF)) + link + peer + opts + struct.pack("!HH", 9, relay_len & 0xFFFF) + msg
        return msg

    def k_relay_deep(self, r):
        """RELAY-FORW chains nested up to 32 deep (and past it), sometimes broken inside."""
        depth = r.choice((1, 2, 8, 31, 32, 32, 33, 40))
        inner = r.choice(self.recorded[:1] + self.recorded[2:3] + self.recorded[4:8])
        return self.relay_chain(r, depth, inner)[:1400]

    def k_repeated_ia(self, r):
        body = b""
        for _ in range(r.choice((2, 5, 50, 200))):
            code = r.choice((3, 3, 25, 4))
            iaid = r.choice((1, 2, r.getrandbits(32)))
            inner = b""
            if r.randrange(2):
                sub = 5 if code != 25 else 26
                inner = opt6(sub, rbytes(r, r.choice((24, 25, 10, 0))))
            head = struct.pack("!I", iaid) + (rbytes(r, 8) if code != 4 else b"")
            body += opt6(code, head + inner)
        return self.client(r, body=body[:1350])

    def k_named_sizes(self, r):
        """Client id, FQDN, vendor and user class, options of 0 and 255 bytes (and more)."""
        body = b""
        for code in r.sample((1, 39, 16, 15, 17, 14, 6, 8, 2), r.randrange(1, 6)):
            n = r.choice((0, 1, 2, 255, 256, 600, r.randrange(300)))
            body += opt6(code, payload(r, n))
        return bytes((r.choice((1, 3, 5, 6, 8, 9, 11)),)) + rbytes(r, 3) + body[:1350]

    def k_many_options(self, r):
        body = b""
        for _ in range(r.randrange(100, 300)):
            n = r.choice((0, 0, 1, 2))
            body += opt6(r.randrange(1, 150), payload(r, n))
        return self.client(r, body=body[:1350])

    def k_message_type(self, r):
        return self.client(r, mtype=r.choice((0, 2, 4, 7, 10, 12, 13, 14, 20, 35, 255, r.randrange(256))),
                           body=opt6(3, rbytes(r, 12)))

    def k_mutated(self, r):
        return mutate(r, r.choice(self.recorded))

    def k_mutated_relayed(self, r):
        inner = mutate(r, r.choice(self.recorded))
        return self.relay_chain(r, r.randrange(1, 5), inner)[:1400]

    KINDS = ("truncated", "overlong_option", "relay_deep", "relay_deep", "repeated_ia", "named_sizes",
             "many_options", "message_type", "mutated", "mutated", "mutated", "mutated_relayed")


def main(argv=None):
    p = dhcpcommon.new_parser("Hostile-packet campaign against the DHCP server on the link.")
    p.add_argument("--family", type=int, choices=(4, 6), required=True)
    p.add_argument("--packets", type=int, required=True, help="how many campaign packets")
    p.add_argument("--seed", type=int, default=None, help="default: from the clock (printed)")
    p.add_argument("--first", type=int, default=0, help="index of the first packet")
    p.add_argument("--rate", type=float, default=0, help="packets per second at most (0: no bound)")
    p.add_argument("--progress", type=int, default=10000, help="a progress line every N packets")
    p.add_argument("--skip-kea-4735", action="store_true",
                   help="do not send a DHCPv6 relay message of exactly its 34-byte header, which makes "
                        "Kea 3.0.0-3.0.4 built with _GLIBCXX_ASSERTIONS (Debian's) abort without any hook "
                        "(ISC's Kea issue #4735); counted as skipped-kea-4735")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % 2**32
    print(f"campaign: DHCPv{args.family} seed {seed}, packets {args.first}..{args.first + args.packets - 1}",
          file=sys.stderr, flush=True)
    try:
        side = (V4 if args.family == 4 else V6)(args.iface)
        lease = side.exchange(random.Random(f"{seed}:exchange"))
        print(f"campaign: real exchange recorded ({lease})", file=sys.stderr, flush=True)
        counts = {}
        start = time.monotonic()
        for i in range(args.first, args.first + args.packets):
            r = random.Random(f"{seed}:{i}")
            kind = r.choice(side.KINDS)
            data = getattr(side, "k_" + kind)(r)
            if args.skip_kea_4735 and args.family == 6 and len(data) == 34 and data[0] in (12, 13):
                counts["skipped-kea-4735"] = counts.get("skipped-kea-4735", 0) + 1
                continue
            if args.rate > 0:
                wait = start + (i - args.first) / args.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            try:
                side.send(data)
            except OSError as e:
                # An empty datagram, or one the kernel refuses (EMSGSIZE): counted, not sent.
                kind = f"{kind}-unsent-{e.errno}"
            counts[kind] = counts.get(kind, 0) + 1
            side.drain()
            done = i - args.first + 1
            if done % args.progress == 0:
                print(f"campaign: DHCPv{args.family} sent {done}/{args.packets} "
                      f"({done / (time.monotonic() - start):.0f}/s)", file=sys.stderr, flush=True)
    except dhcpcommon.ClientError as e:
        print(f"campaign: {e}", file=sys.stderr)
        return e.status
    sent = sum(n for k, n in counts.items() if "-unsent-" not in k and not k.startswith("skipped-"))
    print(json.dumps({"seed": seed, "family": args.family, "first": args.first, "packets": args.packets,
                      "sent": sent, "lease": lease, "kinds": dict(sorted(counts.items()))}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
