#!/usr/bin/env python3
"""The declared MSRV (workspace rust-version in Cargo.toml) must be honest: no
crate in Cargo.lock may need a newer Rust. Our own code is held to it by
clippy's incompatible_msrv lint (on by default, an error under -D warnings).
Only one toolchain can be installed on the build machines, so this is the
check that can run here; `cargo +VERSION check` is the one to run where an
older toolchain exists.

Exit 0 when honest; 1 with the crates that need more; 2 when it cannot tell."""
# SPDX-License-Identifier: Apache-2.0 OR MIT
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def version(text):
    """(major, minor, patch): "1.88" and "1.88.0" are the same version."""
    parts = [int(x) for x in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))[:3]


def main():
    with open(os.path.join(ROOT, "Cargo.toml"), encoding="utf-8") as f:
        m = re.search(r'^rust-version\s*=\s*"([0-9.]+)"', f.read(), re.M)
    if not m:
        print("check-msrv: no rust-version in Cargo.toml", file=sys.stderr)
        return 2
    declared = m.group(1)
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked"],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"check-msrv: cargo metadata failed:\n{out.stderr}", file=sys.stderr)
        return 2
    packages = json.loads(out.stdout)["packages"]
    needs = sorted(((version(p["rust_version"]), p["name"], p["version"])
                    for p in packages if p.get("rust_version")), reverse=True)
    newer = [n for n in needs if n[0] > version(declared)]
    if newer:
        for v, name, ver in newer[:10]:
            print(f"check-msrv: {name} {ver} needs Rust {'.'.join(map(str, v))}, "
                  f"more than the declared {declared}", file=sys.stderr)
        if len(newer) > 10:
            print(f"check-msrv: … and {len(newer) - 10} more", file=sys.stderr)
        return 1
    top = needs[0] if needs else None
    print(f"check-msrv: rust-version {declared} covers all {len(packages)} crates"
          + (f" (the most demanding: {top[1]} {top[2]}, Rust {'.'.join(map(str, top[0]))})" if top else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
