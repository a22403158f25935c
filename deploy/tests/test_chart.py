# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The Helm chart: renders, validates, and keeps its promises per access mode."""
import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

import validate
from apirules import object_problems, release_problems
from conftest import (ALL_ON, CHART, DASHBOARD, DEPLOY, KUBE_VERSIONS, MODES, RULES, SOCKET_USER,
                      by_kind, deep_merge, mode_values, need, need_tool, render, render_raw)

def validate_object(obj, version):
    """Core kinds against kubernetes-validate's strict schemas; the
    prometheus-operator CRDs (whose schemas it does not bundle) against the
    small schemas in deploy/tests/schemas/."""
    need("jsonschema")
    need("kubernetes_validate")
    validate.validate_object(obj, version)


def validate_release(docs, version):
    """Every object against its schema, then the API server's own rules
    (deploy/tests/apirules.py), per object and across the release."""
    need("jsonschema")
    need("kubernetes_validate")
    validate.validate_release(docs, version)


CASES = {
    "defaults": {},
    **{f"{m}-all-on": mode_values(m, ALL_ON) for m in MODES},
    "udp-azure-podmonitor": mode_values("udp", {"podMonitor": {"enabled": True, "apiVersion": "azmonitoring.coreos.com/v1"}}),
    "socket-dir-and-pools": mode_values("socket", {
        "chrony": {"socketDir": "/var/run/chrony-alt/"},
        "nodePools": [{"name": "ubuntu", "nodeSelector": {"kubernetes.azure.com/os-sku": "Ubuntu"}},
                      {"name": "azurelinux", "nodeSelector": {"kubernetes.azure.com/os-sku": "AzureLinux"},
                       "chrony": {"socketUser": {"uid": 997, "gid": 994}}},
                      {"name": "timesyncd", "nodeSelector": {"example.com/time": "timesyncd"},
                       "chrony": {"access": "timex"}},
                      {"name": "ptp", "nodeSelector": {"example.com/time": "ptp"},
                       "chrony": {"access": "ptp"}}]}),
    "ptp-phc-privileged": mode_values("ptp", {
        "ptp": {"sockets": ["/run/ptp/ptp4lro", "/run/ptp/domain24.ro", "/var/run/ptp4l"], "domain": 24,
                "assumedGrandmasterAccuracy": "1us", "holdoverDrift": "50ppb", "holdoverLimit": "10m",
                "phc": {"device": "/dev/ptp0", "group": 995}}, **ALL_ON}),
    "ptp-phc-device-plugin": mode_values("ptp", {
        "ptp": {"phc": {"device": "/dev/ptp1", "group": 995, "resource": "squat.ai/ptp"}}}),
    "probe-overrides": {"livenessProbe": {"tcpSocket": {"port": "metrics"}},
                        "readinessProbe": {"exec": {"command": ["/clockwatch", "--version"]}}},
    "parity": {"global": {"imageRegistry": "registry.example.internal"}, "revisionHistoryLimit": 3,
               "daemonsetAnnotations": {"team": "sre"}, "releaseLabel": True,
               "networkPolicy": {"enabled": True, "from": [{"namespaceSelector": {"matchLabels": {
                   "kubernetes.io/metadata.name": "monitoring"}}}]},
               "serviceMonitor": {"enabled": True, "jobLabel": "app.kubernetes.io/name",
                                  "targetLabels": ["app.kubernetes.io/instance"], "podTargetLabels": ["clockwatch.io/pool"],
                                  "attachMetadata": {"node": True}, "sampleLimit": 5000},
               "podMonitor": {"enabled": True, "sampleLimit": 5000, "attachMetadata": {"node": True}},
               "prometheusRule": {"enabled": True}},
    "probe-timex-networkpolicy": mode_values("timex", {
        "probe": {"servers": ["10.1.2.3", "ntp.corp.example:1123", "[fd00::7b]:123", "fd00::7c"],
                  "interval": "128s", "samples": 2, "timeout": "500ms"},
        "networkPolicy": {"enabled": True, "dnsTo": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "kube-system"}}}]}}),
    "timex-existing-secret-digest": mode_values("timex", {
        "webConfig": {"enabled": True, "existingSecret": "my-web-config"},
        "image": {"digest": "sha256:" + "ab" * 32},
        "collectors": {"serverstats": False, "ntpdata": True},
        "extraArgs": ["--log.level=debug"], "env": [{"name": "TZ", "value": "UTC"}],
        "priorityClassName": "system-node-critical", "phcErrorBound": "100us"}),
}


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_objects_validate_strictly(case, version):
    docs = render(CASES[case])
    assert docs, "nothing rendered"
    validate_release(docs, version)


@pytest.mark.parametrize("broken, message", [
    (lambda c: c["livenessProbe"].update(tcpSocket={"port": "metrics"}), "exactly one handler"),
    (lambda c: c["readinessProbe"]["httpGet"].update(port="metricz"), "not a container port name"),
    (lambda c: c["ports"][0].update(hostPort=19707), "hostPort must equal containerPort"),
    (lambda c: c["volumeMounts"].append({"name": "nowhere", "mountPath": "/x"}), "has no volume"),
    (lambda c: c["env"].append({"name": "1BAD", "value": "x"}), "env name"),
])
def test_api_rules_catch_what_schemas_do_not(broken, message):
    """The API-server checks above can fail: each broken pod is refused by
    them while kubernetes-validate's schema accepts it."""
    docs = render(mode_values("udp", {"webConfig": {"enabled": True, "existingSecret": "s"},
                                      "env": [{"name": "TZ", "value": "UTC"}]}))
    (ds,) = by_kind(docs, "DaemonSet")
    broken(ds["spec"]["template"]["spec"]["containers"][0])
    validate_object(ds, KUBE_VERSIONS[-1])  # the schema has nothing against it
    assert any(message in p for p in object_problems(ds)), object_problems(ds)


def test_api_rules_catch_overlapping_daemonsets():
    docs = render(mode_values("socket", {"nodePools": [{"name": "a", "nodeSelector": {"p": "a"}},
                                                       {"name": "b", "nodeSelector": {"p": "b"}}]}))
    sets = by_kind(docs, "DaemonSet")
    assert release_problems(docs) == []
    del sets[1]["spec"]["selector"]["matchLabels"]["clockwatch.io/pool"]
    assert any("select each other" in p for p in release_problems(docs))


def test_all_on_renders_every_kind():
    kinds = {d["kind"] for d in render(mode_values("udp", ALL_ON))}
    assert kinds == {"DaemonSet", "Service", "ServiceAccount", "Secret", "ConfigMap",
                     "ServiceMonitor", "PodMonitor", "PrometheusRule"}


def test_helm_lint_is_clean():
    helm = need("helm_python")
    for values in ({}, mode_values("socket"), mode_values("timex", ALL_ON)):
        report = helm.lint(str(CHART), values, strict=True)
        problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
        assert not problems and not report.get("errors"), report


# -------------------------------------------------------------- Pod Security

ALLOWED_RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                              "persistentVolumeClaim", "projected", "secret"}


def pod_security_violations(pod):
    """Violations of the Pod Security Standards (Kubernetes >= 1.25) for a pod
    template spec: {"baseline": [...], "restricted": [...]}; the restricted
    list also holds every baseline violation."""
    spec = pod["spec"]
    psc = spec.get("securityContext", {})
    containers = spec.get("containers", []) + spec.get("initContainers", [])
    base, restr = [], []
    for ns in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(ns):
            base.append(ns)
    for v in spec.get("volumes", []):
        if "hostPath" in v:
            base.append(f"hostPath volume {v['name']}")
        kinds = set(v) - {"name"}
        if not kinds <= ALLOWED_RESTRICTED_VOLUMES | {"hostPath"}:  # hostPath: reported above
            restr.append(f"volume {v['name']} of type {sorted(kinds)}")
    for c in containers:
        sc = c.get("securityContext", {})
        name = c["name"]
        if sc.get("privileged"):
            base.append(f"{name}: privileged")
        for p in c.get("ports", []):
            if p.get("hostPort"):
                base.append(f"{name}: hostPort {p['hostPort']}")
        added = set(sc.get("capabilities", {}).get("add", []))
        baseline_caps = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
        if added - baseline_caps:
            base.append(f"{name}: capabilities {sorted(added - baseline_caps)}")
        if added - {"NET_BIND_SERVICE"}:
            restr.append(f"{name}: adds capabilities {sorted(added)}")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            restr.append(f"{name}: does not drop ALL capabilities")
        if sc.get("allowPrivilegeEscalation") is not False:
            restr.append(f"{name}: allowPrivilegeEscalation is not false")
        if not (sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
            restr.append(f"{name}: runAsNonRoot is not true")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            restr.append(f"{name}: runAsUser 0")
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            restr.append(f"{name}: seccompProfile is {seccomp}")
        if sc.get("procMount", "Default") != "Default":
            base.append(f"{name}: procMount")
        if sc.get("windowsOptions", {}).get("hostProcess"):
            base.append(f"{name}: hostProcess")
    if psc.get("runAsUser") == 0:
        restr.append("pod runAsUser 0")
    return {"baseline": base, "restricted": base + restr}


def pod_security_level(pod):
    v = pod_security_violations(pod)
    if not v["baseline"]:
        return "restricted" if not v["restricted"] else "baseline"
    return "privileged"


def daemonset(values):
    (ds,) = by_kind(render(values), "DaemonSet")
    return ds


def without_localtime(items):
    """Volumes or mounts other than the node's /etc/localtime (node.localtime,
    in every mode that allows a hostPath)."""
    return [i for i in items if i["name"] != "host-localtime"]


EXPECTED_LEVEL = {"udp": "privileged", "socket": "privileged", "timex": "restricted", "ptp": "privileged",
                  "timesyncd": "privileged"}


@pytest.mark.parametrize("mode", MODES)
def test_pod_security_level_per_mode(mode):
    pod = daemonset(mode_values(mode, ALL_ON))["spec"]["template"]
    assert pod_security_level(pod) == EXPECTED_LEVEL[mode], pod_security_violations(pod)
    if mode == "udp":
        assert sorted(pod_security_violations(pod)["baseline"]) == [
            "clockwatch: hostPort 9707", "hostNetwork", "hostPath volume host-localtime"]
    if mode == "socket":
        assert pod_security_violations(pod)["baseline"] == [
            "hostPath volume chrony-run", "hostPath volume host-localtime"]
    if mode == "ptp":
        assert sorted(pod_security_violations(pod)["baseline"]) == [
            "clockwatch: hostPort 9707", "hostNetwork", "hostPath volume host-localtime",
            "hostPath volume ptp-sockets-0"]
    if mode == "timesyncd":
        assert sorted(pod_security_violations(pod)["baseline"]) == [
            "hostPath volume host-localtime", "hostPath volume system-bus"]


@pytest.mark.parametrize("mode", MODES)
def test_restricted_container_fields_in_every_mode(mode):
    """Whatever the mode needs from the host, the container itself is locked down."""
    for values in (mode_values(mode), mode_values(mode, ALL_ON)):
        pod = daemonset(values)["spec"]["template"]
        spec = pod["spec"]
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True
        assert psc["runAsUser"] != 0
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        assert not spec.get("hostPID") and not spec.get("hostIPC")
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["runAsNonRoot"] is True
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert not sc.get("privileged")
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
            # Ready = serving, whatever chronyd says (docs/deployment.md, "Readiness").
            assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"
        restricted_only = [v for v in pod_security_violations(pod)["restricted"]
                           if v not in pod_security_violations(pod)["baseline"]]
        assert restricted_only == [], restricted_only


def test_timex_mode_touches_nothing_of_the_host():
    spec = daemonset(mode_values("timex", ALL_ON))["spec"]["template"]["spec"]
    assert "hostNetwork" not in spec and "dnsPolicy" not in spec
    assert all("hostPath" not in v for v in spec.get("volumes", []))
    assert all("hostPort" not in p for c in spec["containers"] for p in c["ports"])
    args = spec["containers"][0]["args"]
    assert "--chrony.address=none" in args
    assert not any(a.startswith("--chrony.timeout") for a in args)
    assert spec["securityContext"]["runAsUser"] == 65534


def test_udp_mode():
    spec = daemonset({})["spec"]["template"]["spec"]   # udp is the default
    assert spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert without_localtime(spec.get("volumes", [])) == []
    c = spec["containers"][0]
    assert "--chrony.address=udp://127.0.0.1:323" in c["args"]
    assert "--web.listen-address=:9707" in c["args"]
    assert c["ports"] == [{"name": "metrics", "containerPort": 9707, "hostPort": 9707, "protocol": "TCP"}]
    assert spec["securityContext"]["runAsUser"] == 65534
    assert spec["securityContext"]["runAsGroup"] == 65534


def test_socket_mode():
    spec = daemonset(mode_values("socket"))["spec"]["template"]["spec"]
    assert "hostNetwork" not in spec
    assert without_localtime(spec["volumes"]) == [{"name": "chrony-run", "hostPath": {"path": "/run/chrony", "type": "Directory"}}]
    c = spec["containers"][0]
    assert without_localtime(c["volumeMounts"]) == [{"name": "chrony-run", "mountPath": "/run/chrony"}]  # read-write on purpose
    assert "--chrony.address=unix:///run/chrony/chronyd.sock" in c["args"]
    assert spec["securityContext"]["runAsUser"] == SOCKET_USER["uid"]
    assert spec["securityContext"]["runAsGroup"] == SOCKET_USER["gid"]
    assert "hostPort" not in c["ports"][0]


@pytest.mark.parametrize("socket_user, message", [
    ({}, "chrony.socketUser.uid is required"),
    ({"uid": 112}, "chrony.socketUser.gid is required"),
])
def test_socket_mode_requires_chronyd_ids(socket_user, message):
    helm = need("helm_python")
    with pytest.raises(helm.HelmError, match=message):
        render_raw({"chrony": {"access": "socket", "socketUser": socket_user}})


@pytest.mark.parametrize("values", [
    {"chrony": {"access": "ntp"}},
    {"chrony": {"access": "socket", "socketUser": {"uid": 0, "gid": 0}}},
    {"serviceMonitor": {"apiVersion": "monitoring.example/v1"}},
    {"prometheusRule": {"disabledAlerts": ["NoSuchAlert"]}},
    {"notAValue": True},
])
def test_schema_rejects_bad_values(values):
    helm = need("helm_python")
    with pytest.raises(helm.HelmError):
        render_raw(values)


def test_defaults_run_everywhere():
    ds = daemonset({})
    spec = ds["spec"]["template"]["spec"]
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert ds["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    res = spec["containers"][0]["resources"]
    assert res["requests"] == {"cpu": "10m", "memory": "16Mi"} and res["limits"] == {"memory": "64Mi"}


def test_web_config_inline_and_existing():
    docs = render({"webConfig": {"enabled": True, "config": {"tls_server_config": {"cert_file": "/x"}}}})
    (secret,) = by_kind(docs, "Secret")
    assert yaml.safe_load(secret["stringData"]["web-config.yml"]) == {"tls_server_config": {"cert_file": "/x"}}
    spec = by_kind(docs, "DaemonSet")[0]["spec"]["template"]["spec"]
    assert "--web.config.file=/etc/clockwatch/web/web-config.yml" in spec["containers"][0]["args"]
    vol = next(v for v in spec["volumes"] if v["name"] == "web-config")
    assert vol["secret"]["secretName"] == secret["metadata"]["name"]

    docs = render({"webConfig": {"enabled": True, "existingSecret": "mine"}})
    assert not by_kind(docs, "Secret")
    spec = by_kind(docs, "DaemonSet")[0]["spec"]["template"]["spec"]
    assert next(v for v in spec["volumes"] if v["name"] == "web-config")["secret"]["secretName"] == "mine"


def test_probes_follow_web_config():
    def probes(values):
        c = daemonset(values)["spec"]["template"]["spec"]["containers"][0]
        return c["livenessProbe"], c["readinessProbe"]

    for p in probes({}):
        assert p["httpGet"]["scheme"] == "HTTP"
    # Basic auth only: /healthz and /readyz stay open, plain HTTP.
    for p in probes({"webConfig": {"enabled": True, "config": {"basic_auth_users": {"p": "$2y$10$x"}}}}):
        assert p["httpGet"]["scheme"] == "HTTP"
    tls = {"cert_file": "/t/tls.crt", "key_file": "/t/tls.key"}
    for p in probes({"webConfig": {"enabled": True, "config": {"tls_server_config": tls}}}):
        assert p["httpGet"]["scheme"] == "HTTPS"
    for p in probes({"webConfig": {"enabled": True, "existingSecret": "s", "tls": True}}):
        assert p["httpGet"]["scheme"] == "HTTPS"
    mtls = dict(tls, client_ca_file="/t/ca.crt", client_auth_type="RequireAndVerifyClientCert")
    for values in ({"webConfig": {"enabled": True, "config": {"tls_server_config": mtls}}},
                   {"webConfig": {"enabled": True, "existingSecret": "s", "clientCertRequired": True}}):
        for p in probes(values):
            assert "httpGet" not in p and p["tcpSocket"] == {"port": "metrics"}
    # The probes' paths stay the chart's own.
    live, ready = probes({"webConfig": {"enabled": True, "config": {"tls_server_config": tls}}})
    assert (live["httpGet"]["path"], ready["httpGet"]["path"]) == ("/healthz", "/healthz")


def test_image_reference():
    """What the docs push (<registry>/clockwatch:<appVersion>) is what the
    chart pulls once image.registry is set; global.imageRegistry wins."""
    c = lambda v: daemonset(v)["spec"]["template"]["spec"]["containers"][0]["image"]
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert c({}) == f"clockwatch:{version}"
    assert c({"image": {"registry": "myacr.azurecr.io"}}) == f"myacr.azurecr.io/clockwatch:{version}"
    assert c({"image": {"registry": "myacr.azurecr.io/", "tag": "1.2.3"}}) == "myacr.azurecr.io/clockwatch:1.2.3"
    assert c({"global": {"imageRegistry": "mirror.internal"}, "image": {"registry": "myacr.azurecr.io"}}) == \
        f"mirror.internal/clockwatch:{version}"
    digest = "sha256:" + "0f" * 32
    assert c({"image": {"registry": "r.io", "digest": digest}}) == f"r.io/clockwatch@{digest}"
    assert "without a registry" in render_raw({})["clockwatch/templates/NOTES.txt"]
    assert "without a registry" not in render_raw({"image": {"registry": "r.io"}})["clockwatch/templates/NOTES.txt"]


# --------------------------------------------------------- monitors and rules

@pytest.mark.parametrize("kind, key", [("ServiceMonitor", "serviceMonitor"), ("PodMonitor", "podMonitor")])
@pytest.mark.parametrize("api", ["monitoring.coreos.com/v1", "azmonitoring.coreos.com/v1"])
def test_monitors(kind, key, api):
    docs = render({key: {"enabled": True, "apiVersion": api, "additionalLabels": {"release": "kps"},
                         "interval": "15s", "scrapeTimeout": "5s"}})
    (mon,) = by_kind(docs, kind)
    assert mon["apiVersion"] == api
    assert mon["metadata"]["labels"]["release"] == "kps"
    (ep,) = mon["spec"]["endpoints" if kind == "ServiceMonitor" else "podMetricsEndpoints"]
    assert ep["port"] == "metrics" and ep["path"] == "/metrics"
    assert ep["interval"] == "15s" and ep["scrapeTimeout"] == "5s"
    assert {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node",
            "action": "replace"} in ep["relabelings"]
    assert {"targetLabel": "job", "replacement": "clockwatch", "action": "replace"} in ep["relabelings"]
    pod_labels = by_kind(docs, "DaemonSet")[0]["spec"]["template"]["metadata"]["labels"]
    assert mon["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_service_publishes_not_ready_pods():
    (svc,) = by_kind(render({}), "Service")
    assert svc["spec"]["publishNotReadyAddresses"] is True
    assert svc["spec"]["ports"][0]["targetPort"] == "metrics"


def rule_spec(values):
    (pr,) = by_kind(render(deep_merge({"prometheusRule": {"enabled": True}}, values)), "PrometheusRule")
    return pr["spec"]


def test_chart_rules_are_the_shipped_rules():
    assert (CHART / "files" / "clockwatch.rules.yml").read_bytes() == RULES.read_bytes(), \
        "copy deploy/prometheus/clockwatch.rules.yml to deploy/helm/clockwatch/files/"
    assert rule_spec({}) == yaml.safe_load(RULES.read_text())


THRESHOLDS = {"boundWarningSeconds": 0.001, "boundCriticalSeconds": 0.05, "complianceToleranceSeconds": 0.0001,
              "offsetFromMedianWarningSeconds": 5, "offsetFromMedianCriticalSeconds": 0.01}


def exprs(spec):
    return {(r.get("alert") or r["record"], r.get("labels", {}).get("severity")): r["expr"]
            for g in spec["groups"] for r in g["rules"]}


def test_rule_thresholds_come_from_values():
    # The critical offset threshold is set to 0.01 on purpose: equal to the
    # default warning bound, it would be caught by a naive replacement.
    e = exprs(rule_spec({"prometheusRule": {"thresholds": THRESHOLDS}, "jobName": "my-job"}))
    assert e[("ClockErrorBoundHigh", "warning")] == "(clockwatch_clock_error_bound_seconds > 0.001) < +Inf"
    assert e[("ClockErrorBoundHigh", "critical")] == "(clockwatch_clock_error_bound_seconds > 0.05) < +Inf"
    assert e[("node:clockwatch_clock_within_tolerance:bool", None)] == \
        "node:clockwatch_clock_error_bound_seconds:max <= bool 0.0001"
    assert e[("NodeClockOffsetFromMedian", "warning")] == "abs(node:clockwatch_offset_from_median_seconds) > 5"
    assert e[("NodeClockOffsetFromMedian", "critical")] == "abs(node:clockwatch_offset_from_median_seconds) > 0.01"
    assert e[("ClockwatchAbsent", "warning")].count('job="my-job"') == 3
    assert not any('job="clockwatch"' in x for x in e.values())
    defaults = exprs(rule_spec({}))
    assert defaults.keys() == e.keys()
    changed = {k for k in e if e[k] != defaults[k]}
    assert changed == {("ClockErrorBoundHigh", "warning"), ("ClockErrorBoundHigh", "critical"),
                       ("node:clockwatch_clock_within_tolerance:bool", None), ("NodeClockOffsetFromMedian", "warning"),
                       ("NodeClockOffsetFromMedian", "critical"), ("ClockwatchAbsent", "warning")}


def test_rendered_rules_with_custom_thresholds_pass_promtool():
    promtool = need_tool("promtool")
    spec = rule_spec({"prometheusRule": {"thresholds": THRESHOLDS, "additionalRuleLabels": {"team": "sre"}}})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump(spec, f)
        f.flush()
        r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_rule_options():
    spec = rule_spec({"prometheusRule": {"disabledAlerts": ["ClockStepped", "ClockwatchAbsent"],
                                         "additionalRuleLabels": {"team": "sre", "severity": "ignored"}}})
    alerts = [r for g in spec["groups"] for r in g["rules"] if "alert" in r]
    names = {r["alert"] for r in alerts}
    assert "ClockStepped" not in names and "ClockwatchAbsent" not in names and "ChronyUnreachable" in names
    assert all(r["labels"]["team"] == "sre" for r in alerts)
    assert all(r["labels"]["severity"] in ("warning", "critical") for r in alerts)
    records = [r for g in spec["groups"] for r in g["rules"] if "record" in r]
    # Recording rules keep their own labels (the offset's `reference`) and get none added.
    assert records and all("team" not in r.get("labels", {}) for r in records)
    assert {r["labels"]["reference"] for r in records if "labels" in r} == \
        {"probe_median", "probe_server", "scrape_median", "scraper"}


# ----------------------------------------------------------------- dashboard

def dashboard_from_chart(values=None):
    (cm,) = by_kind(render(deep_merge({"dashboard": {"enabled": True}}, values or {})), "ConfigMap")
    return json.loads(cm["data"]["clockwatch.json"])


def test_chart_dashboard_is_the_shipped_dashboard():
    """With default values the chart's dashboard is deploy/grafana/clockwatch.json."""
    assert dashboard_from_chart() == json.loads(DASHBOARD.read_text()), "run deploy/grafana/build_dashboard.py"


def test_dashboard_takes_the_rules_values():
    """One source of truth: the thresholds and job that the PrometheusRule
    uses colour the dashboard and name its tolerance."""
    values = {"prometheusRule": {"thresholds": THRESHOLDS}, "jobName": "clocks"}
    text = json.dumps(dashboard_from_chart(values))
    shipped = json.dumps(json.loads(DASHBOARD.read_text()))
    steps = lambda d, title: next(o["properties"] for p in d["panels"] if p["title"] == "Nodes"
                                  for o in p["fieldConfig"]["overrides"] if o["matcher"]["options"] == title)
    d = dashboard_from_chart(values)
    bound = next(x["value"] for x in steps(d, "Error bound") if x["id"] == "thresholds")["steps"]
    assert [s["value"] for s in bound] == [None, 0.001, 0.05]
    offset = next(x["value"] for x in steps(d, "Offset from median") if x["id"] == "thresholds")["steps"]
    assert [s["value"] for s in offset] == [None, -0.01, -5, 5, 0.01]
    assert "<= 0.0001 s" in text and 'job=\\"clocks\\"' in text
    assert 'job=\\"clockwatch\\"' in shipped and 'job=\\"clockwatch\\"' not in text
    assert not re.search(r"@[A-Za-z]+@", text)
    from_set = dashboard_from_chart({"prometheusRule": {"thresholds": {"boundWarningSeconds": "0.005"}}})
    bound = next(x["value"] for x in steps(from_set, "Error bound") if x["id"] == "thresholds")["steps"]
    assert bound[1]["value"] == 0.005


def test_dashboard_configmap():
    (cm,) = by_kind(render({"dashboard": {"enabled": True, "annotations": {"grafana_folder": "Clocks"}}}), "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Clocks"}
    assert json.loads(cm["data"]["clockwatch.json"]) == json.loads(DASHBOARD.read_text())
    assert not re.search(r"@[A-Za-z]+@", cm["data"]["clockwatch.json"])


def test_notes_name_the_pod_security_level():
    for mode, word in (("udp", "privileged"), ("socket", "privileged"), ("ptp", "privileged")):
        assert word in render_raw(mode_values(mode))["clockwatch/templates/NOTES.txt"]
    assert "privileged" not in render_raw(mode_values("timex"))["clockwatch/templates/NOTES.txt"]


# ------------------------------------------------- issue 20: what users hit

def test_socket_dir_is_mounted_where_the_address_points():
    spec = daemonset(mode_values("socket", {"chrony": {"socketDir": "/var/run/chrony-alt/"}}))["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert "--chrony.address=unix:///var/run/chrony-alt/chronyd.sock" in c["args"]
    assert without_localtime(c["volumeMounts"]) == [{"name": "chrony-run", "mountPath": "/var/run/chrony-alt"}]
    assert spec["volumes"][0]["hostPath"]["path"] == "/var/run/chrony-alt"


def test_modes_are_defined_once_and_match_the_schema():
    """templates/_helpers.tpl (clockwatch.modes) is the one list of modes;
    the schema's enum must name exactly those."""
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    block = helpers.split('{{- define "clockwatch.modes" -}}', 1)[1].split("{{- end }}", 1)[0]
    import re
    modes = re.findall(r"^([a-z]+):$", block, re.M)
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert sorted(modes) == sorted(schema["properties"]["chrony"]["properties"]["access"]["enum"]) == sorted(MODES)
    for name in ("daemonset.yaml", "NOTES.txt"):
        text = (CHART / "templates" / name).read_text()
        assert not re.search(r'eq \$?\S*access "', text), f"{name} tests a mode by name: read clockwatch.mode"


def test_virtual_and_fargate_nodes_are_excluded_and_user_affinity_kept():
    exclusions = [{"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate"]},
                  {"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]}]
    aff = daemonset({})["spec"]["template"]["spec"]["affinity"]
    assert aff["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == \
        [{"matchExpressions": exclusions}]
    mine = {"key": "pool", "operator": "In", "values": ["a"]}
    user = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [mine]}, {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}},
        "podAntiAffinity": {}}
    terms = daemonset({"affinity": user})["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    # Terms are ORed: each one must exclude the virtual nodes.
    assert terms[0]["matchExpressions"] == [mine] + exclusions
    assert terms[1]["matchExpressions"] == exclusions and terms[1]["matchFields"]
    assert "affinity" not in daemonset({"excludeNodes": []})["spec"]["template"]["spec"]


def test_node_pools_one_daemonset_each():
    docs = render(CASES["socket-dir-and-pools"])
    sets = {d["metadata"]["name"]: d for d in by_kind(docs, "DaemonSet")}
    assert sorted(sets) == ["clockwatch-azurelinux", "clockwatch-ptp", "clockwatch-timesyncd", "clockwatch-ubuntu"]
    spec = lambda n: sets[n]["spec"]["template"]["spec"]
    assert spec("clockwatch-ubuntu")["securityContext"]["runAsUser"] == SOCKET_USER["uid"]
    assert spec("clockwatch-azurelinux")["securityContext"]["runAsUser"] == 997
    assert spec("clockwatch-azurelinux")["securityContext"]["runAsGroup"] == 994
    assert spec("clockwatch-azurelinux")["nodeSelector"] == {"kubernetes.io/os": "linux",
                                                             "kubernetes.azure.com/os-sku": "AzureLinux"}
    t = spec("clockwatch-timesyncd")
    assert "--chrony.address=none" in t["containers"][0]["args"] and "volumes" not in t
    assert pod_security_level(sets["clockwatch-timesyncd"]["spec"]["template"]) == "restricted"
    p = spec("clockwatch-ptp")
    assert "--ptp.socket=/var/run/ptp4lro" in p["containers"][0]["args"] and p["hostNetwork"] is True
    assert not any(a.startswith("--ptp") for a in spec("clockwatch-ubuntu")["containers"][0]["args"])
    for name, ds in sets.items():
        assert ds["spec"]["selector"]["matchLabels"]["clockwatch.io/pool"] == name.split("-", 1)[1]
    # One Service and one monitor for all pools.
    (svc,) = by_kind(docs, "Service")
    assert all(svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
               for d in sets.values())
    helm = need("helm_python")
    with pytest.raises(helm.HelmError, match="appears twice"):
        render_raw({"nodePools": [{"name": "a", "nodeSelector": {"x": "1"}}, {"name": "a", "nodeSelector": {"x": "2"}}]})
    with pytest.raises(helm.HelmError, match="socketUser.uid is required.*nodePools b"):
        render_raw({"nodePools": [{"name": "b", "nodeSelector": {"x": "1"}, "chrony": {"access": "socket"}}]})


def test_a_user_probe_handler_replaces_the_default():
    c = daemonset(CASES["probe-overrides"])["spec"]["template"]["spec"]["containers"][0]
    assert set(c["livenessProbe"]) & {"httpGet", "tcpSocket", "exec"} == {"tcpSocket"}
    assert set(c["readinessProbe"]) & {"httpGet", "tcpSocket", "exec"} == {"exec"}
    assert c["livenessProbe"]["periodSeconds"] == 30  # the rest of the default is kept
    c = daemonset({"readinessProbe": {"httpGet": None, "tcpSocket": {"port": 9707}}})["spec"]["template"]["spec"]["containers"][0]
    assert "httpGet" not in c["readinessProbe"]
    helm = need("helm_python")
    with pytest.raises(helm.HelmError, match="one handler"):
        render_raw({"livenessProbe": {"tcpSocket": {"port": "metrics"}, "exec": {"command": ["x"]}}})


def test_release_label_and_monitor_parity():
    docs = render(CASES["parity"])
    for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
        assert by_kind(docs, kind)[0]["metadata"]["labels"]["release"] == "clockwatch"
    (sm,) = by_kind(docs, "ServiceMonitor")
    assert sm["spec"]["jobLabel"] == "app.kubernetes.io/name"
    assert sm["spec"]["targetLabels"] == ["app.kubernetes.io/instance"]
    assert sm["spec"]["attachMetadata"] == {"node": True} and sm["spec"]["sampleLimit"] == 5000
    # The job comes from the Service's label: no job relabeling, and the rules select that value.
    assert all(r.get("targetLabel") != "job" for r in sm["spec"]["endpoints"][0]["relabelings"])
    (ds,) = by_kind(docs, "DaemonSet")
    assert ds["metadata"]["annotations"] == {"team": "sre"} and ds["spec"]["revisionHistoryLimit"] == 3
    (np,) = by_kind(docs, "NetworkPolicy")
    assert np["spec"]["ingress"][0]["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert np["spec"]["podSelector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    kps = render({"releaseLabel": "kube-prometheus-stack", "podMonitor": {"enabled": True}})
    assert by_kind(kps, "PodMonitor")[0]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert "release" not in by_kind(render({"podMonitor": {"enabled": True}}), "PodMonitor")[0]["metadata"]["labels"]


def test_one_job_name_for_monitors_and_rules():
    docs = render({"jobName": "clocks", "serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True},
                   "prometheusRule": {"enabled": True}})
    for kind, key in (("ServiceMonitor", "endpoints"), ("PodMonitor", "podMetricsEndpoints")):
        rel = by_kind(docs, kind)[0]["spec"][key][0]["relabelings"]
        assert {"targetLabel": "job", "replacement": "clocks", "action": "replace"} in rel
    e = exprs(by_kind(docs, "PrometheusRule")[0]["spec"])
    assert e[("ClockwatchAbsent", "warning")].count('job="clocks"') == 3
    e = exprs(rule_spec({"serviceMonitor": {"enabled": True, "jobLabel": "app.kubernetes.io/name"}, "nameOverride": "cw"}))
    assert e[("ClockwatchAbsent", "warning")].count('job="cw"') == 3
    helm = need("helm_python")
    with pytest.raises(helm.HelmError, match="not a label of the Service"):
        render_raw({"serviceMonitor": {"enabled": True, "jobLabel": "nope"}})


def test_thresholds_given_with_set_are_accepted():
    """helm --set passes 0.005 as the string "0.005" (Helm's own parser,
    through the SDK): the schema accepts numeric strings and the rules get
    the number; --set-json gives a number."""
    helm = need("helm_python")
    values = deep_merge(helm.parse_set_string("prometheusRule.enabled=true,"
                                              "prometheusRule.thresholds.boundWarningSeconds=0.005"),
                        helm.parse_set_json('prometheusRule.thresholds.boundCriticalSeconds=0.05'))
    assert values["prometheusRule"]["thresholds"] == {"boundWarningSeconds": "0.005", "boundCriticalSeconds": 0.05}
    e = exprs(by_kind(render(values), "PrometheusRule")[0]["spec"])
    assert e[("ClockErrorBoundHigh", "warning")] == "(clockwatch_clock_error_bound_seconds > 0.005) < +Inf"
    assert e[("ClockErrorBoundHigh", "critical")] == "(clockwatch_clock_error_bound_seconds > 0.05) < +Inf"
    for bad in ("0", "ten", "-1"):
        with pytest.raises(helm.HelmError):
            render_raw(deep_merge(values, {"prometheusRule": {"thresholds": {"boundWarningSeconds": bad}}}))


def test_chart_defaults_are_the_rules_defaults():
    import sys
    sys.path.insert(0, str(DEPLOY / "prometheus"))
    from thresholds import DEFAULTS, THRESHOLDS
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for name in THRESHOLDS:
        assert float(values["prometheusRule"]["thresholds"][name]) == float(DEFAULTS[name]), name
    assert values["jobName"] == DEFAULTS["jobName"]
    assert values["prometheusRule"]["runbookUrl"] == DEFAULTS["runbookUrl"]


# ------------------------------------------------- issue 22: PTP nodes

def test_ptp_mode_reads_ptp4l_through_read_only_socket_directories():
    spec = daemonset(mode_values("ptp", {"ptp": {"sockets": ["/run/ptp/ptp4lro", "/run/ptp/b.ro", "/var/run/ptp4l"]}}))[
        "spec"]["template"]["spec"]
    # The reply socket is an abstract name in the node's network namespace.
    assert spec["hostNetwork"] is True
    c = spec["containers"][0]
    args = c["args"]
    assert "--chrony.address=none" in args, "a PTP node reports no chrony_up 0"
    assert not any(a.startswith("--chrony.timeout") for a in args)
    assert [a for a in args if a.startswith("--ptp.socket=")] == [
        "--ptp.socket=/run/ptp/ptp4lro", "--ptp.socket=/run/ptp/b.ro", "--ptp.socket=/var/run/ptp4l"]
    assert "--ptp.timeout=1s" in args
    assert not any(a.startswith(("--ptp.phc", "--ptp.domain", "--ptp.reply-dir")) for a in args)
    # Each directory once, read-only, at the same path; nothing of /dev.
    assert without_localtime(c["volumeMounts"]) == [{"name": "ptp-sockets-0", "mountPath": "/run/ptp", "readOnly": True},
                                 {"name": "ptp-sockets-1", "mountPath": "/var/run", "readOnly": True}]
    assert without_localtime(spec["volumes"]) == [{"name": "ptp-sockets-0", "hostPath": {"path": "/run/ptp", "type": "Directory"}},
                               {"name": "ptp-sockets-1", "hostPath": {"path": "/var/run", "type": "Directory"}}]
    assert spec["securityContext"]["runAsUser"] == 65534
    assert not c["securityContext"].get("privileged")


def test_ptp_phc_needs_a_group_and_either_privilege_or_a_device_plugin():
    helm = need("helm_python")
    with pytest.raises(helm.HelmError, match="ptp.phc.group is required"):
        render_raw(mode_values("ptp", {"ptp": {"phc": {"device": "/dev/ptp0"}}}))
    pod = daemonset(CASES["ptp-phc-privileged"])["spec"]["template"]
    spec = pod["spec"]
    c = spec["containers"][0]
    assert "--ptp.phc=/dev/ptp0" in c["args"] and "--ptp.domain=24" in c["args"]
    assert c["securityContext"]["privileged"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["runAsUser"] == 65534 and spec["securityContext"]["supplementalGroups"] == [995]
    assert {"name": "ptp-phc", "mountPath": "/dev/ptp0", "readOnly": True} in c["volumeMounts"]
    assert {"name": "ptp-phc", "hostPath": {"path": "/dev/ptp0", "type": "CharDevice"}} in spec["volumes"]
    assert "clockwatch: privileged" in pod_security_violations(pod)["baseline"]

    pod = daemonset(CASES["ptp-phc-device-plugin"])["spec"]["template"]
    c = pod["spec"]["containers"][0]
    assert "--ptp.phc=/dev/ptp1" in c["args"]
    assert c["resources"]["limits"]["squat.ai/ptp"] == 1
    assert not c["securityContext"].get("privileged")
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert all(v["name"] != "ptp-phc" for v in pod["spec"]["volumes"]), "the plugin hands the device over"
    notes = render_raw(CASES["ptp-phc-privileged"])["clockwatch/templates/NOTES.txt"]
    assert "runs privileged" in notes


@pytest.mark.parametrize("ptp", [
    {"sockets": []},
    {"sockets": ["relative/ptp4l"]},
    {"sockets": ["/run/ptp/"]},
    {"sockets": ["/run/a,/run/b"]},
    {"domain": 256},
    {"holdoverDrift": "fast"},
    {"phc": {"device": "/tmp/ptp0", "group": 1}},
    {"phc": {"devices": "/dev/ptp0"}},
])
def test_schema_rejects_bad_ptp_values(ptp):
    helm = need("helm_python")
    with pytest.raises(helm.HelmError):
        render_raw(mode_values("ptp", {"ptp": ptp}))


# ------------------------------------------------------------------ probe


def probe_args(values):
    args = daemonset(values)["spec"]["template"]["spec"]["containers"][0]["args"]
    return [a for a in args if a.startswith("--probe.")]


def egress(values):
    (np,) = by_kind(render(deep_merge({"networkPolicy": {"enabled": True}}, values)), "NetworkPolicy")
    return np["spec"]["policyTypes"], np["spec"].get("egress")


def test_probe_is_off_by_default_and_leaves_egress_alone():
    assert probe_args({}) == []
    types, eg = egress({})
    assert types == ["Ingress"] and eg is None


def test_probe_values_become_flags():
    assert probe_args({"probe": {"servers": ["ntp1.corp", "10.0.0.9:123"]}}) == [
        "--probe.server=ntp1.corp", "--probe.server=10.0.0.9:123",
        "--probe.interval=64s", "--probe.samples=4", "--probe.timeout=1s"]
    assert probe_args(CASES["probe-timex-networkpolicy"]) == [
        "--probe.server=10.1.2.3", "--probe.server=ntp.corp.example:1123", "--probe.server=[fd00::7b]:123",
        "--probe.server=fd00::7c", "--probe.interval=128s", "--probe.samples=2", "--probe.timeout=500ms"]


def test_probe_flags_parse_in_clockwatch():
    """The rendered flags are ones the binary accepts (its own parser, not a
    copy of it): `clockwatch --help` lists each of them."""
    import shutil
    exe = shutil.which("clockwatch") or next((str(p) for p in (DEPLOY.parent / "target" / d / "clockwatch"
                                              for d in ("debug", "release")) if p.exists()), None)
    if not exe:
        pytest.skip("no clockwatch binary built (cargo build -p clockwatch)")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
    for a in probe_args(CASES["probe-timex-networkpolicy"]):
        assert a.split("=")[0] in out, a


def test_probe_egress_to_ip_servers_only():
    types, eg = egress({"probe": {"servers": ["10.1.2.3", "10.1.2.4:123", "[fd00::7b]:123", "fd00::7c"]}})
    assert types == ["Ingress", "Egress"]
    (rule,) = eg  # no DNS rule: no host names
    assert rule["ports"] == [{"port": 123, "protocol": "UDP"}]
    assert rule["to"] == [{"ipBlock": {"cidr": c}} for c in
                          ("10.1.2.3/32", "10.1.2.4/32", "fd00::7b/128", "fd00::7c/128")]


def test_probe_egress_with_host_names_allows_dns_and_any_address():
    _, eg = egress(CASES["probe-timex-networkpolicy"])
    ntp, dns = eg
    assert ntp["ports"] == [{"port": 123, "protocol": "UDP"}, {"port": 1123, "protocol": "UDP"}]
    assert "to" not in ntp  # a host name has no fixed address
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]


def test_probe_egress_to_given_peers():
    peers = [{"ipBlock": {"cidr": "10.8.0.0/24"}}]
    _, eg = egress({"probe": {"servers": ["ntp1.corp"]}, "networkPolicy": {"probeTo": peers}})
    assert eg[0]["to"] == peers and eg[1]["ports"][0]["port"] == 53


@pytest.mark.parametrize("values", [
    {"probe": {"servers": ["a b"]}},
    {"probe": {"servers": ["a,b"]}},
    {"probe": {"samples": 9}},
    {"probe": {"interval": "soon"}},
    {"probe": {"server": ["ntp1"]}},
])
def test_probe_schema_rejects_bad_values(values):
    with pytest.raises(Exception):
        render(values)


# ------------------------------------------------- issue 21: timesyncd nodes

def test_timesyncd_mode_reads_the_system_bus_through_a_read_only_directory():
    pod = daemonset(mode_values("timesyncd", {"timesyncd": {"drift": "10ppm"}}))["spec"]["template"]
    spec = pod["spec"]
    # A unix socket: no hostNetwork, no hostPort.
    assert "hostNetwork" not in spec
    c = spec["containers"][0]
    assert all("hostPort" not in p for p in c["ports"])
    args = c["args"]
    assert "--chrony.address=none" in args, "a timesyncd node reports no chrony_up 0"
    assert "--timesyncd.bus=/run/dbus/system_bus_socket" in args
    assert "--timesyncd.timeout=1s" in args and "--timesyncd.drift=10ppm" in args
    assert "--node.localtime=/host/etc/localtime" in args
    assert {"name": "system-bus", "mountPath": "/run/dbus", "readOnly": True} in c["volumeMounts"]
    assert {"name": "system-bus", "hostPath": {"path": "/run/dbus", "type": "Directory"}} in spec["volumes"]
    assert {"name": "host-localtime", "mountPath": "/host/etc/localtime", "readOnly": True} in c["volumeMounts"]
    assert {"name": "host-localtime", "hostPath": {"path": "/etc/localtime", "type": "File"}} in spec["volumes"]
    # The bus policy lets anyone read timesyncd: nobody, unprivileged.
    assert spec["securityContext"]["runAsUser"] == 65534
    assert not c["securityContext"].get("privileged")
    # hostPath: not baseline, so the namespace must allow privileged.
    assert "hostPath volume system-bus" in pod_security_violations(pod)["baseline"]


def test_no_mode_without_hostpath_mounts_localtime():
    spec = daemonset(mode_values("timex", ALL_ON))["spec"]["template"]["spec"]
    assert not any(a.startswith("--node.localtime") for a in spec["containers"][0]["args"])
    for mode in ["udp", "socket", "ptp", "timesyncd"]:
        spec = daemonset(mode_values(mode, {"node": {"localtime": False}}))["spec"]["template"]["spec"]
        assert all(v["name"] != "host-localtime" for v in spec.get("volumes", [])), mode
        spec = daemonset(mode_values(mode))["spec"]["template"]["spec"]
        assert any(v["name"] == "host-localtime" for v in spec["volumes"]), mode


@pytest.mark.parametrize("timesyncd", [
    {"busSocket": "run/dbus/system_bus_socket"},
    {"busSocket": "/run/dbus/"},
    {"drift": "fast"},
    {"timeout": "soon"},
    {"bus": "/run/dbus/system_bus_socket"},
])
def test_schema_rejects_bad_timesyncd_values(timesyncd):
    helm = need("helm_python")
    with pytest.raises(helm.HelmError):
        render_raw(mode_values("timesyncd", {"timesyncd": timesyncd}))
