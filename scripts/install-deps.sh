#!/bin/sh
# Installs every Debian package the build, the demo and the tests need (Debian 12, 13 and
# unstable: Kea 2.2, 2.6, 3.0).
# Idempotent: does nothing when everything is already installed.
set -eu
PACKAGES="kea-dev libssl-dev kea-dhcp4-server kea-dhcp6-server kea-admin libboost-dev g++ pkg-config
iproute2 procps isc-dhcp-client isc-dhcp-relay udhcpc python3
postgresql unbound nftables bind9-dnsutils kea-ctrl-agent curl nats-server python3-scapy valgrind"
# The benchmark's profiles (./bench.sh --perf DIR): on this machine only, not in the matrix's roots.
[ -n "${KRS_IN_ROOT:-}" ] || PACKAGES="$PACKAGES linux-perf"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages:$missing; run as root (sudo)" >&2
        exit 1
    fi
    echo "install-deps: installing$missing"
    # Keep the packages' maintainer scripts from starting services (Kea, PostgreSQL, unbound) on
    # the host: the tests run their own instances inside network namespaces.
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
    fi
    trap '[ -n "$own_policy" ] && rm -f "$policy"' EXIT
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

# examples/nats/ and its tests: nats-py, pinned, from PyPI into a cache directory of its own.
# Not in the matrix's Debian roots (KRS_IN_ROOT, set by scripts/in-root.sh): they have no pip
# and no way to PyPI; the NATS tests say they are skipped there.
if [ -z "${INSTALL_DEPS_NO_CARGO:-}" ] && [ -z "${KRS_IN_ROOT:-}" ]; then
    "$(dirname "$0")/install-nats-py.sh"
fi

# INSTALL_DEPS_NO_CARGO=1: packages only (scripts/roots.sh runs this inside a Debian root; the
# matrix bind-mounts the host's Rust toolchain there).
if [ -z "${INSTALL_DEPS_NO_CARGO:-}" ] && ! command -v cargo >/dev/null 2>&1; then
    echo "install-deps: cargo not found: install Rust 1.88 or later with rustup (https://rustup.rs)" >&2
    exit 1
fi
