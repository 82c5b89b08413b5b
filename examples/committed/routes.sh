#!/bin/sh
# kea-runscript committed-leases route example: one run per lease that Kea has
# just committed (leases4_committed / leases6_committed). KEA_LEASE_DELETED=1
# for a lease the query gave up (released, or replaced by another address); a
# declined address is committed in the `declined` state. lease4_expire and
# lease6_expire clean up after clients that vanish.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
PROTO=static

v4() {
    case "$1" in
    add) ip route replace "$KEA_LEASE4_ADDRESS/32" dev "$KEA_QUERY4_INTERFACE" proto "$PROTO" ;;
    del) ip route del "$KEA_LEASE4_ADDRESS/32" proto "$PROTO" 2>/dev/null || true ;;
    esac
}

v6() {
    case "$KEA_LEASE6_TYPE" in
    IA_NA) route="$KEA_LEASE6_ADDRESS/128"; via="" ;;
    IA_PD) route="$KEA_LEASE6_DELEGATED_PREFIX"; via="via $KEA_QUERY6_REMOTE_ADDRESS" ;;
    *) return 0 ;;
    esac
    case "$1" in
    # $via is unquoted on purpose: empty, or two words. Kea's own text, not the client's.
    add) ip -6 route replace "$route" $via dev "$KEA_QUERY6_INTERFACE" proto "$PROTO" ;;
    del) ip -6 route del "$route" proto "$PROTO" 2>/dev/null || true ;;
    esac
}

case "$1" in
leases4_committed)
    if [ "$KEA_LEASE_DELETED" = 1 ] || [ "$KEA_LEASE4_STATE" = declined ]; then v4 del; else v4 add; fi ;;
leases6_committed)
    if [ "$KEA_LEASE_DELETED" = 1 ] || [ "$KEA_LEASE6_STATE" = declined ]; then v6 del; else v6 add; fi ;;
lease4_expire) v4 del ;;
lease6_expire) v6 del ;;
esac
exit 0
