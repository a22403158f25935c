# SPDX-License-Identifier: Apache-2.0 OR MIT
"""docs/deployment.md's commands, extracted from the doc and run, so that the
doc cannot drift from what works.

Every fenced block of the guide is preceded by a marker comment:

  <!-- test: run -->              shell commands, run here (bash -euo pipefail)
  <!-- test: file PATH -->        written to PATH in the work directory first
  <!-- test: values -->           chart values: rendered in every mode, validated
  <!-- test: constraint -->       Gatekeeper constraints, checked against the chart
  <!-- test: skip: REASON -->     not runnable here; REASON is listed in the doc

(`file` and `values` combine: `<!-- test: file values-kps.yaml; values -->`).
The run blocks of one section (## heading) share a work directory and Helm
release state, as one engineer following that section would; `helm` and
`kubectl` are the shims in deploy/tests/doc_shims (Helm's SDK and the API
server's rules, no cluster), `<registry>` is a real OCI registry on loopback
(Debian's docker-registry). docs/security.md's and the chart README's values
examples are marked the same way.

`python3 deploy/tests/test_doc_commands.py --update` rewrites the doc's table
of blocks that are not run.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import (CHART, KUBE_VERSIONS, MODES, REPO, by_kind, deep_merge, free_port, mode_values,  # noqa: E402
                      need, need_tool, render, skip)

GUIDE = REPO / "docs" / "deployment.md"
VALUES_DOCS = [GUIDE, REPO / "docs" / "security.md", CHART / "README.md"]
SHIMS = Path(__file__).resolve().parent / "doc_shims"
MARKER = re.compile(r"<!--\s*test:\s*(.*?)\s*-->")
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
TABLE_BEGIN, TABLE_END = "<!-- skipped-commands:begin -->", "<!-- skipped-commands:end -->"


def blocks(path):
    """[{section, line, lang, text, markers: {kind: arg}}] for every fenced
    block; a marker counts when it is on one of the two lines above the fence."""
    lines = path.read_text().splitlines()
    out, section, i, marker = [], "", 0, None
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        m = MARKER.search(line)
        if m:
            marker = (i, m.group(1))
        f = FENCE.match(line)
        if f:
            start, indent, lang = i, f.group(1), f.group(2)
            body = []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            markers = {}
            if marker and start - marker[0] <= 2 and marker[1].startswith("skip:"):
                markers["skip"] = marker[1][len("skip:"):].strip()
            elif marker and start - marker[0] <= 2:
                for part in marker[1].split(";"):
                    part = part.strip()
                    if part.startswith("skip:"):
                        markers["skip"] = part[len("skip:"):].strip()
                    else:
                        kind, _, arg = part.partition(" ")
                        markers[kind] = arg.strip()
            out.append({"section": section, "line": start + 1, "lang": lang, "text": "\n".join(body) + "\n",
                        "markers": markers})
            marker = None
        i += 1
    return out


def guide_blocks():
    return blocks(GUIDE)


def skipped_table(bs):
    rows = ["| Section | Command | Why it is not run here |", "|---|---|---|"]
    for b in bs:
        if "skip" in b["markers"]:
            first = next(l for l in b["text"].splitlines() if l.strip() and not l.startswith("#"))
            first = first.rstrip(" \\")
            rows.append(f"| {b['section']} | `{first}` | {b['markers']['skip']} |")
    return "\n".join(rows)


def test_every_block_is_marked():
    unmarked = [f"line {b['line']}: {b['text'].splitlines()[0]}" for b in guide_blocks()
                if not b["markers"] or not set(b["markers"]) <= {"run", "file", "values", "skip", "constraint"}]
    assert not unmarked, "blocks without a test marker:\n" + "\n".join(unmarked)
    for path in VALUES_DOCS[1:]:
        for b in blocks(path):
            if b["lang"] == "yaml" and re.search(r"^(webConfig|serviceMonitor|chrony|image):", b["text"], re.M):
                assert "values" in b["markers"], f"{path.name} line {b['line']}: chart values without a test marker"


def test_the_doc_lists_every_block_not_run():
    text = GUIDE.read_text()
    table = text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0].strip()
    assert table == skipped_table(guide_blocks()), \
        "the table of blocks not run is stale: python3 deploy/tests/test_doc_commands.py --update"
    runnable = [b for b in guide_blocks() if "run" in b["markers"]]
    assert len(runnable) >= 10, "most commands must run"
    sections = {b["section"] for b in runnable}
    for path in ("1. AKS", "2. On-prem", "3. Plain manifests", "Before you start", "Publishing the chart"):
        assert any(s.startswith(path) for s in sections), f"no command of {path!r} runs"


# ------------------------------------------------------------ values examples

def values_examples():
    out = []
    for path in VALUES_DOCS:
        for b in blocks(path):
            if "values" in b["markers"]:
                out.append(pytest.param(yaml.safe_load(b["text"]), id=f"{path.name}:{b['line']}"))
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("example", values_examples())
def test_documented_values_render_and_validate(example, mode):
    """Each documented values example, in each access mode, rendered and
    validated against every Kubernetes version (schemas and API rules)."""
    from test_chart import validate_release
    assert example, "empty example"
    docs = render(deep_merge(mode_values(mode), example))
    assert by_kind(docs, "DaemonSet")
    for version in KUBE_VERSIONS:
        validate_release(docs, version)


def test_gatekeeper_constraints_admit_the_chart():
    (b,) = [b for b in guide_blocks() if "constraint" in b["markers"]]
    cons = {c["kind"]: c for c in yaml.safe_load_all(b["text"])}
    udp = by_kind(render({}), "DaemonSet")[0]["spec"]["template"]["spec"]
    p = cons["K8sPSPHostNetworkingPorts"]["spec"]["parameters"]
    assert udp["hostNetwork"] is True and p["hostNetwork"] is True
    for port in (x["hostPort"] for c in udp["containers"] for x in c["ports"]):
        assert p["min"] <= port <= p["max"]
    sock = by_kind(render(mode_values("socket")), "DaemonSet")[0]["spec"]["template"]["spec"]
    allowed = cons["K8sPSPHostFilesystem"]["spec"]["parameters"]["allowedHostPaths"]
    mounts = {m["name"]: m for m in sock["containers"][0]["volumeMounts"]}
    for v in (v for v in sock["volumes"] if "hostPath" in v):
        path, mount = v["hostPath"]["path"], mounts[v["name"]]
        rule = next(a for a in allowed if path == a["pathPrefix"] or path.startswith(a["pathPrefix"].rstrip("/") + "/"))
        if v["name"] == "chrony-run":
            assert rule["readOnly"] is False and not mount.get("readOnly"), "the socket mount is read-write"
        else:
            assert rule["readOnly"] is True and mount.get("readOnly"), f"{path} is mounted read-only"
    for c in cons.values():
        assert c["spec"]["match"]["namespaces"] == ["clockwatch"]


def test_selinux_spc_t_in_socket_mode():
    """The SELinux workaround the guide names renders, validates, and is
    rated "privileged" (baseline forbids the type)."""
    from test_chart import pod_security_level, validate_release
    values = mode_values("socket", {"podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {
        "type": "RuntimeDefault"}, "seLinuxOptions": {"type": "spc_t"}}})
    docs = render(values)
    (ds,) = by_kind(docs, "DaemonSet")
    assert ds["spec"]["template"]["spec"]["securityContext"]["seLinuxOptions"] == {"type": "spc_t"}
    validate_release(docs, KUBE_VERSIONS[-1])
    assert pod_security_level(ds["spec"]["template"]) == "privileged"


# ------------------------------------------------------------------ commands

@pytest.fixture(scope="module")
def registry():
    """A real OCI registry (distribution, Debian's docker-registry) on loopback."""
    binary = need_tool("docker-registry")
    with tempfile.TemporaryDirectory(prefix="clockwatch-registry-") as d:
        port = free_port()
        cfg = Path(d) / "config.yml"
        cfg.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\n"
                       f"http:\n  addr: 127.0.0.1:{port}\n")
        log = open(Path(d) / "log", "w")
        proc = subprocess.Popen([binary, "serve", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    proc.kill()
                    raise RuntimeError("docker-registry did not start: " + (Path(d) / "log").read_text()[-500:])
                time.sleep(0.2)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()


def substitute(text, registry):
    text = text.replace("<registry>", registry).replace("<acr>", "myacr")
    left = re.findall(r"<[a-z][^>]*>", text)
    assert not left, f"placeholders without a test value: {left}"
    return text


def sections():
    out = {}
    for b in guide_blocks():
        if {"run", "file"} & set(b["markers"]):
            out.setdefault(b["section"], []).append(b)
    return out


@pytest.mark.parametrize("section", sorted(sections()))
def test_guide_commands_run(section, registry):
    """The section's files are written and its commands run in order, in a
    work directory where the repository's files are (symlinks)."""
    if os.geteuid() != 0:
        skip("the image commands need root (buildah with the vfs driver)")
    for tool in ("buildah", "promtool", "amtool", "kubectl"):
        need_tool(tool)
    need("helm_python")
    need("kubernetes_validate")
    with tempfile.TemporaryDirectory(prefix="clockwatch-doc-") as work:
        for entry in REPO.iterdir():
            if entry.name != ".git":
                os.symlink(entry, Path(work) / entry.name)
        env = dict(os.environ, PATH=f"{SHIMS}{os.pathsep}{os.environ['PATH']}", DOC_STATE=str(Path(work) / ".state"),
                   PUSH_OPTS="--tls-verify=false", CARGO_TERM_COLOR="never")
        # The work directory has no .git: without this the commands would
        # stamp (and so rebuild) the shared target/'s binaries as revision
        # "unknown", where a user's checkout has its commit.
        revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
        if revision.returncode == 0:
            env.setdefault("CLOCKWATCH_REVISION", revision.stdout.strip())
        try:
            run_section(sections()[section], work, env, registry)
        finally:
            # The images the commands built locally (the registry has its copy).
            bh = ["buildah", "--storage-driver", "vfs"]
            names = subprocess.run(bh + ["images", "--format", "{{.Name}}:{{.Tag}}"], capture_output=True,
                                   text=True).stdout.split()
            for name in (n for n in names if n.startswith(registry + "/")):
                subprocess.run(bh + ["manifest", "rm", name], capture_output=True)
                subprocess.run(bh + ["rmi", "-f", name], capture_output=True)


def run_section(section_blocks, work, env, registry):
    """Writes the files and runs the commands of one section, in order."""
    for b in section_blocks:
        if "file" in b["markers"]:
            path = Path(work) / b["markers"]["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(substitute(b["text"], registry))
        if "run" in b["markers"]:
            script = substitute(b["text"], registry)
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env,
                               capture_output=True, text=True, timeout=1500)
            assert r.returncode == 0, (f"docs/deployment.md line {b['line']} failed ({r.returncode}):\n{script}\n"
                                       f"--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}")


def test_shims_refuse_what_needs_a_cluster():
    r = subprocess.run([str(SHIMS / "kubectl"), "get", "pods"], capture_output=True, text=True)
    assert r.returncode == 3 and "needs a cluster" in r.stderr


def test_shim_install_refuses_invalid_values(tmp_path):
    """The shim's `helm install` is a real check: a probe with two handlers
    (possible only by editing the chart) or a value the schema refuses fails."""
    need("helm_python")
    env = dict(os.environ, DOC_STATE=str(tmp_path))
    r = subprocess.run([str(SHIMS / "helm"), "install", "x", str(CHART), "--set", "chrony.access=ntp"],
                       capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "chrony/access" in r.stderr
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    ds = chart / "templates" / "daemonset.yaml"
    ds.write_text(ds.read_text().replace('"name" "livenessProbe") | nindent 12 }}',
                                         '"name" "livenessProbe") | nindent 12 }}\n            exec: {command: [x]}'))
    r = subprocess.run([str(SHIMS / "helm"), "install", "x", str(chart)], capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "exactly one handler" in r.stderr


def update():
    text = GUIDE.read_text()
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    GUIDE.write_text(f"{head}{TABLE_BEGIN}\n{skipped_table(guide_blocks())}\n{TABLE_END}{tail}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        sys.exit("usage: test_doc_commands.py --update")
