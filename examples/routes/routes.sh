#!/bin/sh
# kea-runscript route example: a host route per client, added when Kea grants a
# lease and removed when the lease is released or expires.
#   DHCPv4: ADDRESS/32 towards the client's interface (for /32 customer leases).
#   DHCPv6: IA_NA -> ADDRESS/128 on the client's interface;
#           IA_PD -> the delegated prefix via the client's link-local address.
# Kea runs this with only KEA_* variables: set PATH for the tools we call.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
PROTO=static

add_v4() { ip route replace "$KEA_LEASE4_ADDRESS/32" dev "$KEA_QUERY4_INTERFACE" proto "$PROTO"; }
del_v4() { ip route del "$KEA_LEASE4_ADDRESS/32" proto "$PROTO" 2>/dev/null || true; }

add_v6() {
    case "$KEA_LEASE6_TYPE" in
    IA_NA) ip -6 route replace "$KEA_LEASE6_ADDRESS/128" dev "$KEA_QUERY6_INTERFACE" proto "$PROTO" ;;
    IA_PD) ip -6 route replace "$KEA_LEASE6_DELEGATED_PREFIX" via "$KEA_QUERY6_REMOTE_ADDRESS" \
               dev "$KEA_QUERY6_INTERFACE" proto "$PROTO" ;;
    esac
}
del_v6() {
    case "$KEA_LEASE6_TYPE" in
    IA_NA) ip -6 route del "$KEA_LEASE6_ADDRESS/128" proto "$PROTO" 2>/dev/null || true ;;
    IA_PD) ip -6 route del "$KEA_LEASE6_DELEGATED_PREFIX" proto "$PROTO" 2>/dev/null || true ;;
    esac
}

case "$1" in
lease4_select) [ "$KEA_FAKE_ALLOCATION" = 0 ] && add_v4 ;;
lease4_renew) add_v4 ;;
lease4_release | lease4_expire) del_v4 ;;
lease6_select) [ "$KEA_FAKE_ALLOCATION" = 0 ] && add_v6 ;;
lease6_renew | lease6_rebind) add_v6 ;;
lease6_release | lease6_expire) del_v6 ;;
esac
exit 0
