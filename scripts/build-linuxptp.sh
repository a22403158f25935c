#!/usr/bin/env bash
# Builds linuxptp 4.x (ptp4l, pmc, phc2sys, ...) from Debian trixie's source
# package into a private prefix, for the PTP integration tests
# (crates/clockwatch/tests/ptp.rs) next to bookworm's packaged 3.1.1:
#   sudo scripts/build-linuxptp.sh            # -> /opt/linuxptp-4/sbin/ptp4l
#   PREFIX=/somewhere scripts/build-linuxptp.sh
# Needs root only to add the deb-src line (once) and to write PREFIX. The
# host's packaged linuxptp is left alone. Nothing here runs a daemon.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail

PREFIX="${PREFIX:-/opt/linuxptp-4}"
SUITE=trixie
SOURCES=/etc/apt/sources.list.d/clockwatch-trixie-src.sources

if [ -x "$PREFIX/sbin/ptp4l" ] && "$PREFIX/sbin/ptp4l" -v 2>&1 | grep -q '^4\.'; then
    echo "linuxptp $("$PREFIX/sbin/ptp4l" -v 2>&1) already in $PREFIX"
    exit 0
fi

have_trixie_source() {
    # Not grep -q: it exits at the first match, apt-cache then dies of
    # SIGPIPE on its next write and pipefail turns the match into a failure.
    apt-cache showsrc linuxptp 2>/dev/null | grep '^Version: 4\.' >/dev/null
}

if ! have_trixie_source; then
    # Some other entry may already provide trixie's sources: add ours only
    # when none does, so that a second run (or another script) adds nothing.
    if [ ! -e "$SOURCES" ]; then
        echo "== adding deb-src for $SUITE in $SOURCES"
        cat >"$SOURCES" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    fi
    apt-get update -q >/dev/null
    have_trixie_source || {
        echo "no linuxptp 4.x source package after apt-get update (is $SOURCES right?)" >&2
        exit 1
    }
fi
command -v curl >/dev/null || apt-get install -y -q --no-install-recommends curl >/dev/null

# By version: `linuxptp/trixie` resolves through the installed binary
# package's release and fails when bookworm's 3.1.1 is installed. Every 4.x
# the indexes list (trixie's, and sid's when another script added sid) is
# tried, newest first: a mirror has been seen to list sid's 4.4 and serve a
# 404 for its tarball.
# Only the upstream tarball (.orig.tar.*), checked against the SHA-256 in the
# signed Sources index: the mirror has also been seen to lack the .dsc and
# Debian's patch tarball while it still serves the upstream one, and Debian's
# patches (packaging, man pages) change nothing the tests read.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
file=
for version in $(apt-cache showsrc linuxptp | sed -n 's/^Version: \(4\..*\)/\1/p' | sort -Vr); do
    line="$(apt-get source -q --print-uris "linuxptp=$version" | grep -E "^'[^']*\.orig\.tar\.[a-z0-9]+' " | head -n1)" || true
    [ -n "$line" ] || { echo "apt-get source --print-uris linuxptp=$version lists no upstream tarball" >&2; continue; }
    read -r uri candidate _size checksum <<<"$line"
    uri="${uri//\'/}"
    echo "== fetching $candidate (linuxptp $version)"
    if curl -fsS -o "$candidate" "$uri" && echo "${checksum#SHA256:}  $candidate" | sha256sum -c --quiet; then
        file=$candidate
        break
    fi
    rm -f "$candidate"
done
[ -n "$file" ] || { echo "no linuxptp 4.x upstream tarball could be fetched" >&2; exit 1; }
tar -xf "$file"
src="$(find . -maxdepth 1 -type d -name 'linuxptp-*' | head -n1)"
[ -n "$src" ] || { echo "$file has no linuxptp-* directory" >&2; exit 1; }
cd "$src"
# No build dependencies beyond a C compiler, make and the kernel headers
# (linux-libc-dev).
echo "== make ($src) -> $PREFIX"
make -j"$(nproc)" >/dev/null
make install prefix="$PREFIX" >/dev/null
"$PREFIX/sbin/ptp4l" -v
