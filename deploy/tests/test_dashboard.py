# SPDX-License-Identifier: Apache-2.0 OR MIT
"""deploy/grafana: the dashboard is fresh, its queries run, its metrics exist."""
import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import DASHBOARD, DEPLOY, RULES, metric_contract
from test_rules import FOREIGN_METRICS, metric_names

# Concrete values for Grafana's variables, as Grafana would substitute them.
GRAFANA_VARS = {
    "$__rate_interval": "2m", "$__interval": "1m", "$__range": "21600s",
    "${datasource}": "", "$cluster": ".*", "$node": ".*", "$tolerance": "0.01",
}


def dashboard():
    return json.loads(DASHBOARD.read_text())


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def queries():
    """(where, PromQL) for every panel target and every query variable; for
    label_values(SELECTOR, label) the selector is the query."""
    d = dashboard()
    out = []
    for p in all_panels(d["panels"]):
        for t in p.get("targets", []):
            out.append((f"panel {p['title']!r} {t['refId']}", t["expr"]))
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)", q)
            assert m, f"variable {v['name']}: unexpected query {q}"
            out.append((f"variable {v['name']}", m.group(1)))
    return out


def substitute(expr):
    for k in sorted(GRAFANA_VARS, key=len, reverse=True):
        expr = expr.replace(k, GRAFANA_VARS[k])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def test_dashboard_is_generated_and_fresh():
    r = subprocess.run([sys.executable, str(DEPLOY / "grafana" / "build_dashboard.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_dashboard_structure():
    d = dashboard()
    assert d["uid"] and d["title"]
    names = [v["name"] for v in d["templating"]["list"]]
    assert names[:3] == ["datasource", "cluster", "node"]
    ids = [p["id"] for p in all_panels(d["panels"])]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in all_panels(d["panels"]):
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", p["title"]
            assert p.get("targets"), p["title"]
    titles = {p["title"] for p in all_panels(d["panels"])}
    for wanted in ("Nodes", "Clock error bound", "Source reachability", "Clock steps",
                   "Within tolerance over the selected range"):
        assert wanted in titles
    table = next(p for p in all_panels(d["panels"]) if p["title"] == "Nodes" and p["type"] == "table")
    columns = set(table["transformations"][1]["options"]["renameByName"].values())
    assert {"State", "Error bound", "Offset from median", "Reference", "Stratum"} <= columns


def test_every_query_runs_in_prometheus(prometheus):
    bad = []
    for where, expr in queries():
        ok, err = prometheus.query(substitute(expr))
        if not ok:
            bad.append(f"{where}: {err}\n    {expr}")
    assert not bad, "\n".join(bad)


def test_query_check_catches_errors(prometheus):
    """The check above would notice a broken query."""
    ok, err = prometheus.query("max by (node (clockwatch_clock_error_bound_seconds)")
    assert not ok and "parse error" in err


def test_dashboard_metrics_are_in_the_contract():
    contract = metric_contract()
    recorded = {r["record"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "record" in r}
    used, unknown = set(), set()
    for where, expr in queries():
        for name in metric_names(substitute(expr)):
            used.add(name)
            if name not in contract and name not in recorded and name not in FOREIGN_METRICS:
                unknown.add(f"{name} ({where})")
    assert not unknown, f"not in deploy/tests/metrics.txt: {sorted(unknown)}"
    assert "clockwatch_clock_error_bound_seconds" in used


@pytest.mark.parametrize("path", sorted((DEPLOY / "grafana" / "provisioning").rglob("*.yaml")))
def test_provisioning_examples(path):
    doc = yaml.safe_load(path.read_text())
    assert doc["apiVersion"] == 1
    if "providers" in doc:
        (p,) = doc["providers"]
        assert p["type"] == "file" and p["options"]["path"].startswith("/")
    else:
        (ds,) = doc["datasources"]
        assert ds["type"] == "prometheus"


def test_absent_and_down_nodes_are_listed():
    """The Nodes table's Target column and the Unmeasured stat, against a
    real Prometheus scraping: n1's clockwatch (a static stand-in page: only
    the series these queries read), n2's target that refuses connections, and
    kube-state-metrics' kube_node_info (stand-in) for n1, n2, n3 and a Windows
    node. n3 has no target at all: it must be listed, not left out."""
    import http.server
    import tempfile
    import threading
    import time as _time

    from conftest import Prometheus, free_port, need_tool

    pages = {
        "/n1": "clockwatch_build_info{version=\"0\",revision=\"x\"} 1\n",
        "/ksm": "".join(f'kube_node_info{{node="{n}",os_image="{o}"}} 1\n' for n, o in
                        (("n1", "Ubuntu"), ("n2", "Ubuntu"), ("n3", "Azure Linux"), ("w1", "Windows Server 2022"))),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.split("?")[0], "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    dead = free_port()
    binary = need_tool("prometheus")
    with tempfile.TemporaryDirectory() as d:
        prom = Prometheus(binary, d, scrape_configs=f"""
  - job_name: clockwatch
    scrape_interval: 1s
    metrics_path: /n1
    static_configs:
      - targets: ['127.0.0.1:{port}']
        labels: {{node: n1, cluster: c1}}
      - targets: ['127.0.0.1:{dead}']
        labels: {{node: n2, cluster: c1}}
  - job_name: kube-state-metrics
    scrape_interval: 1s
    metrics_path: /ksm
    static_configs:
      - targets: ['127.0.0.1:{port}']
        labels: {{cluster: c1}}
""")
        try:
            d_ = dashboard()
            table = next(p for p in all_panels(d_["panels"]) if p["title"] == "Nodes" and p["type"] == "table")
            target = next(t["expr"] for t in table["targets"] if t["refId"] == "I")
            absent = next(p for p in all_panels(d_["panels"]) if p["title"] == "Unmeasured")["targets"][0]["expr"]
            deadline = _time.time() + 30
            while True:
                got = {r["metric"]["node"]: r["value"][1] for r in prom.instant(substitute(target))}
                # Until every target has been scraped once (n1 counts as
                # "no pod" before its first scrape).
                if got == {"n1": "1", "n2": "0", "n3": "-1"} or _time.time() > deadline:
                    break
                _time.sleep(0.5)
            assert got == {"n1": "1", "n2": "0", "n3": "-1"}
            (count,) = prom.instant(substitute(absent))
            assert count["value"][1] == "2"
            # The node variable lists n3 as well.
            var = next(v for v in d_["templating"]["list"] if v["name"] == "node")["query"]["query"]
            sel = re.fullmatch(r"label_values\((.*),\s*node\)", var).group(1)
            assert {"n1", "n2", "n3"} <= {r["metric"].get("node") for r in prom.instant(substitute(sel))}
        finally:
            prom.stop()
            server.shutdown()
