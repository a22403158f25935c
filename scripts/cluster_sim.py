#!/usr/bin/env python3
"""Cluster simulation for clockwatch: a fleet of chronyd + clockwatch nodes on
one machine, scraped by a real Prometheus with the shipped rules, which sends
its alerts through a real Alertmanager (the shipped routing and inhibition)
to a webhook receiver in this script; checked through Prometheus' and
Alertmanager's HTTP APIs, the notifications received, and `clockwatch
report`. Python 3 stdlib only.
Run it through scripts/cluster-sim.sh; docs/cluster-simulation.md explains
every step and every assertion.

SPDX-License-Identifier: Apache-2.0 OR MIT
"""

import argparse
import glob
import http.server
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chrony_conf_guard  # noqa: E402  (refuses sources that would leave the machine)
from isolation import ensure_isolated  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(REPO, "deploy/prometheus/clockwatch.rules.yml")
STATIC_SCRAPE = os.path.join(REPO, "deploy/prometheus/scrape-config-static.yml")
ALERTMANAGER_CFG = os.path.join(REPO, "deploy/alertmanager/alertmanager.yml")
CLUSTER = "sim"
# A Linux node that kube-state-metrics reports but that runs no clockwatch.
ABSENT = "sim-absent"

# Per mode: scrape/evaluation interval, how long the fleet runs after it is
# measured, and by how much every `for:` of the shipped rules is divided in
# the temporary copy Prometheus loads.
MODES = {
    "default": {"interval": 5, "run": 240, "for_divisor": 10},
    "short": {"interval": 2, "run": 64, "for_divisor": 30},
}
TOLERANCE = "100ms"  # healthy loopback nodes: ~0.1 ms; the shifted node: ~SHIFT s
TOLERANCE_SECONDS = 0.1


def log(msg):
    print(f"cluster-sim: {msg}", flush=True)


class Fleet:
    """Every process the simulation starts; all are stopped on exit."""

    def __init__(self, work):
        self.work = work
        self.procs = {}  # name -> Popen (each in its own session/process group)
        self.on_exit = []  # callables run by stop_all (in-process servers)

    def start(self, name, argv, env=None):
        if "chronyd" in (os.path.basename(a) for a in argv) and "-f" in argv:
            conf = argv[argv.index("-f") + 1]
            if chrony_conf_guard.check_files([conf], "sim"):
                raise SystemExit(f"cluster-sim: {conf} would reach beyond this machine (see above)")
        logf = open(os.path.join(self.work, f"{name}.log"), "wb")
        p = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # faketime forks: kill its whole group
        )
        logf.close()
        self.procs[name] = p
        return p

    def stop(self, name, timeout=5.0):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=timeout)
        # A child that outlived the group leader (faketime's) in the group.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)
        for fn in self.on_exit:
            fn()

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None


_HANDED_OUT = set()


def free_port(kind=socket.SOCK_STREAM):
    """A port free now and not handed out before in this run: the kernel may
    give a just-closed ephemeral port again, and two nodes on one port means
    one clockwatch exits while the other answers for both."""
    while True:
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_until(what, fn, limit, every=0.25):
    """Polls fn() until it returns a true value; bounded by `limit` seconds."""
    until = time.monotonic() + limit
    last_err = None
    while time.monotonic() < until:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported below
            last_err = e
        time.sleep(every)
    raise TimeoutError(f"timed out after {limit:.0f} s waiting for {what} ({last_err})")


def chronyc_tracking(cmd_port):
    out = subprocess.run(
        ["chronyc", "-h", "127.0.0.1", "-p", str(cmd_port), "-c", "-n", "tracking"],
        capture_output=True, text=True, timeout=5,
    )
    if out.returncode != 0:
        return None
    return out.stdout.strip().split(",")


class Prom:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        d = json.loads(http_get(url))
        if d.get("status") != "success":
            raise RuntimeError(f"{path}: {d}")
        return d["data"]

    def query(self, expr):
        """{node: float} of an instant query (series without node: key '')."""
        res = self.api("query", query=expr)["result"]
        return {r["metric"].get("node", ""): float(r["value"][1]) for r in res}

    def alerts(self):
        return self.api("alerts")["alerts"]


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok   {what}", flush=True)
        else:
            self.failed += 1
            self.failures.append(what)
            print(f"  FAIL {what}" + (f"  [{detail}]" if detail else ""), flush=True)
        return ok


class Receiver:
    """An HTTP server on loopback playing two parts: the webhook receiver
    Alertmanager notifies (POST, every notification kept), and a stand-in
    for kube-state-metrics (GET /ksm: kube_node_info for every node of the
    fleet and for ABSENT), which ClockwatchAbsent and the dashboard compare
    with the clockwatch targets. The stand-in is a fake peer: no real
    kube-state-metrics can run without a Kubernetes API."""

    def __init__(self, node_names):
        self.notifications = []
        self.lock = threading.Lock()
        ksm = "".join(f'kube_node_info{{node="{n}",os_image="Ubuntu 22.04.5 LTS"}} 1\n' for n in node_names)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = ksm.encode() if self.path.startswith("/ksm") else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.notifications.append(json.loads(data))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self):
        """Every alert of every notification received: (status, labels, annotations)."""
        with self.lock:
            return [(a["status"], a["labels"], a["annotations"]) for n in self.notifications for a in n["alerts"]]

    def stop(self):
        self.server.shutdown()


def faketime(argv, shift, threads):
    """argv and environment to run argv SHIFT seconds ahead with libfaketime.
    The library is preloaded directly when found, so that the program is our
    own child (the `faketime` wrapper forks, and its child would be orphaned
    when the group is stopped); otherwise the wrapper is used. `threads`:
    the multi-threaded variant (`faketime -m`), needed by clockwatch."""
    lib = "libfaketimeMT.so.1" if threads else "libfaketime.so.1"
    found = sorted(glob.glob(f"/usr/lib/*/faketime/{lib}") + glob.glob(f"/usr/lib/faketime/{lib}")
                   + glob.glob(f"/usr/local/lib/faketime/{lib}"))
    env = dict(os.environ, FAKETIME=f"+{shift}s", FAKETIME_DONT_FAKE_MONOTONIC="1")
    if found:
        env["LD_PRELOAD"] = found[0]
        return argv, env
    return ["faketime"] + (["-m"] if threads else []) + ["-f", f"+{shift}s"] + argv, env


def shipped_relabeling():
    """The `relabel_configs:` block of the shipped static scrape job, as text."""
    lines = open(STATIC_SCRAPE).read().splitlines(keepends=True)
    start = next(i for i, l in enumerate(lines) if l.strip() == "relabel_configs:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = [lines[start]]
    for l in lines[start + 1:]:
        if l.strip() and len(l) - len(l.lstrip()) <= indent:
            break
        block.append(l)
    return "".join(block)


def template_alertmanager(dst, url, interval):
    """Copies the shipped Alertmanager configuration with only the receiver's
    url and the group timings changed (group_wait and group_interval to the
    scrape interval: the run is a minute, not hours). Returns the changes."""
    text = open(ALERTMANAGER_CFG).read()
    changes = []

    def repl(m):
        changes.append(m.group(2).strip())
        new = url if m.group(1).strip() == "- url:" else f"{interval}s"
        return f"{m.group(1)}{new}"

    out = re.sub(r"^(\s+- url: |\s+group_wait: |\s+group_interval: )(.*)$", repl, text, flags=re.M)
    a, b = text.splitlines(), out.splitlines()
    assert len(a) == len(b) and len(changes) == 3
    assert all(x == y or x.strip().startswith(("- url:", "group_wait:", "group_interval:")) for x, y in zip(a, b))
    open(dst, "w").write(out)
    return changes


def template_rules(dst, divisor, keep_for):
    """Copies the shipped rules, dividing every `for:` duration by `divisor`
    (nothing else changes). Returns the list of (old, new) replacements."""
    text = open(RULES).read()
    changes = []
    if keep_for:
        open(dst, "w").write(text)
        return changes
    unit = {"s": 1, "m": 60, "h": 3600}

    def repl(m):
        seconds = int(m.group(2)) * unit[m.group(3)]
        new = max(2, round(seconds / divisor))
        changes.append((f"{m.group(2)}{m.group(3)}", f"{new}s"))
        return f"{m.group(1)}{new}s"

    out = re.sub(r"^(\s+for: )(\d+)([smh])\s*$", repl, text, flags=re.M)
    # Prove that only `for:` lines differ.
    a, b = text.splitlines(), out.splitlines()
    assert len(a) == len(b)
    assert all(x == y or x.strip().startswith("for:") for x, y in zip(a, b))
    open(dst, "w").write(out)
    return changes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--short", action="store_true", help="~80 s run for CI")
    ap.add_argument("--nodes", type=int, default=5,
                    help="nodes in the fleet, at least 4: all healthy but one shifted and one stopped (default 5)")
    ap.add_argument("--shift", type=int, default=40,
                    help="seconds the shifted node's clock is ahead (default 40: beyond the 30 s warning, below the 120 s critical)")
    ap.add_argument("--run", type=int, help="seconds to run after the fleet is measured (mode default: 240, --short 64)")
    ap.add_argument("--keep-for", action="store_true",
                    help="load the shipped rules unchanged; alerts whose `for:` cannot elapse are then expected pending")
    ap.add_argument("--topology", choices=["central", "node-local"], default="central",
                    help="central: one Prometheus scrapes every node (default); node-local: as Azure's "
                         "node-level ConfigMap, each node's own scraper (under its node's clock) stamps its "
                         "samples, and every node's clockwatch probes the upstream chronyd")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs, report)")
    ap.add_argument("--binary", default=os.path.join(REPO, "target/release/clockwatch"))
    args = ap.parse_args()
    ensure_isolated()
    if args.nodes < 4:
        ap.error("--nodes must be at least 4")
    if not 30 < args.shift < 120:
        ap.error("--shift must be between 30 and 120 s (exclusive): the assertions expect the warning, not the critical, offset alert")
    mode = MODES["short" if args.short else "default"]
    interval = mode["interval"]
    run = args.run or mode["run"]
    binary = os.path.abspath(args.binary)

    # chronyd lives in /usr/sbin, which a non-login PATH may lack.
    os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
    missing = [t for t in ("chronyd", "chronyc", "prometheus", "prometheus-alertmanager", "faketime")
               if shutil.which(t) is None]
    why = None
    if missing:
        why = f"missing {' '.join(missing)} (apt-get install chrony prometheus prometheus-alertmanager faketime)"
    elif os.geteuid() != 0:
        why = "needs root (chronyd runs with -x -u root)"
    if why:
        # As the Rust integration tests do: a loud skip, but in CI nothing
        # may skip.
        if os.environ.get("CI") == "true":
            log(f"error: {why}; in CI nothing may skip")
            print("cluster-sim: 0 passed, 1 failed", flush=True)
            return 2
        print(f"\n*** cluster-sim: SKIP: {why} ***\n", file=sys.stderr, flush=True)
        print("cluster-sim: 0 passed, 0 failed", flush=True)
        return 0
    if not os.access(binary, os.X_OK):
        log(f"no clockwatch binary at {binary}")
        return 2
    # `clockwatch report` runs clockwatch-report from beside the binary (or
    # PATH): say so now, not after the whole run.
    report_binary = os.path.join(os.path.dirname(binary), "clockwatch-report")
    if not os.access(report_binary, os.X_OK) and not shutil.which("clockwatch-report"):
        log(f"no {report_binary} (nor on PATH) for `clockwatch report`: "
            "cargo build --release -p clockwatch-report")
        return 2

    work = tempfile.mkdtemp(prefix="clockwatch-sim-")
    fleet = Fleet(work)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    checks = Checks()
    t_begin = time.monotonic()
    try:
        run_sim(args, mode, interval, run, binary, work, fleet, checks)
    except Exception as e:  # noqa: BLE001 - any failure is one failed check
        checks.check("simulation ran to the end", False, f"{type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        fleet.stop_all()
        if args.keep or checks.failed:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    log(f"wall time {time.monotonic() - t_begin:.0f} s")
    for what in checks.failures:
        log(f"FAILED: {what}")
    print(f"cluster-sim: {checks.passed} passed, {checks.failed} failed", flush=True)
    return 0 if checks.failed == 0 else 1


def run_sim(args, mode, interval, run, binary, work, fleet, checks):
    shift = args.shift
    n_healthy = args.nodes - 2
    healthy = [f"sim-healthy-{i}" for i in range(1, n_healthy + 1)]
    shifted, stopped = "sim-shifted", "sim-stopped"
    nodes = healthy + [shifted, stopped]

    # --- upstream -----------------------------------------------------------
    ntp_port = free_port(socket.SOCK_DGRAM)
    up_conf = os.path.join(work, "upstream.conf")
    with open(up_conf, "w") as f:
        f.write(f"local stratum 3\nport {ntp_port}\nallow 127.0.0.1\ncmdport 0\nbindcmdaddress /\n"
                f"pidfile {work}/upstream.pid\n")
    fleet.start("upstream-chronyd", ["chronyd", "-d", "-x", "-u", "root", "-f", up_conf])

    # --- nodes: chronyd clients ---------------------------------------------
    info = {}
    for name in nodes:
        d = os.path.join(work, name)
        run_dir = os.path.join(d, "run")
        os.makedirs(run_dir)
        os.chmod(run_dir, 0o750)
        cmd_port = free_port(socket.SOCK_DGRAM)
        sock = os.path.join(run_dir, "chronyd.sock")
        conf = os.path.join(d, "chrony.conf")
        with open(conf, "w") as f:
            f.write(f"server 127.0.0.1 port {ntp_port} iburst minpoll -2 maxpoll -2\nport 0\n"
                    f"cmdport {cmd_port}\nbindcmdaddress 127.0.0.1\nbindcmdaddress {sock}\n"
                    f"pidfile {d}/chronyd.pid\n")
        argv = ["chronyd", "-d", "-x", "-u", "root", "-f", conf]
        env = None
        if name == shifted:
            # The whole node runs SHIFT seconds ahead: its chronyd sees the
            # upstream SHIFT s behind its own clock ("System time: SHIFT
            # seconds fast") and, with -x, never corrects it.
            argv, env = faketime(argv, shift, threads=False)
        fleet.start(f"{name}-chronyd", argv, env)
        info[name] = {"cmd_port": cmd_port, "sock": sock, "web": free_port()}

    log(f"work directory {work}")
    log(f"upstream chronyd on 127.0.0.1:{ntp_port}; nodes: {', '.join(nodes)}")

    def synced(name):
        f = chronyc_tracking(info[name]["cmd_port"])
        return f if f and len(f) > 13 and f[0] != "00000000" and f[13] == "Normal" else None

    tracking = {}
    for name in nodes:
        tracking[name] = wait_until(f"chronyd of {name} to synchronise", lambda n=name: synced(n), 30)
    corr = {n: float(tracking[n][4]) for n in nodes}  # chronyc -c: System time, + = slow
    print("== the fleet's chronyd", flush=True)
    checks.check("every node's chronyd synchronised to the upstream", True)
    checks.check(f"{shifted}: chronyd sees its clock {shift} s fast (System time ~ -{shift} s)",
                 abs(corr[shifted] + shift) < 1.0, f"System time {corr[shifted]}")
    checks.check("other nodes: chronyd's correction below 10 ms",
                 all(abs(corr[n]) < 0.01 for n in nodes if n != shifted),
                 str({n: corr[n] for n in nodes if n != shifted}))

    # --- nodes: clockwatch ----------------------------------------------------
    node_local = args.topology == "node-local"
    for name in nodes:
        # The peak window as long as a scrape interval, as in production
        # (60 s against 30-60 s scrapes): with the default 60 s against the
        # sim's 2 s scrapes the period's first minute carried the peak of
        # the minute before --from (the shifted node's start, 41.0 s once).
        argv = [binary, "--web.listen-address", f"127.0.0.1:{info[name]['web']}",
                "--chrony.address", f"unix://{info[name]['sock']}",
                "--sample.window", f"{interval}s"]
        if node_local:
            # Every node probes the same honest server: the upstream chronyd.
            argv += ["--probe.server", f"127.0.0.1:{ntp_port}", "--probe.interval", "16s",
                     "--probe.samples", "1"]
        env = None
        if name == shifted:
            # The glibc binary under libfaketime (multi-threaded variant, -m):
            # its CLOCK_REALTIME, hence clockwatch_system_time_seconds, is
            # SHIFT s ahead, as it would be on a node whose clock is ahead.
            argv, env = faketime(argv, shift, threads=True)
        fleet.start(f"{name}-clockwatch", argv, env)
    for name in nodes:
        wait_until(f"clockwatch of {name}",
                   lambda n=name: http_get(f"http://127.0.0.1:{info[n]['web']}/healthz", 2), 20)
    # An answer on the port is not enough: a clockwatch that lost its port
    # exits while someone else answers there.
    exited = [n for n in nodes if fleet.procs[f"{n}-clockwatch"].poll() is not None]
    if exited:
        raise SystemExit(f"cluster-sim: clockwatch of {exited} exited at start; see its log in {work}")

    def scrape_value(name, metric):
        for line in http_get(f"http://127.0.0.1:{info[name]['web']}/metrics").splitlines():
            if line.startswith(metric + " ") or line.startswith(metric + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    print("== clockwatch on every node", flush=True)
    seen = scrape_value(shifted, "clockwatch_system_time_seconds")
    checks.check(f"libfaketime shifts {shifted}'s clockwatch: its system time is +{shift} s",
                 seen is not None and abs(seen - time.time() - shift) < 2.0,
                 f"clockwatch_system_time_seconds - now = {None if seen is None else seen - time.time():.3f}")
    seen = scrape_value(healthy[0], "clockwatch_system_time_seconds")
    checks.check(f"{healthy[0]}'s clockwatch is not shifted",
                 seen is not None and abs(seen - time.time()) < 2.0)

    # --- node-local: each node's own scraper, on its node's clock ---------------
    scrape_port = {n: info[n]["web"] for n in nodes}
    if node_local:
        agent = os.path.join(REPO, "scripts", "sim_node_agent.py")
        for name in nodes:
            port = free_port()
            argv = [sys.executable, agent, str(port), f"http://127.0.0.1:{info[name]['web']}/metrics"]
            env = None
            if name == shifted:
                argv, env = faketime(argv, shift, threads=True)
            fleet.start(f"{name}-agent", argv, env)
            scrape_port[name] = port
        for name in nodes:
            wait_until(f"node scraper of {name}",
                       lambda n=name: http_get(f"http://127.0.0.1:{scrape_port[n]}/metrics", 2), 20)
        log("topology node-local: each node's samples stamped by its own scraper (scripts/sim_node_agent.py), "
            f"every clockwatch probing the upstream 127.0.0.1:{ntp_port}")

    # --- the webhook receiver, kube-state-metrics' stand-in, Alertmanager -----
    receiver = Receiver(nodes + [ABSENT])
    fleet.on_exit.append(receiver.stop)
    am_port = free_port()
    am_cfg = os.path.join(work, "alertmanager.yml")
    template_alertmanager(am_cfg, f"http://127.0.0.1:{receiver.port}/", interval)
    log(f"Alertmanager: the shipped deploy/alertmanager/alertmanager.yml, receiver url and group timings "
        f"({interval}s) changed; webhook receiver on 127.0.0.1:{receiver.port}")
    fleet.start("alertmanager", ["prometheus-alertmanager", f"--config.file={am_cfg}",
                                 f"--storage.path={work}/alertmanager-data",
                                 f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="])
    am_base = f"http://127.0.0.1:{am_port}"
    wait_until("Alertmanager ready", lambda: http_get(f"{am_base}/-/ready", 2), 30)

    # --- Prometheus -----------------------------------------------------------
    rules = os.path.join(work, "clockwatch.rules.yml")
    changes = template_rules(rules, mode["for_divisor"], args.keep_for)
    if changes:
        uniq = sorted(set(changes), key=lambda c: changes.index(c))
        log("rules: shipped file with only `for:` changed (÷%d): %s"
            % (mode["for_divisor"], ", ".join(f"{a}->{b}" for a, b in uniq)))
    else:
        log("rules: the shipped file, unchanged")
    prom_port = free_port()
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n"
                f"  scrape_interval: {interval}s\n"
                f"  scrape_timeout: {interval}s\n"
                f"  evaluation_interval: {interval}s\n"
                f"rule_files: ['{rules}']\n"
                "alerting:\n"
                "  alertmanagers:\n"
                f"    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n"
                "scrape_configs:\n"
                "  - job_name: kube-state-metrics\n"
                "    metrics_path: /ksm\n"
                "    static_configs:\n"
                f"      - targets: ['127.0.0.1:{receiver.port}']\n"
                f"        labels: {{cluster: '{CLUSTER}'}}\n"
                "  - job_name: clockwatch\n"
                "    static_configs:\n")
        for name in nodes:
            f.write(f"      - targets: ['127.0.0.1:{scrape_port[name]}']\n"
                    f"        labels: {{node: '{name}', cluster: '{CLUSTER}'}}\n")
        # The shipped static job's relabeling, verbatim: it must keep the
        # per-target node labels (all targets here share 127.0.0.1).
        f.write(shipped_relabeling())
    fleet.start("prometheus", ["prometheus", f"--config.file={cfg}",
                               f"--storage.tsdb.path={work}/prometheus-data",
                               f"--web.listen-address=127.0.0.1:{prom_port}",
                               # Re-send firing alerts every interval, not every minute.
                               f"--rules.alert.resend-delay={interval}s"])
    prom = Prom(prom_port)
    wait_until("Prometheus ready", lambda: http_get(f"{prom.base}/-/ready", 2), 30)

    def all_up():
        up = prom.query('up{job="clockwatch"} == 1')
        rec = prom.query("node:clockwatch_measured_offset_from_median_seconds")
        return len(up) == len(nodes) and len(rec) == len(nodes)

    # Node-local: the shifted node's samples carry its clock, SHIFT s ahead, and
    # become visible to queries only once real time reaches them.
    wait_until("every target scraped and the recording rules evaluated", all_up,
               10 * interval + 20 + (shift if node_local else 0))
    # The report's period starts on a whole second after every node was
    # scraped and measured; it ends two intervals before the report runs so
    # that the last cell's scrape is stored.
    t_from = math.ceil(time.time())
    t_stop = t_from + run / 2
    t_end = t_from + run
    print("== running", flush=True)
    log(f"Prometheus on 127.0.0.1:{prom_port}, scrape and evaluation every {interval} s; "
        f"running {run} s, stopping {stopped}'s chronyd after {run // 2} s")
    time.sleep(max(0, t_stop - time.time()))
    fleet.stop(f"{stopped}-chronyd")
    t_stop = time.time()
    log(f"stopped the chronyd of {stopped} at {time.strftime('%H:%M:%S', time.gmtime(t_stop))}Z")
    time.sleep(max(0, t_end - time.time()))

    exited = [n for n in fleet.procs if not fleet.alive(n)]
    checks.check("every other process still running", not exited, f"exited: {exited}")

    # --- alerts ---------------------------------------------------------------
    print("== alerts (/api/v1/alerts)", flush=True)
    alerts = prom.alerts()
    want_state = {"firing", "pending"} if args.keep_for else {"firing"}
    state_text = "pending or firing" if args.keep_for else "firing"

    def alert_states(node, name, severity=None):
        return [a["state"] for a in alerts
                if a["labels"].get("node") == node and a["labels"]["alertname"] == name
                and (severity is None or a["labels"].get("severity") == severity)]

    def has_alert(node, name, severity=None):
        return bool(set(alert_states(node, name, severity)) & want_state)

    summary = sorted({(a["labels"].get("node", "-"), a["labels"]["alertname"],
                       a["labels"].get("severity", "-"), a["state"]) for a in alerts})
    for s in summary:
        print("       %-16s %-26s %-9s %s" % s, flush=True)
    # Every node shares the host's kernel clock: a step of it (by anything
    # outside the simulation on a shared machine) must raise ClockStepped on
    # every node or on none, and is then no fault of any node.
    stepped = {a["labels"].get("node") for a in alerts if a["labels"]["alertname"] == "ClockStepped"}
    checks.check("ClockStepped on every node or on none (one shared kernel clock)",
                 not stepped or stepped == set(nodes), str(sorted(stepped)))
    if stepped == set(nodes):
        log("the host clock was stepped during the run (not by the simulation): "
            "ClockStepped fires on every node, as it should; it is left out of the checks below")
        alerts = [a for a in alerts if a["labels"]["alertname"] != "ClockStepped"]
    checks.check(f"{shifted}: ClockErrorBoundHigh critical {state_text}",
                 has_alert(shifted, "ClockErrorBoundHigh", "critical"))
    checks.check(f"{shifted}: ClockErrorBoundHigh warning {state_text}",
                 has_alert(shifted, "ClockErrorBoundHigh", "warning"))
    how = "probe offset" if args.topology == "node-local" else "measured offset"
    checks.check(f"{shifted}: NodeClockOffsetFromMedian warning {state_text} ({how} {shift} s > 30 s)",
                 has_alert(shifted, "NodeClockOffsetFromMedian", "warning"))
    checks.check(f"{shifted}: no NodeClockOffsetFromMedian critical ({shift} s < 120 s)",
                 not alert_states(shifted, "NodeClockOffsetFromMedian", "critical"))
    checks.check(f"{stopped}: ChronyUnreachable {state_text}", has_alert(stopped, "ChronyUnreachable"))
    extra = sorted({a["labels"]["alertname"] for a in alerts if a["labels"].get("node") == shifted}
                   - {"ClockErrorBoundHigh", "NodeClockOffsetFromMedian"})
    checks.check(f"{shifted}: no other alert (ClockReferenceStale: the reference is fresh on chronyd's timescale)",
                 not extra, str(extra))
    extra = sorted({a["labels"]["alertname"] for a in alerts if a["labels"].get("node") == stopped}
                   - {"ChronyUnreachable"})
    checks.check(f"{stopped}: no other alert (no bound alert: an infinite bound is not 'high')",
                 not extra, str(extra))
    bad = [a["labels"] for a in alerts if a["labels"].get("node") in healthy]
    checks.check("healthy nodes: no alert at all", not bad, str(bad))
    checks.check(f"{ABSENT}: ClockwatchAbsent {state_text} (kube_node_info reports it, no clockwatch target)",
                 has_alert(ABSENT, "ClockwatchAbsent"))
    extra = sorted({a["labels"]["alertname"] for a in alerts if a["labels"].get("node") == ABSENT} - {"ClockwatchAbsent"})
    checks.check(f"{ABSENT}: no other alert", not extra, str(extra))
    others = [s for s in summary if s[0] not in nodes + [ABSENT]]
    checks.check("no alert without a node", not others, str(others))

    if not args.keep_for:
        check_notifications(checks, receiver, am_base, nodes, healthy, shifted, stopped, interval,
                            host_stepped=stepped == set(nodes))

    # --- metrics and recordings ---------------------------------------------
    print("== metrics and recording rules (/api/v1/query)", flush=True)
    measured = prom.query("node:clockwatch_measured_offset_from_median_seconds")
    chrony_off = prom.query("node:clockwatch_chrony_offset_from_median_seconds")
    print(f"       measured offset from median: { {n: round(v, 3) for n, v in sorted(measured.items())} }")
    print(f"       chronyd offset from median:  { {n: round(v, 6) for n, v in sorted(chrony_off.items())} }")
    if node_local:
        # What Azure's node-level scrape does: the scrape-timestamp
        # measurement cannot see the shifted node; the probes can.
        checks.check(f"node-local: measured offset from median below 1 s on every node, {shifted} included",
                     all(abs(measured.get(n, 99)) < 1.0 for n in nodes), str(measured))
        probe = prom.query("node:clockwatch_probe_offset_from_median_seconds")
        ref = {r["metric"]["node"]: r["metric"].get("reference") for r in
               prom.api("query", query="node:clockwatch_offset_from_median_seconds")["result"]}
        print(f"       probe offset from median:    { {n: round(v, 3) for n, v in sorted(probe.items())} }")
        checks.check(f"{shifted}: probe offset from median ~ +{shift} s", abs(probe.get(shifted, 0) - shift) < 2.0,
                     str(probe.get(shifted)))
        checks.check("other nodes: probe offset from median below 1 s",
                     all(abs(probe.get(n, 99)) < 1.0 for n in healthy), str(probe))
        checks.check("the offset alert's series is the probe median for every probing node",
                     all(ref.get(n) == "probe_median" for n in healthy + [shifted]), str(ref))
    else:
        checks.check(f"{shifted}: measured offset from median ~ +{shift} s",
                     abs(measured.get(shifted, 0) - shift) < 2.0, str(measured.get(shifted)))
        checks.check("other nodes: measured offset from median below 1 s",
                     all(abs(measured.get(n, 99)) < 1.0 for n in nodes if n != shifted))
    checks.check(f"{shifted}: chronyd's offset from median ~ +{shift} s (same sign as measured)",
                 abs(chrony_off.get(shifted, 0) - shift) < 1.0, str(chrony_off.get(shifted)))
    if node_local:
        # Prometheus writes no staleness marker for a series whose samples
        # carry their own timestamps (the node scraper's), so the last value
        # stays visible for the lookback; a real agent's remote-write carries
        # its markers. Not checked in this topology.
        log(f"node-local: {stopped}'s chronyd offset after the stop is not checked "
            "(no staleness markers for timestamped samples)")
    else:
        checks.check(f"{stopped}: no chronyd offset once chronyd is gone (no stale values)",
                     stopped not in chrony_off)
    checks.check("healthy nodes: chronyd's offset from median below 10 ms",
                 all(abs(chrony_off.get(n, 99)) < 0.01 for n in healthy))
    up = prom.query("chrony_up")
    state = {n: s for n, s in ((r["metric"]["node"], r["metric"]["state"])
                               for r in prom.api("query", query="clockwatch_sync_state == 1")["result"])}
    bound = prom.query("clockwatch_clock_error_bound_seconds")
    print(f"       sync state: {dict(sorted(state.items()))}")
    print(f"       bound (s):  { {n: float(f'{v:.3g}') for n, v in sorted(bound.items())} }")
    checks.check(f"{stopped}: chrony_up 0, sync state unknown, bound +Inf",
                 up.get(stopped) == 0 and state.get(stopped) == "unknown" and math.isinf(bound.get(stopped, 0)),
                 f"chrony_up {up.get(stopped)}, state {state.get(stopped)}, bound {bound.get(stopped)}")
    checks.check(f"{shifted}: synchronized, bound ~ {shift} s",
                 state.get(shifted) == "synchronized" and abs(bound.get(shifted, 0) - shift) < 1.0,
                 f"state {state.get(shifted)}, bound {bound.get(shifted)}")
    checks.check(f"healthy nodes: synchronized, bound below {TOLERANCE}",
                 all(state.get(n) == "synchronized" and bound.get(n, 1) < TOLERANCE_SECONDS for n in healthy))

    # --- clockwatch report ----------------------------------------------------
    print("== clockwatch report", flush=True)
    t_to = t_from + ((t_end - t_from) // interval) * interval
    wait_until("the last cell's scrape", lambda: time.time() > t_to + 2 * interval, 4 * interval + 5)
    report_path = os.path.join(work, "report.json")
    argv = [binary, "report", "--prometheus", prom.base, "--from", str(t_from), "--to", str(int(t_to)),
            "--tolerance", TOLERANCE, "--step", f"{interval}s", "--selector", f'{{cluster="{CLUSTER}"}}',
            "--format", "json", "--output", report_path]
    # The exact checks below are the grid method's (a gap's reason names why
    # a cell was unmeasured); the exporter's counters, which `auto` would
    # pick here, are checked after them by check_counter_report.
    counters_argv = argv[:-2] + ["--output", os.path.join(work, "report-counters.json"), "--method", "counters"]
    argv += ["--method", "grid"]
    log(" ".join(a if " " not in a and "{" not in a else f"'{a}'" for a in argv))
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    checks.check("report exit status 1 (not compliant)", r.returncode == 1,
                 f"exit {r.returncode}: {r.stderr.strip()}")
    try:
        rep = json.load(open(report_path))
    except (OSError, ValueError) as e:
        checks.check("report written as JSON", False, str(e))
        return
    by_node = {n["node"]: n for n in rep["nodes"]}
    for n in nodes:
        x = by_node.get(n)
        if x:
            print("       %-16s compliant=%-5s within=%.3f out=%.3f unmeasured=%.3f breaches=%d gaps=%d"
                  % (n, x["compliant"], x["within_ratio"], x["out_of_tolerance_ratio"], x["unmeasured_ratio"],
                     len(x["breaches"]), len(x["gaps"])), flush=True)
    checks.check("report names exactly the fleet's nodes", sorted(by_node) == sorted(nodes), str(sorted(by_node)))
    checks.check(f"report: {len(healthy)} of {len(nodes)} nodes compliant",
                 rep["summary"]["nodes_compliant"] == len(healthy), str(rep["summary"]))
    for n in healthy:
        x = by_node.get(n, {})
        checks.check(f"{n}: compliant, whole period within {TOLERANCE}, no breach, no gap",
                     x.get("compliant") is True and x.get("within_ratio") == 1 and not x.get("breaches")
                     and not x.get("gaps"), json.dumps({k: x.get(k) for k in ("verdict", "gaps")}))
    x = by_node.get(shifted, {})
    checks.check(f"{shifted}: not compliant, out of tolerance the whole period, peak ~ {shift} s",
                 x.get("compliant") is False and x.get("out_of_tolerance_ratio") == 1
                 and len(x.get("breaches", [])) == 1
                 and abs(x["breaches"][0]["peak_bound_seconds"] - shift) < 1.0,
                 json.dumps({k: x.get(k) for k in ("out_of_tolerance_ratio", "breaches", "gaps")}))
    x = by_node.get(stopped, {})
    gaps = x.get("gaps", [])
    ok = x.get("compliant") is False and not x.get("breaches") and len(gaps) == 1
    detail = json.dumps({k: x.get(k) for k in ("breaches", "gaps")})
    if ok:
        g = gaps[0]
        g_start = parse_rfc3339(g["start"])
        g_end = parse_rfc3339(g["end"])
        ok = (abs(g_start - t_stop) <= 2 * interval and abs(g_end - t_to) < 1
              and "chronyd unreachable" in g["reasons"])
        detail += f"; stopped at {t_stop:.1f}, gap starts {g_start:.1f} ({g_start - t_stop:+.1f} s)"
    checks.check(f"{stopped}: not compliant, no breach, one gap from the stop (± 2 steps) to the end, "
                 "reason 'chronyd unreachable'", ok, detail)
    if ok:
        log(f"{stopped}: chronyd stopped at {time.strftime('%H:%M:%S', time.gmtime(t_stop))}Z, "
            f"report's gap starts {gaps[0]['start']} ({parse_rfc3339(gaps[0]['start']) - t_stop:+.1f} s), "
            f"reasons {', '.join(gaps[0]['reasons'])}")
    check_counter_report(checks, counters_argv, nodes, healthy, shifted, stopped, shift)


def method_why(node):
    m = node.get("method")
    return m.get("why", "?") if isinstance(m, dict) else str(m)


def check_counter_report(checks, argv, nodes, healthy, shifted, stopped, shift):
    """The same period by the exporter's time counters (--method counters).
    They count seconds between samples, not cells, so shares are compared
    to within 0.1 % of the period, and the stopped node's unobserved time
    is unmeasured (the counters cannot name its reason)."""
    print("== clockwatch report --method counters", flush=True)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    checks.check("counters report exit status 1 (not compliant)", r.returncode == 1,
                 f"exit {r.returncode}: {r.stderr.strip()}")
    try:
        rep = json.load(open(argv[argv.index("--output") + 1]))
    except (OSError, ValueError) as e:
        checks.check("counters report written as JSON", False, str(e))
        return
    by_node = {n["node"]: n for n in rep["nodes"]}
    for n in nodes:
        x = by_node.get(n)
        if x:
            print("       %-16s compliant=%-5s within=%.4f out=%.4f unmeasured=%.4f breaches=%d method=%s"
                  % (n, x["compliant"], x["within_ratio"], x["out_of_tolerance_ratio"], x["unmeasured_ratio"],
                     len(x["breaches"]), method_why(x)), flush=True)
    for n in healthy:
        x = by_node.get(n, {})
        checks.check(f"counters: {n} compliant, within tolerance for ≥ 99.9 % of the period, no breach",
                     x.get("compliant") is True and x.get("within_ratio", 0) >= 0.999 and not x.get("breaches"),
                     json.dumps({k: x.get(k) for k in ("within_ratio", "breaches", "gaps")}))
    x = by_node.get(shifted, {})
    checks.check(f"counters: {shifted} out of tolerance for ≥ 99.9 % of the period, peak ~ {shift} s",
                 x.get("compliant") is False and x.get("out_of_tolerance_ratio", 0) >= 0.999
                 and len(x.get("breaches", [])) >= 1
                 and abs(max(b["peak_bound_seconds"] for b in x["breaches"]) - shift) < 1.0,
                 json.dumps({k: x.get(k) for k in ("out_of_tolerance_ratio", "breaches")}))
    x = by_node.get(stopped, {})
    checks.check(f"counters: {stopped} not compliant, no breach, its stopped time unmeasured",
                 x.get("compliant") is False and not x.get("breaches") and x.get("unmeasured_ratio", 0) > 0.2,
                 json.dumps({k: x.get(k) for k in ("unmeasured_ratio", "breaches", "gaps")}))


def check_notifications(checks, receiver, am_base, nodes, healthy, shifted, stopped, interval, host_stepped):
    """What the webhook received from the real Alertmanager, and what
    Alertmanager itself says it inhibited."""
    print("== notifications (Alertmanager -> webhook receiver)", flush=True)
    expected = {(shifted, "ClockErrorBoundHigh", "critical"), (shifted, "NodeClockOffsetFromMedian", "warning"),
                (stopped, "ChronyUnreachable", "warning"), (ABSENT, "ClockwatchAbsent", "warning")}

    def received():
        return {(lab.get("node"), lab["alertname"], lab.get("severity")) for st, lab, _ in receiver.alerts()
                if st == "firing" and not (host_stepped and lab["alertname"] == "ClockStepped")}

    # Alertmanager groups for one group_interval after an alert joins.
    try:
        wait_until("every expected notification", lambda: expected <= received(), 6 * interval + 10)
    except TimeoutError:
        pass
    got = received()
    for row in sorted(got):
        print("       %-16s %-26s %s" % tuple(x or "-" for x in row), flush=True)
    for node, name, severity in sorted(expected):
        checks.check(f"notified: {name} {severity} for {node}", (node, name, severity) in got)
    checks.check(f"not notified: ClockErrorBoundHigh warning for {shifted} (inhibited by its critical)",
                 (shifted, "ClockErrorBoundHigh", "warning") not in got)
    suppressed = json.loads(http_get(f"{am_base}/api/v2/alerts?inhibited=true&active=false&silenced=false"))
    inhibited = [a for a in suppressed if a["labels"].get("node") == shifted
                 and a["labels"]["alertname"] == "ClockErrorBoundHigh" and a["labels"].get("severity") == "warning"]
    checks.check(f"Alertmanager: {shifted}'s ClockErrorBoundHigh warning received and inhibited",
                 len(inhibited) == 1 and inhibited[0]["status"]["state"] == "suppressed"
                 and inhibited[0]["status"]["inhibitedBy"],
                 json.dumps([a["status"] for a in inhibited]))
    checks.check("no notification for the healthy nodes, nor any other",
                 got - expected == set(), str(sorted(got - expected)))
    base = None
    bad = []
    for _st, lab, ann in receiver.alerts():
        url = ann.get("runbook_url", "")
        base = base or url.split("#")[0]
        if not url.endswith("#" + lab["alertname"].lower()) or not url.startswith("https://"):
            bad.append((lab["alertname"], url))
        if lab.get("node") and lab["node"] not in ann.get("summary", ""):
            bad.append((lab["alertname"], "summary without the node: " + ann.get("summary", "")))
    checks.check("every notification carries its runbook_url (#alert name) and names its node", not bad and base,
                 str(bad))
    runbooks = open(os.path.join(REPO, "docs/runbooks.md")).read()
    checks.check("every notified alert has its section in docs/runbooks.md",
                 all(f"\n## {name}\n" in runbooks for _n, name, _s in got))


def parse_rfc3339(s):
    """'2024-05-01T00:00:00Z' or with fraction -> unix seconds (UTC only)."""
    s = s.rstrip("Z").replace("+00:00", "")
    frac = 0.0
    if "." in s:
        s, f = s.split(".")
        frac = float("0." + f)
    import calendar
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%S")) + frac


if __name__ == "__main__":
    sys.exit(main())
