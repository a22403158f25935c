# SPDX-License-Identifier: Apache-2.0 OR MIT
"""deploy/kubernetes: the plain manifests are a fresh render of the chart."""
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import DEPLOY, KUBE_VERSIONS, need
from test_chart import pod_security_level, validate_object

K8S = DEPLOY / "kubernetes"


def objects():
    docs = []
    for name in ("namespace.yaml", "clockwatch.yaml"):
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def test_manifests_are_a_fresh_render():
    need("helm_python")
    r = subprocess.run([sys.executable, str(K8S / "render.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_manifests_validate(version):
    for obj in objects():
        validate_object(obj, version)


def test_plain_manifests_do_not_claim_helm():
    text = (K8S / "clockwatch.yaml").read_text()
    assert "managed-by: Helm" not in text and "helm.sh/chart:" not in text
    for obj in objects():
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kustomize"


def test_kustomization_lists_every_file():
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(k["resources"]) == ["clockwatch.yaml", "namespace.yaml"]
    assert k["namespace"] == "clockwatch"


def test_namespace_allows_what_the_pods_need():
    (ns,) = [o for o in objects() if o["kind"] == "Namespace"]
    (ds,) = [o for o in objects() if o["kind"] == "DaemonSet"]
    assert pod_security_level(ds["spec"]["template"]) == "privileged"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert all(o["metadata"].get("namespace", "clockwatch") == "clockwatch" for o in objects())


def test_kustomize_build():
    kubectl = shutil.which("kubectl")
    kustomize = shutil.which("kustomize")
    if kustomize:
        cmd = [kustomize, "build", str(K8S)]
    elif kubectl:
        cmd = [kubectl, "kustomize", str(K8S)]
    else:
        pytest.skip("neither kustomize nor kubectl is installed: kustomize build not checked")
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(r.stdout) if d)
    assert kinds == ["DaemonSet", "Namespace", "Service", "ServiceAccount"]
