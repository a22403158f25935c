# SPDX-License-Identifier: Apache-2.0 OR MIT
"""deploy/systemd: the unit verifies and is well sandboxed."""
import configparser
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import DEPLOY, need_tool

UNIT = DEPLOY / "systemd" / "clockwatch.service"
DROPIN = DEPLOY / "systemd" / "socket-mode.conf"


def service_section(path):
    settings = {}
    section = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        k, _, v = line.partition("=")
        settings.setdefault((section, k), []).append(v)
    return settings


def test_sandboxing_settings():
    s = service_section(UNIT)
    want = {"DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
            "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "PrivateDevices": "yes",
            "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "SystemCallArchitectures": "native"}
    for k, v in want.items():
        assert s[("Service", k)] == [v], k
    (filt,) = s[("Service", "SystemCallFilter")]
    assert filt.split()[0] == "@system-service"
    assert {"adjtimex", "clock_adjtime"} <= set(filt.split()), "clockwatch reads the clock with adjtimex"
    assert ("Service", "ProtectClock") not in s, "ProtectClock forbids the read-only adjtimex"
    assert "--chrony.address=udp://127.0.0.1:323" in s[("Service", "ExecStart")][0]


def test_socket_mode_dropin():
    s = service_section(DROPIN)
    assert s[("Service", "User")] == ["_chrony"] and s[("Service", "DynamicUser")] == ["no"]
    assert s[("Service", "ExecStart")][0] == ""
    assert "--chrony.address=unix:///run/chrony/chronyd.sock" in s[("Service", "ExecStart")][1]


def verify_copy(tmp, unit_text, dropin=None):
    unit = Path(tmp) / "clockwatch.service"
    # verify insists that the binary exists: stand in an existing one.
    unit.write_text(unit_text.replace("/usr/local/bin/clockwatch", shutil.which("true")))
    if dropin:
        d = Path(tmp) / "clockwatch.service.d"
        d.mkdir()
        (d / "socket-mode.conf").write_text(dropin.replace("/usr/local/bin/clockwatch", shutil.which("true")))
    return unit


def test_systemd_analyze_verify():
    tool = need_tool("systemd-analyze")
    with tempfile.TemporaryDirectory() as tmp:
        unit = verify_copy(tmp, UNIT.read_text())
        r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_systemd_analyze_security_exposure():
    tool = need_tool("systemd-analyze")
    with tempfile.TemporaryDirectory() as tmp:
        unit = verify_copy(tmp, UNIT.read_text())
        r = subprocess.run([tool, "security", "--offline=true", str(unit)], capture_output=True, text=True)
        if "--offline" in r.stderr and r.returncode != 0:
            pytest.skip(f"systemd-analyze security --offline is not supported here: {r.stderr.strip()[:200]}")
        m = re.search(r"Overall exposure level for clockwatch.service: ([0-9.]+)", r.stdout)
        assert m, r.stdout[-500:] + r.stderr
        assert float(m.group(1)) <= 2.5, r.stdout[-400:]
