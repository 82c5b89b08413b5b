#!/bin/sh
# The top of each profile `./bench.sh --perf DIR` recorded (docs/benchmark.md, "Profiles"):
#
#   scripts/profile.sh DIR [N]
#
# For each DIR/*.data: where the samples went by thread (Kea's, the library's `kea-runscript-*`
# threads, the scripts; with KRS_BENCH_PERF_ALL=1 every process of the machine, idle as
# `swapper`), then the N (default 25) functions that took most of Kea's main thread by their
# own time, then by time spent in them and what they called (a callout, Kea's `toText()`, …).
# Needs Debian's linux-perf (scripts/install-deps.sh installs it).
set -eu
dir=${1:?usage: scripts/profile.sh DIR [N]}
n=${2:-25}
for data in "$dir"/*.data; do
    [ -e "$data" ] || { echo "profile: no *.data in $dir" >&2; exit 1; }
    echo "== $(basename "$data" .data)"
    echo "-- samples per thread (comm)"
    perf report -i "$data" --no-children --sort comm -q --stdio -g none 2>/dev/null | grep -v '^$' | head -8
    kea=$(perf report -i "$data" --no-children --sort comm -q --stdio -g none 2>/dev/null | awk '/kea-dhcp[46]/ {print $2; exit}')
    [ -n "$kea" ] || continue
    echo "-- $kea: own time"
    perf report -i "$data" --comm "$kea" --no-children --sort dso,sym -q --stdio -g none 2>/dev/null | grep -v '^$' | head -"$n" | cut -c1-160
    echo "-- $kea: time in a function and what it called"
    perf report -i "$data" --comm "$kea" --children --sort sym -q --stdio -g none 2>/dev/null \
        | grep -v '^$' | grep -v '0x0000' | head -"$n" | cut -c1-160
done
