#!/bin/sh
# Soak (docs/robustness.md): real kea-dhcp4 and kea-dhcp6 with the library at every hook point,
# spawned and worker, waited-for and background, under perfdhcp traffic for an hour; a
# config-reload every minute, both workers killed (by pid) every five minutes; prints Kea's RSS,
# threads, descriptors and children each minute, then whether they stayed flat. Exit status:
# 0 flat, 1 not flat, 2 the run failed.
#
#   scripts/soak.sh [--minutes N] [--family v4|v6|both] [--mt on|off] [--rate R] [--kill-every M]
#
# Needs root. Everything runs in network namespaces it creates and removes (192.0.2.0/24,
# 2001:db8::/32). In a root: scripts/in-root.sh trixie scripts/soak.sh --minutes 10
set -eu
cd "$(dirname "$0")/.."
cargo build -q --workspace
target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
# A scratch directory of its own: an hour is longer than other runs' clean-up of /tmp assumes.
TMPDIR=$(mktemp -d /var/tmp/kea-runscript-soak.XXXXXX)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
# Kea loads the library again at each reload: a copy, so that a rebuild meanwhile cannot change it.
cp "$target/debug/libkea_runscript.so" "$target/debug/soak" "$TMPDIR/"
"$TMPDIR/soak" "$@" "$TMPDIR/libkea_runscript.so"
