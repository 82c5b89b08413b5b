#!/bin/sh
# The version matrix: the whole test suite (./test.sh: generator, unit tests, real Kea with real
# DHCP traffic) against each Kea release Debian ships, and each release's package installed on a
# fresh machine and serving a client.
#
#   scripts/test-matrix.sh [--no-host] [--no-deb] [SUITE...]     (./test.sh --matrix runs it;
#                                                               ./test.sh runs it --no-host)
#
#   host     Kea of this machine (Debian 12: 2.2), in the work tree's target/ (--no-host: its
#            package only)
#   trixie   Debian 13, Kea 2.6; sid: Debian unstable, Kea 3.0 — each in a root made and cached
#            by scripts/roots.sh, the hook built there against that root's Kea
#            (target/kea-<x.y>/), the tests driving that root's kea-dhcp4/kea-dhcp6, perfdhcp,
#            dhclient... from their network namespaces (scripts/in-root.sh)
#   .deb     scripts/deb.sh for each, then scripts/test-deb.sh on a fresh copy of the release's
#            pristine root (bookworm for the host's 2.2)
#
# Prints a table: per Kea version, tests passed/failed/ignored, the package test, the time;
# logs in target/matrix/. Exit status 0 when everything passed. Needs root.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/.." && pwd)
cd "$PROJECT"
host=1 debs=1
while [ $# -gt 0 ]; do
    case $1 in
        --no-host) host=""; shift ;;
        --no-deb) debs=""; shift ;;
        -*) echo "usage: $0 [--no-host] [--no-deb] [SUITE...]" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || set -- trixie sid
logs=$PROJECT/target/matrix
mkdir -p "$logs"
t_start=$(date +%s)
rows=""
failed=""

now() { date +%s; }
# counts LOG → "passed failed ignored" summed over cargo test's result lines
counts() {
    awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d %d %d", p, f, i }' "$1" 2>/dev/null || echo "0 0 0"
}
# row NAME KEA LOG RC SECONDS DEB
row() {
    set -- "$1" "$2" "$3" "$4" "$5" "$6" $(counts "$3")
    if [ "$4" = 0 ]; then st=pass; else st=FAIL; failed="$failed $1"; fi
    rows="$rows$(printf '| %-14s | %-7s | %6s | %6s | %7s | %-5s | %8s s | %-5s |' "$1" "$2" "$7" "$8" "$9" "$st" "$5" "$6")
"
}

./scripts/install-deps.sh
cargo fetch --locked

t0=$(now)
echo "matrix: roots ($*)"
./scripts/roots.sh "$@"
[ -n "$debs" ] && ./scripts/roots.sh --pristine bookworm "$@"
t_roots=$(( $(now) - t0 ))

deb_test() { # SUITE DEB → PASS/FAIL
    if ./scripts/test-deb.sh "$1" "$2" > "$logs/deb-$1.log" 2>&1; then echo pass; else echo FAIL; fi
}

kv=$(kea-dhcp4 -v | head -1)
rc=0 t=0
if [ -n "$host" ]; then
    echo "matrix: host, Kea $kv: ./test.sh (log: $logs/kea-$kv.log)"
    t0=$(now)
    KRS_NO_MATRIX=1 ./test.sh --no-fail-fast > "$logs/kea-$kv.log" 2>&1 || rc=$?
    t=$(( $(now) - t0 ))
fi
deb=-
if [ -n "$debs" ]; then
    if d=$(./scripts/deb.sh 2> "$logs/deb-build-host.log" | tail -1) && [ -f "$d" ]; then
        deb=$(deb_test bookworm "$d")
    else
        deb=FAIL
    fi
    [ "$deb" = pass ] || failed="$failed deb-$kv"
fi
if [ -n "$host" ]; then
    row "host/bookworm" "$kv" "$logs/kea-$kv.log" $rc $t $deb
else
    rows="$rows$(printf '| %-14s | %-7s | %6s | %6s | %7s | %-5s | %8s | %-5s |' "host/bookworm" "$kv" "" "" "" "(1)" "" "$deb")
"
fi

for suite in "$@"; do
    kv=$(chroot "${KEA_RUNSCRIPT_ROOTS:-/var/cache/kea-runscript/roots}/$suite" kea-dhcp4 -v | head -1)
    echo "matrix: $suite, Kea $kv: ./test.sh in the root (log: $logs/kea-$kv.log)"
    t0=$(now); rc=0
    ./scripts/in-root.sh "$suite" ./test.sh --no-fail-fast > "$logs/kea-$kv.log" 2>&1 || rc=$?
    t=$(( $(now) - t0 ))
    deb=-
    if [ -n "$debs" ]; then
        if d=$(./scripts/in-root.sh "$suite" ./scripts/deb.sh 2> "$logs/deb-build-$suite.log" | tail -1) && [ -f "$d" ]; then
            deb=$(deb_test "$suite" "$d")
        else
            deb=FAIL
        fi
        [ "$deb" = pass ] || failed="$failed deb-$kv"
    fi
    row "$suite" "$kv" "$logs/kea-$kv.log" $rc $t $deb
done

total=$(( $(now) - t_start ))
{
    echo
    echo "| where          | Kea     | passed | failed | ignored | suite | suite time | .deb  |"
    echo "|----------------|---------|--------|--------|---------|-------|------------|-------|"
    printf '%s' "$rows"
    [ -n "$host" ] || echo "(1) this machine's suite: run by ./test.sh before the matrix"
    echo
    echo "roots (made or found in the cache): $t_roots s; whole matrix: $total s ($(( (total + 59) / 60 )) min)"
} | tee "$logs/summary.md"
if [ -n "$failed" ]; then
    echo "matrix: FAILED:$failed (logs in $logs)"
    exit 1
fi
echo "matrix: all passed"
