#!/usr/bin/python3
"""Minimal DHCPv4 client for driving a real Kea server in tests.

Performs DISCOVER -> OFFER -> REQUEST -> ACK from a given interface, then the
actions named by --then (decline, release, renew, sleep:SECONDS), and prints
one JSON line describing what it got.  Standard library only; needs root
(port 68, SO_BINDTODEVICE).  See README.md beside this file.
"""

import argparse
import random
import socket
import struct
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ beside the scripts
from dhcpcommon import (  # noqa: E402  (dhcpcommon.py is beside this script)
    Client, actions_type, add_retry_arguments, address_type, die, hex_type, hexcolon,
    iface_mac, new_parser, option_type, parse_args, parse_hex, run_client, udp_socket)

CLIENT_PORT = 68
SERVER_PORT = 67
MAGIC = b"\x63\x82\x53\x63"
FLAG_BROADCAST = 0x8000
ACTIONS = ("decline", "release", "renew")  # for --then, besides sleep:SECONDS

# Message types (option 53)
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = 1, 2, 3, 4, 5, 6, 7, 8
MSG_NAMES = {
    1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK",
    6: "NAK", 7: "RELEASE", 8: "INFORM",
}

# Option codes
OPT_PAD, OPT_END = 0, 255
OPT_HOSTNAME = 12
OPT_REQUESTED_IP = 50
OPT_LEASE_TIME = 51
OPT_MSG_TYPE = 53
OPT_SERVER_ID = 54
OPT_PRL = 55
OPT_MESSAGE = 56
OPT_VENDOR_CLASS = 60
OPT_CLIENT_ID = 61
OPT_USER_CLASS = 77

DEFAULT_PRL = (1, 3, 6, 15, 51, 54, 58, 59)

def opt(code, value):
    if len(value) > 255:
        die(f"option {code} too long ({len(value)} bytes)", 64)
    return bytes([code, len(value)]) + value


class Dhcp4Client(Client):
    PROG = "dhcp4_client"

    def __init__(self, args):
        self.args = args
        self.iface = args.iface
        self.mac = parse_hex(args.mac, "--mac") if args.mac else iface_mac(args.iface)
        if len(self.mac) > 16:
            die("--mac: at most 16 bytes", 64)
        self.client_id = parse_hex(args.client_id, "--client-id") if args.client_id else None
        self.timeout = args.timeout
        self.retries = args.retries
        self.replies = []
        self.actions = []
        self.address = None
        self.server_id = None
        self.lease_time = None
        self.sock = self._open_socket()

    def _open_socket(self):
        s = udp_socket(socket.AF_INET, self.iface, "needs root and an existing interface")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            s.bind(("0.0.0.0", CLIENT_PORT))
        except OSError as e:
            die(f"bind 0.0.0.0:{CLIENT_PORT}: {e}", 71)
        return s

    # -- packet building ----------------------------------------------------

    def build(self, msg_type, xid, ciaddr="0.0.0.0", requested=None, server_id=None,
              broadcast=True, prl=True):
        chaddr = self.mac.ljust(16, b"\0")
        hlen = len(self.mac)
        header = struct.pack(
            "!BBBBIHH4s4s4s4s16s64s128s",
            1,                      # op: BOOTREQUEST
            1,                      # htype: Ethernet
            hlen,
            0,                      # hops
            xid,
            0,                      # secs
            FLAG_BROADCAST if broadcast else 0,
            socket.inet_aton(ciaddr),
            b"\0" * 4,              # yiaddr
            b"\0" * 4,              # siaddr
            b"\0" * 4,              # giaddr
            chaddr,
            b"\0" * 64,
            b"\0" * 128,
        )
        opts = opt(OPT_MSG_TYPE, bytes([msg_type]))
        if self.client_id is not None:
            opts += opt(OPT_CLIENT_ID, self.client_id)
        if requested:
            opts += opt(OPT_REQUESTED_IP, socket.inet_aton(requested))
        if server_id:
            opts += opt(OPT_SERVER_ID, socket.inet_aton(server_id))
        if msg_type in (DISCOVER, REQUEST):
            if self.args.hostname:
                opts += opt(OPT_HOSTNAME, self.args.hostname.encode())
            if self.args.vendor_class:
                opts += opt(OPT_VENDOR_CLASS, self.args.vendor_class.encode())
            if prl:
                opts += opt(OPT_PRL, bytes(self.args.prl))
            if self.args.user_class:
                opts += opt(OPT_USER_CLASS, self.args.user_class)
            for code, value in self.args.option:
                opts += opt(code, value)
        pkt = header + MAGIC + opts + bytes([OPT_END])
        # Pad to the minimal BOOTP size some servers/relays expect.
        return pkt.ljust(300, b"\0")

    # -- packet parsing -----------------------------------------------------

    @staticmethod
    def parse(data):
        if len(data) < 240 or data[236:240] != MAGIC:
            return None
        (op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr,
         chaddr) = struct.unpack("!BBBBIHH4s4s4s4s16s", data[:44])
        options = {}
        i = 240
        while i < len(data):
            code = data[i]
            if code == OPT_PAD:
                i += 1
                continue
            if code == OPT_END:
                break
            if i + 1 >= len(data):
                break
            length = data[i + 1]
            value = data[i + 2:i + 2 + length]
            options[code] = options.get(code, b"") + value  # RFC 3396 concatenation
            i += 2 + length
        return {
            "op": op, "xid": xid, "flags": flags, "hlen": hlen,
            "chaddr": chaddr[:hlen] if hlen <= 16 else chaddr,
            "ciaddr": socket.inet_ntoa(ciaddr), "yiaddr": socket.inet_ntoa(yiaddr),
            "siaddr": socket.inet_ntoa(siaddr), "options": options,
        }

    # -- exchange -----------------------------------------------------------

    def send(self, pkt, dest):
        try:
            self.sock.sendto(pkt, (dest, SERVER_PORT))
        except OSError as e:
            die(f"send to {dest}:{SERVER_PORT} on {self.iface}: {e}", 71)

    def exchange(self, name, build_pkt, expect, dest="255.255.255.255"):
        """Send a packet built by build_pkt(xid) and wait for a reply whose type
        is in `expect`; retransmit up to self.retries times, each with a new xid.
        Returns (reply, message type)."""
        def send(_attempt):
            xid = random.getrandbits(32)
            self.send(build_pkt(xid), dest)
            return xid

        def match(data, xid):
            reply = self.parse(data)
            if (reply is None or reply["op"] != 2 or reply["xid"] != xid
                    or reply["chaddr"] != self.mac):
                return None
            mtype = reply["options"].get(OPT_MSG_TYPE, b"\0")[0]
            if self.args.server and mtype in (OFFER, ACK, NAK):
                sid = reply["options"].get(OPT_SERVER_ID)
                if sid and socket.inet_ntoa(sid[:4]) != self.args.server:
                    return None
            if mtype not in expect:
                return None
            self.replies.append(MSG_NAMES.get(mtype, str(mtype)))
            return reply, mtype

        return self.transact(name, send, match, 4096)

    @staticmethod
    def _refuse_nak(reply, mtype, what):
        if mtype == NAK:
            msg = reply["options"].get(OPT_MESSAGE, b"").decode(errors="replace")
            die(f"{what} answered with NAK: {msg}", 3)

    def dora(self):
        requested = self.args.requested_address
        offer, _ = self.exchange(
            "DISCOVER",
            lambda xid: self.build(DISCOVER, xid, requested=requested),
            (OFFER,))
        sid = offer["options"].get(OPT_SERVER_ID)
        if not sid or len(sid) != 4:
            die("OFFER without a server identifier (option 54)", 3)
        self.server_id = socket.inet_ntoa(sid)
        offered = offer["yiaddr"]
        ack, mtype = self.exchange(
            "REQUEST",
            lambda xid: self.build(REQUEST, xid, requested=offered, server_id=self.server_id),
            (ACK, NAK))
        self._refuse_nak(ack, mtype, f"REQUEST for {offered}")
        self.address = ack["yiaddr"]
        self.lease_time = self._lease_time(ack)

    @staticmethod
    def _lease_time(pkt):
        lt = pkt["options"].get(OPT_LEASE_TIME)
        return struct.unpack("!I", lt[:4])[0] if lt and len(lt) >= 4 else None

    # -- actions ------------------------------------------------------------

    def do_renew(self):
        # INIT-REBOOT style: ciaddr 0, requested address in option 50, no
        # server id, broadcast flag.  Kea then broadcasts its ACK, which a
        # client without the address on its interface can receive (a
        # RENEWING-state REQUEST with ciaddr would be answered by unicast to
        # ciaddr, which this interface does not hold).
        ack, mtype = self.exchange(
            "REQUEST (renew)",
            lambda xid: self.build(REQUEST, xid, requested=self.address),
            (ACK, NAK))
        self._refuse_nak(ack, mtype, f"renewing REQUEST for {self.address}")
        if ack["yiaddr"] != self.address:
            die(f"renew ACK gave {ack['yiaddr']}, expected {self.address}", 3)
        self.lease_time = self._lease_time(ack)

    def do_decline(self):
        # RFC 2131 table 5: ciaddr 0, requested IP (50) and server id (54)
        # mandatory; same chaddr/client-id as the lease.  No reply.
        xid = random.getrandbits(32)
        pkt = self.build(DECLINE, xid, requested=self.address,
                         server_id=self.server_id, prl=False)
        self.send(pkt, "255.255.255.255")

    def do_release(self):
        # RFC 2131: unicast to the server, ciaddr = released address, server
        # id (54).  No reply.
        xid = random.getrandbits(32)
        pkt = self.build(RELEASE, xid, ciaddr=self.address, server_id=self.server_id,
                         broadcast=False, prl=False)
        self.send(pkt, self.args.server or self.server_id)

    def run(self):
        self.dora()
        self.run_actions()
        return {
            "address": self.address,
            "server_id": self.server_id,
            "mac": hexcolon(self.mac),
            "client_id": hexcolon(self.client_id) if self.client_id is not None else None,
            "lease_time": self.lease_time,
            "replies": self.replies,
            "actions": self.actions,
        }


ipv4 = address_type(4)


def prl_type(text):
    try:
        codes = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        codes = None
    if not codes or not all(1 <= c <= 254 for c in codes):
        raise argparse.ArgumentTypeError(f"expected option codes 1 to 254, comma-separated: {text!r}")
    return codes


def main(argv=None):
    p = new_parser("DHCPv4 client: DORA, then optional decline/release/renew.")
    p.add_argument("--mac", help="chaddr (hex, e.g. 02:00:00:00:00:01); "
                   "default: the interface's MAC")
    p.add_argument("--server", type=ipv4, help="server address: RELEASE is unicast "
                   "there, and replies carrying another server id are ignored; "
                   "default: the server id from the OFFER")
    p.add_argument("--then", type=actions_type(ACTIONS), default=[],
                   help="comma-separated actions after the ACK: decline, release, "
                   "renew, sleep:SECONDS (e.g. 'renew,release')")
    p.add_argument("--hostname", help="send option 12 (host name)")
    p.add_argument("--client-id", help="send option 61 with these bytes (hex, type "
                   "byte included, e.g. 01:02:00:00:00:00:01)")
    p.add_argument("--vendor-class", help="send option 60 (vendor class identifier)")
    p.add_argument("--requested-address", type=ipv4,
                   help="ask for this address in the DISCOVER (option 50)")
    p.add_argument("--prl", type=prl_type, default=list(DEFAULT_PRL),
                   help="option 55 (parameter request list): decimal option codes, "
                   "comma-separated (default 1,3,6,15,51,54,58,59)")
    p.add_argument("--user-class", type=hex_type,
                   help="send option 77 (user class) with these bytes (hex)")
    p.add_argument("--option", type=option_type(254), action="append", default=[],
                   metavar="CODE:HEX",
                   help="send option CODE (decimal) with these bytes (hex) in DISCOVER and "
                   "REQUEST, after the client's own options (repeatable; do not repeat one "
                   "the client sends itself)")
    add_retry_arguments(p)
    args = parse_args(p, argv)
    # After a decline or release the client holds nothing: reject what follows.
    done = None
    for action in args.then:
        if action.startswith("sleep:"):
            continue
        if done:
            p.error(f"--then: {action} after {done} (the lease is no longer held)")
        if action in ("decline", "release"):
            done = action
    return run_client(Dhcp4Client, args, CLIENT_PORT)


if __name__ == "__main__":
    sys.exit(main())
