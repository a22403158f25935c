#!/usr/bin/env bash
# Extra suites called by scripts/test.sh after the Rust tests: the benchmark
# smoke first and alone (its figures would mean nothing on a machine busy
# with anything else), then the fuzz smoke and both cluster simulations at
# once: the simulations mostly wait (chronyd, scrapes, rule evaluation), so
# together they take the time of the longest instead of the sum. Each of the
# three writes to a log of its own, printed whole when it ends.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."
loud() { printf '\n!!! %s\n\n' "$*" >&2; }

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
fuzz_smoke() {
    local t
    for t in "${FUZZ_TARGETS[@]}"; do
        echo "== fuzz $t for ${FUZZ_SECONDS}s"
        cargo +nightly fuzz run --fuzz-dir fuzz "$t" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=1024
    done
}
# ---- fuzz smoke: end --------------------------------------------------------

# --- cluster simulation ---
# A fleet of chronyd + clockwatch nodes (one shifted, one whose chronyd stops
# halfway), a real Prometheus with the shipped rules and `clockwatch report`;
# ~2 min each. See docs/cluster-simulation.md.
# The debug binaries the Rust tests built (glibc, as libfaketime needs):
# the simulation checks behaviour, not speed, and a release build of both
# binaries would cost CI minutes.
[ -x target/debug/clockwatch ] && [ -x target/debug/clockwatch-report ] ||
    cargo build -q -p clockwatch -p clockwatch-report
sim() { CLOCKWATCH_SIM_BIN=target/debug/clockwatch scripts/cluster-sim.sh --short "$@"; }
# --- end cluster simulation ---

# --- the three at once ---
logs=$(mktemp -d -t clockwatch-extra.XXXXXX)
# Under set -e a failing command in the trap would become the exit status:
# kill with no job left fails.
trap 'jobs -p | xargs -r kill 2>/dev/null || true; rm -rf "$logs"' EXIT
names=()
pids=()
start() {  # start NAME COMMAND...: runs it in the background, logged
    local name=$1
    shift
    echo "== started: $name"
    ( "$@" ) >"$logs/${#names[@]}.log" 2>&1 &
    names+=("$name")
    pids+=($!)
}
[ "$fuzz_ok" = 1 ] && start "fuzz smoke (${#FUZZ_TARGETS[@]} targets, ${FUZZ_SECONDS} s each)" fuzz_smoke
start "cluster simulation (scripts/cluster-sim.sh --short)" sim
start "cluster simulation, Azure node-level topology (scripts/cluster-sim.sh --short --topology node-local)" \
    sim --topology node-local
failed=()
t0=$SECONDS
for i in "${!pids[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    echo
    echo "== ${names[$i]}: $([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)") (done after $((SECONDS - t0)) s)"
    cat "$logs/$i.log"
    [ "$rc" = 0 ] || failed+=("${names[$i]}")
done
if [ ${#failed[@]} -gt 0 ]; then
    loud "failed: ${failed[*]}"
    exit 1
fi
