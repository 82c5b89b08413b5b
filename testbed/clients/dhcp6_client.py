#!/usr/bin/python3
"""Minimal DHCPv6 client for driving a real Kea server in tests.

Performs SOLICIT -> ADVERTISE -> REQUEST -> REPLY with IA_NA (and IA_PD with
--pd) from a given interface, then the actions named by --then (renew, rebind,
decline, release, sleep:SECONDS), and prints one JSON line describing what it
got.  Standard library only; needs root (port 546, SO_BINDTODEVICE).  See
README.md beside this file.
"""

import argparse
import errno
import ipaddress
import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ beside the scripts
from dhcpcommon import (  # noqa: E402  (dhcpcommon.py is beside this script)
    Client, actions_type, add_retry_arguments, address_type, die, hex_type, hexcolon,
    iface_mac, new_parser, option_type, parse_args, parse_hex, run_client, udp_socket)

CLIENT_PORT = 546
SERVER_PORT = 547
ALL_SERVERS = "ff02::1:2"
ACTIONS = ("renew", "rebind", "decline", "release")  # for --then, besides sleep:SECONDS

SOLICIT, ADVERTISE, REQUEST, CONFIRM, RENEW, REBIND, REPLY, RELEASE, DECLINE = range(1, 10)
RELAY_FORW, RELAY_REPL = 12, 13
RELAY_HEADER = 34  # msg-type, hop-count, link-address, peer-address
MSG_NAMES = {
    1: "SOLICIT", 2: "ADVERTISE", 3: "REQUEST", 4: "CONFIRM", 5: "RENEW",
    6: "REBIND", 7: "REPLY", 8: "RELEASE", 9: "DECLINE", 10: "RECONFIGURE",
    11: "INFORMATION-REQUEST",
}

OPT_CLIENTID = 1
OPT_SERVERID = 2
OPT_IA_NA = 3
OPT_IAADDR = 5
OPT_ORO = 6
OPT_ELAPSED_TIME = 8
OPT_RELAY_MSG = 9
OPT_STATUS_CODE = 13
OPT_USER_CLASS = 15
OPT_VENDOR_CLASS = 16
OPT_DNS_SERVERS = 23
OPT_DOMAIN_LIST = 24
OPT_IA_PD = 25
OPT_IAPREFIX = 26
OPT_CLIENT_FQDN = 39

STATUS_NAMES = {
    0: "Success", 1: "UnspecFail", 2: "NoAddrsAvail", 3: "NoBinding",
    4: "NotOnLink", 5: "UseMulticast", 6: "NoPrefixAvail",
}

DUID_EPOCH = 946684800  # 2000-01-01T00:00:00Z, the DUID-LLT time origin


def link_local(iface, wait):
    """Return the interface's non-tentative fe80:: address, waiting for DAD."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with open("/proc/net/if_inet6") as f:
                for line in f:
                    addr, _idx, _plen, scope, flags, name = line.split()
                    if name != iface or int(scope, 16) != 0x20:
                        continue
                    if int(flags, 16) & 0x40:  # IFA_F_TENTATIVE
                        continue
                    return str(ipaddress.IPv6Address(bytes.fromhex(addr)))
        except OSError:
            pass
        if time.monotonic() >= deadline:
            die(f"interface {iface!r} has no usable link-local address "
                f"(down, or DAD not finished); give --source", 66)
        time.sleep(0.2)


def opt(code, value):
    return struct.pack("!HH", code, len(value)) + value


def parse_options(data):
    """Parse a DHCPv6 option buffer into a list of (code, bytes)."""
    out = []
    i = 0
    while i + 4 <= len(data):
        code, length = struct.unpack("!HH", data[i:i + 4])
        out.append((code, data[i + 4:i + 4 + length]))
        i += 4 + length
    return out


def first(options, code):
    for c, v in options:
        if c == code:
            return v
    return None


def status_of(options):
    """(code, message) of a Status Code option in `options`, or None."""
    v = first(options, OPT_STATUS_CODE)
    if v is None or len(v) < 2:
        return None
    return struct.unpack("!H", v[:2])[0], v[2:].decode(errors="replace")


def status_text(st):
    code, msg = st
    name = STATUS_NAMES.get(code, str(code))
    return f"{name}: {msg}" if msg else name


def encode_fqdn(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if not label or len(label) > 63:
            die(f"--fqdn: bad label in {name!r}", 64)
        out += bytes([len(label)]) + label.encode()
    # Fully qualified names end with the root label; a single label is partial.
    return out + (b"\0" if "." in name else b"")


class Dhcp6Client(Client):
    PROG = "dhcp6_client"

    def __init__(self, args):
        self.args = args
        self.iface = args.iface
        try:
            self.ifindex = socket.if_nametoindex(self.iface)
        except OSError:
            die(f"no interface {self.iface!r} in this network namespace", 66)
        self.mac = parse_hex(args.mac, "--mac") if args.mac else iface_mac(self.iface)
        if args.duid:
            self.duid = parse_hex(args.duid, "--duid")
        elif args.duid_llt:
            t = (int(time.time()) - DUID_EPOCH) & 0xFFFFFFFF
            self.duid = struct.pack("!HHI", 1, 1, t) + self.mac
        else:
            self.duid = struct.pack("!HH", 3, 1) + self.mac
        self.iaid = args.iaid if args.iaid is not None else \
            int.from_bytes(self.mac[-4:].rjust(4, b"\0"), "big")
        self.want_na = not args.no_na
        self.want_pd = args.pd
        if not (self.want_na or self.want_pd):
            die("--no-na without --pd asks for nothing", 64)
        self.source = args.source or link_local(self.iface, args.dad_wait)
        # Relay mode: the client's messages leave wrapped in RELAY-FORW, from port 547.
        self.relays = args.relay
        self.port = SERVER_PORT if self.relays else CLIENT_PORT
        self.timeout = args.timeout
        self.retries = args.retries
        self.server_duid = None
        self.na = []   # list of (address, preferred, valid)
        self.pd = []   # list of (prefix, plen, preferred, valid)
        self.t1_t2 = {}
        self.declined = []
        self.address = None
        self.prefix = None
        self.released = False
        self.replies = []
        self.statuses = []
        self.actions = []
        self.lock = self._take_lock(args.lock_wait)
        self.sock = self._open_socket()

    def _take_lock(self, wait):
        # Several sockets may bind [source]:546 with SO_REUSEADDR, but the
        # kernel hands each unicast REPLY to only one of them: concurrent
        # clients on one address would steal each other's replies.  Serialize
        # them with a lock per (network namespace, source address): an
        # abstract unix socket name, which belongs to the network namespace
        # and is released when this process ends, leaving no file behind.
        name = f"\0kea-runscript-dhcp6-client {self.source} {self.iface}"
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        deadline = time.monotonic() + wait
        while True:
            try:
                lock.bind(name)
                return lock
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    die(f"lock {name[1:]!r}: {e}", 71)
                if time.monotonic() >= deadline:
                    die(f"another dhcp6_client holds [{self.source}]:{self.port} on "
                        f"{self.iface} for more than {wait:g} s", 75)
                time.sleep(0.05)

    def _open_socket(self):
        s = udp_socket(socket.AF_INET6, self.iface, "needs root")
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        scope = self.ifindex if ipaddress.IPv6Address(self.source).is_link_local else 0
        try:
            s.bind((self.source, self.port, 0, scope))
        except OSError as e:
            die(f"bind [{self.source}]:{self.port} on {self.iface}: {e}", 71)
        return s

    # -- building -----------------------------------------------------------

    def ia_na(self, with_addrs):
        sub = b""
        if with_addrs:
            for addr, _pref, _valid in self.na:
                sub += opt(OPT_IAADDR, socket.inet_pton(socket.AF_INET6, addr)
                           + struct.pack("!II", 0, 0))
        return opt(OPT_IA_NA, struct.pack("!III", self.iaid, 0, 0) + sub)

    def ia_pd(self, with_prefixes):
        sub = b""
        if with_prefixes:
            for prefix, plen, _pref, _valid in self.pd:
                sub += opt(OPT_IAPREFIX, struct.pack("!IIB", 0, 0, plen)
                           + socket.inet_pton(socket.AF_INET6, prefix))
        return opt(OPT_IA_PD, struct.pack("!III", self.iaid, 0, 0) + sub)

    def build(self, msg_type, xid, elapsed_cs, server_id=False, na=None, pd=None):
        body = opt(OPT_CLIENTID, self.duid)
        if server_id:
            body += opt(OPT_SERVERID, self.server_duid)
        body += opt(OPT_ELAPSED_TIME, struct.pack("!H", min(elapsed_cs, 0xFFFF)))
        if msg_type in (SOLICIT, REQUEST, RENEW, REBIND):
            body += opt(OPT_ORO, struct.pack("!HH", OPT_DNS_SERVERS, OPT_DOMAIN_LIST))
            if self.args.fqdn:
                body += opt(OPT_CLIENT_FQDN, bytes([self.args.fqdn_flags])
                            + encode_fqdn(self.args.fqdn))
            if self.args.vendor_class:
                data = self.args.vendor_class.encode()
                body += opt(OPT_VENDOR_CLASS, struct.pack("!IH", self.args.enterprise, len(data))
                            + data)
            if self.args.user_class:
                body += opt(OPT_USER_CLASS, self.args.user_class)
            for code, value in self.args.option:
                body += opt(code, value)
        if na is not None:
            body += self.ia_na(na)
        if pd is not None:
            body += self.ia_pd(pd)
        return struct.pack("!I", (msg_type << 24) | xid) + body

    def wrap(self, msg):
        """Encapsulate `msg` in one RELAY-FORW per --relay, the first one given innermost:
        hop-count 0, 1, ...; peer-address the client's source address for the first, the
        previous relay's link-address for the others, unless given."""
        prev = self.source
        for hops, (link, peer, options) in enumerate(self.relays):
            head = struct.pack("!BB", RELAY_FORW, hops) \
                + socket.inet_pton(socket.AF_INET6, link) \
                + socket.inet_pton(socket.AF_INET6, peer or prev)
            msg = head + b"".join(opt(c, v) for c, v in options) + opt(OPT_RELAY_MSG, msg)
            prev = link
        return msg

    def unwrap(self, data):
        """The client message inside as many RELAY-REPL as --relay was given (None when the
        datagram is not that)."""
        for _ in self.relays:
            if len(data) < RELAY_HEADER or data[0] != RELAY_REPL:
                return None
            data = first(parse_options(data[RELAY_HEADER:]), OPT_RELAY_MSG)
            if data is None:
                return None
        return data

    # -- exchange -----------------------------------------------------------

    def exchange(self, msg_type, expect, **kw):
        name = MSG_NAMES[msg_type]
        xid = random.getrandbits(24)
        start = time.monotonic()
        dest = (ALL_SERVERS, SERVER_PORT, 0, self.ifindex)

        def send(attempt):
            # Retransmissions keep the xid and update Elapsed Time.
            elapsed = 0 if attempt == 1 else int((time.monotonic() - start) * 100)
            pkt = self.wrap(self.build(msg_type, xid, elapsed, **kw))
            try:
                self.sock.sendto(pkt, dest)
            except OSError as e:
                die(f"send {name} to [{ALL_SERVERS}%{self.iface}]:{SERVER_PORT}: {e}", 71)

        def match(data, _sent):
            data = self.unwrap(data)
            if data is None or len(data) < 4:
                return None
            head = struct.unpack("!I", data[:4])[0]
            rtype, rxid = head >> 24, head & 0xFFFFFF
            if rxid != xid or rtype not in expect:
                return None
            options = parse_options(data[4:])
            cid = first(options, OPT_CLIENTID)
            if cid is not None and cid != self.duid:
                return None
            self.replies.append(MSG_NAMES.get(rtype, str(rtype)))
            return rtype, options

        return self.transact(name, send, match, 65535)

    def check_reply(self, name, options, update):
        """Collect status codes of a reply; update bindings when `update`.

        Returns a list of error strings (non-Success status codes)."""
        errors = []
        notes = []
        top = status_of(options)
        if top is not None:
            notes.append("top: " + status_text(top))
            if top[0] != 0:
                errors.append(f"{name}: " + status_text(top))
        na, pd = [], []
        for code, value in options:
            if code not in (OPT_IA_NA, OPT_IA_PD) or len(value) < 12:
                continue
            iaid, t1, t2 = struct.unpack("!III", value[:12])
            sub = parse_options(value[12:])
            kind = "IA_NA" if code == OPT_IA_NA else "IA_PD"
            st = status_of(sub)
            if st is not None:
                notes.append(f"{kind}: " + status_text(st))
                if st[0] != 0:
                    errors.append(f"{name} {kind} iaid {iaid}: " + status_text(st))
            if iaid != self.iaid:
                continue
            self.t1_t2[kind] = (t1, t2)
            for scode, sval in sub:
                if code == OPT_IA_NA and scode == OPT_IAADDR and len(sval) >= 24:
                    addr = str(ipaddress.IPv6Address(sval[:16]))
                    pref, valid = struct.unpack("!II", sval[16:24])
                    ast = status_of(parse_options(sval[24:]))
                    if ast is not None and ast[0] != 0:
                        errors.append(f"{name} IAADDR {addr}: " + status_text(ast))
                    if valid:
                        na.append((addr, pref, valid))
                elif code == OPT_IA_PD and scode == OPT_IAPREFIX and len(sval) >= 25:
                    pref, valid, plen = struct.unpack("!IIB", sval[:9])
                    prefix = str(ipaddress.IPv6Address(sval[9:25]))
                    ast = status_of(parse_options(sval[25:]))
                    if ast is not None and ast[0] != 0:
                        errors.append(f"{name} IAPREFIX {prefix}/{plen}: " + status_text(ast))
                    if valid:
                        pd.append((prefix, plen, pref, valid))
        if update:
            if self.want_na and not self.declined:
                self.na = na
                if na:
                    self.address = na[0][0]
            if self.want_pd:
                self.pd = pd
                if pd:
                    self.prefix = f"{pd[0][0]}/{pd[0][1]}"
        self.statuses.append(notes)
        return errors

    def sarr(self):
        na = False if self.want_na else None
        pd = False if self.want_pd else None
        _t, adv = self.exchange(SOLICIT, (ADVERTISE,), na=na, pd=pd)
        self.server_duid = first(adv, OPT_SERVERID)
        if not self.server_duid:
            die("ADVERTISE without a server identifier", 3)
        self._check_assigned("ADVERTISE", adv, "ADVERTISE offered no address in IA_NA",
                             "ADVERTISE offered no prefix in IA_PD")
        _t, rep = self.exchange(REQUEST, (REPLY,), server_id=True,
                                na=True if self.want_na else None,
                                pd=True if self.want_pd else None)
        self._check_assigned("REPLY to REQUEST", rep, "REPLY to REQUEST assigned no address",
                             "REPLY to REQUEST delegated no prefix")

    def _check_assigned(self, name, options, no_address, no_prefix):
        """Take the bindings of an ADVERTISE or of the REPLY to REQUEST; exit 3
        on a non-Success status or when what was asked for is missing."""
        errors = self.check_reply(name, options, update=True)
        if errors:
            die("; ".join(errors), 3)
        if self.want_na and not self.na:
            die(no_address, 3)
        if self.want_pd and not self.pd:
            die(no_prefix, 3)

    def _simple(self, msg_type, server_id, na, pd, update):
        name = MSG_NAMES[msg_type]
        _t, rep = self.exchange(msg_type, (REPLY,), server_id=server_id,
                                na=True if na else None, pd=True if pd else None)
        errors = self.check_reply(f"REPLY to {name}", rep, update=update)
        if errors and not self.args.ignore_status:
            die("; ".join(errors), 3)

    def _held(self, what):
        if self.released:
            die(f"{what}: the bindings were released", 64)
        na = self.want_na and not self.declined
        if not (na or self.want_pd):
            die(f"{what}: nothing left to {what} (the address was declined)", 64)
        return na

    def do_renew(self):
        na = self._held("renew")
        self._simple(RENEW, True, na, self.want_pd, update=True)

    def do_rebind(self):
        na = self._held("rebind")
        self._simple(REBIND, False, na, self.want_pd, update=True)

    def do_decline(self):
        if not self.na:
            die("decline: no IA_NA address to decline (DECLINE applies to IA_NA only; "
                "or it was already declined or released)", 64)
        self._simple(DECLINE, True, True, False, update=False)
        # A declined address is no longer the client's: later actions
        # (renew, rebind, release) carry only what is left.
        self.declined += [a for a, _p, _v in self.na]
        self.na = []

    def do_release(self):
        if not (self.na or self.pd):
            die("release: nothing left to release", 64)
        self._simple(RELEASE, True, bool(self.na), bool(self.pd), update=False)
        self.released = True
        self.na, self.pd = [], []

    def run(self):
        self.sarr()
        self.run_actions()
        return {
            "duid": hexcolon(self.duid),
            "address": self.address,
            "prefix": self.prefix,
            "iaid": self.iaid,
            "declined": self.declined,
            "released": self.released,
            "server_duid": hexcolon(self.server_duid),
            "source": self.source,
            "relays": len(self.relays),
            "replies": self.replies,
            "statuses": self.statuses,
            "actions": self.actions,
        }


ipv6 = address_type(6)


def relay_type(text):
    """--relay LINK[,peer=ADDR][,CODE:HEX]... → (link, peer or None, [(code, bytes)])."""
    items = text.split(",")
    try:
        link = ipv6(items[0])
        peer = None
        options = []
        for item in items[1:]:
            if item.startswith("peer="):
                peer = ipv6(item[5:])
            else:
                options.append(option_type(0xFFFF)(item))
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"--relay {text!r}: {e}")
    return link, peer, options


def main(argv=None):
    p = new_parser("DHCPv6 client: SOLICIT/ADVERTISE/REQUEST/REPLY with IA_NA "
                   "(and IA_PD), then renew/rebind/decline/release.")
    p.add_argument("--mac", help="MAC for the default DUID (hex); default: the interface's")
    p.add_argument("--duid", help="client DUID, hex (e.g. 00:01:00:01:...); default "
                   "DUID-LL (00:03:00:01:MAC)")
    p.add_argument("--duid-llt", action="store_true",
                   help="default DUID is DUID-LLT (type 1, current time) instead of DUID-LL")
    p.add_argument("--iaid", type=int, help="IAID of IA_NA and IA_PD (default: the "
                   "last 4 bytes of the MAC)")
    p.add_argument("--pd", action="store_true", help="also ask for a prefix (IA_PD)")
    p.add_argument("--no-na", action="store_true", help="do not ask for an address "
                   "(with --pd: prefix only)")
    p.add_argument("--then", type=actions_type(ACTIONS), default=[],
                   help="comma-separated actions after the REPLY: renew, rebind, "
                   "decline, release, sleep:SECONDS (e.g. 'renew,rebind,decline')")
    p.add_argument("--source", type=ipv6, help="source address to bind (default: the "
                   "interface's link-local address)")
    p.add_argument("--fqdn", help="send Client FQDN option 39 with this name (S flag set)")
    p.add_argument("--fqdn-flags", type=int, default=1, metavar="N",
                   help="flags byte of --fqdn (default 1: S)")
    p.add_argument("--user-class", type=hex_type,
                   help="send User Class option 15 with this payload (hex)")
    p.add_argument("--option", type=option_type(0xFFFF), action="append", default=[],
                   metavar="CODE:HEX",
                   help="send option CODE (decimal) with these bytes (hex) in SOLICIT, "
                   "REQUEST, RENEW and REBIND (repeatable)")
    p.add_argument("--relay", type=relay_type, action="append", default=[],
                   metavar="LINK[,peer=ADDR][,CODE:HEX]...",
                   help="act as a relay agent too: wrap each message in a RELAY-FORW with "
                   "this link-address and these relay options, sent from port 547; "
                   "repeat for nested relays, the first given next to the client")
    p.add_argument("--vendor-class", help="send Vendor Class option 16 with this data")
    p.add_argument("--enterprise", type=int, default=4491,
                   help="enterprise number for --vendor-class (default 4491)")
    add_retry_arguments(p)
    p.add_argument("--dad-wait", type=float, default=5.0,
                   help="seconds to wait for a usable link-local address (default 5)")
    p.add_argument("--lock-wait", type=float, default=120.0,
                   help="seconds to wait for another dhcp6_client using the same "
                   "source address in this namespace to finish (default 120)")
    p.add_argument("--ignore-status", action="store_true",
                   help="do not fail when a REPLY to renew/rebind/decline/release "
                   "carries a non-Success status code")
    args = parse_args(p, argv)
    if args.iaid is not None and not 0 <= args.iaid <= 0xFFFFFFFF:
        p.error("--iaid must fit in 32 bits")
    if not 0 <= args.fqdn_flags <= 255:
        p.error("--fqdn-flags must fit in a byte")
    # Reject impossible sequences before sending anything.
    na, pd, released = not args.no_na, args.pd, False
    for action in args.then:
        if action.startswith("sleep:"):
            continue
        if released:
            p.error(f"--then: {action} after release (nothing is held any more)")
        if action == "decline":
            if not na:
                p.error("--then: decline needs an IA_NA address (not with --no-na, "
                        "not twice)")
            na = False
        elif action == "release":
            released = True
        if not (na or pd):
            if action in ("renew", "rebind") or (action == "release" and not pd):
                p.error(f"--then: {action} after decline without --pd (nothing left)")
    return run_client(Dhcp6Client, args, CLIENT_PORT)


if __name__ == "__main__":
    sys.exit(main())
