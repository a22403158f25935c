#!/usr/bin/env bash
# End to end: a real Prometheus scrapes a real clockwatch on 127.0.0.1 with
# the shipped static scrape config (deploy/prometheus/scrape-config-static.yml,
# targets replaced, intervals shortened) and evaluates the shipped rules; the
# recording rules' series must then exist, via the HTTP API.
# clockwatch runs in timex-only mode unless CHRONY_ADDRESS points at a chronyd
# (e.g. udp://127.0.0.1:323), in which case the chronyd recordings are
# expected too.
# Usage: deploy/tests/e2e_prometheus.sh [BINARY]   Exit 77: skipped (no binary).
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -uo pipefail
. "$(dirname "$0")/e2e_lib.sh"

bin=$(find_binary "${1:-}") || { echo "SKIP: no clockwatch binary built yet"; exit 77; }
for tool in prometheus curl python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
chrony=${CHRONY_ADDRESS:-none}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The NTP probe's server: a real chronyd serving NTP on loopback (its own
# local clock, stratum 2), when chronyd can run here (root). Without it the
# probe recordings are not checked and the script says so.
probe_args=()
chronyd_bin=$(command -v chronyd || echo /usr/sbin/chronyd)
if [ "$(id -u)" = 0 ] && [ -x "$chronyd_bin" ]; then
    ntp_port=$(free_port)
    printf 'local stratum 2\nport %s\nbindaddress 127.0.0.1\nallow 127.0.0.0/8\ncmdport 0\nbindcmdaddress /\npidfile %s/ntp.pid\n' \
        "$ntp_port" "$work" >"$work/ntp.conf"
    "$chronyd_bin" -d -x -u root -f "$work/ntp.conf" >"$work/ntp.log" 2>&1 &
    pids+=($!)
    probe_args=(--probe.server="127.0.0.1:$ntp_port" --probe.samples=1)
else
    echo "!!! SKIP (probe part): needs root and chronyd to serve NTP on loopback"
    [ "${CI:-}" = true ] && { echo "CI=true: the probe part must run"; exit 1; }
fi

cw_port=$(free_port)
"$bin" --web.listen-address="127.0.0.1:$cw_port" --chrony.address="$chrony" "${probe_args[@]}" >"$work/clockwatch.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$cw_port/healthz" 20 || { cat "$work/clockwatch.log"; exit 1; }

# The shipped static scrape config, pointed at this clockwatch.
python3 - "$REPO" "$work" "$cw_port" <<'PY'
import sys, yaml
repo, work, port = sys.argv[1:]
cfg = yaml.safe_load(open(f"{repo}/deploy/prometheus/scrape-config-static.yml"))
job = cfg["scrape_configs"][0]
job["static_configs"][0]["targets"] = [f"127.0.0.1:{port}"]
job["scrape_interval"] = "1s"
job["scrape_timeout"] = "1s"
cfg["global"] = {"evaluation_interval": "1s"}
cfg["rule_files"] = [f"{repo}/deploy/prometheus/clockwatch.rules.yml"]
yaml.safe_dump(cfg, open(f"{work}/prometheus.yml", "w"))
PY
prom_port=$(free_port)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$prom_port/-/ready" 30 || { tail -20 "$work/prometheus.log"; exit 1; }

# query EXPR: prints the number of series in the result.
query() {
    curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="success", d; print(len(d["data"]["result"]))'
}
has_series() { [ "$(query "$1")" -gt 0 ]; }

records=(node:clockwatch_clock_error_bound_seconds:max node:clockwatch_clock_within_tolerance:bool
         node:clockwatch_clock_within_tolerance:ratio_1h node:clockwatch_clock_within_tolerance:ratio_1d
         node:clockwatch_measured_offset_seconds:max cluster:clockwatch_measured_offset_seconds:median
         node:clockwatch_measured_offset_from_median_seconds node:clockwatch_offset_from_median_seconds)
if [ "$chrony" != none ]; then
    records+=(node:clockwatch_chrony_offset_seconds:max cluster:clockwatch_chrony_offset_seconds:median
              node:clockwatch_chrony_offset_from_median_seconds)
fi
# Give Prometheus a few scrapes and rule evaluations.
for _ in $(seq 1 30); do
    has_series "${records[-1]}" 2>/dev/null && break
    sleep 1
done
check 'up{job="clockwatch"} == 1' has_series 'up{job="clockwatch"} == 1'
check 'node label set by the shipped relabeling' has_series 'clockwatch_build_info{node="127.0.0.1"}'
for r in "${records[@]}"; do
    check "recording $r exists" has_series "$r"
done
check "measured offset of this machine is below 1 s" has_series 'abs(node:clockwatch_measured_offset_seconds:max) < 1'
check "measured offset from median of a single node is 0" has_series 'node:clockwatch_measured_offset_from_median_seconds == 0'
if [ ${#probe_args[@]} -gt 0 ]; then
    for _ in $(seq 1 20); do
        has_series 'node:clockwatch_probe_offset_seconds:max' 2>/dev/null && break
        sleep 1
    done
    check "probe offset recorded, below 1 s against the loopback chronyd" has_series 'abs(node:clockwatch_probe_offset_seconds:max) < 1'
    check "a single probing node is compared with its server (reference probe_server)" has_series 'abs(node:clockwatch_offset_from_median_seconds{reference="probe_server"}) < 1'
    check "no scrape-timestamp fallback once the node probes" sh -c "[ \"\$(curl -fsS 'http://127.0.0.1:$prom_port/api/v1/query' --data-urlencode 'query=node:clockwatch_offset_from_median_seconds{reference=~\"scrape.*\"}' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"data\"][\"result\"]))')\" = 0 ]"
else
    check "a single node without a probe is compared with the scraper (reference scraper)" has_series 'abs(node:clockwatch_offset_from_median_seconds{reference="scraper"}) < 1'
fi
check "rules loaded without errors" sh -c "curl -fsS 'http://127.0.0.1:$prom_port/api/v1/rules' | python3 -c 'import json,sys; d=json.load(sys.stdin); bad=[r[\"name\"] for g in d[\"data\"][\"groups\"] for r in g[\"rules\"] if r.get(\"health\")==\"err\"]; print(bad) if bad else None; sys.exit(1 if bad else 0)'"
echo "e2e_prometheus: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
