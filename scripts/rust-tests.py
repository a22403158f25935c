#!/usr/bin/env python3
"""Runs the workspace's Rust test binaries, several at a time.

    scripts/rust-tests.py [--jobs N] [--list]

`cargo test` runs one test binary after another, and most of their time is
spent waiting: for chronyd to synchronise, ptp4l to settle, Prometheus to
scrape. This builds every test binary with `cargo test --no-run`, then runs
N binaries at once (default 3), longest first by the durations of the
previous run (target/rust-test-times.json), each in its package's directory
as cargo would. Inside a binary the tests keep cargo's own threads, so what
a binary shares (one chronyd pair, an in-process lock) still works.

Binaries that move the host's clock run alone (ALONE) or never beside
the ones that read the kernel's clock state (APART): a test there must not
see another binary move it. A binary's output is printed when it ends
(whole if it failed, its result lines and every SKIP otherwise); one that
runs past --timeout is killed and fails, and so is every one still running
when the runner is interrupted. Doc tests follow with `cargo test --doc`.

Why not cargo-nextest: it runs every test in a process of its own, which
would start a chronyd pair per test instead of per binary and break the
in-process lock the clock-steering tests take.
"""
# SPDX-License-Identifier: Apache-2.0 OR MIT

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMES = ROOT / "target" / "rust-test-times.json"

# Test binaries that move the host's clock, alone, before all others: doctor
# runs a chronyd without -x, and steps steps the clock by 1 ms and back (any
# clockwatch elsewhere would count that step, any chronyd would measure it).
ALONE = ["clockwatch::doctor", "clockwatch::steps"]
# Pairs never run at the same time: timesyncd runs the real
# systemd-timesyncd, which slews the clock by microseconds and sets the
# kernel's sync flags and maximum error; exporter compares the kernel's
# state word as clockwatch and a second reader see it. timesyncd also
# checks detection with the default addresses (no chronyd may answer on
# 127.0.0.1:323), where chrony_client's `auto` test runs one.
APART = [("clockwatch::timesyncd", "clockwatch::exporter"),
         ("clockwatch::timesyncd", "clockwatch::chrony_client")]


# The longest binaries (about 120, 72, 40 and 38 s on 2 cores), for a first
# run without target/rust-test-times.json.
LONG = ["clockwatch::timesyncd", "clockwatch::ptp", "clockwatch::report_counters_live", "clockwatch::probe"]


def apart(a, b):
    return (a, b) in APART or (b, a) in APART


def build():
    """Builds every test binary; returns [(name, executable, package
    directory, package name)]."""
    out = subprocess.run(
        ["cargo", "test", "--workspace", "--no-run", "--message-format=json-render-diagnostics"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    if out.returncode != 0:
        sys.exit(f"rust-tests: the build failed (cargo exit {out.returncode})")
    metadata = subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    if metadata.returncode != 0:
        sys.exit(f"rust-tests: cargo metadata failed (exit {metadata.returncode})")
    name_of = {p["manifest_path"]: p["name"] for p in json.loads(metadata.stdout)["packages"]}
    binaries = []
    for line in out.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
            continue
        if not msg.get("profile", {}).get("test"):
            continue
        manifest = Path(msg["manifest_path"])
        package_name = name_of.get(msg["manifest_path"], manifest.parent.name)
        target = msg["target"]
        kind = target["kind"][0]
        name = f"{package_name}::{target['name']}" if kind == "test" else f"{package_name}::{kind}:{target['name']}"
        binaries.append((name, msg["executable"], str(manifest.parent), package_name))
    if not binaries:
        sys.exit("rust-tests: cargo built no test binary")
    return binaries


class Run:
    """One test binary running, its output going to a file."""

    def __init__(self, binary):
        self.name, executable, cwd, package_name = binary
        env = dict(os.environ, CARGO_MANIFEST_DIR=cwd, CARGO_PKG_NAME=package_name)
        self.log = tempfile.TemporaryFile(mode="w+")
        self.started = time.monotonic()
        # --nocapture: a test that skips says so on stderr, and libtest
        # would hide that behind "ok".
        self.proc = subprocess.Popen([executable, "--nocapture"], cwd=cwd, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self):
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def poll(self, timeout):
        """None while it runs; then (code, seconds, why, output)."""
        took = time.monotonic() - self.started
        code = self.proc.poll()
        why = ""
        if code is None:
            if took < timeout:
                return None
            self.kill()
            code, why = -1, f"killed after {timeout} s"
        elif code != 0:
            why = f"exit {code}"
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return code, took, why, text


def report(name, code, took, why, text):
    """Prints one binary's end; returns its SKIP lines."""
    skips = [line.strip() for line in text.splitlines() if "*** SKIP" in line]
    print(f"== {name}: {'ok' if code == 0 else f'FAILED ({why})'} in {took:.1f} s", flush=True)
    if code != 0:
        print(text, flush=True)
    else:
        for line in text.splitlines():
            if line.startswith("test result:"):
                print(f"   {line}", flush=True)
    for line in skips:
        print(f"   {line}", flush=True)
    return skips


def run_all(binaries, jobs, timeout):
    """Runs ALONE one by one, then the rest `jobs` at once, longest first,
    never two of a pair in APART together. Returns {name: (code, s, why, skips)}."""
    results = {}

    def finish(run, outcome):
        code, took, why, text = outcome
        results[run.name] = (code, took, why, report(run.name, code, took, why, text))

    pending = [b for b in binaries if b[0] not in ALONE]
    for name in ALONE:
        run = Run(next(b for b in binaries if b[0] == name))
        try:
            while (outcome := run.poll(timeout)) is None:
                time.sleep(0.05)
        except BaseException:
            run.kill()
            raise
        finish(run, outcome)
    running = []
    try:
        while pending or running:
            for b in list(pending):
                if len(running) >= jobs:
                    break
                if not any(apart(b[0], r.name) for r in running):
                    pending.remove(b)
                    running.append(Run(b))
            time.sleep(0.05)
            for run in list(running):
                if (outcome := run.poll(timeout)) is not None:
                    running.remove(run)
                    finish(run, outcome)
    finally:
        # Interrupted (Ctrl-C, SIGTERM): each binary is in a session of its
        # own, so nothing else would stop it and its daemons.
        for run in running:
            run.kill()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=None,
                        help="test binaries at once (default 3, or CLOCKWATCH_TEST_JOBS)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds one binary may run (default 900)")
    parser.add_argument("--list", action="store_true", help="print the binaries in their order and stop")
    args = parser.parse_args()
    if args.jobs is None:
        jobs = os.environ.get("CLOCKWATCH_TEST_JOBS", "3")
        if not jobs.isdigit():
            parser.error(f"CLOCKWATCH_TEST_JOBS={jobs!r}: a whole number of test binaries at once, e.g. 3")
        args.jobs = int(jobs)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    # SIGTERM (a CI timeout) ends the run as Ctrl-C does, through the
    # cleanup that stops the binaries still running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("rust-tests: terminated"))

    binaries = build()
    try:
        previous = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        previous = {}
    # Without the last run's times (a fresh checkout), the ones known to be
    # long go first; a binary new since the last run goes first too: it
    # may be long.
    if not previous:
        previous = {name: 1000.0 - i for i, name in enumerate(LONG)}
        default = 0.0
    else:
        default = 1e9
    binaries.sort(key=lambda b: -previous.get(b[0], default))
    named = set(ALONE) | {n for pair in APART for n in pair}
    missing = named - {b[0] for b in binaries}
    if missing:
        sys.exit(f"rust-tests: no test binary named {sorted(missing)} (ALONE or APART is out of date)")
    if args.list:
        for name in ALONE:
            print(f"alone     {name}")
        for b in binaries:
            if b[0] not in ALONE:
                print(f"together  {b[0]}")
        return 0

    started = time.monotonic()
    results = run_all(binaries, args.jobs, args.timeout)
    binaries_took = time.monotonic() - started

    print("== doc tests (cargo test --workspace --doc)", flush=True)
    doc = subprocess.run(["cargo", "test", "--workspace", "--doc", "-q"], cwd=ROOT)

    TIMES.parent.mkdir(exist_ok=True)
    TIMES.write_text(json.dumps({n: round(r[1], 1) for n, r in results.items()}, indent=1, sort_keys=True))
    print(f"\n== test binaries, slowest first ({len(results)} in {binaries_took:.0f} s, {args.jobs} at once)")
    for name, (code, took, why, _) in sorted(results.items(), key=lambda r: -r[1][1]):
        print(f"{took:7.1f} s  {name}{'' if code == 0 else '  FAILED: ' + why}")
    skipped = [s for r in results.values() for s in r[3]]
    if skipped:
        print(f"\n!!! {len(skipped)} test(s) SKIPPED, not passed:", file=sys.stderr)
        for line in skipped:
            print(f"    {line}", file=sys.stderr)
    failed = [n for n, r in results.items() if r[0] != 0]
    if doc.returncode != 0:
        failed.append("doc tests")
    if failed:
        print(f"\n!!! failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
