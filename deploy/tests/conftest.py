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
MODES = ["udp", "socket", "timex"]
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


def need(module):
    try:
        return __import__(module)
    except ImportError:
        pytest.skip(f"python module {module} is not installed (scripts/test-deploy.sh installs it as root)")


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
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} is not installed (scripts/test-deploy.sh installs it as root)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A real Prometheus with an empty TSDB in a temporary directory."""

    def __init__(self, binary, workdir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = Path(workdir) / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
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
