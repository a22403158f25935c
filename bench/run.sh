#!/usr/bin/env bash
# Benchmark table: clockwatch (tracking+sources+timex, the targets' scrape; all
# collectors, the default; chrony off) vs node_exporter (timex) vs a `chronyc
# tracking` subprocess per sample, against the same real chronyd.
#   bench/run.sh          full run (1/10/100 sources, 1/10/50 scrapers), ~4 min
#   bench/run.sh --smoke  ~20 s
# Parts of the table: BENCH_SOURCES=10,100 BENCH_SCRAPERS=1 BENCH_SECONDS=5
# BENCH_PEERS=0 (clockwatch alone).
# Needs root (chronyd -u root), chrony, wrk, prometheus-node-exporter.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -euo pipefail
cd "$(dirname "$0")/.."
# bench.py runs itself in a network namespace with only loopback
# (scripts/isolated); the crates it builds with are fetched first, outside.
cargo fetch --locked -q
exec python3 bench/bench.py "$@"
