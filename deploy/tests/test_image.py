# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Dockerfile, deploy/image/build.sh (buildah) and run-bwrap.sh (bubblewrap)."""
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import DEPLOY, REPO, need_tool, skip

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


# What only BuildKit understands. The classic builder (`docker build` with
# DOCKER_BUILDKIT=0), ACR Tasks (`az acr build`) and older podman/buildah
# refuse these, or silently build something else (automatic platform ARGs
# are empty without BuildKit).
BUILDKIT_ONLY = [
    (re.compile(r"^#\s*(syntax|check)\s*=", re.I), "a BuildKit frontend directive"),
    (re.compile(r"^RUN\s+(--\S+\s+)*--(mount|network|security)\b", re.I), "RUN --mount/--network/--security"),
    (re.compile(r"^(COPY|ADD)\s+(--\S+\s+)*--(chmod|link|parents|exclude|checksum|keep-git-dir)\b", re.I),
     "COPY/ADD --chmod/--link/--parents/--exclude/--checksum/--keep-git-dir"),
    (re.compile(r"<<-?\s*['\"]?[A-Za-z_]+"), "a heredoc"),
    (re.compile(r"\$\{?(TARGET|BUILD)(PLATFORM|OS|ARCH|VARIANT)\b"), "an automatic platform ARG"),
]


def buildkit_only(text):
    """(line number, what) for every BuildKit-only construct in a Dockerfile;
    continuation lines are joined first."""
    found, logical, start = [], "", 0
    for n, line in enumerate(text.splitlines(), 1):
        if not logical:
            start = n
            if line.lstrip().startswith("#"):
                for pattern, what in BUILDKIT_ONLY[:1]:
                    if pattern.search(line.strip()):
                        found.append((n, what))
                continue
        logical += line.rstrip("\\") + " "
        if line.rstrip().endswith("\\"):
            continue
        for pattern, what in BUILDKIT_ONLY[1:]:
            if pattern.search(logical.strip()):
                found.append((start, what))
        logical = ""
    return found


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.report"])
def test_dockerfile_needs_no_buildkit(name):
    assert buildkit_only((REPO / name).read_text()) == []


def test_report_image_carries_the_report_and_its_roots():
    """The report's own image (the node image has no report): its binary,
    the CA roots it verifies https:// Prometheus URLs with, no shell."""
    text = (REPO / "Dockerfile.report").read_text()
    runtime = text[text.rindex("\nFROM scratch"):]
    assert "--bin clockwatch-report" in text and "--locked" in text
    assert 'ENTRYPOINT ["/clockwatch-report"]' in runtime
    assert "COPY --from=build /etc/ssl/certs/ca-certificates.crt" in runtime
    assert "USER 65534:65534" in runtime
    assert not re.search(r"^(RUN|SHELL)\b", runtime, re.M), "no shell in the runtime image"
    # The node image builds the node binary only.
    assert "--bin clockwatch " in (REPO / "Dockerfile").read_text()


@pytest.mark.parametrize("line", [
    "# syntax=docker/dockerfile:1",
    "COPY --from=build --chmod=0555 /clockwatch /clockwatch",
    "COPY --link --from=build /clockwatch /clockwatch",
    "RUN --mount=type=cache,target=/root/.cargo cargo build",
    "RUN \\\n  --mount=type=cache,target=/x true",
    "RUN <<EOF\ncargo build\nEOF",
    "RUN cargo build --target ${TARGETARCH}-unknown-linux-musl",
    "ADD --checksum=sha256:00 https://example.invalid/x /x",
])
def test_buildkit_check_catches(line):
    assert buildkit_only("FROM scratch\n" + line + "\n"), line


def test_dockerfile_passes_the_revision():
    """REVISION reaches the binary (CLOCKWATCH_REVISION, build.rs) and the label."""
    build, runtime = dockerfile_stages()
    run = next(l for l in build["lines"] if l.startswith("RUN CLOCKWATCH_REVISION="))
    assert run.startswith('RUN CLOCKWATCH_REVISION="${REVISION}" cargo build')
    assert "ARG REVISION=unknown" in build["lines"] and "ARG REVISION=unknown" in runtime["lines"]
    assert "CLOCKWATCH_REVISION" in (REPO / "crates" / "clockwatch" / "build.rs").read_text()


def test_dockerfile_runtime_stage_builds_with_buildah():
    """The Dockerfile's runtime stage, verbatim, built by `buildah bud`, with
    the build stage replaced by what it produces (/clockwatch, mode 0555):
    no base image can be pulled here."""
    need_tool("buildah")
    if os.geteuid() != 0:
        skip("buildah with the vfs driver needs root here")
    text = (REPO / "Dockerfile").read_text()
    runtime = text[text.rindex("\nFROM scratch"):]
    with tempfile.TemporaryDirectory() as ctx:
        probe = static_probe(ctx)
        shutil.copy(probe, Path(ctx) / "clockwatch")
        os.chmod(Path(ctx) / "clockwatch", 0o555)
        (Path(ctx) / "Dockerfile").write_text("FROM scratch AS build\nCOPY clockwatch /clockwatch\n" + runtime)
        image = "localhost/clockwatch:dockerfile-test"
        bh = ["buildah", "--storage-driver", "vfs"]
        r = subprocess.run(bh + ["bud", "--isolation", "chroot", "--build-arg", "VERSION=9.9.9",
                                 "--build-arg", "REVISION=0123456789abcdef", "-t", image, ctx],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        try:
            cfg = json.loads(subprocess.run(bh + ["inspect", image], capture_output=True, text=True).stdout)["OCIv1"]
            assert cfg["config"]["User"] == "65534:65534" and cfg["config"]["Entrypoint"] == ["/clockwatch"]
            assert cfg["config"]["Labels"]["org.opencontainers.image.revision"] == "0123456789abcdef"
            assert cfg["config"]["Labels"]["org.opencontainers.image.version"] == "9.9.9"
            c = subprocess.run(bh + ["from", image], capture_output=True, text=True).stdout.strip()
            mnt = Path(subprocess.run(bh + ["mount", c], capture_output=True, text=True).stdout.strip())
            st = (mnt / "clockwatch").stat()
            assert sorted(p.name for p in mnt.iterdir()) == ["clockwatch"]
            assert (oct(st.st_mode & 0o777), st.st_uid, st.st_gid) == ("0o555", 0, 0)
            subprocess.run(bh + ["rm", c], capture_output=True)
        finally:
            subprocess.run(bh + ["rmi", "-f", image], capture_output=True)


def test_dockerignore_keeps_context_small():
    lines = (REPO / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] and "!crates/" in lines and "!Cargo.lock" in lines


@pytest.mark.parametrize("script", ["build.sh", "run-bwrap.sh", "cross-build.sh", "build-multiarch.sh"])
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
        skip("buildah with the vfs driver needs root here")
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


ARCH_BINARIES = {"amd64": REPO / "target" / "x86_64-unknown-linux-musl" / "release" / "clockwatch",
                 "arm64": REPO / "target" / "aarch64-unknown-linux-musl" / "release" / "clockwatch"}


def test_multiarch_manifest_list():
    """build-multiarch.sh: one image per architecture from the cross-built
    binaries, a manifest list naming linux/amd64 and linux/arm64, pushed with
    `buildah manifest push --all` to an OCI layout: what a registry would get."""
    need_tool("buildah")
    if os.geteuid() != 0:
        skip("buildah with the vfs driver needs root here")
    missing = [str(p.relative_to(REPO)) for p in ARCH_BINARIES.values() if not p.exists()]
    if missing:
        skip(f"missing {missing}: run deploy/image/cross-build.sh")
    image = "localhost/clockwatch:multiarch-test"
    bh = ["buildah", "--storage-driver", "vfs"]
    with tempfile.TemporaryDirectory() as d:
        layout = Path(d) / "oci"
        r = subprocess.run([str(IMAGE / "build-multiarch.sh"), image, "--push", f"oci:{layout}"],
                           capture_output=True, text=True, timeout=600, env={**os.environ, "REVISION": "feedc0de"})
        try:
            assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
            assert "linux/amd64" in r.stdout and "linux/arm64" in r.stdout
            index = json.loads((layout / "index.json").read_text())
            (top,) = index["manifests"]
            blob = lambda digest: json.loads((layout / "blobs" / "sha256" / digest.split(":")[1]).read_text())
            lst = blob(top["digest"])
            platforms = sorted((m["platform"]["os"], m["platform"]["architecture"]) for m in lst["manifests"])
            assert platforms == [("linux", "amd64"), ("linux", "arm64")]
            for m in lst["manifests"]:
                manifest = blob(m["digest"])
                config = blob(manifest["config"]["digest"])
                assert config["architecture"] == m["platform"]["architecture"] and config["os"] == "linux"
                assert config["config"]["User"] == "65534:65534"
                assert config["config"]["Labels"]["org.opencontainers.image.revision"] == "feedc0de"
                assert len(manifest["layers"]) == 1
        finally:
            subprocess.run(bh + ["manifest", "rm", image], capture_output=True)
            for arch in ARCH_BINARIES:
                subprocess.run(bh + ["rmi", "-f", f"{image}-{arch}"], capture_output=True)
