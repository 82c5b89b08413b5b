#!/bin/sh
# The long hostile-packet campaign: `campaign.py` (testbed/clients/, scapy) against a real
# kea-dhcp4, then a real kea-dhcp6, each running kea-runscript at every hook point with a spawned
# recorder and a worker, every event checked (hook/tests/campaign.rs, the ignored test
# `long_campaign`). Prints progress, then per family and in total: packets sent, Kea crashes,
# hangs, script runs, malformed environments. Run as root; see docs/operations.md.
#
#   scripts/campaign.sh [--packets N] [--seed S]
#
# N (default 1000000) is split between the families; S defaults to one from the clock, printed.
set -eu
usage() {
    echo "usage: $0 [--packets N] [--seed S]" >&2
    exit 64
}
packets=1000000
seed=""
while [ $# -gt 0 ]; do
    case $1 in
        --packets) [ $# -ge 2 ] || usage; packets=$2; shift 2 ;;
        --seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
        -h | --help) usage ;;
        *) echo "$0: unknown argument: $1" >&2; usage ;;
    esac
done
case $packets in '' | *[!0-9]*) echo "$0: --packets needs a number" >&2; usage ;; esac
case $seed in *[!0-9]*) echo "$0: --seed needs a number" >&2; usage ;; esac
cd "$(dirname "$0")/.."
# The tests load the built library: cargo test alone does not build it.
cargo build --workspace
export CAMPAIGN_PACKETS="$packets"
[ -z "$seed" ] || export CAMPAIGN_SEED="$seed"
exec cargo test -p kea-runscript --test campaign -- --ignored --exact long_campaign --nocapture
