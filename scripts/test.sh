#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine:
#   sudo scripts/test.sh
# As root it installs what the tests need (chrony, prometheus, faketime,
# chromium, buildah, bubblewrap, node exporter via apt; PyPI packages; the
# musl target). Without root it says what is missing; tests that need a
# missing tool then print a loud SKIP (under CI=true they fail instead).
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(chrony prometheus faketime chromium bubblewrap buildah prometheus-node-exporter wrk musl-tools dbus-daemon systemd)
loud() { printf '\n!!! %s\n\n' "$*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
        # The chrony package must not leave a system chronyd running here:
        # tests start their own, and -x keeps them off the host clock.
        pkill -x chronyd 2>/dev/null || true
    else
        loud "MISSING Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]}); tests needing them will SKIP"
    fi
fi
if ! rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-musl; then
    rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 || loud "MISSING: rustup target x86_64-unknown-linux-musl (image tests will SKIP)"
fi

# systemd-timesyncd cannot be installed beside chrony: tests/timesyncd.rs
# runs Debian's binary unpacked into target/timesyncd.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    scripts/fetch-timesyncd.sh || loud "could not unpack systemd-timesyncd (tests/timesyncd.rs will SKIP)"
fi

echo "== format, lints and licences"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
scripts/check-licenses.py

echo "== static release binary (for the image and end-to-end tests)"
if rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-musl; then
    # The image's target has code of its own (the allocator in main.rs).
    cargo clippy -p clockwatch --target x86_64-unknown-linux-musl -- -D warnings
    cargo build --release --target x86_64-unknown-linux-musl -p clockwatch
fi

echo "== Rust tests (unit, golden, real chronyd, real Prometheus)"
cargo test --workspace

echo "== deployment assets"
scripts/test-deploy.sh

if [ -x scripts/test-extra.sh ]; then
    echo "== fuzz smoke and benchmark smoke"
    scripts/test-extra.sh
fi
echo "== all suites passed"
