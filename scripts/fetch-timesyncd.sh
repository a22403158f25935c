#!/usr/bin/env bash
# Unpacks Debian's systemd-timesyncd, with the libsystemd-shared of the same
# version, into a private directory for crates/clockwatch/tests/timesyncd.rs,
# without installing it: its package conflicts with chrony's (both provide
# time-daemon), and the tests need both.
#
#   sudo scripts/fetch-timesyncd.sh [DIR]      # DIR defaults to target/timesyncd
#
# Leaves DIR/root/…/systemd-timesyncd, DIR/root/usr/lib/<arch>/systemd/
# libsystemd-shared-*.so and the package's D-Bus policy file. As root it
# also creates the system user systemd-timesync that timesyncd drops to
# (Debian's sysusers.d entry, created by hand since nothing runs sysusers).
# Needs the network (apt): run it before the tests' network namespace.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-target/timesyncd}
packages=(systemd-timesyncd libsystemd-shared)

mkdir -p "$dest/debs"
dest=$(cd "$dest" && pwd)
rm -f "$dest"/debs/*.deb
download() { (cd "$dest/debs" && apt-get -q -o APT::Sandbox::User=root download "${packages[@]}"); }
if ! download >/dev/null 2>&1; then
    # No package lists yet (a fresh machine): fetch them once.
    apt-get update -q >/dev/null
    download >/dev/null
fi

# The binary links libsystemd-shared-NNN.so, whose private symbols change
# with every upload: the two must be of one version.
versions=$(for deb in "$dest"/debs/*.deb; do dpkg-deb -f "$deb" Version; done | sort -u)
if [ "$(echo "$versions" | wc -l)" != 1 ]; then
    echo "fetch-timesyncd: systemd-timesyncd and libsystemd-shared differ in version: $versions" >&2
    exit 1
fi

rm -rf "$dest/root"
for deb in "$dest"/debs/*.deb; do
    dpkg-deb -x "$deb" "$dest/root"
done
binary=$(find "$dest/root" -path '*/systemd/systemd-timesyncd' -type f | head -n1)
[ -x "$binary" ] || { echo "fetch-timesyncd: no systemd-timesyncd in the package" >&2; exit 1; }

if [ "$(id -u)" = 0 ] && ! getent passwd systemd-timesync >/dev/null; then
    useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin \
        --comment "systemd Time Synchronization" systemd-timesync
fi
echo "fetch-timesyncd: systemd-timesyncd $versions in $binary"
