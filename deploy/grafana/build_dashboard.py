#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Writes deploy/grafana/clockwatch.json (and the chart's copy of it).

The dashboard is code: edit this file, run it, commit both outputs.
deploy/tests/test_dashboard.py checks that the committed JSON is what this
script writes, that every query parses in a real Prometheus, and that every
metric it names is in deploy/tests/metrics.txt.

Most queries use the raw exporter metrics, so that they also work where the
rules are not loaded; the compliance panels use the recording rule
node:clockwatch_clock_within_tolerance:bool, so that the dashboard and the
rules count "within tolerance" the same way. Offsets follow the rules'
convention: node clock minus reference, positive when the node is ahead.

Thresholds (colours), the tolerance and the job name are the rules' own
values (deploy/prometheus/thresholds.py): deploy/grafana/clockwatch.json has
the defaults; the chart's copy has placeholders that its dashboard template
replaces with the chart's prometheusRule.thresholds and jobName, so a changed
threshold changes the rules and the dashboard together. Where the rules are
deployed by other means (Azure), regenerate with the same values:
  build_dashboard.py --set boundWarningSeconds=0.001 -o my-dashboard.json

A node whose target is down or that has no clockwatch pod at all (seen by
kube-state-metrics' kube_node_info) is listed, not left out.

Usage: build_dashboard.py [--check] [--set NAME=VALUE ...] [-o FILE]
"""
import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "prometheus"))
from thresholds import DEFAULTS  # noqa: E402  the rules' adjustable values

OUTPUT = HERE / "clockwatch.json"
CHART_OUTPUT = HERE.parent / "helm" / "clockwatch" / "dashboards" / "clockwatch.json"
# The chart's copy: placeholders its template replaces ("@name@" as a JSON
# string where a number stands, @name@ inside text).
PLACEHOLDERS = {name: f"@{name}@" for name in DEFAULTS}

SEL = 'cluster=~"$cluster", node=~"$node"'
CLUSTER = 'cluster=~"$cluster"'
DS = {"type": "prometheus", "uid": "${datasource}"}
V = {}  # the values of this build: DEFAULTS, --set, or PLACEHOLDERS


def num(name):
    """A threshold where the JSON wants a number."""
    v = V[name]
    return v if v.startswith("@") else float(v) if "." in v or "e" in v.lower() else int(v)


def measured(sel):
    return ("max by (cluster, node) (clockwatch_system_time_seconds{%s}"
            " - timestamp(clockwatch_system_time_seconds{%s}))" % (sel, sel))


STATES = ["synchronized", "stale", "local", "unsynchronized", "unknown"]
STATE_COLOURS = {"synchronized": "green", "stale": "yellow", "local": "orange",
                 "unsynchronized": "red", "unknown": "purple"}
RATIO_STEPS = [{"color": "red", "value": None}, {"color": "yellow", "value": 0.99},
               {"color": "green", "value": 0.999}]
# up of the target per node: 1 up, 0 down; -1 a Linux node without any target.
TARGET_CODES = {"1": ("up", "green"), "0": ("down", "red"), "-1": ("no clockwatch pod", "red")}


def queries():
    """The expressions that depend on the rules' values (see V)."""
    global FROM_MEDIAN, FROM_MEDIAN_REF, CHRONY_OFFSET, BOUND, WITHIN, STATE_CODE, BOUND_STEPS, OFFSET_STEPS, TARGET, ABSENT
    # The rules' recording, the one NodeClockOffsetFromMedian alerts on: from
    # the NTP probes where nodes probe a common server (it holds wherever
    # Prometheus scrapes), else the scrape-timestamp measurement (central
    # scrapers only); `reference` says which (docs/deployment.md). The median
    # is taken over every node of the cluster, whatever nodes are selected.
    FROM_MEDIAN = "max by (cluster, node) (node:clockwatch_offset_from_median_seconds{%s})" % SEL
    FROM_MEDIAN_REF = "node:clockwatch_offset_from_median_seconds{%s}" % SEL
    CHRONY_OFFSET = "max by (cluster, node) (-chrony_tracking_system_time_seconds{%s})" % SEL
    BOUND = "max by (cluster, node) (clockwatch_clock_error_bound_seconds{%s})" % SEL
    # The recording rule: the same tolerance as the rules, by construction.
    WITHIN = "avg_over_time(node:clockwatch_clock_within_tolerance:bool{%s}[$__range])" % SEL
    STATE_CODE = "max by (cluster, node) (%s)" % " or ".join(
        '(clockwatch_sync_state{%s, state="%s"} == 1) * %d' % (SEL, s, i) for i, s in enumerate(STATES))
    job = 'job="%s"' % V["jobName"]
    linux_nodes = 'max by (cluster, node) (kube_node_info{os_image!~"(?i).*windows.*", %s})' % SEL
    TARGET = ("max by (cluster, node) (up{%s, %s}) or (%s * 0 - 1 unless on (cluster, node) up{%s})"
              % (job, SEL, linux_nodes, job))
    # As ClockwatchAbsent: targets down, and Linux nodes without a target.
    ABSENT = ("count((max by (cluster, node) (up{%s, %s}) == 0) or (%s unless on (cluster, node) up{%s})) or vector(0)"
              % (job, SEL, linux_nodes, job))
    BOUND_STEPS = [{"color": "green", "value": None}, {"color": "yellow", "value": num("boundWarningSeconds")},
                   {"color": "red", "value": num("boundCriticalSeconds")}]
    warn, crit = num("offsetFromMedianWarningSeconds"), num("offsetFromMedianCriticalSeconds")
    neg = lambda x: f"-{x}" if isinstance(x, str) else -x  # noqa: E731
    OFFSET_STEPS = [{"color": "red", "value": None}, {"color": "yellow", "value": neg(crit)},
                    {"color": "green", "value": neg(warn)}, {"color": "yellow", "value": warn},
                    {"color": "red", "value": crit}]


_next_id = [0]


def pid():
    _next_id[0] += 1
    return _next_id[0]


def target(expr, ref="A", legend="", instant=False, table=False):
    t = {"datasource": DS, "expr": expr, "refId": ref, "legendFormat": legend or "__auto"}
    if instant:
        t["instant"] = True
        t["range"] = False
    if table:
        t["format"] = "table"
    return t


def thresholds(steps):
    return {"mode": "absolute", "steps": steps}


def stat(title, expr, x, w, unit="none", steps=None, desc=""):
    return {
        "id": pid(), "type": "stat", "title": title, "description": desc, "datasource": DS,
        "gridPos": {"x": x, "y": 1, "w": w, "h": 4},
        "targets": [target(expr, instant=True)],
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": thresholds(
            steps or [{"color": "blue", "value": None}]), "color": {"mode": "thresholds"}},
            "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "none", "textMode": "value"},
    }


def timeseries(title, targets, x, y, w, h, unit="s", steps=None, desc="", log=False, bars=False):
    custom = {"drawStyle": "bars" if bars else "line", "lineWidth": 1, "fillOpacity": 60 if bars else 0,
              "showPoints": "never", "spanNulls": False,
              "thresholdsStyle": {"mode": "line" if steps else "off"}}
    if log:
        custom["scaleDistribution"] = {"type": "log", "log": 10}
    return {
        "id": pid(), "type": "timeseries", "title": title, "description": desc, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom,
                                     "thresholds": thresholds(steps or [{"color": "green", "value": None}]),
                                     "color": {"mode": "palette-classic"}},
                        "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def row(title, y):
    return {"id": pid(), "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}


def col_override(name, props):
    return {"matcher": {"id": "byName", "options": name}, "properties": props}


def colour_cells(steps, unit):
    return [{"id": "unit", "value": unit}, {"id": "thresholds", "value": thresholds(steps)},
            {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}}]


def node_table(y):
    state_map = [{"type": "value", "options": {s: {"text": s, "color": c, "index": i}
                                                for i, (s, c) in enumerate(STATE_COLOURS.items())}}]
    target_map = [{"type": "value", "options": {code: {"text": text, "color": colour, "index": i}
                                                 for i, (code, (text, colour)) in enumerate(TARGET_CODES.items())}}]
    return {
        "id": pid(), "type": "table", "title": "Nodes",
        "description": "One row per node. Offset (measured): node clock minus Prometheus' clock at scrape "
                       "time (positive: node ahead; about 0 when Prometheus scrapes from the node itself). "
                       "Offset from median: the rules' node:clockwatch_offset_from_median_seconds, from the "
                       "NTP probes when nodes probe a common server, else from the scrape time. chronyd "
                       "offset: chronyd's own estimate of the node clock against true time. Within "
                       "tolerance: share of the selected range with an error bound <= %s s (the rules' "
                       "tolerance). Target: down, or no clockwatch pod on a Linux node that "
                       "kube-state-metrics reports: such a node is unmeasured." % V["complianceToleranceSeconds"],
        "datasource": DS, "gridPos": {"x": 0, "y": y, "w": 24, "h": 10},
        "targets": [
            target("max by (cluster, node, state) (clockwatch_sync_state{%s} == 1)" % SEL, "A", instant=True, table=True),
            target(BOUND, "B", instant=True, table=True),
            target(measured(SEL), "C", instant=True, table=True),
            target(FROM_MEDIAN, "D", instant=True, table=True),
            target(CHRONY_OFFSET, "E", instant=True, table=True),
            target("max by (cluster, node, tracking_name, tracking_refid) (chrony_tracking_info{%s})" % SEL,
                   "F", instant=True, table=True),
            target("max by (cluster, node) (chrony_tracking_stratum{%s})" % SEL, "G", instant=True, table=True),
            target(WITHIN, "H", instant=True, table=True),
            target(TARGET, "I", instant=True, table=True),
        ],
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True, "Value #A": True, "Value #F": True},
                "indexByName": {"cluster": 0, "node": 1, "Value #I": 2, "state": 3, "Value #B": 4,
                                "Value #C": 5, "Value #D": 6, "Value #E": 7, "tracking_name": 8,
                                "tracking_refid": 9, "Value #G": 10, "Value #H": 11},
                "renameByName": {"Value #B": "Error bound", "Value #C": "Offset (measured)",
                                 "Value #D": "Offset from median", "Value #E": "Offset (chronyd)",
                                 "tracking_name": "Reference", "tracking_refid": "Ref ID",
                                 "Value #G": "Stratum", "Value #H": "Within tolerance", "state": "State",
                                 "Value #I": "Target"}}},
        ],
        "fieldConfig": {"defaults": {"custom": {"align": "auto", "filterable": True}}, "overrides": [
            col_override("Target", [{"id": "mappings", "value": target_map},
                                    {"id": "custom.cellOptions", "value": {"type": "color-background"}}]),
            col_override("State", [{"id": "mappings", "value": state_map},
                                   {"id": "custom.cellOptions", "value": {"type": "color-background"}}]),
            col_override("Error bound", colour_cells(BOUND_STEPS, "s")),
            col_override("Offset (measured)", [{"id": "unit", "value": "s"}]),
            col_override("Offset from median", colour_cells(OFFSET_STEPS, "s")),
            col_override("Offset (chronyd)", [{"id": "unit", "value": "s"}]),
            col_override("Within tolerance", colour_cells(RATIO_STEPS, "percentunit")),
        ]},
        "options": {"showHeader": True, "sortBy": [{"displayName": "Target", "desc": False}]},
    }


def state_timeline(y):
    mapping = [{"type": "value", "options": {str(i): {"text": s, "color": STATE_COLOURS[s], "index": i}
                                              for i, s in enumerate(STATES)}}]
    return {
        "id": pid(), "type": "state-timeline", "title": "Sync state", "datasource": DS,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 6},
        "targets": [target(STATE_CODE, legend="{{node}}")],
        "fieldConfig": {"defaults": {"mappings": mapping, "color": {"mode": "thresholds"},
                                     "thresholds": thresholds([{"color": "transparent", "value": None}])},
                        "overrides": []},
        "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                    "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"}},
    }


def compliance_bars(y):
    return {
        "id": pid(), "type": "bargauge", "title": "Within tolerance over the selected range",
        "description": "Share of the range during which the node's error bound was at most %s s "
                       "(node:clockwatch_clock_within_tolerance:bool, the rules' tolerance). Minutes "
                       "without data are left out, not counted: use `clockwatch report` for evidence "
                       "that accounts for gaps." % V["complianceToleranceSeconds"],
        "datasource": DS, "gridPos": {"x": 0, "y": y, "w": 24, "h": 8},
        "targets": [target(WITHIN, legend="{{node}}", instant=True)],
        "fieldConfig": {"defaults": {"unit": "percentunit", "min": 0, "max": 1, "decimals": 3,
                                     "thresholds": thresholds(RATIO_STEPS), "color": {"mode": "thresholds"}},
                        "overrides": []},
        "options": {"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
    }


def variables():
    def query_var(name, label, query):
        return {"type": "query", "name": name, "label": label, "datasource": DS,
                "query": {"query": query, "refId": name}, "definition": query,
                "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                "sort": 1, "hide": 0}
    # Nodes known to kube-state-metrics are listed too, target or not.
    series = '{__name__=~"clockwatch_build_info|kube_node_info"%s}'
    return {"list": [
        {"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": ""},
        query_var("cluster", "Cluster", "label_values(%s, cluster)" % (series % "")),
        query_var("node", "Node", "label_values(%s, node)" % (series % ', cluster=~"$cluster"')),
    ]}


def build(values):
    V.clear()
    V.update(values)
    queries()
    _next_id[0] = 0
    panels = [
        row("Overview", 0),
        stat("Nodes", "count(max by (cluster, node) (clockwatch_build_info{%s}))" % SEL, 0, 3,
             desc="Nodes with a clockwatch target answering."),
        stat("Unmeasured", ABSENT, 3, 3, steps=[{"color": "green", "value": None}, {"color": "red", "value": 1}],
             desc="Nodes whose clockwatch target is down, and Linux nodes without any (kube-state-metrics' "
                  "kube_node_info), as ClockwatchAbsent counts them."),
        stat("Not synchronized",
             'count(max by (cluster, node) (clockwatch_sync_state{%s, state!="synchronized"} == 1)) or vector(0)' % SEL,
             6, 3, steps=[{"color": "green", "value": None}, {"color": "red", "value": 1}],
             desc="Nodes in state stale, local, unsynchronized or unknown."),
        stat("Worst error bound", "max(clockwatch_clock_error_bound_seconds{%s})" % SEL, 9, 3,
             unit="s", steps=BOUND_STEPS),
        stat("Largest offset from median", "max(abs(%s))" % FROM_MEDIAN, 12, 4, unit="s",
             steps=[{"color": "green", "value": None},
                    {"color": "yellow", "value": num("offsetFromMedianWarningSeconds")},
                    {"color": "red", "value": num("offsetFromMedianCriticalSeconds")}]),
        stat("Within tolerance", "avg(%s)" % WITHIN, 16, 4, unit="percentunit", steps=RATIO_STEPS,
             desc="Mean over the selected nodes of the share of the range with a bound <= %s s."
                  % V["complianceToleranceSeconds"]),
        stat("Kernel unsynchronised", "count(clockwatch_timex_sync_status{%s} == 0) or vector(0)" % SEL,
             20, 4, steps=[{"color": "green", "value": None}, {"color": "red", "value": 1}],
             desc="Nodes whose kernel clock has STA_UNSYNC set."),
        node_table(5),
        row("Over time", 15),
        timeseries("Clock error bound", [target(BOUND, legend="{{node}}")], 0, 16, 12, 9,
                   steps=BOUND_STEPS, log=True,
                   desc="|system time offset| + root dispersion + root delay / 2; missing while there is "
                        "no valid bound (not synchronized, local reference, chronyd unreachable)."),
        timeseries("Offset from cluster median", [target(FROM_MEDIAN_REF, legend="{{node}} ({{reference}})")],
                   12, 16, 12, 9, steps=OFFSET_STEPS,
                   desc="Node clock minus the median node clock of its cluster, positive when ahead, as "
                        "NodeClockOffsetFromMedian sees it. reference: probe_median (NTP probes of a common "
                        "server), probe_server (fewer than 3 nodes probe it: the server itself), "
                        "scrape_median / scraper (no probes: scrape timestamps, central scrapers only)."),
        timeseries("Offset (chronyd's estimate)", [target(CHRONY_OFFSET, legend="{{node}}")], 0, 25, 12, 8,
                   desc="Negated current correction of chronyd: positive when the node clock is ahead."),
        timeseries("Offset (measured by Prometheus)", [target(measured(SEL), legend="{{node}}")], 12, 25, 12, 8,
                   desc="clockwatch_system_time_seconds minus the scrape timestamp; includes scrape latency "
                        "and Prometheus' own clock error. About 0 whatever the node's clock when Prometheus "
                        "scrapes from the node itself (Azure's node-level ConfigMap): use the NTP probe there."),
        state_timeline(33),
        row("NTP probe", 39),
        timeseries("Probe offset (node minus NTP server)",
                   [target("clockwatch_probe_offset_seconds{%s}" % SEL, "A", "{{node}} {{server}}"),
                    target("clockwatch_probe_uncertainty_seconds{%s}" % SEL, "B", "{{node}} {{server}} ± uncertainty")],
                   0, 40, 8, 8,
                   desc="clockwatch --probe.server: the node clock minus the server's, positive when the node "
                        "is ahead, and the uncertainty (delay/2 + the server's root distance) around it."),
        timeseries("Bound contradicted by the probe",
                   [target("clockwatch_probe_bound_contradicted{%s}" % SEL, legend="{{node}} {{server}}")],
                   8, 40, 8, 8, unit="short",
                   steps=[{"color": "green", "value": None}, {"color": "red", "value": 1}],
                   desc="1 while the probe's interval lies wholly outside ±the clock error bound "
                        "(ClockBoundContradicted); 0 when they agree; missing without a probe or a bound."),
        timeseries("Probe success and round-trip delay",
                   [target("clockwatch_probe_success{%s} == 0" % SEL, "A", "{{node}} {{server}} failed"),
                    target("clockwatch_probe_delay_seconds{%s}" % SEL, "B", "{{node}} {{server}} delay")],
                   16, 40, 8, 8,
                   desc="Failed rounds (see clockwatch_probe_failure_info for why) and the delay of the kept sample."),
        row("Sources", 48),
        timeseries("Source reachability",
                   [target("chrony_sources_reachability_ratio{%s}" % SEL, legend="{{node}} {{source_name}}")],
                   0, 49, 12, 8, unit="percentunit"),
        timeseries("Source last sample offset",
                   [target("chrony_sources_last_sample_offset_seconds{%s}" % SEL, legend="{{node}} {{source_name}}")],
                   12, 49, 12, 8),
        row("Steps and kernel", 57),
        timeseries("Clock steps",
                   [target("sum by (cluster, node) (increase(clockwatch_clock_steps_total{%s}[$__rate_interval]))" % SEL,
                           legend="{{node}}")], 0, 58, 8, 8, unit="short", bars=True),
        timeseries("Last step size", [target("clockwatch_clock_last_step_seconds{%s}" % SEL, legend="{{node}}")],
                   8, 58, 8, 8),
        timeseries("Kernel estimated and maximum error",
                   [target("clockwatch_timex_estimated_error_seconds{%s}" % SEL, "A", "{{node}} estimated"),
                    target("clockwatch_timex_maxerror_seconds{%s}" % SEL, "B", "{{node}} maximum")],
                   16, 58, 8, 8),
        row("Compliance", 66),
        compliance_bars(67),
        row("Exporter", 75),
        timeseries("Failing collectors",
                   [target("clockwatch_collector_success{%s} == 0" % SEL, legend="{{node}} {{collector}}")],
                   0, 76, 12, 7, unit="short"),
        timeseries("Collector duration",
                   [target("max by (cluster, node, collector) (clockwatch_collector_duration_seconds{%s})" % SEL,
                           legend="{{node}} {{collector}}")], 12, 76, 12, 7),
        row("Time accounting", 83),
        timeseries("Share of node-time within each bound (exporter counters, 30 d)",
                   [target("cluster:clockwatch_clock_within_bound_time:ratio_30d{%s}" % CLUSTER,
                           legend="{{cluster}} le={{le}}")], 0, 84, 24, 8, unit="percentunit",
                   desc="From the recording cluster:clockwatch_clock_within_bound_time:ratio_30d: seconds "
                        "synchronized with the bound at most le over seconds observed, summed over the "
                        "cluster's nodes, from the exporter's sampler (a missed scrape loses nothing). "
                        "Empty for exporters without the sampler."),
        row("Node facts", 92),
        timeseries("Nodes per timezone",
                   [target("cluster:clockwatch_nodes_by_timezone:count{%s}" % CLUSTER,
                           legend="{{cluster}} {{timezone}}")], 0, 93, 8, 7, unit="short",
                   desc="From /etc/localtime of each node (node.localtime). More than one line in a "
                        "cluster: NodeTimezoneDiffers names the nodes unlike the majority."),
        timeseries("Nodes per time daemon",
                   [target("cluster:clockwatch_nodes_by_daemon:count{%s}" % CLUSTER,
                           legend="{{cluster}} {{daemon}}")], 8, 93, 8, 7, unit="short",
                   desc="The daemon each node's verdict rests on: chrony, timesyncd, ptp4l, kernel or none."),
        timeseries("Nodes per upstream",
                   [target("cluster:clockwatch_nodes_by_upstream:count{%s}" % CLUSTER,
                           legend="{{cluster}} {{reference}}")], 16, 93, 8, 7, unit="short",
                   desc="The remote reference each node follows. More than one line in a cluster: "
                        "NodeUpstreamDiffers names the nodes unlike the majority."),
        timeseries("Nodes unlike the cluster's majority",
                   [target("node:clockwatch_timezone_differs:bool{%s} == 1" % SEL,
                           legend="{{node}} timezone {{timezone}}"),
                    target("node:clockwatch_upstream_differs:bool{%s} == 1" % SEL, ref="B",
                           legend="{{node}} upstream {{reference}}")], 0, 100, 24, 6, unit="short",
                   desc="Empty when every node shares the cluster's timezone and upstream (a tie has no "
                        "majority and shows nothing)."),
    ]
    return {
        "id": None, "uid": "clockwatch-nodes", "title": "clockwatch / Node clocks",
        "description": "Clock error bound, sync state and offsets of every node, from clockwatch.",
        "tags": ["clockwatch", "chrony", "time"], "timezone": "utc", "editable": True,
        "graphTooltip": 1, "refresh": "1m", "schemaVersion": 39, "version": 1,
        "time": {"from": "now-6h", "to": "now"}, "timepicker": {},
        "templating": variables(), "annotations": {"list": []}, "links": [], "panels": panels,
    }


def render(values):
    return json.dumps(build(values), indent=2, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser(description="Writes the clockwatch Grafana dashboard.")
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a rules value other than its default, e.g. boundWarningSeconds=0.001 (see "
                         "deploy/prometheus/thresholds.py); with -o only")
    ap.add_argument("-o", "--output", help="write this one dashboard here instead of the committed files")
    args = ap.parse_args()
    values = dict(DEFAULTS)
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or name not in DEFAULTS:
            ap.error(f"--set {item}: NAME must be one of {', '.join(DEFAULTS)}")
        if name.endswith("Seconds"):
            try:
                if float(value) <= 0:
                    raise ValueError
            except ValueError:
                ap.error(f"--set {item}: not a number above 0")
        values[name] = value
    if args.set and not args.output:
        ap.error("--set needs -o FILE: the committed files hold the defaults")
    if args.output:
        Path(args.output).write_text(render(values))
        return 0
    outputs = {OUTPUT: render(values), CHART_OUTPUT: render(PLACEHOLDERS)}
    if args.check:
        stale = [str(p) for p, text in outputs.items() if not p.exists() or p.read_text() != text]
        if stale:
            print("out of date (run deploy/grafana/build_dashboard.py):", *stale, file=sys.stderr)
            return 1
        return 0
    for p, text in outputs.items():
        p.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
