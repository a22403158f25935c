#!/usr/bin/env bash
# Builds the multi-arch image with buildah: one image per architecture from
# the static binaries of deploy/image/cross-build.sh (linux/amd64 and
# linux/arm64), and a manifest list (OCI image index) IMAGE naming both, which
# a node pulls by its own architecture.
#
# Usage: deploy/image/build-multiarch.sh IMAGE [--push DESTINATION]
#   IMAGE        e.g. <registry>/clockwatch:0.1.0; the per-arch images are
#                IMAGE-amd64 and IMAGE-arm64 (local only)
#   --push DEST  push the list and both images, e.g. docker://<registry>/clockwatch:0.1.0
#                (oci:DIR or oci-archive:FILE work too); extra options for
#                `buildah manifest push` in PUSH_OPTS (e.g. --tls-verify=false)
# Environment: as deploy/image/build.sh. Needs root (buildah vfs) and buildah.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
image=${1:?usage: build-multiarch.sh IMAGE [--push DESTINATION]}
shift
push=
while [ $# -gt 0 ]; do
    case $1 in
        --push) push=${2:?--push needs a destination}; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bh() { buildah --storage-driver "${BUILDAH_STORAGE_DRIVER:-vfs}" "$@"; }

declare -A BIN=([amd64]="$repo/target/x86_64-unknown-linux-musl/release/clockwatch"
                [arm64]="$repo/target/aarch64-unknown-linux-musl/release/clockwatch")
for arch in amd64 arm64; do
    [ -x "${BIN[$arch]}" ] || { echo "no ${BIN[$arch]}: run deploy/image/cross-build.sh" >&2; exit 1; }
done

bh manifest rm "$image" >/dev/null 2>&1 || true
bh manifest create "$image" >/dev/null
for arch in amd64 arm64; do
    "$here/build.sh" "${BIN[$arch]}" "$image-$arch" >/dev/null
    bh manifest add --arch "$arch" --os linux "$image" "containers-storage:$image-$arch" >/dev/null
done
echo "built manifest list $image:"
bh manifest inspect "$image" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["manifests"]:
    print("  %s/%s %s" % (m["platform"]["os"], m["platform"]["architecture"], m["digest"]))'
if [ -n "$push" ]; then
    # shellcheck disable=SC2086
    bh manifest push --all ${PUSH_OPTS:-} "$image" "$push"
    echo "pushed $image to $push"
fi
