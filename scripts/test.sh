#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine:
#   sudo scripts/test.sh
# Two phases. First, outside any sandbox, whatever needs a registry: as root
# it installs what the tests need (chrony, prometheus, faketime, chromium,
# buildah, bubblewrap, node exporter via apt; PyPI packages; the musl
# target; cargo-fuzz) and fetches every crate. Without root it says what is
# missing; tests that need a missing tool then print a loud SKIP (under
# CI=true they fail instead). Second, every suite runs inside a network
# namespace with only loopback (scripts/isolated): no test, benchmark or
# simulation can send a packet off this machine, and a mistake fails loudly
# with "Network is unreachable".
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."

loud() { printf '\n!!! %s\n\n' "$*" >&2; }

# Phase 2: the suites, isolated. Each prints its wall time.
if [ "${1:-}" = --suites ]; then
    started=$SECONDS
    timings=()
    suite() {  # suite NAME COMMAND...
        local name=$1 t0=$SECONDS
        shift
        echo "== $name"
        "$@"
        timings+=("$(printf '%5d s  %s' $((SECONDS - t0)) "$name")")
    }
    export CLOCKWATCH_CONF_AUDIT_DIR
    CLOCKWATCH_CONF_AUDIT_DIR=$(mktemp -d -t clockwatch-conf-audit.XXXXXX)
    trap 'rm -rf "$CLOCKWATCH_CONF_AUDIT_DIR"' EXIT

    suite "isolation guard: its own known answers" scripts/chrony_conf_guard.py --self-test
    suite "format, lints, licences and MSRV" sh -c '
        cargo fmt --all -- --check &&
        cargo clippy --workspace --all-targets -- -D warnings &&
        scripts/check-licenses.py &&
        scripts/check-msrv.py'
    if rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-musl; then
        # The image's target has code of its own (the allocator in main.rs).
        suite "clippy on the image's musl target" \
            cargo clippy -p clockwatch --target x86_64-unknown-linux-musl -- -D warnings
    fi
    # Both static binaries of the multi-arch image, stamped with the git HEAD
    # as the image labels are. The deploy tests run the arm64 one under
    # qemu-user; without them those tests SKIP (FAIL under CI=true).
    suite "static release binaries, x86_64 and aarch64 (image, end-to-end and arm64 tests)" sh -c '
        deploy/image/cross-build.sh || {
            printf "\n!!! cross-build failed: the image, arm64 and multi-arch tests will SKIP (FAIL under CI=true)\n\n" >&2
            [ "${CI:-}" != true ]
        }'
    # Several test binaries at once, those steering the host clock alone
    # (scripts/rust-tests.py says how and why).
    suite "Rust tests (unit, golden, real chronyd, real Prometheus)" scripts/rust-tests.py
    suite "deployment assets" scripts/test-deploy.sh
    if [ -x scripts/test-extra.sh ]; then
        suite "fuzz smoke, benchmark smoke, cluster simulation" scripts/test-extra.sh
    fi
    # Every chronyd configuration the tests, the benchmark and the simulation
    # wrote was checked before chronyd started; here they are checked again,
    # and each of the three must have written some (a guard that checked
    # nothing proves nothing). Without root none of them starts a chronyd.
    required=()
    if [ "$(id -u)" = 0 ]; then required=(--require tests --require bench --require sim); fi
    suite "isolation guard: every chronyd configuration written" \
        scripts/chrony_conf_guard.py --audit "$CLOCKWATCH_CONF_AUDIT_DIR" "${required[@]}"
    echo
    echo "== wall time per suite"
    printf '%s\n' "${timings[@]}"
    printf '%5d s  total (isolated phase)\n' $((SECONDS - started))
    echo "== all suites passed"
    exit 0
fi

# Phase 1: preparation, with the network.
APT_PACKAGES=(chrony prometheus prometheus-alertmanager faketime chromium bubblewrap buildah prometheus-node-exporter
              wrk musl-tools qemu-user-static docker-registry iproute2 python3 linuxptp dbus-daemon systemd)
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
# The image's two static binaries: x86_64 (musl-gcc) and aarch64
# (cargo-zigbuild with PyPI's ziglang), built in the isolated phase by
# deploy/image/cross-build.sh.
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        rustup target add "$target" >/dev/null 2>&1 || loud "MISSING: rustup target $target (image tests will SKIP)"
    fi
done
if ! command -v cargo-zigbuild >/dev/null || ! python3 -m ziglang version >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        python3 -m pip install -q --disable-pip-version-check ziglang cargo-zigbuild ||
            loud "could not install ziglang and cargo-zigbuild from PyPI (the arm64 tests will SKIP)"
    else
        loud "MISSING: PyPI ziglang and cargo-zigbuild (pip install ziglang cargo-zigbuild); the arm64 tests will SKIP"
    fi
fi
# chrony 4.0, 4.6.1 and 4.9 beside the installed 4.3, for the version matrix
# (docs/chrony-versions.md); quick once built.
echo "== preparing: the chrony version matrix"
scripts/build-chrony-versions.sh ||
    loud "the chrony version matrix is incomplete: its tests will SKIP (FAIL under CI=true)"
# linuxptp 4.x beside bookworm's 3.1.1: a free-running slave reaches SLAVE
# only with 4.x (docs/ptp.md); quick once built.
echo "== preparing: linuxptp 4"
scripts/build-linuxptp.sh ||
    loud "linuxptp 4 could not be built: its tests will SKIP (FAIL under CI=true)"
# systemd-timesyncd cannot be installed beside chrony: tests/timesyncd.rs
# runs Debian's binary unpacked into target/timesyncd.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== preparing: systemd-timesyncd (unpacked)"
    scripts/fetch-timesyncd.sh || loud "could not unpack systemd-timesyncd (tests/timesyncd.rs will SKIP)"
fi
echo "== preparing: PyPI packages, cargo-fuzz, every crate"
scripts/test-deploy.sh --prepare
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    if ! cargo fuzz --version >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        cargo install --locked cargo-fuzz >/dev/null 2>&1 || loud "could not install cargo-fuzz"
    fi
    cargo +nightly fetch --manifest-path fuzz/Cargo.toml >/dev/null
fi
cargo fetch --locked >/dev/null

exec scripts/isolated "$0" --suites
