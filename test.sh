#!/bin/sh
# The whole test suite: generator unit tests, README drift check, hook unit tests, and the
# real-traffic tests (real kea-dhcp4/kea-dhcp6, perfdhcp, dhclient, udhcpc, Python clients)
# in network namespaces the tests create and remove. Needs root. `.ci/run` runs exactly this.
set -eu
cd "$(dirname "$0")"
./scripts/install-deps.sh
cargo test --workspace --locked "$@"
