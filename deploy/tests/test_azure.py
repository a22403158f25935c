# SPDX-License-Identifier: Apache-2.0 OR MIT
"""deploy/azure: generated rule groups match the rules; ConfigMaps and PodMonitor are sound."""
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from conftest import DEPLOY, KUBE_VERSIONS, RULES, by_kind, need_tool, render
from test_chart import validate_object

AZ = DEPLOY / "azure"
DURATION = {"PT10M": "10m", "PT5M": "5m", "PT15M": "15m", "PT2M": "2m"}


def test_generated_files_are_fresh():
    r = subprocess.run([sys.executable, str(AZ / "generate.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# A small evaluator for the ARM expressions the generator writes:
# [format('...', parameters('x'), ...)], [parameters('x')] and [[ escapes.
def arm_eval(value, params):
    if isinstance(value, dict):
        return {k: arm_eval(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [arm_eval(v, params) for v in value]
    if not isinstance(value, str) or not value.startswith("["):
        return value
    if value.startswith("[["):
        return value[1:]
    m = re.fullmatch(r"\[format\('((?:[^']|'')*)', (.*)\)\]", value, re.S)
    if m:
        fmt = m.group(1).replace("''", "'")
        args = [params[a] for a in re.findall(r"parameters\('(\w+)'\)", m.group(2))]
        out = re.sub(r"\{\{|\}\}|\{(\d+)\}",
                     lambda x: {"{{": "{", "}}": "}"}.get(x.group(0)) or args[int(x.group(1))], fmt)
        return out
    m = re.fullmatch(r"\[parameters\('(\w+)'\)\]", value)
    if m:
        return params[m.group(1)]
    return value  # variables(), resourceGroup(): left as they are


def arm_rules(overrides=None):
    doc = json.loads((AZ / "clockwatch-rules.json").read_text())
    params = {k: v.get("defaultValue") for k, v in doc["parameters"].items()}
    params.update(overrides or {})
    groups = []
    for res in doc["resources"]:
        assert res["type"] == "Microsoft.AlertsManagement/prometheusRuleGroups"
        props = arm_eval(res["properties"], params)
        rules = []
        for r in props["rules"]:
            if "record" in r:
                rec = {"record": r["record"], "expr": r["expression"]}
                if "labels" in r:
                    rec["labels"] = r["labels"]
                rules.append(rec)
            else:
                rule = {"alert": r["alert"], "expr": r["expression"]}
                if "for" in r:
                    rule["for"] = DURATION[r["for"]]
                rule["labels"] = r["labels"]
                rule["annotations"] = r["annotations"]
                rules.append(rule)
        groups.append({"name": props["description"].split("(")[1].split(")")[0], "rules": rules})
    return {"groups": groups}


def normalised(doc):
    for g in doc["groups"]:
        for r in g["rules"]:
            for k, v in r.get("annotations", {}).items():
                r["annotations"][k] = v.strip()
    return doc


def test_arm_template_reproduces_the_rules():
    assert arm_rules() == normalised(yaml.safe_load(RULES.read_text()))


def test_arm_severities_and_parameters():
    doc = json.loads((AZ / "clockwatch-rules.json").read_text())
    for res in doc["resources"]:
        for r in res["properties"]["rules"]:
            if "alert" in r:
                assert r["severity"] == {"critical": 0, "warning": 2}[r["labels"]["severity"]]
    custom = arm_rules({"boundWarningSeconds": "0.001", "jobName": "node-config"})
    text = json.dumps(custom)
    assert "clockwatch_clock_error_bound_seconds > 0.001" in text
    assert 'job=\\"node-config\\"' in text and 'job=\\"clockwatch\\"' not in text


@pytest.mark.parametrize("overrides", [{}, {"boundCriticalSeconds": "1", "offsetFromMedianWarningSeconds": "5"}])
def test_arm_rules_pass_promtool(overrides):
    promtool = need_tool("promtool")
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump(arm_rules(overrides), f)
        f.flush()
        r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def bicep_unescape(s, params):
    s = re.sub(r"(?<!\\)\$\{(\w+)\}", lambda m: params[m.group(1)], s)
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", "'": "'", "$": "$"}[m.group(1)], s)


def test_bicep_matches_arm():
    text = (AZ / "clockwatch-rules.bicep").read_text()
    params = dict(re.findall(r"^param (\w+) string = '([^']*)'$", text, re.M))
    exprs = [bicep_unescape(m, params) for m in re.findall(r"^\s+expression: '((?:[^'\\]|\\.)*)'$", text, re.M)]
    arm = [r["expr"] for g in arm_rules()["groups"] for r in g["rules"]]
    assert exprs == arm
    assert text.count("'Microsoft.AlertsManagement/prometheusRuleGroups@") == len(arm_rules()["groups"])
    # every parameter the expressions use is declared
    for name in set(re.findall(r"(?<!\\)\$\{(\w+)\}", text)):
        assert re.search(rf"^param {name} ", text, re.M) or name in ("ruleGroupPrefix",), name


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", ["ama-metrics-prometheus-config-node.yaml", "podmonitor.yaml"])
def test_manifests_validate(name, version):
    (obj,) = [d for d in yaml.safe_load_all((AZ / name).read_text()) if d]
    validate_object(obj, version)


def test_node_scrape_config():
    cm = yaml.safe_load((AZ / "ama-metrics-prometheus-config-node.yaml").read_text())
    assert cm["metadata"] == {"name": "ama-metrics-prometheus-config-node", "namespace": "kube-system"}
    raw = cm["data"]["prometheus-config"]
    cfg = yaml.safe_load(raw)
    (job,) = cfg["scrape_configs"]
    assert job["job_name"] == "clockwatch"
    assert job["static_configs"] == [{"targets": ["$NODE_IP:9707"]}]
    assert {"source_labels": ["__address__"], "target_label": "node", "replacement": "$NODE_NAME"} in job["relabel_configs"]
    promtool = need_tool("promtool")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "prometheus.yml"
        p.write_text(raw.replace("$NODE_IP", "10.224.0.4").replace("$NODE_NAME", "aks-nodepool1-0"))
        r = subprocess.run([promtool, "check", "config", str(p)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_podmonitor_is_what_the_chart_renders():
    mine = yaml.safe_load((AZ / "podmonitor.yaml").read_text())
    (chart,) = by_kind(render({"podMonitor": {"enabled": True, "apiVersion": "azmonitoring.coreos.com/v1"}}), "PodMonitor")
    assert mine["apiVersion"] == chart["apiVersion"] == "azmonitoring.coreos.com/v1"
    assert mine["spec"] == chart["spec"]
    assert mine["metadata"]["namespace"] == chart["metadata"]["namespace"]
