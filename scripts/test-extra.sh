#!/usr/bin/env bash
# Extra suites run by scripts/test.sh after the Rust tests: fuzz smoke and
# benchmark smoke, each in its own block.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."

# --- benchmark smoke ---
# ~10 s: clockwatch vs node_exporter vs chronyc per sample, 10 sources.
# Prints the table; it SKIPs loudly without root or tools (fails under CI=true).
echo "== benchmark smoke (bench/run.sh --smoke)"
bench/run.sh --smoke
# --- end benchmark smoke ---
