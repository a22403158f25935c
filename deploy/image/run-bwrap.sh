#!/usr/bin/env bash
# Runs the image's /clockwatch the way the pod runs it, without a container
# engine: uid/gid 65534, read-only root filesystem (the image's, nothing of
# the host), fresh namespaces except the network (like hostNetwork in udp
# mode), no capabilities, no new privileges.
#
# Usage: deploy/image/run-bwrap.sh ROOTFS [clockwatch arguments...]
#   ROOTFS  a root filesystem from `deploy/image/build.sh BINARY --rootfs DIR`
# Environment: BWRAP_EXTRA (extra bwrap arguments, e.g. "--bind /run/chrony /run/chrony"
#   with RUN_UID/RUN_GID set to chronyd's ids for socket mode).
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
rootfs=${1:?usage: run-bwrap.sh ROOTFS [clockwatch arguments...]}
shift
command -v bwrap >/dev/null || { echo "bubblewrap is not installed (apt-get install bubblewrap)" >&2; exit 1; }
[ -x "$rootfs/clockwatch" ] || { echo "$rootfs/clockwatch missing: run deploy/image/build.sh BINARY --rootfs $rootfs" >&2; exit 1; }
# The image has no /proc or /dev to mount over, so the root is an empty tmpfs
# holding read-only binds of the image's entries, remounted read-only below.
binds=()
for entry in "$rootfs"/* "$rootfs"/.[!.]*; do
    [ -e "$entry" ] || continue
    binds+=(--ro-bind "$entry" "/${entry##*/}")
done
# shellcheck disable=SC2086
exec bwrap \
    --unshare-all --share-net \
    --uid "${RUN_UID:-65534}" --gid "${RUN_GID:-65534}" \
    --tmpfs / "${binds[@]}" \
    --proc /proc --dev /dev \
    --remount-ro / \
    --cap-drop ALL \
    --new-session --die-with-parent \
    ${BWRAP_EXTRA:-} \
    -- /clockwatch "$@"
