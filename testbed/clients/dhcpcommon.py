"""Code shared by dhcp4_client.py and dhcp6_client.py.

Not a package: each client imports it as `dhcpcommon`, found because a
script's own directory is on sys.path when run as `python3 /path/script.py`.
Standard library only.  See README.md beside this file.
"""

import argparse
import ipaddress
import json
import os
import select
import socket
import sys
import time

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


class ClientError(Exception):
    """A failure to report on stderr with a non-zero exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def die(message, status=1):
    raise ClientError(message, status)


def parse_hex(text, what):
    cleaned = text.replace(":", "").replace("-", "").replace(" ", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        die(f"{what}: not a hex string: {text!r}", 64)
    if not data:
        die(f"{what}: empty", 64)
    return data


def option_type(max_code):
    """An argparse `type` for --option CODE:HEX (CODE decimal, 1 to `max_code`); returns
    (code, bytes)."""
    def option(text):
        code, sep, data = text.partition(":")
        try:
            code = int(code)
        except ValueError:
            code = -1
        if not sep or not 1 <= code <= max_code:
            raise argparse.ArgumentTypeError(
                f"expected CODE:HEX with CODE 1 to {max_code}: {text!r}")
        try:
            value = bytes.fromhex(data.replace(":", "").replace(" ", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a hex string in {text!r}")
        return code, value
    option.__name__ = "option"
    return option


def hex_type(text):
    """An argparse `type` for a non-empty hex string (colons allowed); returns bytes."""
    try:
        value = bytes.fromhex(text.replace(":", "").replace(" ", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hex string: {text!r}")
    if not value:
        raise argparse.ArgumentTypeError("empty hex string")
    return value


hex_type.__name__ = "hex"


def hexcolon(data):
    return ":".join(f"{b:02x}" for b in data)


def iface_mac(iface):
    try:
        with open(f"/sys/class/net/{iface}/address") as f:
            return parse_hex(f.read().strip(), "interface MAC")
    except OSError as e:
        die(f"cannot read the MAC of interface {iface!r}: {e}", 66)


# -- sockets and exchanges ----------------------------------------------------

def udp_socket(family, iface, hint):
    """A UDP socket with SO_REUSEADDR, bound to `iface` by SO_BINDTODEVICE
    (`hint` ends the error message when that fails)."""
    s = socket.socket(family, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, iface.encode() + b"\0")
    except OSError as e:
        die(f"SO_BINDTODEVICE {iface!r}: {e} ({hint})", 71)
    return s


class Client:
    """What Dhcp4Client and Dhcp6Client share.  A subclass sets PROG (the
    name for stderr) and, in __init__, `args` (the parsed command line),
    `iface`, `timeout`, `retries`, `sock`, and `actions` (an empty list)."""

    PROG = None

    def transact(self, name, send, match, bufsize):
        """Send and wait for a reply, retransmitting: up to self.retries
        attempts, each calling `send(attempt)` (attempt counts from 1), then
        waiting self.timeout s on self.sock for a datagram (at most `bufsize`
        bytes) that `match(data, sent)` accepts by returning something other
        than None, `sent` being what that `send` returned.  Returns what
        `match` returned; exits with status 2 when no attempt got a reply."""
        for attempt in range(1, self.retries + 1):
            sent = send(attempt)
            deadline = time.monotonic() + self.timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    break
                data, _src = self.sock.recvfrom(bufsize)
                result = match(data, sent)
                if result is not None:
                    return result
            print(f"{self.PROG}: no reply to {name} within {self.timeout:g} s "
                  f"(attempt {attempt}/{self.retries})", file=sys.stderr)
        die(f"timeout: no reply to {name} on {self.iface} after {self.retries} attempts "
            f"of {self.timeout:g} s", 2)

    def run_actions(self):
        """Run the --then actions in order: `sleep:SECONDS` here, any other
        `name` as self.do_<name>(); each one done is added to self.actions."""
        for action in self.args.then:
            if action.startswith("sleep:"):
                time.sleep(float(action.split(":", 1)[1]))
            else:
                getattr(self, "do_" + action)()
            self.actions.append(action)


# -- command line -------------------------------------------------------------

def actions_type(allowed):
    """An argparse `type` for --then: comma-separated names from `allowed`
    and `sleep:SECONDS`, `none` and empty items skipped; returns the list."""
    def parse_actions(text):
        actions = []
        for a in (x.strip() for x in text.split(",")):
            if not a or a == "none":
                continue
            if a in allowed:
                actions.append(a)
            elif a.startswith("sleep:"):
                try:
                    float(a.split(":", 1)[1])
                except ValueError:
                    raise argparse.ArgumentTypeError(f"bad sleep value in {a!r}")
                actions.append(a)
            else:
                raise argparse.ArgumentTypeError(
                    f"unknown action {a!r} ({', '.join(allowed)}, sleep:SECONDS)")
        return actions
    return parse_actions


def address_type(version):
    """An argparse `type` for an IPv4 (`version` 4) or IPv6 (6) address;
    returns it in canonical text form."""
    cls = {4: ipaddress.IPv4Address, 6: ipaddress.IPv6Address}[version]

    def address(text):
        try:
            return str(cls(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an IPv{version} address: {text!r}")
    address.__name__ = f"ipv{version}"
    return address


class ArgumentParser(argparse.ArgumentParser):
    # Usage errors exit 64 (EX_USAGE), not argparse's 2, which means timeout here.
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(64, f"{self.prog}: error: {message}\n")


def new_parser(description):
    """The command line parser, with the --iface option both clients have first."""
    p = ArgumentParser(description=description)
    p.add_argument("--iface", required=True, help="interface to use (e.g. kc0)")
    return p


def add_retry_arguments(p):
    """--timeout and --retries, common to both clients."""
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for each reply (default 5)")
    p.add_argument("--retries", type=int, default=3,
                   help="attempts per exchange before giving up (default 3)")


def parse_args(p, argv):
    """p.parse_args(argv), refusing --retries below 1."""
    args = p.parse_args(argv)
    if args.retries < 1:
        p.error("--retries must be at least 1")
    return args


def run_client(client_class, args, port):
    """The end of both main()s: warn on stderr when not root (binding `port`
    needs it), run client_class(args) and print its result as one JSON line
    on stdout.  Returns the exit status: 0, or the ClientError's status after
    printing its message on stderr."""
    prog = client_class.PROG
    if os.geteuid() != 0:
        print(f"{prog}: warning: not root; binding port {port} will likely fail",
              file=sys.stderr)
    try:
        result = client_class(args).run()
    except ClientError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.status
    print(json.dumps(result), flush=True)
    return 0
