#!/bin/sh
# Makes, once, and caches the Debian roots the version matrix runs in:
#
#   scripts/roots.sh [SUITE...]            full roots: SUITE's Kea plus everything ./test.sh needs
#   scripts/roots.sh --pristine [SUITE...]  only the pristine tarball (minbase + kea-dhcp4-server)
#   scripts/roots.sh --print-mirror         only print the Debian archive it would use
#
# SUITE is a Debian suite: bookworm (Kea 2.2), trixie (Kea 2.6), sid (Kea 3.0); default:
# trixie sid. Each is debootstrapped (--variant=minbase) into
# ${KEA_RUNSCRIPT_ROOTS:-/var/cache/kea-runscript/roots} from $KEA_RUNSCRIPT_MIRROR, or else the
# Debian archive this machine's apt uses (debian_mirror below):
#
#   <suite>-pristine.tar   minbase + kea-dhcp4-server + kea-dhcp6-server: a fresh machine with
#                          Kea, for the package test (scripts/test-deb.sh unpacks a copy per run)
#   <suite>/               that, plus the packages of scripts/install-deps.sh, for the test suite
#
# A marker (<suite>-pristine.tar.ok, <suite>/.kea-runscript-root) records a finished step; a
# half-made root (an interrupted run) is unmounted, removed and made again. No service starts
# in a root: each has a policy-rc.d that exits 101. Needs root.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOTS=${KEA_RUNSCRIPT_ROOTS:-/var/cache/kea-runscript/roots}
MIRROR=${KEA_RUNSCRIPT_MIRROR:-}
. "$HERE/chroot-lib.sh"

# The URI of the Debian archive this machine's apt uses, as apt itself reads its sources
# (`apt-get indextargets`: one-line and deb822 files, enabled entries only): a deb source of
# component main whose Release file says Origin: Debian, not -security. apt knows a source's
# Release file once it has fetched it: on a machine that never ran `apt-get update`, it runs it.
# Prints nothing if none.
debian_mirror() {
    for attempt in 1 2; do
        uri=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 'Origin: Debian' 'Target-Of: deb' 'Component: main' 2>/dev/null |
            awk '$1 !~ /-security$/ { print $2; exit }')
        if [ -n "$uri" ]; then
            echo "${uri%/}"
            return 0
        fi
        [ $attempt = 2 ] || apt-get update -qq >/dev/null 2>&1 || true
    done
}

# Sets MIRROR (once), or fails naming both ways to give it.
need_mirror() {
    [ -n "$MIRROR" ] || MIRROR=$(debian_mirror) || MIRROR=""
    [ -n "$MIRROR" ] && return 0
    echo "roots: no Debian archive in this machine's apt sources (a deb source of component main," >&2
    echo "roots: Origin: Debian, not -security, per apt-get indextargets): set KEA_RUNSCRIPT_MIRROR" >&2
    echo "roots: to the archive's URI" >&2
    exit 1
}

pristine_only=""
if [ "${1:-}" = "--print-mirror" ]; then need_mirror; echo "$MIRROR"; exit 0; fi
if [ "${1:-}" = "--pristine" ]; then pristine_only=1; shift; fi
[ $# -gt 0 ] || set -- trixie sid
[ "$(id -u)" = 0 ] || { echo "roots: needs root" >&2; exit 1; }

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "roots: installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
fi
mkdir -p "$ROOTS"

# Removes a directory that may hold a root, unmounting what is mounted under it first (a
# bind-mounted toolchain or work tree must never be deleted with it).
remove_root() {
    [ -e "$1" ] || return 0
    chroot_umount_all "$1"
    if findmnt -R -n -o TARGET "$1" >/dev/null 2>&1 || grep -q " $1/" /proc/mounts; then
        echo "roots: $1 still has mounts, not removing it" >&2
        exit 1
    fi
    rm -rf --one-file-system "$1"
}

# apt-get inside ROOT with /proc mounted (kea-common's postinst needs it).
root_apt() {
    root=$1; shift
    mount_proc "$root"
    rc=0
    chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@" || rc=$?
    chroot_umount_all "$root"
    return $rc
}

make_pristine() {
    suite=$1
    tar=$ROOTS/$suite-pristine.tar
    [ -e "$tar.ok" ] && [ -e "$tar" ] && return 0
    rm -f "$tar" "$tar.ok"
    build=$ROOTS/.$suite-build
    remove_root "$build"
    need_mirror
    echo "roots: debootstrap $suite (minbase) from $MIRROR"
    t0=$(date +%s)
    debootstrap --variant=minbase "$suite" "$build" "$MIRROR" > "$ROOTS/$suite-debootstrap.log" 2>&1 ||
        { tail -20 "$ROOTS/$suite-debootstrap.log" >&2; echo "roots: debootstrap $suite failed (log: $ROOTS/$suite-debootstrap.log)" >&2; exit 1; }
    # No service may start in a root; no recommends; sid's Release file may be older than its
    # Valid-Until by this machine's clock.
    printf '#!/bin/sh\nexit 101\n' > "$build/usr/sbin/policy-rc.d"
    chmod 755 "$build/usr/sbin/policy-rc.d"
    cat > "$build/etc/apt/apt.conf.d/90kea-runscript" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Check-Valid-Until "false";
Acquire::Retries "3";
CONF
    root_apt "$build" apt-get update -qq
    root_apt "$build" apt-get install -y -qq kea-dhcp4-server kea-dhcp6-server >> "$ROOTS/$suite-debootstrap.log" 2>&1 ||
        { tail -20 "$ROOTS/$suite-debootstrap.log" >&2; echo "roots: installing Kea in $suite failed" >&2; exit 1; }
    root_apt "$build" apt-get clean
    tar -C "$build" -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
    remove_root "$build"
    touch "$tar.ok"
    echo "roots: $tar ($(du -h "$tar" | cut -f1), $(( $(date +%s) - t0 )) s)"
}

# Runs scripts/install-deps.sh (packages only) in the root DIR of SUITE.
install_packages() {
    suite=$1 dir=$2
    cp "$HERE/install-deps.sh" "$dir/tmp/install-deps.sh"
    rc=0
    root_apt "$dir" env INSTALL_DEPS_NO_CARGO=1 sh /tmp/install-deps.sh >> "$ROOTS/$suite-packages.log" 2>&1 || rc=$?
    rm -f "$dir/tmp/install-deps.sh"
    [ $rc = 0 ] || { tail -20 "$ROOTS/$suite-packages.log" >&2; echo "roots: installing packages in $suite failed" >&2; exit 1; }
}

make_full() {
    suite=$1
    dir=$ROOTS/$suite
    if [ -e "$dir/.kea-runscript-root" ]; then
        # A cached root gets what install-deps.sh has come to list since it was made (quick when
        # nothing is missing: install-deps.sh only asks dpkg then).
        install_packages "$suite" "$dir"
        root_apt "$dir" apt-get clean
        return 0
    fi
    make_pristine "$suite"
    remove_root "$dir"
    t0=$(date +%s)
    mkdir -p "$dir"
    tar -C "$dir" -xf "$ROOTS/$suite-pristine.tar"
    case $suite in
        sid|forky)
            # ISC's DHCP client and relay (dhclient, dhcrelay: test clients only) left Debian
            # after trixie: take them from trixie, pinned low so that nothing else comes from it.
            need_mirror
            echo "deb $MIRROR trixie main" > "$dir/etc/apt/sources.list.d/trixie-isc-dhcp.list"
            printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > "$dir/etc/apt/preferences.d/trixie-isc-dhcp"
            ;;
    esac
    echo "roots: installing the test suite's packages in $suite"
    : > "$ROOTS/$suite-packages.log"
    install_packages "$suite" "$dir"
    root_apt "$dir" apt-get install -y -qq ca-certificates >> "$ROOTS/$suite-packages.log" 2>&1
    root_apt "$dir" apt-get clean
    # Kea's packaged state, log and socket directories (the tests run Kea from these paths).
    mkdir -p "$dir/run/kea" "$dir/var/lib/kea" "$dir/var/log/kea"
    kv=$(chroot "$dir" kea-dhcp4 -v 2>/dev/null || echo "?")
    touch "$dir/.kea-runscript-root"
    echo "roots: $dir ready: Kea $kv ($(du -sh --one-file-system "$dir" | cut -f1), $(( $(date +%s) - t0 )) s)"
}

for suite in "$@"; do
    case $suite in
        bookworm|trixie|sid|forky) ;;
        *) echo "roots: unknown suite $suite (bookworm, trixie, sid, forky)" >&2; exit 2 ;;
    esac
    if [ -n "$pristine_only" ]; then make_pristine "$suite"; else make_full "$suite"; fi
done
