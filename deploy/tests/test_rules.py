# SPDX-License-Identifier: Apache-2.0 OR MIT
"""deploy/prometheus: rules, their promtool tests, and the scrape configs."""
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from conftest import DEPLOY, REPO, RULES, metric_contract, need_tool

PROM = DEPLOY / "prometheus"
TESTS = sorted((PROM / "tests").glob("*.yml"))
# Metrics that are not clockwatch's but that the rules use on purpose.
FOREIGN_METRICS = {"up", "kube_node_info"}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
    "sum", "min", "max", "avg", "count", "quantile", "stddev", "stdvar", "topk", "bottomk", "count_values",
    "abs", "absent", "avg_over_time", "increase", "rate", "timestamp", "vector", "scalar", "label_replace",
    "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "changes", "Inf", "NaN", "time",
    "humanizeDuration",
}


def rules():
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def metric_names(expr):
    """Identifiers in a PromQL expression that name series: strings and label
    matchers/grouping lists removed, function names and keywords left out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"\d.*|e\d+", n)}


def test_promtool_check_rules():
    promtool = need_tool("promtool")
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_test_rules():
    promtool = need_tool("promtool")
    assert TESTS, "no promtool tests"
    r = subprocess.run([promtool, "test", "rules", *map(str, TESTS)], capture_output=True, text=True, cwd=PROM)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("SUCCESS") == len(TESTS)


def test_every_rule_fires_and_stays_silent_in_some_test():
    """Each alert (per severity) has a case where it fires and one where it is
    silent; each recording rule one where it produces series and one where it
    produces none."""
    fires, silent, produces, empty = set(), set(), set(), set()
    for path in TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for t in case.get("alert_rule_test", []):
                if t.get("exp_alerts"):
                    for a in t["exp_alerts"]:
                        fires.add((t["alertname"], a["exp_labels"]["severity"]))
                else:
                    silent.add(t["alertname"])
            for t in case.get("promql_expr_test", []):
                name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", t["expr"]).group(0)
                (produces if t.get("exp_samples") else empty).add(name)
    missing = []
    for r in rules():
        if "alert" in r:
            if (r["alert"], r["labels"]["severity"]) not in fires:
                missing.append(f"alert {r['alert']} ({r['labels']['severity']}) never fires")
            if r["alert"] not in silent:
                missing.append(f"alert {r['alert']} is never checked to stay silent")
        else:
            if r["record"] not in produces:
                missing.append(f"recording {r['record']} is never checked to produce series")
            if r["record"] not in empty:
                missing.append(f"recording {r['record']} is never checked to stay silent")
    assert not missing, "\n".join(missing)


def test_rules_use_contract_metrics_only():
    contract = metric_contract()
    recorded = {r["record"] for r in rules() if "record" in r}
    unknown = set()
    for r in rules():
        for name in metric_names(r["expr"]):
            if name not in contract and name not in recorded and name not in FOREIGN_METRICS:
                unknown.add(name)
    assert not unknown, f"not in deploy/tests/metrics.txt: {sorted(unknown)}"


def test_metric_name_extraction():
    assert metric_names('max by (cluster, node) (-chrony_tracking_system_time_seconds{a="b"})') == \
        {"chrony_tracking_system_time_seconds"}
    assert metric_names("x - on (cluster) group_left () y:z <= bool 0.01") == {"x", "y:z"}
    assert metric_names('avg_over_time(a[1h]) unless on (cluster, job) b') == {"a", "b"}


def test_alerts_have_runbooks_and_known_severities():
    """runbook_url (the Prometheus convention, which Alertmanager receivers
    link) points at the alert's own section of docs/runbooks.md."""
    import sys
    sys.path.insert(0, str(PROM))
    from thresholds import DEFAULTS
    headings = re.findall(r"^## (\w+)$", (REPO / "docs" / "runbooks.md").read_text(), re.M)
    for r in rules():
        if "alert" in r:
            assert r["labels"]["severity"] in ("warning", "critical", "info"), r["alert"]
            assert "runbook" not in r["annotations"], "use runbook_url"
            for key in ("summary", "description", "runbook_url"):
                assert r["annotations"].get(key, "").strip(), f"{r['alert']} has no {key}"
            assert r["annotations"]["runbook_url"] == f"{DEFAULTS['runbookUrl']}#{r['alert'].lower()}"
            assert r["alert"] in headings, f"docs/runbooks.md has no section {r['alert']}"
    assert sorted(headings) == sorted({r["alert"] for r in rules() if "alert" in r})


def test_recording_rule_names_follow_convention():
    for r in rules():
        if "record" in r:
            assert re.fullmatch(r"(node|cluster):clockwatch_[a-z0-9_]+(:[a-z0-9_]+)?", r["record"]), r["record"]


@pytest.mark.parametrize("name", ["scrape-config.yml", "scrape-config-static.yml"])
def test_scrape_configs_check(name):
    """promtool check config. Debian's Prometheus is built without Kubernetes
    service discovery, so kubernetes_sd_configs is swapped for a static
    target there: everything else (relabelings, job) is still checked."""
    promtool = need_tool("promtool")
    cfg = yaml.safe_load((PROM / name).read_text())
    (job,) = cfg["scrape_configs"]
    assert job["job_name"] == "clockwatch"
    relabel_targets = {r.get("target_label") for r in job.get("relabel_configs", [])}
    assert "node" in relabel_targets
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_text((PROM / name).read_text())
        r = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True)
        if r.returncode != 0 and "kubernetes_sd_configs not found" in r.stdout + r.stderr:
            sd = job.pop("kubernetes_sd_configs")
            assert sd == [{"role": "pod"}]
            job["static_configs"] = [{"targets": ["127.0.0.1:9707"]}]
            path.write_text(yaml.safe_dump(cfg))
            r = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
