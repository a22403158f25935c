#!/usr/bin/env bash
# Builds the static musl binaries of the multi-arch image:
#   target/x86_64-unknown-linux-musl/release/clockwatch
#   target/aarch64-unknown-linux-musl/release/clockwatch
# both stamped with the git revision (CLOCKWATCH_REVISION = `git rev-parse
# HEAD`, the same value deploy/image/build.sh writes into the image label).
#
# x86_64 is the native build with Debian's musl-gcc (musl-tools), as
# scripts/test.sh does. aarch64 is cross-compiled with cargo-zigbuild, which
# uses zig (PyPI package ziglang) as the C compiler and linker: ring and
# mimalloc have C parts, and zig ships the aarch64 musl headers and libc, so
# nothing else is needed. (Debian's gcc-aarch64-linux-gnu targets glibc; for
# musl it would also need musl-dev:arm64 through dpkg multiarch and a
# hand-written musl-gcc specs wrapper for the cross compiler.)
#
# Needs: rustup targets x86_64-unknown-linux-musl and aarch64-unknown-linux-musl,
# Debian musl-tools, PyPI ziglang and cargo-zigbuild. As root, missing ones are
# installed. Usage: deploy/image/cross-build.sh [x86_64|aarch64 ...]
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/../.."

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(x86_64 aarch64)
is_root() { [ "$(id -u)" = 0 ]; }
die() { echo "cross-build: $*" >&2; exit 1; }

export CLOCKWATCH_REVISION=${CLOCKWATCH_REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}

need_target() {
    rustup target list --installed 2>/dev/null | grep -qx "$1" && return 0
    rustup target add "$1" >/dev/null 2>&1 || die "rustup target $1 missing (rustup target add $1)"
}

# The arches build at once: the last step of each (one codegen unit, then
# LTO) runs on one core. Two cargo processes on one target directory would
# wait for each other (both lock target/release, where build scripts and
# proc macros go), so aarch64 builds in target/cross-aarch64 and its binary
# is copied to where the image scripts look for it.
build() {  # build ARCH: cargo's output in a log, the binary in place
    local arch=$1 target=$1-unknown-linux-musl
    case $arch in
        x86_64)
            cargo build --release --locked --target "$target" -p clockwatch ;;
        aarch64)
            CARGO_TARGET_DIR=target/cross-aarch64 \
                cargo zigbuild --release --locked --target "$target" -p clockwatch
            install -D target/cross-aarch64/$target/release/clockwatch target/$target/release/clockwatch ;;
    esac
}

for arch in "${arches[@]}"; do
    target=$arch-unknown-linux-musl
    need_target "$target"
    case $arch in
        x86_64)
            command -v musl-gcc >/dev/null || { is_root && apt-get install -y -q musl-tools >/dev/null 2>&1; } ||
                die "musl-gcc missing (apt-get install musl-tools)" ;;
        aarch64)
            if ! command -v cargo-zigbuild >/dev/null || ! python3 -m ziglang version >/dev/null 2>&1; then
                is_root && python3 -m pip install -q --disable-pip-version-check ziglang cargo-zigbuild
                command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild missing (pip install ziglang cargo-zigbuild)"
            fi ;;
        *) die "unknown architecture $arch (x86_64 or aarch64)" ;;
    esac
done

logs=$(mktemp -d -t cross-build.XXXXXX)
trap 'rm -rf "$logs"' EXIT
pids=()
for arch in "${arches[@]}"; do
    build "$arch" >"$logs/$arch.log" 2>&1 &
    pids+=($!)
done
failed=()
for i in "${!arches[@]}"; do
    arch=${arches[$i]}
    rc=0
    wait "${pids[$i]}" || rc=$?
    sed "s/^/[$arch] /" "$logs/$arch.log"
    [ "$rc" = 0 ] || failed+=("$arch")
done
[ ${#failed[@]} -eq 0 ] || die "the build failed for: ${failed[*]} (its output is above)"

for arch in "${arches[@]}"; do
    target=$arch-unknown-linux-musl
    bin=target/$target/release/clockwatch
    want=$([ "$arch" = x86_64 ] && echo X86-64 || echo AArch64)
    readelf -h "$bin" | grep -q "Machine:.*$want" || die "$bin is not an $want binary"
    ! readelf -l "$bin" | grep -q 'Requesting program interpreter' || die "$bin is dynamically linked"
    echo "cross-build: $bin ($want, static, revision $CLOCKWATCH_REVISION, $(stat -c %s "$bin") bytes)"
done
