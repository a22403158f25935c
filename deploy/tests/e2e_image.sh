#!/usr/bin/env bash
# End to end: build the runtime image with buildah around the real binary,
# then run it with bubblewrap the way the pod runs it (uid 65534, read-only
# root, no capabilities) in timex-only mode, and check its endpoints.
# Needs root (buildah vfs), buildah, bwrap, curl, promtool.
# Usage: deploy/tests/e2e_image.sh [BINARY]   Exit 77: skipped (no binary).
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -uo pipefail
. "$(dirname "$0")/e2e_lib.sh"

bin=$(find_binary "${1:-}") || { echo "SKIP: no clockwatch binary built yet (cargo build --release --target x86_64-unknown-linux-musl)"; exit 77; }
for tool in buildah bwrap curl promtool; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$REPO/deploy/image/build.sh" "$bin" localhost/clockwatch:e2e --rootfs "$work/rootfs" || { echo "FAIL image build"; exit 1; }
check "image holds exactly one file, /clockwatch" test "$(cd "$work/rootfs" && find . -mindepth 1 | sort | tr '\n' ' ')" = "./clockwatch "
check "image runs as 65534:65534" test "$(buildah --storage-driver vfs inspect --format '{{.OCIv1.Config.User}}' localhost/clockwatch:e2e)" = "65534:65534"

port=$(free_port)
"$REPO/deploy/image/run-bwrap.sh" "$work/rootfs" --web.listen-address="127.0.0.1:$port" --chrony.address=none \
    >"$work/log" 2>&1 &
pid=$!
if ! wait_http "http://127.0.0.1:$port/healthz" 20; then
    echo "FAIL clockwatch did not start under bwrap:"; cat "$work/log"; exit 1
fi
curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics"
check "/healthz answers 200" curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz"
check "/readyz answers 200 in timex-only mode" curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"
check "/ answers" curl -fsS -o /dev/null "http://127.0.0.1:$port/"
check "promtool check metrics" sh -c "promtool check metrics <'$work/metrics' >'$work/lint' 2>&1 || { cat '$work/lint'; false; }"
for m in clockwatch_build_info clockwatch_system_time_seconds clockwatch_timex_sync_status \
         clockwatch_timex_maxerror_seconds clockwatch_clock_error_bound_seconds clockwatch_sync_state \
         clockwatch_collector_success; do
    check "exposes $m" grep -q "^$m[{ ]" "$work/metrics"
done
check "no chrony_up in timex-only mode" sh -c "! grep -q '^chrony_up' '$work/metrics'"
echo "e2e_image: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
