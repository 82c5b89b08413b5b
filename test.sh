#!/bin/sh
# The whole test suite: generator unit tests, README drift check, hook unit tests, and the
# real-traffic tests (real kea-dhcp4/kea-dhcp6, perfdhcp, dhclient, udhcpc, Python clients)
# in network namespaces the tests create and remove. Needs root. `.ci/run` runs exactly this.
#
# ./test.sh --matrix [SUITE...]: the same suite against Kea 2.2 (this machine), 2.6 and 3.0
# (Debian roots), and each release's .deb on a fresh root: scripts/test-matrix.sh.
set -eu
cd "$(dirname "$0")"
if [ "${1:-}" = "--matrix" ]; then
    shift
    exec ./scripts/test-matrix.sh "$@"
fi
./scripts/install-deps.sh
# The real-traffic tests load target/debug/libkea_runscript.so and run target/debug/
# kea-runscript-check; `cargo test` alone does not build a cdylib or another package's binary.
cargo build --workspace --locked
cargo test --workspace --locked "$@"
