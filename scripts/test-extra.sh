#!/usr/bin/env bash
# Extra suites called by scripts/test.sh after the Rust tests: fuzz smoke,
# benchmark smoke and the cluster simulation, each in its own block.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."
loud() { printf '\n!!! %s\n\n' "$*" >&2; }

# ---- fuzz smoke: begin ------------------------------------------------------
# Each cargo-fuzz target runs for FUZZ_SECONDS (default 10 s: a smoke that
# proves the targets build and run; the real fuzzing is the long run of
# docs/security.md). Needs the
# nightly toolchain and cargo-fuzz; as root a missing cargo-fuzz is
# installed from crates.io. Longer runs: docs/security.md.
FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
FUZZ_TARGETS=(decode_reply web_config chrony_address ntp_reply decode_ptp_response)
fuzz_ok=1
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    loud "SKIP fuzz smoke: no nightly toolchain (rustup toolchain install nightly)"
    fuzz_ok=0
elif ! cargo fuzz --version >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && [ "${CLOCKWATCH_ISOLATED:-}" != 1 ]; then
        echo "== installing cargo-fuzz"
        cargo install --locked cargo-fuzz >/dev/null 2>&1 || true
    fi
    if ! cargo fuzz --version >/dev/null 2>&1; then
        loud "SKIP fuzz smoke: cargo-fuzz missing (cargo install cargo-fuzz)"
        fuzz_ok=0
    fi
fi
if [ "$fuzz_ok" = 1 ]; then
    for t in "${FUZZ_TARGETS[@]}"; do
        echo "== fuzz $t for ${FUZZ_SECONDS}s"
        cargo +nightly fuzz run --fuzz-dir fuzz "$t" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=1024
    done
fi
# ---- fuzz smoke: end --------------------------------------------------------

# --- benchmark smoke ---
# ~10 s: clockwatch vs node_exporter vs chronyc per sample, 10 sources.
# Prints the table; it SKIPs loudly without root or tools (fails under CI=true).
echo "== benchmark smoke (bench/run.sh --smoke)"
bench/run.sh --smoke
# Two builds side by side in alternating rounds (the tool behind the build
# comparisons in docs/performance.md): the image's musl binary against the
# debug build the Rust tests made (CI builds no glibc release binary: a
# second LTO build only for this smoke). One round of 1 s each.
if [ "$(id -u)" != 0 ]; then
    loud "SKIP build comparison smoke: needs root (chronyd -u root)"
elif [ ! -x target/x86_64-unknown-linux-musl/release/clockwatch ]; then
    loud "SKIP build comparison smoke: no musl binary (rustup target add x86_64-unknown-linux-musl)"
else
    [ -x target/debug/clockwatch ] || cargo build -q -p clockwatch
    echo "== build comparison smoke (bench/compare.py)"
    COMPARE_ROUNDS=1 COMPARE_SECONDS=1 bench/compare.py \
        target/x86_64-unknown-linux-musl/release/clockwatch target/debug/clockwatch
fi
# --- end benchmark smoke ---

# --- cluster simulation ---
# A fleet of chronyd + clockwatch nodes (one shifted, one whose chronyd stops
# halfway), a real Prometheus with the shipped rules and `clockwatch report`;
# ~80 s. See docs/cluster-simulation.md.
# The debug binaries the Rust tests built (glibc, as libfaketime needs):
# the simulation checks behaviour, not speed, and a release build of both
# binaries would cost CI minutes.
echo "== cluster simulation (scripts/cluster-sim.sh --short)"
[ -x target/debug/clockwatch ] && [ -x target/debug/clockwatch-report ] ||
    cargo build -q -p clockwatch -p clockwatch-report
CLOCKWATCH_SIM_BIN=target/debug/clockwatch scripts/cluster-sim.sh --short
echo "== cluster simulation, Azure node-level topology (scripts/cluster-sim.sh --short --topology node-local)"
CLOCKWATCH_SIM_BIN=target/debug/clockwatch scripts/cluster-sim.sh --short --topology node-local
# --- end cluster simulation ---
