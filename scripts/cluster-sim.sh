#!/usr/bin/env bash
# A small fleet on one machine that proves the cluster view end to end:
# an upstream chronyd, N nodes (chronyd client + clockwatch each), one node
# whose clock is shifted, one whose chronyd is stopped halfway, one node with
# no clockwatch, a real Prometheus with the shipped rules and a real
# Alertmanager notifying a webhook in the script, then `clockwatch report`.
# See docs/cluster-simulation.md.
#
#   scripts/cluster-sim.sh            # a few minutes, the demo
#   scripts/cluster-sim.sh --short    # ~80 s, for CI (scripts/test-extra.sh)
#   scripts/cluster-sim.sh --help
#
# Needs root (chronyd -x -u root), chrony, prometheus, prometheus-alertmanager,
# faketime, python3.
# Never touches the host clock (every chronyd runs with -x).
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
    case $arg in -h|--help) exec python3 scripts/cluster_sim.py --help ;; esac
done

# The glibc build: libfaketime (LD_PRELOAD) cannot intercept a static musl
# binary, and one node's clockwatch runs under faketime.
# `clockwatch report` runs clockwatch-report from beside the binary.
bin=${CLOCKWATCH_SIM_BIN:-target/release/clockwatch}
if [ ! -x "$bin" ] || [ ! -x "$(dirname "$bin")/clockwatch-report" ]; then
    echo "cluster-sim: building $bin and clockwatch-report beside it (cargo build --release -p clockwatch -p clockwatch-report)"
    cargo build --release -p clockwatch -p clockwatch-report
fi
# cluster_sim.py runs itself in a network namespace with only loopback
# (scripts/isolated).
exec python3 scripts/cluster_sim.py --binary "$bin" "$@"
