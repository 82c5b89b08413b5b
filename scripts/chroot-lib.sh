# Sourced by scripts/roots.sh, scripts/test-matrix.sh and scripts/test-deb.sh: mounting and
# unmounting what a Debian root needs to run builds, Kea and the tests.

# Mounts /proc in ROOT (if not yet).
mount_proc() {
    mountpoint -q "$1/proc" || mount -t proc proc "$1/proc"
}

# Bind-mounts SRC on ROOT/DEST (created if missing), read-write.
bind_into() {
    root=$1 src=$2 dest=$3
    mkdir -p "$root$dest"
    mountpoint -q "$root$dest" || mount --bind "$src" "$root$dest"
}

# Unmounts everything mounted at or under ROOT's top-level paths, deepest first, lazily as a
# last resort. Never fails.
chroot_umount_all() {
    root=$(readlink -f "$1")
    for i in 1 2 3; do
        mounts=$(awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r)
        [ -z "$mounts" ] && return 0
        for m in $mounts; do
            umount "$m" 2>/dev/null || { [ "$i" = 3 ] && umount -l "$m" 2>/dev/null; } || true
        done
    done
    return 0
}
