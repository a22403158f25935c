#!/usr/bin/env bash
# Slower suites beyond scripts/test.sh's core: each in its own delimited block
# (fuzz smoke, benchmark smoke, cluster simulation). scripts/test.sh runs this
# file when it exists.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."

# --- cluster simulation ---
# A fleet of chronyd + clockwatch nodes (one shifted, one whose chronyd stops
# halfway), a real Prometheus with the shipped rules and `clockwatch report`;
# ~80 s. See docs/cluster-simulation.md.
echo "== cluster simulation (scripts/cluster-sim.sh --short)"
scripts/cluster-sim.sh --short
# --- end cluster simulation ---
