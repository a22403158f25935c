#!/usr/bin/env python3
"""A node's own scraper for scripts/cluster_sim.py --topology node-local.

Stands in for what Azure's node-level agent (ama-metrics-node) does to the
samples it remote-writes: each sample is stamped with the clock of the node
that scraped it. It scrapes its node's clockwatch when asked and serves the
exposition with every sample stamped (ms) with its own clock read just
before the scrape, so the central Prometheus (which honours timestamps)
stores what a node-local scraper would send. It runs under the same
libfaketime shift as its node: a Python process reads the clock through
libc, which libfaketime intercepts (Prometheus in agent mode cannot be used
for this: Go reads the clock through the vDSO, and libfaketime does not
shift it). Loopback only. Python 3 stdlib.

Usage: sim_node_agent.py LISTEN_PORT TARGET_URL
SPDX-License-Identifier: Apache-2.0 OR MIT
"""
import http.server
import sys
import time
import urllib.request


def stamp(body, ms):
    out = []
    for line in body.splitlines():
        if line and not line.startswith("#"):
            line = f"{line} {ms}"
        out.append(line)
    return "\n".join(out) + "\n"


def main():
    port, target = int(sys.argv[1]), sys.argv[2]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ms = int(time.time() * 1000)
            try:
                with urllib.request.urlopen(target, timeout=5) as r:
                    body = r.read().decode()
            except OSError as e:
                self.send_error(502, f"scrape of {target} failed: {e}")
                return
            data = stamp(body, ms).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
