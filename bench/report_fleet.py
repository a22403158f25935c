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
#
# Every node has one bound series, five sync-state series, chrony_up and up;
# 1 % of the nodes have a 10-minute breach and 1 % a 10-minute outage, and
# the report's result is checked against that truth. Needs prometheus,
# promtool and a release build (cargo build --release -p clockwatch-report).
# Loopback only. Not a test: figures go to docs/performance.md.
# SPDX-License-Identifier: Apache-2.0 OR MIT
import json, os, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/clockwatch-report")
STATES = ["synchronized", "stale", "local", "unsynchronized", "unknown"]


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


def generate(path, nodes, scrapes, step, base):
    ts = lambda k: base + k * step + step // 2
    # Incident: scrapes [s0, s0 + 10 min) in the middle of the period.
    s0 = scrapes // 2
    s1 = min(scrapes, s0 + max(1, 600 // step))
    with open(path, "w", buffering=1 << 22) as o:
        def labels(i):
            return f'instance="n{i:05d}:9707",job="clockwatch",node="n{i:05d}"'
        o.write("# TYPE clockwatch_clock_error_bound_seconds gauge\n")
        for i in range(nodes):
            l, kd = labels(i), kind(i, nodes)
            lines = []
            for k in range(scrapes):
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
                    for k in range(scrapes) if not (kd == "outage" and s0 <= k < s1)))
        for fam in ["chrony_up", "up"]:
            o.write(f"# TYPE {fam} gauge\n")
            for i in range(nodes):
                l, kd = labels(i), kind(i, nodes)
                lines = []
                for k in range(scrapes):
                    down = kd == "outage" and s0 <= k < s1
                    if down and fam == "chrony_up":
                        continue
                    lines.append(f"{fam}{{{l}}} {0 if down else 1} {ts(k)}\n")
                o.write("".join(lines))
        o.write("# EOF\n")
    return s0, s1


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
    base = (now - int(hours * 3600) - 7200) // 3600 * 3600
    with tempfile.TemporaryDirectory(prefix="cw-report-bench-") as d:
        om = os.path.join(d, "fleet.om")
        t0 = time.time()
        s0, s1 = generate(om, nodes, scrapes, step, base)
        t1 = time.time()
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om,
                        os.path.join(d, "data")], check=True, stdout=subprocess.DEVNULL)
        os.unlink(om)
        t2 = time.time()
        print(f"{nodes} nodes x {hours:g} h: generate {t1 - t0:.0f} s, promtool {t2 - t1:.0f} s", flush=True)
        qlog = os.path.join(d, "query.log")
        with open(os.path.join(d, "prometheus.yml"), "w") as f:
            f.write(f"global:\n  scrape_interval: {step}s\n  query_log_file: {qlog}\n")
        port = free_port()
        prom = subprocess.Popen(
            ["prometheus", f"--config.file={d}/prometheus.yml", f"--storage.tsdb.path={d}/data",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=3650d"],
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
    sent = [l for l in err.splitlines() if "range requests sent" in l]
    ok = "?"
    if code in (0, 1):
        r = json.load(open(os.path.join(d, "r.json")))
        bad = [n["node"] for n in r["nodes"] if not n["compliant"]]
        want = [f"n{i:05d}" for i in range(nodes) if kind(i, nodes) != "ok"]
        ok = "exact" if sorted(bad) == sorted(want) and len(r["nodes"]) == nodes else f"WRONG ({len(bad)} non-compliant, want {len(want)})"
    print(f"| {nodes} × {scrapes * step / 3600:g} h @ {step} s | {nodes * scrapes * 8 / 1e6:.1f} M | {wall:.1f} s | "
          f"{ru.ru_maxrss / 1024:.0f} MiB | {prom_hwm / 1024:.0f} MiB (before: {hwm_before / 1024:.0f}) | "
          f"{sent[0].split(': ', 1)[1] if sent else '?'}; query log {n_q} | {evals:.1f} s | "
          f"{wall / evals if evals else float('nan'):.2f} | exit {code}, {ok} |")
    print(f"  (flags: {' '.join(extra) or 'defaults'})", flush=True)
    if code not in (0, 1):
        print(err)


if __name__ == "__main__":
    main()
