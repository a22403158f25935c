#!/usr/bin/env python3
# Two clockwatch builds against the same chronyd, in alternating rounds:
# CPU per scrape and p99 of each round, then the median and range of each
# build. On a shared VM one long row per build measures the hour as much as
# the build (the same binary moves by 30 % between runs); alternating short
# rounds puts both builds in the same hours.
#
#   bench/compare.py OLD_BINARY NEW_BINARY [clockwatch flags...]
#
# Environment: COMPARE_SOURCES (10), COMPARE_ROUNDS (12), COMPARE_SECONDS (2),
# COMPARE_TRANSPORT (unix, or udp: chronyd's command port on 127.0.0.1).
# With no flags it measures the targets' scrape (tracking+sources+timex);
# pass e.g. `--collector.sourcestats` to change it. Needs root, chrony, wrk.
# SPDX-License-Identifier: Apache-2.0 OR MIT
import os, statistics, sys

import bench


def main():
    bench.ensure_isolated()
    if len(sys.argv) < 3:
        raise SystemExit("usage: bench/compare.py OLD_BINARY NEW_BINARY [clockwatch flags...]")
    binaries = sys.argv[1:3]
    for b in binaries:
        if not os.access(b, os.X_OK):
            raise SystemExit(f"compare: {b} is not an executable file")
    flags = sys.argv[3:] or bench.TARGET_SCRAPE_ARGS
    if os.geteuid() != 0 or not bench.WRK or not os.path.exists(bench.CHRONYD):
        raise SystemExit("compare: needs root, chronyd and wrk (as bench/run.sh)")
    sources = int(os.environ.get("COMPARE_SOURCES", 10))
    rounds = int(os.environ.get("COMPARE_ROUNDS", 12))
    seconds = int(os.environ.get("COMPARE_SECONDS", 2))
    transport = os.environ.get("COMPARE_TRANSPORT", "unix")
    if transport not in ("unix", "udp"):
        raise SystemExit(f"compare: COMPARE_TRANSPORT must be unix or udp, not {transport!r}")

    pair = bench.Pair(sources)
    servers = []
    try:
        address = f"unix://{pair.sock}" if transport == "unix" else f"udp://127.0.0.1:{pair.cmd_port}"
        for b in binaries:
            port = bench.free_port()
            servers.append(bench.Server([b, "serve", "--web.listen-address", f"127.0.0.1:{port}",
                                         "--chrony.address", address, *flags], port))
        urls = [f"http://127.0.0.1:{s.port}/metrics" for s in servers]
        for url in urls:
            bench.warm_up(url)
        cpu, p99, failed = [[], []], [[], []], 0
        for _ in range(rounds):
            for k, (server, url) in enumerate(zip(servers, urls)):
                _, round_p99, _, round_cpu, bad, _ = bench.wrk(url, 1, server.proc.pid, seconds=seconds)
                cpu[k].append(round_cpu)
                p99[k].append(round_p99)
                failed += bad
    finally:
        for s in servers:
            s.close()
        pair.close()

    print(f"{sources} sources over {transport}, flags {' '.join(flags)}; {rounds} alternating rounds of "
          f"{seconds} s, one scraper; failed requests: {failed}")
    print("| build | CPU µs/scrape median | range | p99 ms median | range |")
    print("|---|---:|---|---:|---|")
    for k, b in enumerate(binaries):
        print(f"| {b} | {statistics.median(cpu[k]):.0f} | {min(cpu[k]):.0f}–{max(cpu[k]):.0f} "
              f"| {statistics.median(p99[k]):.3f} | {min(p99[k]):.3f}–{max(p99[k]):.3f} |")
    change = statistics.median(cpu[1]) / statistics.median(cpu[0]) - 1
    print(f"CPU per scrape, median: {change:+.1%} from the first build to the second")
    if failed:
        raise SystemExit(f"compare: {failed} requests failed")


if __name__ == "__main__":
    main()
