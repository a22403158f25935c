#!/usr/bin/env python3
# The sampler's cost (issue 18): CPU per sample (tracking + timex, one
# chronyd request each), chronyd requests per sample (chronyd's own
# serverstats: the sharing rule says one, none while scrapes come often),
# memory, and scrape latency with the sampler at 1 s against one sample a
# minute. A real chronyd pair on loopback, as bench/bench.py.
#   python3 bench/sampler.py           ~1 min
#   python3 bench/sampler.py --smoke   ~25 s
# Needs root (chronyd -u root), chrony, wrk.
# SPDX-License-Identifier: Apache-2.0 OR MIT
import glob, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Pair, Server, wrk, the isolation guard)

SMOKE = "--smoke" in sys.argv
IDLE_SECONDS = 4 if SMOKE else 15
WRK_SECONDS = 2 if SMOKE else 5
# Targets from the issue.
CORE_SHARE_TARGET = 0.001  # 0.1 % of one core at 1 s
HISTORY_BYTES_TARGET = 64 * 1024
# The history ring: 384 points of 56 bytes (src/sampler/history.rs; its
# unit test checks the figure), the peak queue at most window/interval
# entries of 24 bytes, the buckets 2 x 8 bytes each.
HISTORY_BYTES = 384 * 56


def cpu_ns(pid):
    """CPU time of every thread of `pid`, in ns (schedstat: exact, unlike
    the 10 ms ticks of /proc/PID/stat)."""
    total = 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            total += int(open(f).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def command_packets(sock):
    out = subprocess.run([bench.CHRONYC, "-h", sock, "-c", "serverstats"], capture_output=True, text=True).stdout
    return int(out.strip().split(",")[2])


def idle(cw, sock, interval):
    """clockwatch alone (no scrape) for IDLE_SECONDS: CPU ns and chronyd
    command packets, and the samples that should have been taken."""
    port = bench.free_port()
    server = bench.Server([cw, "serve", "--web.listen-address", f"127.0.0.1:{port}",
                           "--chrony.address", f"unix://{sock}", "--sample.interval", interval,
                           "--sample.window", "60s"], port)
    try:
        time.sleep(1.5)  # started, first samples taken
        c0, p0, t0 = cpu_ns(server.proc.pid), command_packets(sock), time.monotonic()
        time.sleep(IDLE_SECONDS)
        c1, p1, t1 = cpu_ns(server.proc.pid), command_packets(sock), time.monotonic()
        rss = bench.status_kib(server.proc.pid, "VmRSS")
    finally:
        server.close()
    # chronyc serverstats itself is one command packet each time.
    return c1 - c0, p1 - p0 - 1, t1 - t0, rss


def scrape_p99(cw, sock, interval, chronyd_pid):
    port = bench.free_port()
    server = bench.Server([cw, "serve", "--web.listen-address", f"127.0.0.1:{port}",
                           "--chrony.address", f"unix://{sock}", "--sample.interval", interval,
                           "--no-collector.sourcestats", "--no-collector.ntpdata",
                           "--no-collector.serverstats"], port)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        bench.warm_up(url)
        p50, p99, req, cpu, bad, _ = bench.wrk(url, 1, server.proc.pid, chronyd_pid, seconds=WRK_SECONDS)
    finally:
        server.close()
    return p50, p99, req, cpu, bad


def main():
    bench.ensure_isolated()
    missing = [n for n, p in [("chronyd", os.path.exists(bench.CHRONYD)), ("chronyc", bench.CHRONYC),
                              ("wrk", bench.WRK)] if not p]
    if missing or os.geteuid() != 0:
        why = f"missing {missing}" if missing else "needs root (chronyd -u root)"
        if os.environ.get("CI") == "true":
            raise SystemExit(f"bench: {why}")
        print(f"\n*** SKIP sampler benchmark: {why} ***\n", file=sys.stderr)
        return
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "clockwatch"], cwd=bench.ROOT, check=True)
    cw = bench.GLIBC
    pair = bench.Pair(1)
    try:
        rows = {}
        for interval in ["100ms", "1s", "60s"]:
            rows[interval] = idle(cw, pair.sock, interval)
        base_cpu, _, base_t, base_rss = rows["60s"]
        print(f"\nsampler, clockwatch alone (no scrape) for {IDLE_SECONDS} s; baseline: one sample a minute\n")
        print("| --sample.interval | samples | chronyd requests | requests/sample | CPU µs/sample (over baseline) | share of one core | VmRSS KiB |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        per_sample = {}
        for interval, seconds in [("100ms", 0.1), ("1s", 1.0)]:
            cpu, packets, t, rss = rows[interval]
            samples = t / seconds
            extra = cpu - base_cpu * t / base_t
            us = extra / 1e3 / samples
            per_sample[interval] = us
            share = us * 1e-6 / seconds
            print(f"| {interval} | {samples:.0f} | {packets} | {packets / samples:.2f} | {us:.0f} | {share * 100:.3f} % | {rss} |")
        print(f"| 60s (baseline) | {base_t / 60:.1f} | {rows['60s'][1]} | | | {base_cpu / base_t / 1e9 * 100:.3f} % (all of clockwatch) | {base_rss} |")

        print(f"\nscrape latency, one wrk connection for {WRK_SECONDS} s, tracking+sources+timex\n")
        print("| --sample.interval | p50 ms | p99 ms | scrapes | CPU µs/scrape | failed |")
        print("|---|---:|---:|---:|---:|---:|")
        for interval in ["1s", "60s"]:
            p50, p99, req, cpu, bad = scrape_p99(cw, pair.sock, interval, pair.procs[1].pid)
            print(f"| {interval} | {p50:.3f} | {p99:.3f} | {req} | {cpu:.0f} | {bad} |")

        verdict = lambda ok: "met" if ok else "MISSED"
        share = per_sample["1s"] * 1e-6
        print("\ntargets:")
        print(f"- sampler at 1 s <= {CORE_SHARE_TARGET * 100:g} % of one core: {share * 100:.3f} % "
              f"({per_sample['1s']:.0f} µs per sample; at 100 ms {per_sample['100ms']:.0f} µs), {verdict(share <= CORE_SHARE_TARGET)}")
        print(f"- an hour of history <= 64 KiB: {HISTORY_BYTES / 1024:.1f} KiB (fixed ring), "
              f"{verdict(HISTORY_BYTES <= HISTORY_BYTES_TARGET)}")
    finally:
        pair.close()


if __name__ == "__main__":
    main()
