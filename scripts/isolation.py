"""Makes a Python entry point (the benchmark, the cluster simulation) run in a
network namespace with only loopback, by re-executing it under
scripts/isolated unless it already runs there. Nothing it starts can then send
a packet off this machine."""
# SPDX-License-Identifier: Apache-2.0 OR MIT
import os
import sys

ISOLATED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "isolated")


def ensure_isolated():
    """Returns when isolated; otherwise replaces this process with itself
    under scripts/isolated (which checks the namespace and says so)."""
    if os.environ.get("CLOCKWATCH_ISOLATED") == "1":
        return
    sys.stdout.flush()
    os.execv(ISOLATED, [ISOLATED, sys.executable, *sys.argv])
