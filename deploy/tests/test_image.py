# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Dockerfile, deploy/image/build.sh (buildah) and run-bwrap.sh (bubblewrap)."""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import DEPLOY, REPO, need_tool

IMAGE = DEPLOY / "image"


def dockerfile_stages():
    stages, current = [], None
    for line in (REPO / "Dockerfile").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            current = {"from": line.split()[1:], "lines": []}
            stages.append(current)
        elif current is not None:
            current["lines"].append(line)
    return stages


def test_dockerfile_runtime_stage():
    stages = dockerfile_stages()
    assert len(stages) == 2
    build, runtime = stages
    assert build["from"][0] == "${RUST_IMAGE}" and build["from"][-1] == "build"
    assert re.search(r"^ARG RUST_IMAGE=rust:[^ ]*alpine", (REPO / "Dockerfile").read_text(), re.M)
    assert runtime["from"] == ["scratch"]
    text = "\n".join(runtime["lines"])
    assert "USER 65534:65534" in runtime["lines"]
    assert "EXPOSE 9707" in runtime["lines"]
    assert 'ENTRYPOINT ["/clockwatch"]' in runtime["lines"]
    assert not any(l.startswith(("RUN", "SHELL")) for l in runtime["lines"]), "no shell in the runtime image"
    for label in ("title", "description", "licenses", "version", "revision", "source"):
        assert f"org.opencontainers.image.{label}=" in text
    assert "--locked" in "\n".join(build["lines"])


def test_dockerignore_keeps_context_small():
    lines = (REPO / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] and "!crates/" in lines and "!Cargo.lock" in lines


@pytest.mark.parametrize("script", ["build.sh", "run-bwrap.sh"])
def test_scripts_parse(script):
    r = subprocess.run(["bash", "-n", str(IMAGE / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def static_probe(tmp):
    """A small static program standing in for clockwatch: prints what the
    sandbox looks like from inside."""
    cc = need_tool("gcc")
    src = Path(tmp) / "probe.c"
    src.write_text(r'''
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    char l[256];
    FILE *s = fopen("/proc/self/status", "r");
    printf("uid=%d gid=%d\n", (int)getuid(), (int)getgid());
    printf("rootfs=%s\n", open("/probe-write", O_CREAT | O_WRONLY, 0600) < 0 ? "read-only" : "writable");
    printf("shell=%s\n", access("/bin/sh", F_OK) == 0 ? "present" : "absent");
    while (s && fgets(l, sizeof l, s))
        if (!strncmp(l, "CapEff:", 7) || !strncmp(l, "NoNewPrivs:", 11)) fputs(l, stdout);
    return 0;
}
''')
    out = Path(tmp) / "probe"
    r = subprocess.run([cc, "-static", "-O2", "-o", str(out), str(src)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build a static test program (libc6-dev static libc missing?): {r.stderr[-300:]}")
    return out


def test_build_rejects_missing_and_dynamic_binaries():
    r = subprocess.run([str(IMAGE / "build.sh"), "/nonexistent/clockwatch"], capture_output=True, text=True)
    assert r.returncode != 0
    if shutil.which("buildah"):
        assert "no binary" in r.stderr
        r = subprocess.run([str(IMAGE / "build.sh"), shutil.which("ls")], capture_output=True, text=True)
        assert r.returncode != 0 and "dynamically linked" in r.stderr


def test_buildah_image_and_bwrap_sandbox():
    """build.sh makes a one-file image from a static binary; run-bwrap.sh runs
    it as 65534 with a read-only root, no capabilities and no new privileges."""
    need_tool("buildah")
    need_tool("bwrap")
    if os.geteuid() != 0:
        pytest.skip("buildah with the vfs driver needs root here")
    with tempfile.TemporaryDirectory() as tmp:
        probe = static_probe(tmp)
        rootfs = Path(tmp) / "rootfs"
        r = subprocess.run([str(IMAGE / "build.sh"), str(probe), "localhost/clockwatch:deploy-test",
                            "--rootfs", str(rootfs)], capture_output=True, text=True,
                           env={**os.environ, "VERSION": "0.0.0-test"})
        assert r.returncode == 0, r.stdout + r.stderr
        assert "image size:" in r.stdout
        assert "config: 65534:65534 [/clockwatch] map[9707:{}]" in r.stdout
        assert sorted(p.name for p in rootfs.iterdir()) == ["clockwatch"]
        assert oct((rootfs / "clockwatch").stat().st_mode & 0o777) == "0o555"
        labels = subprocess.run(["buildah", "--storage-driver", "vfs", "inspect", "--format",
                                 "{{.OCIv1.Config.Labels}}", "localhost/clockwatch:deploy-test"],
                                capture_output=True, text=True).stdout
        assert "org.opencontainers.image.version:0.0.0-test" in labels
        subprocess.run(["buildah", "--storage-driver", "vfs", "rmi", "localhost/clockwatch:deploy-test"],
                       capture_output=True)

        r = subprocess.run([str(IMAGE / "run-bwrap.sh"), str(rootfs)], capture_output=True, text=True, timeout=30)
        if r.returncode != 0 and "Operation not permitted" in r.stderr:
            pytest.skip(f"bubblewrap cannot create namespaces here: {r.stderr.strip()}")
        assert r.returncode == 0, r.stderr
        out = dict(line.split("=", 1) if "=" in line else line.split(":\t", 1) for line in r.stdout.splitlines())
        assert out["uid"] == "65534 gid=65534" or (out["uid"].startswith("65534"))
        assert out["rootfs"] == "read-only"
        assert out["shell"] == "absent"
        assert int(out["CapEff"], 16) == 0
        assert out["NoNewPrivs"].strip() == "1"
