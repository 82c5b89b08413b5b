#!/bin/sh
# kea-runscript committed-leases route example: one run per lease that Kea has
# just committed (leases4_committed / leases6_committed), KEA_LEASE_DELETED
# telling whether the query holds the lease (0) or gave it up (1, e.g. an
# address replaced by another). The *_release and *_expire hook points clean
# up after clients that leave or vanish.
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
leases4_committed) if [ "$KEA_LEASE_DELETED" = 1 ]; then v4 del; else v4 add; fi ;;
leases6_committed) if [ "$KEA_LEASE_DELETED" = 1 ]; then v6 del; else v6 add; fi ;;
lease4_release | lease4_expire) v4 del ;;
lease6_release | lease6_expire) v6 del ;;
esac
exit 0
