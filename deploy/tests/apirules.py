# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Rules the Kubernetes API server enforces beyond the OpenAPI schemas.

kubernetes-validate checks each object against the schema: types, required
fields, unknown fields. The API server's validation (pkg/apis/core/validation
and apps/validation) refuses more, and these are the rules a chart can break:
a probe with two handlers, a named port that does not exist, a hostPort that
differs from its containerPort under hostNetwork, a mount without a volume,
a selector that does not match the template, malformed label values, names.
Each function returns a list of messages (empty: the object passes).
"""
import re

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def label_problems(labels, where):
    out = []
    for k, v in (labels or {}).items():
        prefix, _, name = k.rpartition("/")
        if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
            out.append(f"{where}: label key prefix {prefix!r} is not a DNS subdomain")
        if not name or len(name) > 63 or not LABEL_NAME.match(name):
            out.append(f"{where}: label key {k!r} is invalid")
        if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
            out.append(f"{where}: label {k}={v!r}: a value is at most 63 characters of [A-Za-z0-9-_.]")
    return out


def probe_problems(probe, kind, ports, where):
    out = []
    handlers = [h for h in HANDLERS if h in probe]
    if len(handlers) != 1:
        out.append(f"{where}.{kind}: must specify exactly one handler type, has {handlers}")
    if kind in ("livenessProbe", "startupProbe") and probe.get("successThreshold", 1) != 1:
        out.append(f"{where}.{kind}: successThreshold must be 1")
    for h in ("httpGet", "tcpSocket", "grpc"):
        port = (probe.get(h) or {}).get("port")
        if isinstance(port, str) and port not in ports:
            out.append(f"{where}.{kind}.{h}: port {port!r} is not a container port name")
    return out


def pod_problems(spec, where):
    out = []
    volumes = [v["name"] for v in spec.get("volumes", [])]
    if len(volumes) != len(set(volumes)):
        out.append(f"{where}: duplicate volume names {volumes}")
    names = [c["name"] for c in spec["containers"] + spec.get("initContainers", [])]
    if len(names) != len(set(names)):
        out.append(f"{where}: duplicate container names {names}")
    for c in spec["containers"]:
        cw = f"{where}.containers[{c['name']}]"
        ports = {}
        for p in c.get("ports", []):
            if "name" in p:
                if len(p["name"]) > 15 or not IANA_SVC_NAME.match(p["name"]):
                    out.append(f"{cw}: port name {p['name']!r} is not an IANA service name")
                if p["name"] in ports:
                    out.append(f"{cw}: duplicate port name {p['name']}")
                ports[p["name"]] = p
            if spec.get("hostNetwork") and p.get("hostPort", p["containerPort"]) != p["containerPort"]:
                out.append(f"{cw}: with hostNetwork, hostPort must equal containerPort")
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            if kind in c:
                out += probe_problems(c[kind], kind, ports, cw)
        paths = []
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                out.append(f"{cw}: volumeMount {m['name']} has no volume")
            paths.append(m["mountPath"])
        if len(paths) != len(set(paths)):
            out.append(f"{cw}: duplicate mountPath {paths}")
        for e in c.get("env", []):
            if not ENV_NAME.match(e["name"]):
                out.append(f"{cw}: env name {e['name']!r} is invalid")
    if spec.get("dnsPolicy") not in (None, "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"):
        out.append(f"{where}: dnsPolicy {spec['dnsPolicy']}")
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms", [])
    for t in terms:
        for e in t.get("matchExpressions", []):
            vals = e.get("values") or []
            if e["operator"] in ("In", "NotIn") and not vals:
                out.append(f"{where}: node selector {e['key']} {e['operator']} needs values")
            if e["operator"] in ("Exists", "DoesNotExist") and vals:
                out.append(f"{where}: node selector {e['key']} {e['operator']} takes no values")
    out += label_problems(spec.get("nodeSelector"), f"{where}.nodeSelector")
    return out


def object_problems(obj):
    """API server rules for one object."""
    kind, md = obj["kind"], obj["metadata"]
    where = f"{kind}/{md.get('name')}"
    out = label_problems(md.get("labels"), where)
    name = md.get("name", "")
    pattern, limit = ((DNS1123_LABEL, 63) if kind in ("Service", "Namespace")
                      else (DNS1123_SUBDOMAIN, 253))
    if not pattern.match(name) or len(name) > limit:
        out.append(f"{where}: invalid name")
    if kind == "DaemonSet":
        spec = obj["spec"]
        sel = spec["selector"].get("matchLabels", {})
        tmpl_labels = spec["template"]["metadata"].get("labels", {})
        if not sel or not sel.items() <= tmpl_labels.items():
            out.append(f"{where}: selector does not match the template's labels")
        out += label_problems(tmpl_labels, f"{where}.template")
        ru = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
        if str(ru.get("maxUnavailable", 1)) in ("0", "0%") and str(ru.get("maxSurge", 0)) in ("0", "0%"):
            out.append(f"{where}: maxUnavailable and maxSurge cannot both be 0")
        out += pod_problems(spec["template"]["spec"], f"{where}.template.spec")
    if kind == "Service":
        out += label_problems(obj["spec"].get("selector"), f"{where}.selector")
        for p in obj["spec"].get("ports", []):
            if "name" in p and not DNS1123_LABEL.match(p["name"]):
                out.append(f"{where}: port name {p['name']!r}")
    return out


def release_problems(objs):
    """Rules across the objects of one release: a Service's named targetPort
    exists in the pods it selects; DaemonSet selectors do not overlap (two
    controllers would fight over the same pods); names are unique per kind."""
    out = []
    seen = set()
    for o in objs:
        key = (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        if key in seen:
            out.append(f"duplicate object {key}")
        seen.add(key)
    sets = [o for o in objs if o["kind"] == "DaemonSet"]
    for i, a in enumerate(sets):
        for b in sets[i + 1:]:
            la = a["spec"]["template"]["metadata"]["labels"]
            lb = b["spec"]["template"]["metadata"]["labels"]
            if a["spec"]["selector"]["matchLabels"].items() <= lb.items() or \
                    b["spec"]["selector"]["matchLabels"].items() <= la.items():
                out.append(f"DaemonSets {a['metadata']['name']} and {b['metadata']['name']} select each other's pods")
    for svc in (o for o in objs if o["kind"] == "Service"):
        sel = svc["spec"].get("selector", {})
        pods = [d["spec"]["template"] for d in sets
                if sel.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        if not pods:
            out.append(f"Service {svc['metadata']['name']} selects no pod")
        for p in svc["spec"]["ports"]:
            tp = p.get("targetPort")
            if isinstance(tp, str):
                for pod in pods:
                    names = {cp.get("name") for c in pod["spec"]["containers"] for cp in c.get("ports", [])}
                    if tp not in names:
                        out.append(f"Service {svc['metadata']['name']}: targetPort {tp} not in the pods")
    return out
