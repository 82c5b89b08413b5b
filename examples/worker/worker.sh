#!/bin/sh
# kea-runscript worker example in POSIX shell ("mode": "worker"): the same as worker.py.
#
# Kea's hook starts it as `worker.sh worker` (or `worker.sh worker wait` with "wait": true) and
# writes each event to its stdin as one line of JSON: {"hook":"lease4_select","KEA_...":"...",...}.
# It logs the lease events to $LEASE_LOG (the hook's "extra-env") or else to stderr, which the
# hook copies into Kea's log (KRS_SCRIPT_STDERR). With "wait": true it answers every line, in
# order, with one line: continue, skip or drop.
#
# The shell has no JSON parser: field() takes a value out of the line the hook writes (compact,
# one "NAME":"value" pair after another). Values are client data: never eval them.

[ -n "$LEASE_LOG" ] && exec 2>>"$LEASE_LOG"
wait=no
[ "$1 $2" = "worker wait" ] && wait=yes

# field NAME: the value of "NAME":"..." in $line (empty when absent; escaped quotes not handled).
field() {
    case "$line" in
        *"\"$1\":\""*) v=${line#*\"$1\":\"}; printf '%s' "${v%%\"*}" ;;
    esac
}

while IFS= read -r line; do
    hook=$(field hook)
    case "$hook" in
        lease4_select|lease4_renew|lease4_release|lease4_expire)
            [ "$(field KEA_FAKE_ALLOCATION)" = 1 ] ||
                printf '%s %s %s\n' "$hook" "$(field KEA_LEASE4_ADDRESS)" "$(field KEA_LEASE4_HWADDR)" >&2 ;;
        lease6_select|lease6_renew|lease6_rebind|lease6_release|lease6_expire)
            [ "$(field KEA_FAKE_ALLOCATION)" = 1 ] ||
                printf '%s %s %s\n' "$hook" "$(field KEA_LEASE6_ADDRESS)" "$(field KEA_LEASE6_CLIENT_DUID)" >&2 ;;
    esac
    [ "$wait" = yes ] && echo continue
done
