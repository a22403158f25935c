# SPDX-License-Identifier: Apache-2.0 OR MIT
"""End-to-end scripts against the real clockwatch binary, once it is built."""
import subprocess

import pytest

from conftest import DEPLOY

SCRIPTS = ["e2e_prometheus.sh", "e2e_image.sh"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_e2e(script):
    r = subprocess.run(["bash", str(DEPLOY / "tests" / script)], capture_output=True, text=True, timeout=300)
    if r.returncode == 77:
        pytest.skip(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "skipped")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
