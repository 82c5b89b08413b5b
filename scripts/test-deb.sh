#!/bin/sh
# Tests a kea-runscript package (scripts/deb.sh) on a fresh machine of its Debian release:
#
#   scripts/test-deb.sh SUITE PACKAGE.deb        SUITE: bookworm, trixie or sid
#
# Unpacks a copy of the suite's pristine root (minbase + Kea's servers, scripts/roots.sh
# --pristine), installs the package there with dpkg (its dependencies must already be met:
# exactly that Kea), then, in a network namespace whose interface is the sample's eth1, runs
# `kea-dhcp4 -t` on the shipped sample configuration and starts that root's kea-dhcp4 with it,
# unchanged, the way the root's kea-dhcp4-server.service does (read from the unit: its User=,
# exactly its AmbientCapabilities=, its Environment= in an otherwise systemd-like environment,
# the Runtime/State/LogsDirectory= made in the root, owned and moded as systemd makes them), and
# has a real DHCP client (the host's dhclient) get and release a lease from it in another
# namespace; passes when Kea ran as the unit's user with the unit's capabilities and the example
# script the sample runs logged the lease, as that user. Everything runs in
# a private mount namespace; the namespaces, processes and the copy are removed at the end,
# also on failure. Addresses: 192.0.2.0/24 only. Needs root.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOTS=${KEA_RUNSCRIPT_ROOTS:-/var/cache/kea-runscript/roots}
[ $# = 2 ] || { echo "usage: $0 SUITE PACKAGE.deb" >&2; exit 2; }
suite=$1
deb=$(readlink -f "$2")
[ -f "$deb" ] || { echo "test-deb: no package $2" >&2; exit 1; }

if [ -z "${KRS_IN_MOUNT_NS:-}" ]; then
    "$HERE/roots.sh" --pristine "$suite"
    work=$(mktemp -d "$ROOTS/.deb-test-$suite.XXXXXX")
    rc=0
    unshare --mount --propagation private env KRS_IN_MOUNT_NS=1 KRS_WORK="$work" "$0" "$@" || rc=$?
    # The mounts lived in the private namespace only; check before removing anything.
    if grep -q " $work/" /proc/mounts; then
        echo "test-deb: $work still has mounts, left in place" >&2
    else
        rm -rf --one-file-system "$work"
    fi
    [ $rc = 0 ] && echo "test-deb: $suite: PASS ($(basename "$deb"))" || echo "test-deb: $suite: FAIL ($(basename "$deb"))"
    exit $rc
fi

# --- inside the private mount namespace ---
root=$KRS_WORK/root
mkdir -p "$root"
tar -C "$root" -xf "$ROOTS/$suite-pristine.tar"
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /sys "$root/sys"
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mkdir -p "$root/run/kea" "$root/run/lock"
# Namespaces of this test only: a private /run/netns hides the host's.
mkdir -p /run/netns
mount -t tmpfs -o mode=755 tmpfs /run/netns

say() { echo "test-deb: $suite: $*"; }
fail() { echo "test-deb: $suite: FAIL: $*" >&2; exit 1; }
ns=krsdeb$$
srv=${ns}s cli=${ns}c
kea_pid="" dh_pid=""
cleanup() {
    set +e
    [ -n "$kea_pid" ] && kill "$kea_pid" 2>/dev/null && sleep 1 && kill -9 "$kea_pid" 2>/dev/null
    [ -f "$KRS_WORK/dhclient.pid" ] && dh_pid=$(cat "$KRS_WORK/dhclient.pid") && [ -n "$dh_pid" ] && kill "$dh_pid" 2>/dev/null
    ip netns del "$srv" 2>/dev/null
    ip netns del "$cli" 2>/dev/null
    return 0
}
trap cleanup EXIT

cp "$deb" "$root/tmp/"
pkg=$(basename "$deb")
say "dpkg -i $pkg"
chroot "$root" env PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg -i "/tmp/$pkg" > "$KRS_WORK/dpkg.log" 2>&1 ||
    { cat "$KRS_WORK/dpkg.log" >&2; fail "dpkg -i"; }
chroot "$root" dpkg-query -W -f='${Status} ${Version}\n' kea-runscript | grep -q "install ok installed" || fail "not installed"
sample=/usr/share/doc/kea-runscript/kea-dhcp4.conf.sample
[ -f "$root$sample" ] || fail "no $sample"
lib=$(sed -n 's/.*"library": *"\([^"]*\)".*/\1/p' "$root$sample")
script=$(sed -n 's/.*"script": *"\([^"]*\)".*/\1/p' "$root$sample")
[ -f "$root$lib" ] || fail "the sample's library $lib is not installed"
[ -x "$root$script" ] || fail "the sample's script $script is not installed executable"
chroot "$root" kea-runscript-check "$sample" || fail "kea-runscript-check $sample"

# Two namespaces, the veth pair created from inside the server's (no host interface is
# touched). The server's end is named eth1, the interface the sample configuration names, so
# the sample runs exactly as shipped (Kea 3.0's -t checks that the interface exists).
ip netns add "$srv"
ip netns add "$cli"
ip -n "$srv" link add eth1 type veth peer name "${ns}c" netns "$cli"
ip -n "$srv" addr add 192.0.2.1/24 dev eth1
ip -n "$srv" link set eth1 up
ip -n "$srv" link set lo up
ip -n "$cli" link set "${ns}c" up
ip -n "$cli" link set lo up

grep -q '"interfaces": \[ "eth1" \]' "$root$sample" || fail "the sample does not serve eth1"
say "kea-dhcp4 -t $sample (in namespace $srv)"
ip netns exec "$srv" chroot "$root" kea-dhcp4 -t "$sample" > "$KRS_WORK/check.log" 2>&1 ||
    { cat "$KRS_WORK/check.log" >&2; fail "kea-dhcp4 -t"; }
# The package's unit, as systemd would run it (one value per setting, as Debian's units have).
unit=$root/lib/systemd/system/kea-dhcp4-server.service
[ -f "$unit" ] || fail "no $unit"
setting() { sed -n "s/^$1=//p" "$unit" | tail -1; }
user=$(setting User)
[ -n "$user" ] || fail "$unit has no User="
uid=$(chroot "$root" id -u "$user") && gid=$(chroot "$root" id -g "$user") || fail "no user $user in the root"
home=$(chroot "$root" getent passwd "$user" | cut -d: -f6)
shell=$(chroot "$root" getent passwd "$user" | cut -d: -f7)
caps=$(setting AmbientCapabilities)
setpriv_caps=-all mask=0
for c in $caps; do
    case $c in
    CAP_NET_BIND_SERVICE) bit=10 ;; CAP_NET_ADMIN) bit=12 ;; CAP_NET_RAW) bit=13 ;;
    *) fail "$unit: capability $c unknown to this script" ;;
    esac
    setpriv_caps="$setpriv_caps,+$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')"
    mask=$((mask | (1 << bit)))
done
# RuntimeDirectory= under /run, StateDirectory= under /var/lib, LogsDirectory= under /var/log:
# made as systemd makes them, the innermost owned by the user, with the unit's mode (0755 by default).
make_dirs() { # BASE SETTING
    mode=$(setting "${2}Mode"); mode=${mode:-0755}
    for d in $(setting "$2"); do
        mkdir -p "$root$1/$d"
        chroot "$root" chown "$uid:$gid" "$1/$d"
        chmod "$mode" "$root$1/$d"
    done
}
make_dirs /run RuntimeDirectory
make_dirs /var/lib StateDirectory
make_dirs /var/log LogsDirectory
unit_env=$(setting Environment | tr -d '"')
runtime_dirs=$(for d in $(setting RuntimeDirectory); do printf '/run/%s:' "$d"; done)
say "kea-dhcp4 -c $sample in namespace $srv, as $unit runs it: user $user, capabilities $caps, $unit_env"
: > "$KRS_WORK/kea.log" # before the start: the wait below reads it at once
# shellcheck disable=SC2086
ip netns exec "$srv" chroot "$root" setpriv --reuid="$uid" --regid="$gid" --init-groups \
    --inh-caps="$setpriv_caps" --ambient-caps="$setpriv_caps" -- \
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" USER="$user" \
    LOGNAME="$user" SHELL="$shell" RUNTIME_DIRECTORY="${runtime_dirs%:}" \
    STATE_DIRECTORY="/var/lib/$(setting StateDirectory)" LOGS_DIRECTORY="/var/log/$(setting LogsDirectory)" \
    $unit_env kea-dhcp4 -c "$sample" > "$KRS_WORK/kea.log" 2>&1 &
kea_pid=$!
i=0
until grep -q DHCP4_STARTED "$KRS_WORK/kea.log"; do
    i=$((i + 1))
    kill -0 "$kea_pid" 2>/dev/null || { cat "$KRS_WORK/kea.log" >&2; kea_pid=""; fail "kea-dhcp4 exited"; }
    [ $i -lt 300 ] || { cat "$KRS_WORK/kea.log" >&2; fail "kea-dhcp4 did not start"; }
    sleep 0.1
done
grep -q "libkea_runscript" "$KRS_WORK/kea.log" || true
# Kea itself: the unit's user and exactly its capabilities.
status=$(cat "/proc/$kea_pid/status")
echo "$status" | grep -q "^Uid:[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid\$" ||
    fail "kea-dhcp4 does not run as $user ($uid): $(echo "$status" | grep ^Uid)"
for set in CapInh CapPrm CapEff CapAmb; do
    v=$(echo "$status" | sed -n "s/^$set:[[:space:]]*//p")
    [ $((0x$v)) = $mask ] || fail "kea-dhcp4's $set is $v, the unit's capabilities are $(printf %x $mask) ($caps)"
done
say "kea-dhcp4 (pid $kea_pid) runs as $user (uid $uid), capability sets all $(printf %x $mask) ($caps)"

# A real client: the host's dhclient, with a script of ours that only records and sets the
# address (the stock one would rewrite the host's resolv.conf).
cat > "$KRS_WORK/dhclient-script" <<'SH'
#!/bin/sh
echo "$reason $new_ip_address" >> "$(dirname "$0")/dhclient.events"
case $reason in BOUND|RENEW|REBIND|REBOOT) ip addr add "$new_ip_address/24" dev "$interface" ;; esac
exit 0
SH
chmod 755 "$KRS_WORK/dhclient-script"
echo "timeout 30;" > "$KRS_WORK/dhclient.conf"
dh() {
    ip netns exec "$cli" dhclient -4 -cf "$KRS_WORK/dhclient.conf" -sf "$KRS_WORK/dhclient-script" \
        -pf "$KRS_WORK/dhclient.pid" -lf "$KRS_WORK/dhclient.leases" "$@" "${ns}c"
}
say "dhclient in namespace $cli"
timeout 40 sh -c "$(command -v ip) netns exec $cli dhclient -4 -1 -cf $KRS_WORK/dhclient.conf -sf $KRS_WORK/dhclient-script -pf $KRS_WORK/dhclient.pid -lf $KRS_WORK/dhclient.leases ${ns}c" > "$KRS_WORK/dhclient.log" 2>&1 || { cat "$KRS_WORK/dhclient.log" "$KRS_WORK/kea.log" >&2; fail "dhclient got no lease"; }
addr=$(sed -n 's/^BOUND //p' "$KRS_WORK/dhclient.events" | tail -1)
case $addr in 192.0.2.*) ;; *) fail "dhclient got no address: $(cat "$KRS_WORK/dhclient.events")" ;; esac
dh -r >> "$KRS_WORK/dhclient.log" 2>&1 || true

log=$root/tmp/kea-runscript-debug.log
i=0
until grep -q "== lease4_release ==" "$log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$KRS_WORK/kea.log" >&2; fail "the example script logged no lease4_release ($log)"; }
    sleep 0.1
done
grep -q "^KEA_LEASE4_ADDRESS=$addr\$" "$log" || fail "the example script did not see $addr"
# The script made its log: it ran as the unit's user.
owner=$(stat -c %u "$log")
[ "$owner" = "$uid" ] || fail "the example script ran as uid $owner, not $user ($uid)"
for h in pkt4_receive subnet4_select lease4_select pkt4_send lease4_release; do
    grep -q "== $h ==" "$log" || fail "the example script did not run at $h"
done
say "dhclient got $addr; the example script ran as $user at $(grep -c '^== ' "$log") hook points with it"
# The documented drop-ins of the examples that need more than the unit grants.
dropin=/usr/share/doc/kea-runscript/examples/routes/systemd/kea-dhcp4-server.service.d/kea-runscript-routes.conf
grep -q '^AmbientCapabilities=.*CAP_NET_ADMIN' "$root$dropin" || fail "no drop-in $dropin granting CAP_NET_ADMIN"
