#!/bin/sh
# Memcheck (docs/robustness.md): real kea-dhcp4 and kea-dhcp6 under Valgrind's memcheck with the
# library at every hook point (spawned and worker, waited-for and background), multi-threading
# off and on, real traffic (perfdhcp, the Python clients), 20 config-reloads and 3 worker kills
# each; then Kea is stopped and Valgrind's XML report read. Exit status: 0 no invalid access and
# no definite leak in libkea_runscript.so, 1 there is one, 2 a run failed.
#
#   scripts/valgrind.sh [--short] [--family v4|v6|both] [--mt on|off|both] [--reloads N] [--kills N]
#
# Needs root. Everything runs in network namespaces it creates and removes. In a root:
#   scripts/in-root.sh trixie scripts/valgrind.sh
set -eu
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind not installed: scripts/install-deps.sh" >&2; exit 2; }
cargo build -q --workspace
target=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)
KEA_RUNSCRIPT_SO="$target/debug/libkea_runscript.so" exec "$target/debug/memcheck" "$@"
