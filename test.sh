#!/bin/sh
# The whole test suite: generator unit tests, the docs' checks (docs/reference.md drift, links),
# hook unit tests, and the real-traffic tests (real kea-dhcp4/kea-dhcp6, perfdhcp, dhclient,
# udhcpc, Python clients) in network namespaces the tests create and remove, against this
# machine's Kea (Debian 12: 2.2); then the version matrix, scripts/test-matrix.sh --no-host:
# the same suite against Kea 2.6 and 3.0 in Debian roots it makes and caches, and each
# release's .deb installed on a fresh root and serving a client. Needs root. `.ci/run` runs
# exactly this.
#
# ./test.sh ARGS...: this machine's suite only, ARGS passed to `cargo test` (e.g. a test name).
# KRS_NO_MATRIX=1 ./test.sh: this machine's suite only.
# ./test.sh --matrix [SUITE...]: the matrix with this machine's suite in its table.
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
if [ $# = 0 ] && [ -z "${KRS_NO_MATRIX:-}" ]; then
    exec ./scripts/test-matrix.sh --no-host
fi
