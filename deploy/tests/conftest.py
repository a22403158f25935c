# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Shared helpers for the deployment tests (run by scripts/test-deploy.sh)."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CHART = DEPLOY / "helm" / "clockwatch"
RULES = DEPLOY / "prometheus" / "clockwatch.rules.yml"
DASHBOARD = DEPLOY / "grafana" / "clockwatch.json"
METRICS_TXT = DEPLOY / "tests" / "metrics.txt"

# Kubernetes versions every rendered manifest is validated against: the
# oldest the chart supports (Chart.yaml kubeVersion) and two recent ones.
KUBE_VERSIONS = ["1.25.0", "1.30.0", "1.34.0"]
MODES = ["udp", "socket", "timex", "ptp", "timesyncd"]
SOCKET_USER = {"uid": 112, "gid": 117}

# Every optional object switched on, for validation.
ALL_ON = {
    "serviceMonitor": {"enabled": True, "additionalLabels": {"release": "kube-prometheus-stack"}},
    "podMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "dashboard": {"enabled": True},
    "webConfig": {"enabled": True, "config": {"basic_auth_users": {"prometheus": "$2y$10$abc"}}},
}


def deep_merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def mode_values(mode, extra=None):
    v = {"chrony": {"access": mode}}
    if mode == "socket":
        v["chrony"]["socketUser"] = dict(SOCKET_USER)
    return deep_merge(v, extra or {})


def skip(why):
    """A loud skip; under CI=true a failure: in CI nothing may skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"would skip, but CI=true: {why}")
    pytest.skip(why)


def need(module):
    try:
        return __import__(module)
    except ImportError:
        skip(f"python module {module} is not installed (scripts/test-deploy.sh installs it as root)")


def render_raw(values=None, name="clockwatch", namespace="clockwatch"):
    """Template path -> rendered text, through the Helm SDK (helm-python-sdk)."""
    helm = need("helm_python")
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values=values or {}, name=name, namespace=namespace)


def render(values=None, **kw):
    """Rendered objects (dicts), NOTES.txt left out."""
    docs = []
    for path, text in sorted(render_raw(values, **kw).items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def need_tool(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not path:
        skip(f"{name} is not installed (scripts/test-deploy.sh installs it as root)")
    return path


def wait_for(what, fn, limit, every=0.2):
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last = e
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {limit} s ({last})")


class ChronydPair:
    """A real node on loopback, as tests/common/mod.rs makes it: an upstream
    chronyd (`local stratum 3`, serving NTP on a free port) and a client whose
    only source is 127.0.0.1 on that port, answering cmdmon on 127.0.0.1:cmd_port.
    Both run with -x: the host clock is never touched."""

    def __init__(self, workdir):
        need_tool("chronyd")
        if os.geteuid() != 0:
            skip("chronyd -u root needs root")
        self.dir = Path(workdir)
        ntp = free_udp_port()
        self.cmd_port = free_udp_port()
        up = self.dir / "upstream.conf"
        up.write_text(f"local stratum 3\nport {ntp}\nallow 127.0.0.1\ncmdport 0\nbindcmdaddress /\n"
                      f"pidfile {self.dir}/upstream.pid\n")
        run = self.dir / "run"
        run.mkdir(mode=0o750)
        cl = self.dir / "client.conf"
        cl.write_text(f"server 127.0.0.1 port {ntp} iburst minpoll -2 maxpoll -2\nport 0\n"
                      f"cmdport {self.cmd_port}\nbindcmdaddress 127.0.0.1\nbindcmdaddress {run}/chronyd.sock\n"
                      f"pidfile {self.dir}/client.pid\n")
        chronyd = need_tool("chronyd")
        self.procs = [subprocess.Popen([chronyd, "-d", "-x", "-u", "root", "-f", str(c)],
                                       stdout=subprocess.DEVNULL, stderr=open(self.dir / f"{c.stem}.log", "w"))
                      for c in (up, cl)]
        wait_for("the client chronyd to synchronise", lambda: (self.tracking() or [None] * 14)[13] == "Normal"
                 and self.tracking()[0] != "00000000", 30)

    def chronyc(self, *args):
        r = subprocess.run([need_tool("chronyc"), "-h", "127.0.0.1", "-p", str(self.cmd_port), "-c", "-n", *args],
                           capture_output=True, text=True, timeout=5)
        return r.stdout if r.returncode == 0 else ""

    def tracking(self):
        out = self.chronyc("tracking").strip()
        return out.split(",") if out else None

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A real Prometheus with an empty TSDB in a temporary directory."""

    def __init__(self, binary, workdir, scrape_configs=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = Path(workdir) / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1m\nscrape_configs:" +
                       (scrape_configs if scrape_configs else " []\n"))
        self.log = open(Path(workdir) / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={workdir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {Path(workdir, 'prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prometheus did not become ready in 30 s")

    def query(self, expr):
        """Returns (ok, error message)."""
        data = urllib.parse.urlencode({"query": expr}).encode()
        try:
            with urllib.request.urlopen(self.url + "/api/v1/query", data=data, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
        return body.get("status") == "success", body.get("error", "")

    def instant(self, expr):
        """The result list of an instant query (raises on an error)."""
        data = urllib.parse.urlencode({"query": expr}).encode()
        with urllib.request.urlopen(self.url + "/api/v1/query", data=data, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def prometheus():
    binary = need_tool("prometheus")
    with tempfile.TemporaryDirectory(prefix="clockwatch-prom-") as d:
        p = Prometheus(binary, d)
        try:
            yield p
        finally:
            p.stop()


def metric_contract():
    names = set()
    for line in METRICS_TXT.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return names


def pytest_terminal_summary(terminalreporter):
    # Say loudly what was skipped and why: nothing is skipped silently.
    for rep in terminalreporter.stats.get("skipped", []):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        terminalreporter.write_line(f"SKIP: {rep.nodeid}: {reason}", yellow=True, bold=True)
    counts = os.environ.get("DEPLOY_COUNTS_FILE")
    if counts:
        s = terminalreporter.stats
        Path(counts).write_text(json.dumps({
            "passed": len(s.get("passed", [])),
            "failed": len(s.get("failed", [])) + len(s.get("error", [])),
            "skipped": len(s.get("skipped", [])),
        }))
