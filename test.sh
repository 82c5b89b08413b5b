#!/bin/sh
# The whole test suite: generator unit tests, README drift check, hook unit tests, and the
# real-traffic tests (real kea-dhcp4/kea-dhcp6, perfdhcp, dhclient, udhcpc, Python clients)
# in network namespaces the tests create and remove. Needs root. `.ci/run` runs exactly this.
set -eu
cd "$(dirname "$0")"
./scripts/install-deps.sh
# The real-traffic tests load target/debug/libkea_runscript.so and run target/debug/
# kea-runscript-check; `cargo test` alone does not build a cdylib or another package's binary.
cargo build --workspace --locked
cargo test --workspace --locked "$@"
