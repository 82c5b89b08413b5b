#!/bin/sh
# Builds the Debian package of kea-runscript for the Kea installed where it runs (the host, or a
# root: scripts/in-root.sh sid scripts/deb.sh), with plain dpkg-deb:
#
#   scripts/deb.sh [OUTDIR]     → OUTDIR/kea-runscript_<version>+kea<kea version>_amd64.deb
#                                 (OUTDIR: target/deb; the path is printed last)
#
# Kea loads a hook only if it was built for the very same Kea release, so the package depends
# on the exact Debian version of the kea-common it was built against (it owns the hooks
# directory and the libkea-* libraries) and on a server of that version. It holds:
#   /usr/lib/x86_64-linux-gnu/kea/hooks/libkea_runscript.so   the library (release build)
#   /usr/bin/kea-runscript-check                               the pre-flight check
#   the example scripts, where Kea lets a hook run them:
#     Kea < 3.0:  /usr/share/kea-runscript/examples/...        (the path the examples name)
#     Kea >= 3.0: /usr/share/kea/scripts/kea-runscript-*         (Kea 3.0 runs hook scripts only
#                 from its scripts directory, no subdirectory: the names carry the example's
#                 path, e.g. routes/routes.sh -> kea-runscript-routes-routes.sh)
#   /usr/share/doc/kea-runscript/: README.md, docs/, copyright, examples/ (the configurations, naming
#     the installed scripts), kea-dhcp4.conf.sample (the debug example: every hook point logs
#     to /tmp/kea-runscript-debug.log; change the interface).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/.." && pwd)
cd "$PROJECT"
target=${CARGO_TARGET_DIR:-$PROJECT/target}
out=${1:-$target/deb}

kea_pkg_version=$(dpkg-query -W -f='${Version}' kea-common 2>/dev/null) ||
    { echo "deb: kea-common is not installed (apt-get install kea-dev kea-dhcp4-server)" >&2; exit 1; }
kea_version=$(kea-dhcp4 -v | head -1)
kea_mm=$(echo "$kea_version" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
major=${kea_mm%%.*}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
pkg_version="$version+kea$kea_version"
hooks_dir=/usr/lib/$multiarch/kea/hooks

echo "deb: building the release library against Kea $kea_version ($kea_pkg_version)"
cargo build --release --locked -p kea-runscript -p kea-runscript-config

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"
doc=$stage/usr/share/doc/kea-runscript
install -d "$stage/DEBIAN" "$stage$hooks_dir" "$stage/usr/bin" "$doc/examples"
install -m 644 "$target/release/libkea_runscript.so" "$stage$hooks_dir/"
install -m 755 "$target/release/kea-runscript-check" "$stage/usr/bin/"
strip --strip-unneeded "$stage$hooks_dir/libkea_runscript.so" "$stage/usr/bin/kea-runscript-check"

# Example scripts: where the installed configurations name them.
examples_dir=/usr/share/kea-runscript/examples
sed_paths=""
scripts=$(cd examples && find . -type f -perm -u+x | sed 's|^\./||' | sort)
for s in $scripts; do
    if [ "$major" -ge 3 ]; then
        dest=/usr/share/kea/scripts/kea-runscript-$(echo "$s" | tr '/' '-')
    else
        dest=$examples_dir/$s
    fi
    install -D -m 755 "examples/$s" "$stage$dest"
    sed_paths="$sed_paths -e s|$examples_dir/$s\"|$dest\"|"
done
# Configurations and READMEs of the examples, under the doc directory, naming those paths.
for f in $(cd examples && find . -type f ! -perm -u+x | sed 's|^\./||' | sort); do
    install -D -m 644 "examples/$f" "$doc/examples/$f"
    # shellcheck disable=SC2086
    if [ -n "$sed_paths" ]; then sed -i $sed_paths "$doc/examples/$f"; fi
done
# The scripts are documentation too: the doc's examples/ links to them where they are installed.
for s in $scripts; do
    if [ "$major" -ge 3 ]; then
        target=/usr/share/kea/scripts/kea-runscript-$(echo "$s" | tr '/' '-')
    else
        target=$examples_dir/$s
    fi
    mkdir -p "$(dirname "$doc/examples/$s")"
    ln -s "$target" "$doc/examples/$s"
done
cp "$doc/examples/debug-kea-dhcp4.conf" "$doc/kea-dhcp4.conf.sample"
install -m 644 README.md "$doc/README.md"
install -d "$doc/docs"
install -m 644 docs/*.md "$doc/docs/"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kea-runscript

Files: *
License: MPL-2.0
 This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0.
 On Debian systems, the full text is in /usr/share/common-licenses/MPL-2.0.
COPYRIGHT

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: kea-runscript
Version: $pkg_version
Architecture: $arch
Maintainer: kea-runscript maintainers <root@localhost>
Installed-Size: $size
Depends: kea-common (= $kea_pkg_version), kea-dhcp4-server (= $kea_pkg_version) | kea-dhcp6-server (= $kea_pkg_version), libc6 (>= 2.34)
Section: net
Priority: optional
Description: Kea DHCP hook library that runs a program at Kea's hook points
 kea-runscript runs an operator's program at ISC Kea's hook points (packet received, lease
 granted, renewed, released, expired...), with everything Kea knows there as KEA_*
 environment variables. A drop-in replacement for kea-hook-runscript.
 .
 Built for Kea $kea_version ($kea_pkg_version): Kea loads a hook library only if it was built
 for the same release. Sample configuration: /usr/share/doc/kea-runscript/kea-dhcp4.conf.sample.
CONTROL
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -print0 | sort -z | xargs -0 md5sum | sed 's|  \./|  |') > "$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/kea-runscript_${pkg_version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
