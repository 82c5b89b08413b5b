#!/bin/sh
# Runs a command inside a Debian root made by scripts/roots.sh, in this work tree, with the
# host's Rust toolchain:
#
#   scripts/in-root.sh SUITE COMMAND [ARG...]     e.g. scripts/in-root.sh sid ./test.sh
#
# The root sees this work tree at the same path, ~/.cargo and ~/.rustup (run `cargo fetch` on
# the host first: the build inside is offline), /proc, /sys, /dev; /run is a fresh tmpfs (with
# /run/kea and /run/netns). Everything is mounted in a private mount namespace (unshare), so
# it all disappears when the command ends, however it ends: nothing stays mounted in the cached
# root, and the network namespaces the tests create inside live only as long as the command.
# CARGO_TARGET_DIR is target/kea-<major.minor> of the root's Kea, so builds for each Kea
# release stay apart. Needs root.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/.." && pwd)
ROOTS=${KEA_RUNSCRIPT_ROOTS:-/var/cache/kea-runscript/roots}
[ $# -ge 2 ] || { echo "usage: $0 SUITE COMMAND [ARG...]" >&2; exit 2; }
suite=$1
root=$ROOTS/$suite
[ -e "$root/.kea-runscript-root" ] || { echo "in-root: no root for $suite: run scripts/roots.sh $suite" >&2; exit 1; }

if [ -z "${KRS_IN_MOUNT_NS:-}" ]; then
    exec unshare --mount --propagation private env KRS_IN_MOUNT_NS=1 "$0" "$@"
fi
shift

. "$HERE/chroot-lib.sh"
home=${HOME:-/root}
cargo_home=${CARGO_HOME:-$home/.cargo}
rustup_home=${RUSTUP_HOME:-$home/.rustup}
# The root must be a mount point: `ip netns exec` remounts "/" as a slave in its own namespace.
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
bind_into "$root" /sys /sys
bind_into "$root" /dev /dev
bind_into "$root" /dev/pts /dev/pts
[ -d /dev/shm ] && bind_into "$root" /dev/shm /dev/shm
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mkdir -p "$root/run/kea" "$root/run/netns" "$root/run/lock"
bind_into "$root" "$PROJECT" "$PROJECT"
bind_into "$root" "$cargo_home" /root/.cargo
bind_into "$root" "$rustup_home" /root/.rustup

kv=$(chroot "$root" kea-dhcp4 -v | head -1)
mm=$(echo "$kv" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
target=${CARGO_TARGET_DIR_IN_ROOT:-$PROJECT/target/kea-$mm}
cd /
exec chroot "$root" /usr/bin/env -i \
    HOME=/root CARGO_HOME=/root/.cargo RUSTUP_HOME=/root/.rustup \
    PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    CARGO_TARGET_DIR="$target" CARGO_NET_OFFLINE=true KRS_IN_ROOT=1 LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    ${RUST_BACKTRACE:+RUST_BACKTRACE="$RUST_BACKTRACE"} ${KRS_KEEP_TMP:+KRS_KEEP_TMP="$KRS_KEEP_TMP"} \
    ${RUST_TEST_THREADS:+RUST_TEST_THREADS="$RUST_TEST_THREADS"} \
    ${CAMPAIGN_SEED:+CAMPAIGN_SEED="$CAMPAIGN_SEED"} ${CAMPAIGN_PACKETS:+CAMPAIGN_PACKETS="$CAMPAIGN_PACKETS"} \
    /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$PROJECT" "$@"
