# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Readiness as the chart defines it, against the real binary: a clockwatch
whose chronyd does not answer is doing its job (chrony_up 0), so the chart's
readiness probe must pass; only a clockwatch that does not serve is unready.
docs/deployment.md, "Readiness and rollouts"."""
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import REPO, by_kind, free_port, free_udp_port, mode_values, render, skip

BINARIES = [REPO / "target" / "x86_64-unknown-linux-musl" / "release" / "clockwatch",
            REPO / "target" / "release" / "clockwatch"]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.parametrize("mode", ["udp", "socket"])
def test_chart_readiness_passes_while_chronyd_is_down(mode, tmp_path):
    binary = next((b for b in BINARIES if b.exists()), None)
    if binary is None:
        skip("no clockwatch binary built yet (deploy/image/cross-build.sh x86_64)")
    (ds,) = by_kind(render(mode_values(mode)), "DaemonSet")
    c = ds["spec"]["template"]["spec"]["containers"][0]
    ready, live = c["readinessProbe"]["httpGet"]["path"], c["livenessProbe"]["httpGet"]["path"]
    port = free_port()
    # chronyd "down": nothing listens on the port, or no socket at the path.
    address = (f"udp://127.0.0.1:{free_udp_port()}" if mode == "udp"
               else f"unix://{tmp_path}/chronyd.sock")
    proc = subprocess.Popen([str(binary), f"--web.listen-address=127.0.0.1:{port}", f"--chrony.address={address}",
                             "--chrony.timeout=200ms"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while True:
            try:
                status, _ = get(f"http://127.0.0.1:{port}{live}")
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError("clockwatch did not start")
                time.sleep(0.1)
        assert status == 200
        status, metrics = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "\nchrony_up 0\n" in "\n" + metrics
        # What the kubelet asks: ready, so chronyd's state holds up no rollout.
        assert get(f"http://127.0.0.1:{port}{ready}")[0] == 200
        # /readyz tells chronyd's state, which is why the chart does not probe it.
        assert get(f"http://127.0.0.1:{port}/readyz")[0] == 503
    finally:
        proc.terminate()
        proc.wait(10)
