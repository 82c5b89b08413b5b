#!/bin/sh
# Installs the NATS client for Python (nats-py, from PyPI: Debian packages none) that
# examples/nats/ uses, at the pinned version, into a cache directory of its own:
# $KRS_PYTHON_CACHE, default /var/cache/kea-runscript/python. The examples and the tests put
# that directory on the interpreter's path (PYTHONPATH); nothing is installed into the system's
# Python. pip runs with the machine's own configuration (index, proxy, certificates).
# Idempotent: does nothing when the pinned version is already there. nats-py is pure Python
# without required dependencies, so one copy serves every python3 from 3.7 on.
set -eu
NATS_PY_VERSION=2.16.0
dir=${KRS_PYTHON_CACHE:-/var/cache/kea-runscript/python}
[ -d "$dir/nats_py-$NATS_PY_VERSION.dist-info" ] && exit 0

if python3 -m pip --version >/dev/null 2>&1; then pip="python3 -m pip"
elif command -v pip3 >/dev/null 2>&1; then pip=pip3
else
    echo "install-nats-py: no pip for python3 (apt-get install python3-pip); examples/nats/ and its tests need nats-py $NATS_PY_VERSION" >&2
    exit 1
fi
echo "install-nats-py: installing nats-py $NATS_PY_VERSION into $dir"
tmp="$dir.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
# --target: a directory of its own, replaced whole, so an older pin leaves nothing behind.
$pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$tmp" "nats-py==$NATS_PY_VERSION"
mkdir -p "$(dirname "$dir")"
rm -rf "$dir"
mv "$tmp" "$dir"
