#!/usr/bin/env bash
# Builds the chrony versions of the test matrix (docs/chrony-versions.md) into
# private prefixes, one per version: /opt/chrony-VERSION/{sbin/chronyd,bin/chronyc}.
# chrony 4.3 is not built: it is Debian bookworm's installed chrony.
#
#   sudo scripts/build-chrony-versions.sh        # CI preparation step (network)
#
# Each version is the upstream tarball that Debian's source package of a suite
# carries (`apt-get source --print-uris chrony/SUITE`: its URL and SHA-256 from
# the suite's signed Sources index), checked again against the SHA-256 pinned
# below, so a suite that moved on to a newer chrony still builds the pinned
# one from Debian's pool. deb-src lines are added (in
# /etc/apt/sources.list.d/clockwatch-chrony-src.sources) only for suites that
# have none. The build is minimal (no NTS, no seccomp, no line editing, no
# crypto library: nothing but a C compiler and make), chronyd and chronyc only.
#
# Idempotent: a version whose chronyd and chronyc already report it is left
# alone, and when all are built the script touches neither apt nor the
# network. Exit status 0 when every version is built, 1 otherwise (each
# failure named, with the end of its log).
#
# CLOCKWATCH_CHRONY_VERSIONS_ROOT (default /opt) moves the prefixes; the tests
# read the same variable.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail

# version  Debian suite  SHA-256 of chrony_VERSION.orig.tar.gz
MATRIX=(
    "4.0   bullseye be27ea14c55e7a4434b2fa51d53018c7051c42fa6a3198c9aa6a1658bae0c625"
    "4.6.1 trixie   571ff73fbf0ae3097f0604eca2e00b1d8bb2e91affe1a3494785ff21d6199c5c"
    "4.9   sid      4924c6f530105bcd5b9e9e33c48a2ae1bfd889222c8480bc41601110efc864d0"
)
POOL=http://deb.debian.org/debian/pool/main/c/chrony
ROOT=${CLOCKWATCH_CHRONY_VERSIONS_ROOT:-/opt}
SOURCES_FILE=/etc/apt/sources.list.d/clockwatch-chrony-src.sources
CACHE=/var/cache/clockwatch-chrony
# Only what needs no library beyond libc; --without-seccomp as the issue asks
# (4.0 has the filter off by default, later versions on).
CONFIGURE_OPTIONS=(--disable-readline --disable-sechash --disable-nts --disable-privdrop
                   --without-libcap --without-seccomp)

say() { printf 'build-chrony-versions: %s\n' "$*"; }
fail() { printf '\n!!! build-chrony-versions: %s\n\n' "$*" >&2; }

# True if PREFIX holds a chronyd and a chronyc of VERSION.
built() {  # built PREFIX VERSION
    local bin
    for bin in "$1/sbin/chronyd" "$1/bin/chronyc"; do
        [ -x "$bin" ] || return 1
        # "chronyd (chrony) version 4.0 (+CMDMON ...)"
        [ "$("$bin" --version 2>/dev/null | awk '{print $4}')" = "$2" ] || return 1
    done
}

todo=()
for row in "${MATRIX[@]}"; do
    read -r version suite sha <<<"$row"
    if built "$ROOT/chrony-$version" "$version"; then
        say "chrony $version: already built in $ROOT/chrony-$version"
    else
        todo+=("$row")
    fi
done
[ ${#todo[@]} -eq 0 ] && exit 0

names=$(for r in "${todo[@]}"; do printf 'chrony %s, ' "${r%% *}"; done)
if [ "$(id -u)" != 0 ]; then
    fail "not built: ${names%, }; building needs root (apt-get, $ROOT): sudo $0"
    exit 1
fi
if [ "${CLOCKWATCH_ISOLATED:-}" = 1 ]; then
    fail "this step needs the network: run it before scripts/isolated, not inside"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -q -o DPkg::Lock::Timeout=300)

# A C compiler, make, and curl for a tarball the suite no longer lists.
tools_missing=()
for t in gcc make curl; do command -v "$t" >/dev/null || tools_missing+=("$t"); done
if [ ${#tools_missing[@]} -gt 0 ]; then
    say "installing build-essential curl (missing: ${tools_missing[*]})"
    { "${APT[@]}" update >/dev/null && "${APT[@]}" install -y --no-install-recommends \
        build-essential curl ca-certificates >/dev/null; } ||
        { fail "apt-get could not install build-essential curl"; exit 1; }
fi

# deb-src lines, for the suites that have none.
configured=$(apt-get indextargets --no-release-info --format '$(CREATED_BY) $(RELEASE)' 2>/dev/null |
             awk '$1 == "Sources" { print $2 }')
ours=$( [ -f "$SOURCES_FILE" ] && awk '/^Suites:/ { $1 = ""; print }' "$SOURCES_FILE" || true)
wanted=()
for row in "${todo[@]}"; do
    read -r _ suite _ <<<"$row"
    grep -qx "$suite" <<<"$configured" || wanted+=("$suite")
done
if [ ${#wanted[@]} -gt 0 ]; then
    # shellcheck disable=SC2086 # $ours: a list of words
    suites=$(printf '%s\n' $ours "${wanted[@]}" | sort -u | tr '\n' ' ')
    say "adding deb-src lines for: ${wanted[*]} ($SOURCES_FILE)"
    cat >"$SOURCES_FILE" <<EOF
# Written by clockwatch's scripts/build-chrony-versions.sh: chrony's source
# packages, for the version matrix of the tests (docs/chrony-versions.md).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${suites% }
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
say "apt-get update (the suites' source indexes)"
update_log=$(mktemp)
if ! "${APT[@]}" update >/dev/null 2>"$update_log"; then
    # Not fatal: the indexes already there, or Debian's pool with the
    # pinned SHA-256, may still do.
    fail "apt-get update failed (going on with the indexes there are):"
    tail -5 "$update_log" >&2
fi
rm -f "$update_log"

# Downloads chrony_VERSION.orig.tar.gz into $CACHE, checked against the pin.
fetch_tarball() {  # fetch_tarball VERSION SUITE SHA256
    local version=$1 suite=$2 sha=$3 file="chrony_$1.orig.tar.gz" url listed
    mkdir -p "$CACHE"
    if [ -f "$CACHE/$file" ] && sha256sum -c --status <<<"$sha  $CACHE/$file"; then
        return 0
    fi
    # 'URL' NAME SIZE SHA256:HEX, from the suite's signed Sources index.
    listed=$(apt-get source --print-uris "chrony/$suite" 2>/dev/null | awk -v f="$file" '$2 == f')
    if [ -n "$listed" ]; then
        url=$(awk '{ gsub(/\x27/, "", $1); print $1 }' <<<"$listed")
        if [ "$(awk '{ sub(/^SHA256:/, "", $4); print $4 }' <<<"$listed")" != "$sha" ]; then
            fail "chrony $version: $suite's Sources index lists $file with another SHA-256 than the pinned one"
            return 1
        fi
    else
        url="$POOL/$file"
        say "chrony $version: $suite's Sources index does not list $file (the suite moved on?); trying Debian's pool"
    fi
    say "chrony $version: downloading $url"
    curl -fsSL --retry 3 -o "$CACHE/$file.part" "$url" || { fail "chrony $version: download of $url failed"; return 1; }
    if ! sha256sum -c --status <<<"$sha  $CACHE/$file.part"; then
        fail "chrony $version: $url does not have the pinned SHA-256 $sha"
        rm -f "$CACHE/$file.part"
        return 1
    fi
    mv "$CACHE/$file.part" "$CACHE/$file"
}

# Configures and compiles in WORK, then moves the two programs into place
# as one directory: an interrupted build never looks built. Every step is
# checked explicitly (errexit does not apply in a function called by `if`).
build() {  # build VERSION WORK LOG
    local version=$1 work=$2 log=$3 prefix="$ROOT/chrony-$version" src="$2/chrony-$1"
    {
        echo "== tar -xzf $CACHE/chrony_$version.orig.tar.gz" &&
        tar -xzf "$CACHE/chrony_$version.orig.tar.gz" -C "$work" &&
        echo "== ./configure" &&
        (cd "$src" && ./configure --prefix="$prefix" --sysconfdir="$prefix/etc" \
            --localstatedir="$prefix/var" "${CONFIGURE_OPTIONS[@]}") &&
        echo "== make chronyd chronyc" &&
        make -C "$src" -j"$(nproc)" chronyd chronyc &&
        # Only the two programs: `make install` also wants the manual pages.
        echo "== install" &&
        install -D -m 755 "$src/chronyd" "$work/stage/sbin/chronyd" &&
        install -D -m 755 "$src/chronyc" "$work/stage/bin/chronyc" &&
        mkdir -p "$ROOT" && rm -rf "$prefix.old" &&
        { [ ! -e "$prefix" ] || mv "$prefix" "$prefix.old"; } &&
        mv "$work/stage" "$prefix" && rm -rf "$prefix.old" &&
        echo "== check: both programs report $version" &&
        built "$prefix" "$version"
    } >"$log" 2>&1
}

failed=()
for row in "${todo[@]}"; do
    read -r version suite sha <<<"$row"
    fetch_tarball "$version" "$suite" "$sha" || { failed+=("chrony $version (download)"); continue; }
    log="$CACHE/build-$version.log"
    say "chrony $version: building into $ROOT/chrony-$version (log: $log)"
    t0=$SECONDS
    work=$(mktemp -d -t "clockwatch-chrony-$version.XXXXXX")
    if build "$version" "$work" "$log"; then
        rm -rf "$work"
        say "chrony $version: built in $((SECONDS - t0)) s"
    else
        fail "chrony $version: build failed at: $(grep '^== ' "$log" | tail -1 | cut -c4-)"
        tail -20 "$log" >&2
        rm -rf "$work"
        failed+=("chrony $version (build, $log)")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    fail "NOT BUILT: ${failed[*]}"
    exit 1
fi
say "every version is built: $(for r in "${MATRIX[@]}"; do printf '%s ' "$ROOT/chrony-${r%% *}"; done)"
