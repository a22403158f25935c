#!/usr/bin/env bash
# Builds the clockwatch runtime image with buildah, from scratch, around a
# static binary built beforehand (no base image is pulled). The image matches
# the final stage of the Dockerfile: one file /clockwatch (mode 0555, owned by
# root), USER 65534:65534, EXPOSE 9707, ENTRYPOINT ["/clockwatch"], OCI labels.
#
# Usage: deploy/image/build.sh BINARY [IMAGE] [--rootfs DIR]
#   BINARY  e.g. target/x86_64-unknown-linux-musl/release/clockwatch, or the
#           aarch64 one (the image's architecture is the binary's, read with readelf)
#   IMAGE   default localhost/clockwatch:dev
#   --rootfs DIR  also copy the image's root filesystem to DIR (for bwrap)
# Environment: VERSION, REVISION (labels; REVISION defaults to the git HEAD,
#   which is what deploy/image/cross-build.sh stamps into the binary),
#   BUILDAH_STORAGE_DRIVER (default vfs).
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
case $1 in -h|--help) usage ;; esac
binary=$1; shift
image=localhost/clockwatch:dev
rootfs=
while [ $# -gt 0 ]; do
    case $1 in
        --rootfs) rootfs=${2:?--rootfs needs a directory}; shift 2 ;;
        -h|--help) usage ;;
        *) image=$1; shift ;;
    esac
done

command -v buildah >/dev/null || { echo "buildah is not installed (apt-get install buildah)" >&2; exit 1; }
[ -f "$binary" ] || { echo "no binary at $binary: build it first (cargo build --release --target x86_64-unknown-linux-musl)" >&2; exit 1; }
if command -v readelf >/dev/null && readelf -l "$binary" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    echo "$binary is dynamically linked; the image has no libc: build for x86_64-unknown-linux-musl" >&2
    exit 1
fi

# The image's architecture is the binary's (OCI names).
machine=$(readelf -h "$binary" 2>/dev/null | awk -F: '/Machine:/ {gsub(/^ +/, "", $2); print $2}')
case $machine in
    *X86-64*) arch=amd64 ;;
    *AArch64*) arch=arm64 ;;
    *) echo "$binary: unsupported or unreadable ELF machine '${machine:-?}' (need x86-64 or AArch64; is readelf installed?)" >&2; exit 1 ;;
esac
# The version label: from the binary when it runs here, else Cargo.toml's.
version=${VERSION:-$("$binary" --version 2>/dev/null | awk '{print $NF; exit}' || true)}
version=${version:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$(dirname "$0")/../../Cargo.toml" | head -1)}
version=${version:-0.1.0}
revision=${REVISION:-$(git -C "$(dirname "$0")" rev-parse HEAD 2>/dev/null || echo unknown)}
bh() { buildah --storage-driver "${BUILDAH_STORAGE_DRIVER:-vfs}" "$@"; }

ctr=$(bh from --isolation chroot --arch "$arch" --os linux scratch)
trap 'bh rm "$ctr" >/dev/null 2>&1 || true' EXIT
bh copy --chmod 0555 --chown 0:0 "$ctr" "$binary" /clockwatch >/dev/null
bh config \
    --arch "$arch" \
    --os linux \
    --user 65534:65534 \
    --port 9707 \
    --entrypoint '["/clockwatch"]' \
    --cmd '' \
    --workingdir / \
    --label org.opencontainers.image.title=clockwatch \
    --label "org.opencontainers.image.description=Prometheus exporter for the clock error of Kubernetes nodes (chrony cmdmon + adjtimex)" \
    --label "org.opencontainers.image.licenses=Apache-2.0 OR MIT" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    --label org.opencontainers.image.source=https://example.invalid/clockwatch \
    "$ctr"
bh commit --quiet --rm "$ctr" "$image" >/dev/null
trap - EXIT

if [ -n "$rootfs" ]; then
    mkdir -p "$rootfs"
    c2=$(bh from --isolation chroot --arch "$arch" "$image")
    mnt=$(bh mount "$c2")
    cp -a "$mnt/." "$rootfs/"
    bh umount "$c2" >/dev/null
    bh rm "$c2" >/dev/null
    echo "root filesystem copied to $rootfs"
fi

echo "built $image"
bh images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$image" | sed 's/^/image size: /'
bh inspect --format '{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}} {{.OCIv1.Config.ExposedPorts}}' "$image" | sed 's/^/config: /'
bh inspect --format '{{.OCIv1.OS}}/{{.OCIv1.Architecture}}' "$image" | sed 's/^/platform: /'
