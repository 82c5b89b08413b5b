#!/bin/sh
# The benchmark (docs/benchmark.md): builds everything in release mode, prints the per-event
# cost microbenchmark, then runs real kea-dhcp4/kea-dhcp6 in network namespaces it creates and
# removes, drives them with perfdhcp and prints one table per family, then the replay rows
# (held leases replayed at Kea's start; DORA/s with a replay running). Needs root. About 20
# minutes with the defaults; `./bench.sh --quick` checks that it all works.
# Options go to the benchmark command (`./bench.sh --help`); `--no-micro` skips the
# microbenchmark. Traffic stays inside the namespaces, on 198.18.0.0/15 and 2001:db8::/32.
set -eu
cd "$(dirname "$0")"
micro=1
n=$#
while [ "$n" -gt 0 ]; do
    a=$1; shift; n=$((n - 1))
    case "$a" in
        --no-micro) micro="" ;;
        -h|--help) micro=""; set -- "$@" "$a" ;;
        *) set -- "$@" "$a" ;;
    esac
done
./scripts/install-deps.sh
cargo build --release --workspace --locked
if [ -n "$micro" ]; then
    out=$(cargo test -q --release --locked -p kea-runscript --lib event_build_cost -- --ignored --nocapture 2>&1) || {
        printf '%s\n' "$out" >&2
        exit 1
    }
    printf '%s\n\n' "$out" | sed -n '/^per-event cost/,/^ISC.s names against/p'
fi
exec target/release/kea-runscript-bench "$@"
