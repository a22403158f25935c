#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Generates Azure Monitor Prometheus rule groups from deploy/prometheus.

Reads deploy/prometheus/clockwatch.rules.yml and writes
  deploy/azure/clockwatch-rules.bicep   (Bicep)
  deploy/azure/clockwatch-rules.json    (ARM template, the same resources)
with one Microsoft.AlertsManagement/prometheusRuleGroups resource per rule
group. The thresholds and the job label are template parameters, replaced in
the expressions exactly like the Helm chart does.

Usage: generate.py [--check]   (--check: exit 1 if the outputs are out of date)
"""
import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "prometheus" / "clockwatch.rules.yml"
BICEP = HERE / "clockwatch-rules.bicep"
ARM = HERE / "clockwatch-rules.json"
API_VERSION = "2023-03-01"

sys.path.insert(0, str(HERE.parent / "prometheus"))
from thresholds import PARAMETERS  # noqa: E402  the one list of adjustable values

PARAM_DOC = {
    "boundWarningSeconds": "ClockErrorBoundHigh (warning) fires above this error bound, in seconds.",
    "boundCriticalSeconds": "ClockErrorBoundHigh (critical) fires above this error bound, in seconds.",
    "complianceToleranceSeconds": "Compliance recordings count a node as within tolerance while its bound is at most this, in seconds.",
    "offsetFromMedianWarningSeconds": "NodeClockOffsetFromMedian (warning) fires beyond this offset from the cluster median, in seconds.",
    "offsetFromMedianCriticalSeconds": "NodeClockOffsetFromMedian (critical) fires beyond this offset from the cluster median, in seconds.",
    "jobName": "job label of the clockwatch scrape targets (ClockwatchAbsent).",
    "runbookUrl": "Where docs/runbooks.md is published: the runbook_url of each alert is this, # and the alert name in lower case.",
}
# Azure alert severities: 0 critical, 1 error, 2 warning, 3 informational, 4 verbose.
SEVERITY = {"critical": 0, "warning": 2, "info": 3}


def iso_duration(d):
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", d)
    if not m or not d:
        raise ValueError(f"unsupported duration {d!r}")
    h, mi, s = (int(x) if x else 0 for x in m.groups())
    out = "PT" + (f"{h}H" if h else "") + (f"{mi}M" if mi else "") + (f"{s}S" if s else "")
    return out if out != "PT" else "PT0M"


def split(text):
    """Split a string into literal pieces and parameter references:
    [str | ("param", name)], each threshold spelling replaced once."""
    pieces = [text]
    for name, _default, spelling, template in PARAMETERS:
        before, after = template.split("{}")
        out = []
        for p in pieces:
            if not isinstance(p, str) or spelling not in p:
                out.append(p)
                continue
            chunks = p.split(spelling)
            for i, c in enumerate(chunks):
                if i:
                    out += [before, ("param", name), after]
                out.append(c)
        pieces = out
    merged = []
    for p in pieces:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        elif p != "":
            merged.append(p)
    return merged


def load_groups():
    return yaml.safe_load(RULES.read_text())["groups"]


def group_resource_name(group):
    return group["name"].replace(".", "-")


# ------------------------------------------------------------------ Bicep

def bicep_str(text):
    out = []
    for p in split(text):
        if isinstance(p, tuple):
            out.append("${" + p[1] + "}")
        else:
            out.append(p.replace("\\", "\\\\").replace("'", "\\'").replace("${", "\\${").replace("\n", "\\n"))
    return "'" + "".join(out) + "'"


def bicep_rule(r, indent):
    pad = " " * indent
    lines = [f"{pad}{{"]
    if "record" in r:
        lines.append(f"{pad}  record: {bicep_str(r['record'])}")
        lines.append(f"{pad}  expression: {bicep_str(r['expr'])}")
        if r.get("labels"):
            lines.append(f"{pad}  labels: {{")
            for k, v in r["labels"].items():
                lines.append(f"{pad}    {k}: {bicep_str(v)}")
            lines.append(f"{pad}  }}")
        lines.append(f"{pad}  enabled: true")
    else:
        lines.append(f"{pad}  alert: {bicep_str(r['alert'])}")
        lines.append(f"{pad}  expression: {bicep_str(r['expr'])}")
        if "for" in r:
            lines.append(f"{pad}  for: {bicep_str(iso_duration(r['for']))}")
        lines.append(f"{pad}  severity: {SEVERITY[r['labels']['severity']]}")
        lines.append(f"{pad}  enabled: true")
        lines.append(f"{pad}  labels: {{")
        for k, v in r.get("labels", {}).items():
            lines.append(f"{pad}    {k}: {bicep_str(v)}")
        lines.append(f"{pad}  }}")
        lines.append(f"{pad}  annotations: {{")
        for k, v in r.get("annotations", {}).items():
            lines.append(f"{pad}    {k}: {bicep_str(v.strip())}")
        lines.append(f"{pad}  }}")
        lines.append(f"{pad}  resolveConfiguration: {{")
        lines.append(f"{pad}    autoResolved: true")
        lines.append(f"{pad}    timeToResolve: 'PT10M'")
        lines.append(f"{pad}  }}")
        lines.append(f"{pad}  actions: actions")
    lines.append(f"{pad}}}")
    return lines


def bicep():
    L = ["// Generated by deploy/azure/generate.py from deploy/prometheus/clockwatch.rules.yml.",
         "// Do not edit: change the rules and re-run the generator.",
         "// SPDX-License-Identifier: Apache-2.0 OR MIT",
         "//",
         "// Azure Monitor managed service for Prometheus: clockwatch's recording and alert",
         "// rules as rule groups, evaluated on the metrics of one AKS cluster.",
         "//   az deployment group create -g <resource group> -f clockwatch-rules.bicep \\",
         "//     -p azureMonitorWorkspaceResourceId=<workspace id> clusterName=<AKS cluster name> \\",
         "//        actionGroupResourceId=<action group id>",
         "",
         "@description('Resource ID of the Azure Monitor workspace that receives the cluster\\'s Prometheus metrics.')",
         "param azureMonitorWorkspaceResourceId string",
         "",
         "@description('Name of the AKS cluster (the value of its `cluster` label); the rules evaluate its metrics only.')",
         "param clusterName string",
         "",
         "@description('Resource ID of the AKS cluster, added to the rule groups\\' scopes. Empty: workspace only.')",
         "param aksClusterResourceId string = ''",
         "",
         "@description('Action group notified by the alerts. Empty: alerts fire without notifications.')",
         "param actionGroupResourceId string = ''",
         "",
         "param location string = resourceGroup().location",
         "",
         "@description('Prefix of the rule group names.')",
         "param ruleGroupPrefix string = 'clockwatch'",
         "",
         "@description('Evaluation interval of the rule groups.')",
         "param interval string = 'PT1M'",
         ""]
    for name, default, _s, _t in PARAMETERS:
        L.append(f"@description('{PARAM_DOC[name]}')")
        L.append(f"param {name} string = '{default}'")
        L.append("")
    L += ["var scopes = empty(aksClusterResourceId) ? [azureMonitorWorkspaceResourceId] : [azureMonitorWorkspaceResourceId, aksClusterResourceId]",
          "var actions = empty(actionGroupResourceId) ? [] : [",
          "  {",
          "    actionGroupId: actionGroupResourceId",
          "  }",
          "]",
          ""]
    for g in load_groups():
        sym = re.sub(r"[^A-Za-z0-9]", "_", g["name"])
        L.append(f"resource {sym} 'Microsoft.AlertsManagement/prometheusRuleGroups@{API_VERSION}' = {{")
        L.append(f"  name: '${{ruleGroupPrefix}}-{group_resource_name(g)}'")
        L.append("  location: location")
        L.append("  properties: {")
        L.append(f"    description: 'clockwatch rules ({g['name']}), generated from deploy/prometheus/clockwatch.rules.yml'")
        L.append("    scopes: scopes")
        L.append("    clusterName: clusterName")
        L.append("    enabled: true")
        L.append("    interval: interval")
        L.append("    rules: [")
        for r in g["rules"]:
            L += bicep_rule(r, 6)
        L.append("    ]")
        L.append("  }")
        L.append("}")
        L.append("")
    return "\n".join(L)


# -------------------------------------------------------------------- ARM

def arm_literal(s):
    return "[[" + s[1:] if s.startswith("[") else s


def arm_str(text):
    pieces = split(text)
    if all(isinstance(p, str) for p in pieces):
        return arm_literal(text)
    fmt, args = [], []
    for p in pieces:
        if isinstance(p, tuple):
            fmt.append("{%d}" % len(args))
            args.append(f"parameters('{p[1]}')")
        else:
            fmt.append(p.replace("'", "''").replace("{", "{{").replace("}", "}}"))
    return "[format('" + "".join(fmt) + "', " + ", ".join(args) + ")]"


def arm_rule(r):
    if "record" in r:
        out = {"record": arm_str(r["record"]), "expression": arm_str(r["expr"])}
        if r.get("labels"):
            out["labels"] = {k: arm_str(v) for k, v in r["labels"].items()}
        out["enabled"] = True
        return out
    out = {"alert": arm_str(r["alert"]), "expression": arm_str(r["expr"])}
    if "for" in r:
        out["for"] = iso_duration(r["for"])
    out.update({
        "severity": SEVERITY[r["labels"]["severity"]], "enabled": True,
        "labels": {k: arm_str(v) for k, v in r.get("labels", {}).items()},
        "annotations": {k: arm_str(v.strip()) for k, v in r.get("annotations", {}).items()},
        "resolveConfiguration": {"autoResolved": True, "timeToResolve": "PT10M"},
        "actions": "[variables('actions')]",
    })
    return out


def arm():
    params = {
        "azureMonitorWorkspaceResourceId": {"type": "string", "metadata": {"description": "Resource ID of the Azure Monitor workspace that receives the cluster's Prometheus metrics."}},
        "clusterName": {"type": "string", "metadata": {"description": "Name of the AKS cluster (the value of its `cluster` label); the rules evaluate its metrics only."}},
        "aksClusterResourceId": {"type": "string", "defaultValue": "", "metadata": {"description": "Resource ID of the AKS cluster, added to the rule groups' scopes. Empty: workspace only."}},
        "actionGroupResourceId": {"type": "string", "defaultValue": "", "metadata": {"description": "Action group notified by the alerts. Empty: alerts fire without notifications."}},
        "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
        "ruleGroupPrefix": {"type": "string", "defaultValue": "clockwatch", "metadata": {"description": "Prefix of the rule group names."}},
        "interval": {"type": "string", "defaultValue": "PT1M", "metadata": {"description": "Evaluation interval of the rule groups."}},
    }
    for name, default, _s, _t in PARAMETERS:
        params[name] = {"type": "string", "defaultValue": default, "metadata": {"description": PARAM_DOC[name]}}
    resources = []
    for g in load_groups():
        resources.append({
            "type": "Microsoft.AlertsManagement/prometheusRuleGroups",
            "apiVersion": API_VERSION,
            "name": f"[format('{{0}}-{group_resource_name(g)}', parameters('ruleGroupPrefix'))]",
            "location": "[parameters('location')]",
            "properties": {
                "description": f"clockwatch rules ({g['name']}), generated from deploy/prometheus/clockwatch.rules.yml",
                "scopes": "[variables('scopes')]",
                "clusterName": "[parameters('clusterName')]",
                "enabled": True,
                "interval": "[parameters('interval')]",
                "rules": [arm_rule(r) for r in g["rules"]],
            },
        })
    doc = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {"description": "clockwatch Prometheus rule groups. Generated by deploy/azure/generate.py "
                                    "from deploy/prometheus/clockwatch.rules.yml; do not edit."},
        "parameters": params,
        "variables": {
            "scopes": "[if(empty(parameters('aksClusterResourceId')), createArray(parameters('azureMonitorWorkspaceResourceId')), createArray(parameters('azureMonitorWorkspaceResourceId'), parameters('aksClusterResourceId')))]",
            "actions": "[if(empty(parameters('actionGroupResourceId')), createArray(), createArray(createObject('actionGroupId', parameters('actionGroupResourceId'))))]",
        },
        "resources": resources,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main():
    text = RULES.read_text()
    for name, _d, spelling, _t in PARAMETERS:
        if spelling not in text:
            print(f"{RULES}: threshold spelling for {name} not found: {spelling}", file=sys.stderr)
            return 1
    outputs = {BICEP: bicep(), ARM: arm()}
    if "--check" in sys.argv[1:]:
        stale = [str(p) for p, t in outputs.items() if not p.exists() or p.read_text() != t]
        if stale:
            print("out of date (run deploy/azure/generate.py):", *stale, file=sys.stderr)
            return 1
        return 0
    for p, t in outputs.items():
        p.write_text(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
