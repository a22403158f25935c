# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The arm64 binary of the multi-arch image, run under qemu-user.

deploy/image/cross-build.sh builds it (cargo-zigbuild); here it runs through
qemu-aarch64-static (Debian qemu-user-static), called directly, so no binfmt
registration is needed: `--version`, then `status` against a real chronyd
pair on loopback over UDP, compared with `chronyc -c` of the same daemon.
"""
import json
import re
import subprocess
import tempfile
import time

import pytest

from conftest import REPO, ChronydPair, free_udp_port, need_tool, skip

ARM64 = REPO / "target" / "aarch64-unknown-linux-musl" / "release" / "clockwatch"


def arm64_binary():
    if not ARM64.exists():
        skip(f"no {ARM64.relative_to(REPO)}: run deploy/image/cross-build.sh aarch64")
    return ARM64


def qemu(*args, timeout=30):
    return subprocess.run([need_tool("qemu-aarch64-static"), str(arm64_binary()), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_arm64_binary_is_static_aarch64():
    readelf = need_tool("readelf")
    header = subprocess.run([readelf, "-h", str(arm64_binary())], capture_output=True, text=True).stdout
    assert re.search(r"Machine:\s+AArch64", header)
    program = subprocess.run([readelf, "-l", str(arm64_binary())], capture_output=True, text=True).stdout
    assert "Requesting program interpreter" not in program, "not static: the image has no libc"


def test_version_under_qemu():
    version = re.search(r'^version = "(.*)"', (REPO / "Cargo.toml").read_text(), re.M).group(1)
    r = qemu("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"clockwatch {version}"


@pytest.fixture(scope="module")
def node():
    with tempfile.TemporaryDirectory(prefix="clockwatch-arm64-") as d:
        pair = ChronydPair(d)
        try:
            yield pair
        finally:
            pair.stop()


def test_status_against_real_chronyd_under_qemu(node):
    r = qemu("status", "--json", "--chrony.address", f"udp://127.0.0.1:{node.cmd_port}")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    ref = node.tracking()  # chronyc -c tracking of the same daemon
    assert doc["chrony_up"] is True
    assert doc["state"] == "synchronized", doc
    t = doc["tracking"]
    assert t["ref_id"].upper() == ref[0].upper()
    assert t["address"] == ref[1] == "127.0.0.1"
    assert t["stratum"] == int(ref[2]) == 4
    assert ref[13] == "Normal" and t["leap_status"].lower() == "normal"
    assert abs(t["root_delay"] - float(ref[10])) < 0.01
    sources = [line.split(",") for line in node.chronyc("sources").splitlines() if line]
    assert [s["address"] for s in doc["sources"]] == [s[2] for s in sources] == ["127.0.0.1"]
    assert 0 <= doc["bound_seconds"] < 0.1
    # The kernel's view through adjtimex works under qemu too.
    assert doc["kernel"] is not None and doc["kernel"]["maxerror_seconds"] >= 0


def test_status_against_a_dead_port_under_qemu():
    """A chronyd that does not answer: a clear answer within the timeout."""
    start = time.monotonic()
    r = qemu("status", "--json", "--chrony.timeout", "300ms", "--chrony.address",
             f"udp://127.0.0.1:{free_udp_port()}", timeout=20)
    assert time.monotonic() - start < 10
    doc = json.loads(r.stdout)
    assert doc["chrony_up"] is False and doc["state"] == "unknown", doc
    assert doc["chrony_error"]
