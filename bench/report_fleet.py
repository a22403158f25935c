#!/usr/bin/env python3
# Benchmark of clockwatch-report on a synthetic fleet (issue 19): generates
# N nodes x D hours of history at one scrape per STEP (OpenMetrics), imports
# it with `promtool tsdb create-blocks-from openmetrics`, serves it with a
# real Prometheus on loopback (default limits, query log on), runs the
# report once, and prints
#   wall time, peak RSS of clockwatch-report and of Prometheus,
#   requests sent, Prometheus' own evaluation time (query log) and the ratio.
#
#   bench/report_fleet.py NODES HOURS [STEP_SECONDS] [-- report flags [-- flags ...]]
#   e.g. bench/report_fleet.py 1000 24 60 -- -- --no-first-pass
# Each `--` starts one more run against the same import (the first after
# it may be empty: the defaults). Prometheus' peak RSS is cumulative.
# The history is generated and imported in parts of whole 2-hour blocks,
# IMPORT_JOBS (default: one per core) at once; BENCH_DIR sets where.
#
# Every node has one bound series, five sync-state series, chrony_up and up;
# 1 % of the nodes have a 10-minute breach and 1 % a 10-minute outage, and
# the report's result is checked against that truth. Needs prometheus,
# promtool and a release build (cargo build --release -p clockwatch-report).
# Loopback only. Not a test: figures go to docs/performance.md.
# SPDX-License-Identifier: Apache-2.0 OR MIT
import json, os, re, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/clockwatch-report")
STATES = ["synchronized", "stale", "local", "unsynchronized", "unknown"]
# Bound, five states, chrony_up, up.
SERIES_PER_NODE = 8
PART_SAMPLES = 20_000_000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def kind(i, nodes):
    # Every 100th node breaches, every 100th (offset 50) has an outage.
    if i % 100 == 0:
        return "breach"
    if i % 100 == 50:
        return "outage"
    return "ok"


def incident(scrapes, step):
    # Scrapes [s0, s0 + 10 min) in the middle of the period.
    s0 = scrapes // 2
    return s0, min(scrapes, s0 + max(1, 600 // step))


def generate(path, nodes, scrapes, step, base, part=(0, None)):
    # Writes scrapes [part[0], part[1]) of every series.
    ts = lambda k: base + k * step + step // 2
    s0, s1 = incident(scrapes, step)
    ks = range(part[0], scrapes if part[1] is None else part[1])
    with open(path, "w", buffering=1 << 22) as o:
        def labels(i):
            return f'instance="n{i:05d}:9707",job="clockwatch",node="n{i:05d}"'
        o.write("# TYPE clockwatch_clock_error_bound_seconds gauge\n")
        for i in range(nodes):
            l, kd = labels(i), kind(i, nodes)
            lines = []
            for k in ks:
                if kd == "outage" and s0 <= k < s1:
                    continue
                v = 0.0005 if kd == "breach" and s0 <= k < s1 else 0.00002 + (k % 7) * 1e-6
                lines.append(f"clockwatch_clock_error_bound_seconds{{{l}}} {v} {ts(k)}\n")
            o.write("".join(lines))
        o.write("# TYPE clockwatch_sync_state gauge\n")
        for i in range(nodes):
            l, kd = labels(i), kind(i, nodes)
            for st in STATES:
                v = "1" if st == "synchronized" else "0"
                o.write("".join(
                    f'clockwatch_sync_state{{{l},state="{st}"}} {v} {ts(k)}\n'
                    for k in ks if not (kd == "outage" and s0 <= k < s1)))
        for fam in ["chrony_up", "up"]:
            o.write(f"# TYPE {fam} gauge\n")
            for i in range(nodes):
                l, kd = labels(i), kind(i, nodes)
                lines = []
                for k in ks:
                    down = kd == "outage" and s0 <= k < s1
                    if down and fam == "chrony_up":
                        continue
                    lines.append(f"{fam}{{{l}}} {0 if down else 1} {ts(k)}\n")
                o.write("".join(lines))
        o.write("# EOF\n")


def import_part(d, j, nodes, scrapes, step, base, part):
    om = os.path.join(d, f"fleet-{j}.om")
    generate(om, nodes, scrapes, step, base, part)
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    f"--max-block-duration={block_seconds(scrapes * step, nodes, step)}s", om,
                    os.path.join(d, f"data-{j}")], check=True, stdout=subprocess.DEVNULL)
    os.unlink(om)


def block_seconds(period, nodes, step):
    # Day-long blocks for periods of a day or more (30 blocks, not 360, for
    # 30 days) when a day of the fleet fits a part, else Prometheus' own
    # 2 hours.
    day = nodes * SERIES_PER_NODE * 86400 // step
    return 86400 if period >= 86400 and day <= 2 * PART_SAMPLES else 7200


def import_blocks(d, nodes, scrapes, step, base, jobs):
    # The period in parts of whole blocks (base is on a boundary) of about
    # PART_SAMPLES samples each, `jobs` generated and imported at once: the
    # blocks do not overlap, so they go into one data directory as they
    # are, and no part's text (about 90 B per sample, which promtool reads
    # whole) is larger than a few GB.
    per_block = block_seconds(scrapes * step, nodes, step) // step
    blocks = -(-scrapes // per_block)
    per_part = max(1, PART_SAMPLES // (nodes * SERIES_PER_NODE * per_block))
    parts = [(b * per_block, min(scrapes, (b + per_part) * per_block))
             for b in range(0, blocks, per_part)]
    running, failed = {}, False
    for j, part in enumerate(parts):
        while len(running) >= jobs:
            pid, status = os.wait()
            failed |= running.pop(pid) is not None and os.waitstatus_to_exitcode(status) != 0
        pid = os.fork()
        if pid == 0:
            try:
                import_part(d, j, nodes, scrapes, step, base, part)
                os._exit(0)
            except BaseException as e:
                print(f"part {j}: {e}", file=sys.stderr)
                os._exit(1)
        running[pid] = j
    while running:
        pid, status = os.wait()
        failed |= running.pop(pid) is not None and os.waitstatus_to_exitcode(status) != 0
    if failed:
        sys.exit("import failed")
    data = os.path.join(d, "data")
    os.makedirs(data)
    for j in range(len(parts)):
        src = os.path.join(d, f"data-{j}")
        for b in os.listdir(src):
            os.rename(os.path.join(src, b), os.path.join(data, b))
    return len(parts)


def vmhwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    args = sys.argv[1:]
    runs = [[]]
    if "--" in args:
        i = args.index("--")
        args, rest = args[:i], args[i + 1:]
        runs = [[]]
        for a in rest:
            if a == "--":
                runs.append([])
            else:
                runs[-1].append(a)
    nodes, hours = int(args[0]), float(args[1])
    step = int(args[2]) if len(args) > 2 else 60
    scrapes = int(hours * 3600 // step)
    now = int(time.time())
    # On a block boundary (the import's parts are whole blocks).
    block = block_seconds(scrapes * step, nodes, step)
    base = (now - int(hours * 3600) - 7200) // block * block
    jobs = int(os.environ.get("IMPORT_JOBS", os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="cw-report-bench-", dir=os.environ.get("BENCH_DIR")) as d:
        t0 = time.time()
        parts = import_blocks(d, nodes, scrapes, step, base, jobs)
        t1 = time.time()
        print(f"{nodes} nodes x {hours:g} h: generated and imported in {t1 - t0:.0f} s ({parts} parts, {jobs} at once)", flush=True)
        qlog = os.path.join(d, "query.log")
        with open(os.path.join(d, "prometheus.yml"), "w") as f:
            f.write(f"global:\n  scrape_interval: {step}s\n  query_log_file: {qlog}\n")
        port = free_port()
        prom = subprocess.Popen(
            ["prometheus", f"--config.file={d}/prometheus.yml", f"--storage.tsdb.path={d}/data",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=3650d",
             # No compaction of the imported blocks while the report runs.
             "--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "prom.log"), "w"))
        try:
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    import urllib.request
                    if urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2).status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.5)
            hwm_before = vmhwm_kib(prom.pid)
            for extra in runs:
                run_once(d, port, prom, base, scrapes, step, nodes, extra, qlog, hwm_before)
        finally:
            prom.terminate()
            prom.wait()


def run_once(d, port, prom, base, scrapes, step, nodes, extra, qlog, hwm_before):
    offset = os.path.getsize(qlog) if os.path.exists(qlog) else 0
    start = time.time()
    rep = subprocess.Popen(
        [BIN, "--prometheus", f"http://127.0.0.1:{port}", "--from", str(base),
         "--to", str(base + scrapes * step), "--step", f"{step}s",
         "--tolerance", "mifid2-hft", "--format", "json", "-o", os.path.join(d, "r.json")]
        + extra, stderr=subprocess.PIPE, text=True)
    err = rep.stderr.read()
    _, status, ru = os.wait4(rep.pid, 0)
    wall = time.time() - start
    prom_hwm = vmhwm_kib(prom.pid)
    code = os.waitstatus_to_exitcode(status)
    evals, n_q = 0.0, 0
    if os.path.exists(qlog):
        f = open(qlog, "rb")
        f.seek(offset)
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            n_q += 1
            evals += e.get("stats", {}).get("timings", {}).get("execTotalTime", 0.0)
    sent = re.search(r"(\d+) range requests sent, (\d+) chunk", err)
    est = re.search(r"estimated at (\d+ MiB)", err)
    groups = re.search(r"in (\d+) groups of at most (\d+)", err)
    ok = "?"
    if code in (0, 1):
        r = json.load(open(os.path.join(d, "r.json")))
        bad = [n["node"] for n in r["nodes"] if not n["compliant"]]
        want = [f"n{i:05d}" for i in range(nodes) if kind(i, nodes) != "ok"]
        ok = "exact" if sorted(bad) == sorted(want) and len(r["nodes"]) == nodes else f"WRONG ({len(bad)} non-compliant, want {len(want)})"
    print(f"| {nodes} × {scrapes * step / 3600:g} h @ {step} s | {nodes * scrapes * SERIES_PER_NODE / 1e6:.1f} M | {wall:.1f} s | "
          f"{ru.ru_maxrss / 1024:.0f} MiB | {est.group(1) if est else '?'} | "
          f"{groups.group(1) + ' × ' + groups.group(2) if groups else 1} | "
          f"{prom_hwm / 1024:.0f} MiB (before: {hwm_before / 1024:.0f}) | "
          f"{sent.group(1) if sent else '?'} ({sent.group(2) if sent else '?'} split); query log {n_q} | {evals:.1f} s | "
          f"{wall / evals if evals else float('nan'):.2f} | exit {code}, {ok} |")
    print(f"  (flags: {' '.join(extra) or 'defaults'})", flush=True)
    if code not in (0, 1):
        print(err)


if __name__ == "__main__":
    main()
