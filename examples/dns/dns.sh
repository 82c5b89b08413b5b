#!/bin/sh
# kea-runscript DNS example: an A (DHCPv4) or AAAA (DHCPv6 address) record and its PTR record
# in Unbound for every lease Kea's clients hold, with unbound-control local_data.
#   KEA_LEASE_EVENT add, renew, old   register the lease (a declined one is removed instead)
#   KEA_LEASE_EVENT del               remove it
#   lease4_replay / lease6_replay     begin: a new generation; every lease registered after it
#                                     (replayed or live) is marked with it; end: remove what
#                                     was not marked (mark and sweep)
# The name: the client's host name (the lease's, else the query's) if its first label is a
# valid DNS label, else dhcp-<address>, under $DNS_ZONE. Client data stays data: quoted, checked
# against [A-Za-z0-9-], never evaluated. $DNS_STATE/4 and /6 hold a file per registered
# address: "GENERATION LABEL", so that a removal knows what was registered.
# Settings (the hook's "extra-env"): DNS_ZONE (required), DNS_TTL, DNS_STATE,
# UNBOUND_CONTROL_ARGS (e.g. "-c /etc/unbound/unbound.conf", split into words).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C # [a-z] means bytes
export LC_ALL
ZONE=${DNS_ZONE:?DNS_ZONE is not set}
ZONE=${ZONE%.}
TTL=${DNS_TTL:-300}
STATE=${DNS_STATE:-/var/lib/kea/dns}

uc() { unbound-control $UNBOUND_CONTROL_ARGS "$@" >/dev/null; } # the operator's words: unquoted

# label NAME: NAME's first label, lower-cased, if it is a valid one (and not a dhcp-* name,
# which another client's address may have); else nothing.
label() {
    l=${1%%.*}
    case "$l" in "" | -* | *- | dhcp-* | *[!A-Za-z0-9-]*) return ;; esac
    [ ${#l} -le 63 ] && printf '%s' "$l" | tr A-Z a-z
}

# ptr ADDRESS: its reverse name (in-addr.arpa., or ip6.arpa. with every nibble).
ptr() {
    case "$1" in
    *.*) (IFS=.; set -- $1; echo "$4.$3.$2.$1.in-addr.arpa.") ;;
    *) (
        case "$1" in *::*) head=${1%%::*} tail=${1#*::} ;; *) head=$1 tail= ;; esac
        IFS=:
        hex=
        for g in $head; do hex=$hex$(printf %04x "0x$g"); done
        set -- $tail
        zeros=$((8 - ${#hex} / 4 - $#))
        while [ $zeros -gt 0 ]; do hex=${hex}0000 zeros=$((zeros - 1)); done
        for g in "$@"; do hex=$hex$(printf %04x "0x$g"); done
        name=ip6.arpa.
        while [ -n "$hex" ]; do rest=${hex#?}; name=${hex%"$rest"}.$name hex=$rest; done
        echo "$name") ;;
    esac
}

rr() { case "$1" in *:*) echo AAAA ;; *) echo A ;; esac; }

# add ADDRESS LABEL: both records in Unbound.
add() {
    uc local_data "$2.$ZONE. $TTL IN $(rr "$1") $1" && uc local_data "$(ptr "$1") $TTL IN PTR $2.$ZONE."
}

# unregister FAMILY ADDRESS: remove what ADDRESS registered. local_data_remove takes the whole
# name: the other family's record under the same label (a dual-stack host) is put back.
unregister() {
    [ -f "$STATE/$1/$2" ] || return 0
    read -r _ old < "$STATE/$1/$2"
    rm -f "$STATE/$1/$2"
    uc local_data_remove "$old.$ZONE."
    uc local_data_remove "$(ptr "$2")"
    for f in "$STATE/$((10 - $1))"/*; do
        [ -f "$f" ] || continue
        read -r _ l < "$f"
        [ "$l" = "$old" ] && add "${f##*/}" "$l"
    done
    return 0
}

# taken FAMILY ADDRESS LABEL: whether another address of this family has LABEL.
taken() {
    for f in "$STATE/$1"/*; do
        [ -f "$f" ] && [ "${f##*/}" != "$2" ] || continue
        read -r _ l < "$f"
        [ "$l" = "$3" ] && return 0
    done
    return 1
}

# register FAMILY ADDRESS HOSTNAME: (re)add the records, marked with this generation. A name
# another client holds, or none, gives the name recorded before, else dhcp-<address>.
register() {
    old=
    [ -f "$STATE/$1/$2" ] && read -r _ old < "$STATE/$1/$2"
    name=$(label "$3")
    if [ -n "$name" ] && [ "$name" != "$old" ] && taken "$1" "$2" "$name"; then name=; fi
    [ -n "$name" ] || name=${old:-dhcp-$(echo "$2" | tr .: --)}
    [ "$name" = "$old" ] || unregister "$1" "$2"
    add "$2" "$name" || return 1
    echo "$gen $name" > "$STATE/$1/$2.new" && mv -f "$STATE/$1/$2.new" "$STATE/$1/$2"
}

case "$1" in
*4_*) fam=4 addr=$KEA_LEASE4_ADDRESS lstate=$KEA_LEASE4_STATE
    host=${KEA_LEASE4_HOSTNAME:-${KEA_QUERY4_HOSTNAME:-$KEA_QUERY4_FQDN}} ;;
*6_*) fam=6 addr=$KEA_LEASE6_ADDRESS lstate=$KEA_LEASE6_STATE
    host=${KEA_LEASE6_HOSTNAME:-$KEA_QUERY6_FQDN}
    [ "$KEA_LEASE6_TYPE" = IA_PD ] && exit 0 ;; # a delegated prefix has no name
*) exit 0 ;;
esac
case "$addr" in *[!0-9a-f.:]*) exit 1 ;; esac # Kea's text; never a path outside $STATE

mkdir -p "$STATE/4" "$STATE/6" || exit 1
exec 9>>"$STATE/lock" && flock 9 || exit 1 # one run at a time: the sweep sees every mark
gen=$(cat "$STATE/gen$fam" 2>/dev/null || echo 0)

case "$KEA_REPLAY_PHASE" in
begin) echo $((gen + 1)) > "$STATE/gen$fam"; exit ;;
end)
    [ "${KEA_REPLAY_FAILED:-0}" = 0 ] || exit 0 # some leases were not replayed: sweep next time
    for f in "$STATE/$fam"/*; do
        [ -f "$f" ] || continue
        read -r g _ < "$f"
        [ "$g" = "$gen" ] || unregister "$fam" "${f##*/}"
    done
    exit 0 ;;
esac
[ -n "$addr" ] || exit 0
case "$KEA_LEASE_EVENT" in
add | renew | old)
    if [ "$lstate" = declined ]; then unregister "$fam" "$addr"; else register "$fam" "$addr" "$host"; fi ;;
del) unregister "$fam" "$addr" ;;
esac
