#!/bin/sh
# kea-runscript committed-leases route example: one run per lease that Kea has
# just committed (leases4_committed / leases6_committed). KEA_LEASE_DELETED=1
# for a lease the query gave up (released, or replaced by another address); a
# declined address is committed in the `declined` state. lease4_expire and
# lease6_expire clean up after clients that vanish.
# lease4_replay / lease6_replay (Kea started or reloaded, or the runscript-replay command):
# begin starts a new generation, each lease held (KEA_REPLAY_PHASE=lease) gets its route back
# and every route installed after begin is marked with it; end removes the routes of this
# script that were not marked. $ROUTES_STATE/4 and /6 record each route installed
# ("GENERATION ip-arguments"): a replayed lease has no query, so no interface or link-local
# address of its own, and the sweep touches only what this script installed.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
PROTO=static
STATE=${ROUTES_STATE:-/var/lib/kea/routes}

# add ROUTE [ARGS]: ip route replace ROUTE ARGS, recorded with this generation. Without ARGS
# (a replayed lease), the recorded ones, else the device the kernel reaches an address through.
add() {
    f=$STATE/$fam/$(echo "$1" | tr / _) route=$1
    shift
    args="$*"
    if [ -z "$args" ] && [ -f "$f" ]; then
        read -r _ args < "$f"
    elif [ -z "$args" ] && [ "$KEA_LEASE6_TYPE" != IA_PD ]; then
        args=$(ip -$fam -o route get "${route%/*}" | sed -n 's/.* \(dev [^ ]*\).*/\1/p')
    fi
    [ -n "$args" ] || { echo "no next hop known for $route: not replayed" >&2; return 1; }
    # $args unquoted on purpose: words of Kea's own text (interface, address), not the client's.
    ip -$fam route replace "$route" $args proto "$PROTO" || return 1
    echo "$gen $args" > "$f.new" && mv -f "$f.new" "$f"
}
del() {
    ip -$fam route del "$1" proto "$PROTO" 2>/dev/null
    rm -f "$STATE/$fam/$(echo "$1" | tr / _)"
}

# The query's interface (and client link-local address) when there is a query.
v4() { "$1" "$KEA_LEASE4_ADDRESS/32" ${KEA_QUERY4_INTERFACE:+dev "$KEA_QUERY4_INTERFACE"}; }
v6() {
    case "$KEA_LEASE6_TYPE" in
    IA_NA) "$1" "$KEA_LEASE6_ADDRESS/128" ${KEA_QUERY6_INTERFACE:+dev "$KEA_QUERY6_INTERFACE"} ;;
    IA_PD) "$1" "$KEA_LEASE6_DELEGATED_PREFIX" \
        ${KEA_QUERY6_INTERFACE:+via "$KEA_QUERY6_REMOTE_ADDRESS" dev "$KEA_QUERY6_INTERFACE"} ;;
    esac
}

case "$1" in lease4_* | leases4_*) fam=4 ;; lease6_* | leases6_*) fam=6 ;; *) exit 0 ;; esac
mkdir -p "$STATE/4" "$STATE/6" || exit 1
exec 9>>"$STATE/lock" && flock 9 || exit 1 # one run at a time: the sweep sees every mark
gen=$(cat "$STATE/gen$fam" 2>/dev/null || echo 0)

case "$1" in
leases4_committed)
    if [ "$KEA_LEASE_DELETED" = 1 ] || [ "$KEA_LEASE4_STATE" = declined ]; then v4 del; else v4 add; fi ;;
leases6_committed)
    if [ "$KEA_LEASE_DELETED" = 1 ] || [ "$KEA_LEASE6_STATE" = declined ]; then v6 del; else v6 add; fi ;;
lease4_expire) v4 del ;;
lease6_expire) v6 del ;;
lease4_replay | lease6_replay)
    case "$KEA_REPLAY_PHASE" in
    begin) echo $((gen + 1)) > "$STATE/gen$fam" ;;
    lease) if [ $fam = 4 ]; then v4 add; else v6 add; fi ;;
    end) [ "${KEA_REPLAY_FAILED:-0}" = 0 ] && for f in "$STATE/$fam"/*_*; do
        [ -f "$f" ] && read -r g _ < "$f" && [ "$g" != "$gen" ] || continue
        k=${f##*/}
        del "${k%_*}/${k##*_}"
    done ;;
    esac ;;
esac
exit 0
