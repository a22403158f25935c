#!/usr/bin/env python3
# Every crate in Cargo.lock (all targets, dev and build dependencies
# included) must be usable under a permissive licence: the project is
# Apache-2.0 OR MIT and takes no GPL-family dependency. A crate passes when
# its SPDX expression can be satisfied with the licences below alone
# ("MIT OR LGPL-2.1" passes through MIT; "GPL-3.0" or "MIT AND GPL-2.0"
# does not). A crate with only a licence file fails: read it, then decide.
# SPDX-License-Identifier: Apache-2.0 OR MIT
import json, re, subprocess, sys

PERMISSIVE = {
    "MIT", "MIT-0", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-2-Clause", "BSD-3-Clause",
    "ISC", "Zlib", "Unicode-3.0", "Unicode-DFS-2016", "Unlicense", "BSL-1.0", "CC0-1.0",
}


class Expression:
    """A tiny SPDX expression reader: OR, AND, WITH and parentheses; the
    old crates.io spelling "MIT/Apache-2.0" is read as OR."""

    def __init__(self, text):
        self.tokens = re.findall(r"\(|\)|[^\s()]+", text.replace("/", " OR "))
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise ValueError("expression ends too early")
        self.pos += 1
        return token

    def satisfiable(self):
        ok = self.disjunction()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r}")
        return ok

    def disjunction(self):
        return self.chain("OR", self.conjunction, any)

    def conjunction(self):
        return self.chain("AND", self.term, all)

    def chain(self, operator, operand, combine):
        """`operand (operator operand)*`, every operand read (to consume its
        tokens) before `combine` judges them."""
        results = [operand()]
        while self.peek() == operator:
            self.take()
            results.append(operand())
        return combine(results)

    def term(self):
        token = self.take()
        if token == "(":
            ok = self.disjunction()
            if self.take() != ")":
                raise ValueError("unbalanced parentheses")
            return ok
        if self.peek() == "WITH":
            self.take()
            token = f"{token} WITH {self.take()}"
        return token in PERMISSIVE


def self_test():
    """The reader itself, on expressions whose answer is known, so that a
    reader that passes everything cannot pass CI."""
    cases = {
        "MIT OR Apache-2.0": True,
        "MIT/Apache-2.0": True,
        "MIT OR Apache-2.0 OR LGPL-2.1-or-later": True,
        "(MIT OR Apache-2.0) AND Unicode-3.0": True,
        "Apache-2.0 WITH LLVM-exception OR GPL-2.0-only": True,
        "GPL-3.0-only": False,
        "MIT AND GPL-2.0-or-later": False,
        "(MIT OR GPL-2.0-only) AND LGPL-3.0-only": False,
        "GPL-2.0-only WITH Classpath-exception-2.0": False,
        "Apache-2.0 WITH Some-exception": False,
    }
    for text, expected in cases.items():
        if Expression(text).satisfiable() != expected:
            raise SystemExit(f"check-licenses: self-test: {text!r} should be {expected}")
    for broken in ["(MIT OR Apache-2.0", "MIT OR", "MIT Apache-2.0"]:
        try:
            Expression(broken).satisfiable()
        except ValueError:
            continue
        raise SystemExit(f"check-licenses: self-test: {broken!r} was read without an error")


def main():
    self_test()
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"check-licenses: cargo metadata failed:\n{out.stderr}")
    failures = []
    packages = json.loads(out.stdout)["packages"]
    for package in packages:
        name = f"{package['name']} {package['version']}"
        licence = package.get("license")
        if not licence:
            failures.append(f"{name}: no SPDX licence, only {package.get('license_file') or 'nothing'}")
            continue
        try:
            if not Expression(licence).satisfiable():
                failures.append(f"{name}: {licence}")
        except ValueError as e:
            failures.append(f"{name}: cannot read {licence!r} ({e})")
    if failures:
        print("check-licenses: crates without a permissive licence choice:", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        raise SystemExit(1)
    print(f"check-licenses: {len(packages)} crates, each usable under a permissive licence")


if __name__ == "__main__":
    main()
