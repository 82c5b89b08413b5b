#!/bin/sh
# Builds the hook and shows it at work: a real kea-dhcp4 in a network namespace serves a real
# DHCP client (dhclient) and examples/debug.sh logs every hook point with its KEA_* variables.
# Needs root (network namespaces). Touches no real interface: everything runs in namespaces it
# creates and removes, on 192.0.2.0/24.
set -eu
cd "$(dirname "$0")"
./scripts/install-deps.sh
cargo build -p kea-runscript
cargo run -q -p kea-runscript-testbed --bin demo -- "$@"
