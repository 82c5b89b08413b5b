#!/bin/sh
# kea-runscript firewall example: nftables sets of what Kea's clients hold, for rules such as
# "ip saddr @leased4 accept": DHCPv4 addresses in $NFT_SET4, DHCPv6 addresses and delegated
# prefixes in $NFT_SET6 (declared with "flags interval" to hold prefixes).
#   KEA_LEASE_EVENT add, renew, old   nft add element (a declined lease is deleted instead)
#   KEA_LEASE_EVENT del               nft delete element
#   lease4_replay / lease6_replay     begin: start a list of marks; every lease added after it
#                                     (replayed or live) is marked; end: delete the elements of
#                                     the set that were not marked (mark and sweep)
# The set itself is the state: nothing is kept but the marks of a replay in progress.
# Settings (the hook's "extra-env"): NFT_TABLE, NFT_SET4, NFT_SET6, NFT_FAMILY, NFT_STATE.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
FAMILY=${NFT_FAMILY:-inet}
TABLE=${NFT_TABLE:-kea}
STATE=${NFT_STATE:-/run/kea/firewall}

case "$1" in
*4_*) set=${NFT_SET4:-leased4} fam=4 elem=$KEA_LEASE4_ADDRESS lstate=$KEA_LEASE4_STATE ;;
*6_*) set=${NFT_SET6:-leased6} fam=6 elem=$KEA_LEASE6_ADDRESS lstate=$KEA_LEASE6_STATE
    [ "$KEA_LEASE6_TYPE" = IA_PD ] && elem=$KEA_LEASE6_DELEGATED_PREFIX ;;
*) exit 0 ;;
esac
case "$elem" in *[!0-9a-f.:/]*) exit 1 ;; esac # Kea's text, but nft parses it: check
marks=$STATE/marks$fam

mkdir -p "$STATE" || exit 1
exec 9>>"$STATE/lock" && flock 9 || exit 1 # one run at a time: the sweep sees every mark

case "$KEA_REPLAY_PHASE" in
begin) : > "$marks"; exit ;;
end)
    [ -f "$marks" ] || exit 0
    if [ "${KEA_REPLAY_FAILED:-0}" = 0 ]; then # else some leases were not replayed: keep all
        # "elements = { a, b,\n c }" -> a line each
        nft list set "$FAMILY" "$TABLE" "$set" | tr -d '\n\t' |
            sed -n 's/.*elements = {\([^}]*\)}.*/\1/p' | tr ', ' '\n\n' | while read -r e; do
            [ -n "$e" ] && ! grep -qxF -- "$e" "$marks" && nft delete element "$FAMILY" "$TABLE" "$set" "{ $e }"
        done
    fi
    rm -f "$marks"
    exit 0 ;;
esac
[ -n "$elem" ] || exit 0
case "$KEA_LEASE_EVENT" in
add | renew | old)
    if [ "$lstate" = declined ]; then
        nft delete element "$FAMILY" "$TABLE" "$set" "{ $elem }" 2>/dev/null
    else
        nft add element "$FAMILY" "$TABLE" "$set" "{ $elem }" || exit 1
        [ -f "$marks" ] && echo "$elem" >> "$marks" # a replay is in progress: a mark
    fi ;;
del) nft delete element "$FAMILY" "$TABLE" "$set" "{ $elem }" 2>/dev/null ;;
esac
exit 0
