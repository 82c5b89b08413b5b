#!/bin/sh
# isc-leases.sh: keeps a file of the addresses (and delegated prefixes) Kea's clients hold,
# one per line, from the hook points of ISC's run_script hook (libdhcp_run_script.so), or of
# kea-runscript loaded with ISC's parameters ("name", "sync"): the same script works with both.
#
#   leases4_committed / leases6_committed   add every LEASES<v>_AT<i> (a lease in the
#                                           "declined" state is removed instead), remove every
#                                           DELETED_LEASES<v>_AT<i>
#   lease4_release, lease4_expire, lease4_decline,
#   lease6_release, lease6_expire, lease6_decline    remove LEASE<v>_ADDRESS
#
# A DHCPv4 or IA_NA lease is written as its address (192.0.2.100, 2001:db8:1::100), a delegated
# prefix (IA_PD) as address/length (2001:db8:8000::/56). The DHCPv4 and DHCPv6 servers may share
# the file.
#
# ISC's hook gives the script the hook point as its only argument and an environment holding
# only that hook point's variables: no PATH. So every program is named by its absolute path, and
# the state file's path is fixed here (Kea's state directory, writable by Kea's user). The runs
# may overlap (ISC's hook does not wait for them): each change is made under a lock, by
# rewriting the file into a temporary one renamed over it.
STATE=/var/lib/kea/isc-leases.state

LOCK="$STATE.lock"
NL='
'
set -f  # no globbing of the addresses

# The changes of this run: lines "+ADDRESS" (now held) and "-ADDRESS" (no longer held).
changes=""

# lease PREFIX SIGN FAMILY: one change for the lease whose variables start with PREFIX
# (LEASE4, LEASES6_AT0, DELETED_LEASES4_AT1...).
lease() {
    eval "address=\${${1}_ADDRESS:-} state=\${${1}_STATE:-} type=\${${1}_TYPE:-} len=\${${1}_PREFIX_LEN:-}"
    [ -n "$address" ] || return 0
    if [ "$3" = 6 ] && [ "$type" = IA_PD ]; then
        address="$address/$len"
    fi
    sign=$2
    if [ "$sign" = + ] && [ "$state" = declined ]; then
        sign=-
    fi
    changes="$changes$sign$address$NL"
}

# leases LIST SIGN FAMILY: the changes for every lease of LIST (LEASES4, DELETED_LEASES6...).
leases() {
    eval "n=\${${1}_SIZE:-0}"
    i=0
    while [ "$i" -lt "$n" ]; do
        lease "${1}_AT$i" "$2" "$3"
        i=$((i + 1))
    done
}

case "$1" in
    leases4_committed) leases LEASES4 + 4; leases DELETED_LEASES4 - 4 ;;
    leases6_committed) leases LEASES6 + 6; leases DELETED_LEASES6 - 6 ;;
    lease4_release | lease4_expire | lease4_decline) lease LEASE4 - 4 ;;
    lease6_release | lease6_expire | lease6_decline) lease LEASE6 - 6 ;;
    *) exit 0 ;;
esac
[ -n "$changes" ] || exit 0

# mentioned ADDRESS: whether this run changes ADDRESS. removed ADDRESS: whether it removes it
# (a removal wins over an addition in the same run).
mentioned() {
    case "$NL$changes" in *"$NL+$1$NL"* | *"$NL-$1$NL"*) return 0 ;; esac
    return 1
}
removed() {
    case "$NL$changes" in *"$NL-$1$NL"*) return 0 ;; esac
    return 1
}

exec 9>>"$LOCK" || exit 1
/usr/bin/flock 9 || exit 1
tmp="$STATE.tmp.$$"
{
    # The addresses held before, but those this run changes.
    if [ -f "$STATE" ]; then
        while IFS= read -r held; do
            mentioned "$held" || printf '%s\n' "$held"
        done < "$STATE"
    fi
    # The addresses this run adds, once each.
    added="$NL"
    for change in $changes; do
        address=${change#?}
        case "$change" in +*) ;; *) continue ;; esac
        removed "$address" && continue
        case "$added" in *"$NL$address$NL"*) continue ;; esac
        added="$added$address$NL"
        printf '%s\n' "$address"
    done
} > "$tmp" && /bin/mv -f "$tmp" "$STATE" || { /bin/rm -f "$tmp"; exit 1; }
