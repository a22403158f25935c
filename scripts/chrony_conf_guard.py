#!/usr/bin/env python3
"""Refuses chronyd configurations (and chronyc commands) that would make chronyd
send a packet off this machine. Tests, the benchmark and the cluster simulation
call it on every configuration they write, before chronyd starts; CI re-checks
every configuration they wrote at the end (--audit).

On the machines this project is built on, 192.0.2.0/24 is the real local
network, so a "documentation" address is not inert: the only sources a
generated configuration may name are

  * loopback IP literals (127.0.0.0/8, ::1), polled or not, or
  * any IP literal marked `offline` (chronyd never polls it until told to).

Host names are refused even when offline: chronyd looks them up, and the
lookup is a DNS query. Directives that reach out by other means (initstepslew,
broadcast, mailonchange) and directives that pull in other files (include,
confdir, sourcedir: the host's own /etc/chrony/sources.d, say) are refused.

  chrony_conf_guard.py [--origin NAME] FILE...   check files; copy them to
                                                 $CLOCKWATCH_CONF_AUDIT_DIR
  chrony_conf_guard.py --chronyc ARG...          check one chronyc command
  chrony_conf_guard.py --audit DIR [--require ORIGIN]...
                                                 re-check every file in DIR
  chrony_conf_guard.py --self-test               the guard's own known answers

Exit status 0: nothing leaves the machine; 1: violations (printed); 2: usage.
"""
# SPDX-License-Identifier: Apache-2.0 OR MIT
import ipaddress
import os
import shutil
import sys
import uuid

SOURCE_DIRECTIVES = {"server", "pool", "peer"}
# Each of these sends to an address given in the directive.
REACHING_DIRECTIVES = {
    "initstepslew": "sends NTP requests to its hosts at start",
    "broadcast": "sends NTP broadcasts",
    "mailonchange": "sends mail",
}
# Each of these reads configuration from elsewhere, which this guard cannot see.
INCLUDING_DIRECTIVES = {"include", "confdir", "sourcedir"}
COMMENT_STARTS = ("!", ";", "#", "%")
# chronyc commands that bring offline sources online.
CHRONYC_ONLINE = {"online", "onoffline"}


def is_loopback_literal(text):
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def is_ip_literal(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def source_violation(directive, words):
    """words: the source directive's arguments (address, then options)."""
    if not words:
        return f"{directive} without an address"
    address, options = words[0], [w.lower() for w in words[1:]]
    if is_loopback_literal(address):
        return None
    if not is_ip_literal(address):
        return (f"{directive} {address}: a host name is looked up by DNS, which leaves the "
                "machine (use a loopback IP literal, or an IP literal with `offline`)")
    if "offline" not in options:
        return (f"{directive} {address}: not loopback and not `offline`, so chronyd would poll it "
                "(use server 127.0.0.K port P with nothing on P, or add `offline`)")
    return None


def check_text(text):
    """Violations in a chronyd configuration, as (line number, message)."""
    violations = []
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split()
        if not words or words[0].startswith(COMMENT_STARTS):
            continue
        directive = words[0].lower()
        if directive in SOURCE_DIRECTIVES:
            why = source_violation(directive, words[1:])
        elif directive in REACHING_DIRECTIVES:
            why = f"{directive}: {REACHING_DIRECTIVES[directive]}"
        elif directive in INCLUDING_DIRECTIVES:
            why = f"{directive}: reads configuration this guard cannot check"
        else:
            why = None
        if why:
            violations.append((number, why))
    return violations


def check_chronyc(args):
    """Violations in one chronyc command line (its arguments after the options)."""
    words = [a for a in args if a]
    if not words:
        return []
    command = words[0].lower()
    if command == "add" and len(words) >= 2 and words[1].lower() in SOURCE_DIRECTIVES:
        why = source_violation(f"chronyc add {words[1]}", words[2:])
        return [why] if why else []
    if command in CHRONYC_ONLINE:
        return [f"chronyc {command}: brings offline sources online, and they would be polled"]
    return []


def audit_copy(path, origin):
    """Keeps a copy for the end-of-run audit, when CI asks for one."""
    audit_dir = os.environ.get("CLOCKWATCH_CONF_AUDIT_DIR")
    if not audit_dir:
        return
    os.makedirs(audit_dir, exist_ok=True)
    name = f"{origin}-{uuid.uuid4().hex[:12]}-{os.path.basename(path)}"
    shutil.copyfile(path, os.path.join(audit_dir, name))


def report(label, violations):
    for number, why in violations:
        where = f"{label}:{number}" if number else label
        print(f"chrony_conf_guard: {where}: {why}", file=sys.stderr)


def check_files(paths, origin):
    bad = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            print(f"chrony_conf_guard: cannot read {path}: {e}", file=sys.stderr)
            bad += 1
            continue
        violations = check_text(text)
        report(path, violations)
        bad += bool(violations)
        if not violations:
            audit_copy(path, origin)
    return bad


def audit(directory, required):
    """Re-checks every configuration copied during the run."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        print(f"chrony_conf_guard: cannot read the audit directory {directory}: {e}", file=sys.stderr)
        return 1
    per_origin = {}
    bad = 0
    for name in names:
        origin = name.split("-", 1)[0]
        per_origin[origin] = per_origin.get(origin, 0) + 1
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            violations = check_text(f.read())
        report(name, violations)
        bad += bool(violations)
    counts = ", ".join(f"{o}: {n}" for o, n in sorted(per_origin.items())) or "none"
    missing = [o for o in required if not per_origin.get(o)]
    if missing:
        # A guard that checked nothing proves nothing.
        print(f"chrony_conf_guard: no configuration from {', '.join(missing)} was checked "
              f"(checked: {counts}); is the guard still called there?", file=sys.stderr)
        return 1
    print(f"chrony_conf_guard: {len(names)} chronyd configurations re-checked ({counts}), "
          f"{bad} with violations")
    return 1 if bad else 0


def self_test():
    """Known answers: each rule refuses what it must and lets loopback through."""
    bad = {
        "server 192.0.2.1 iburst": "not loopback",
        "pool 2.debian.pool.ntp.org iburst": "host name",
        "peer 10.1.2.3": "not loopback",
        "server ntp.example.net offline": "host name",
        "SERVER 192.0.2.9": "not loopback",
        "server 2001:db8::1 iburst": "not loopback",
        "initstepslew 10 127.0.0.1": "initstepslew",
        "broadcast 64 127.255.255.255": "broadcast",
        "include /etc/chrony/conf.d/*.conf": "include",
        "sourcedir /etc/chrony/sources.d": "sourcedir",
        "server": "without an address",
    }
    good = [
        "server 127.0.0.1 port 12345 iburst minpoll -2 maxpoll -2",
        "server 127.0.0.42 port 9 iburst",
        "server ::1 port 9",
        "server 192.0.2.1 iburst offline",
        "peer 198.51.100.7 offline",
        "# server 192.0.2.1 iburst",
        "! pool pool.ntp.org",
        "local stratum 3\nallow 127.0.0.1\nbindcmdaddress /\ncmdport 0",
    ]
    failures = []
    for line, want in bad.items():
        got = check_text(line)
        if not got or want not in got[0][1]:
            failures.append(f"{line!r}: expected a violation about {want!r}, got {got}")
    for text in good:
        got = check_text(text)
        if got:
            failures.append(f"{text!r}: expected no violation, got {got}")
    if check_text("local stratum 3\nserver 192.0.2.1\n") != [(2, check_text("server 192.0.2.1")[0][1])]:
        failures.append("line numbers are not reported")
    chronyc = {
        ("add", "server", "192.0.2.7"): True,
        ("add", "server", "127.0.0.7", "port", "9"): False,
        ("add", "peer", "192.0.2.8", "offline"): False,
        ("online",): True,
        ("delete", "192.0.2.7"): False,
        ("tracking",): False,
    }
    for args, refused in chronyc.items():
        if bool(check_chronyc(list(args))) != refused:
            failures.append(f"chronyc {' '.join(args)}: expected refused={refused}")
    for f in failures:
        print(f"chrony_conf_guard self-test: {f}", file=sys.stderr)
    if not failures:
        print(f"chrony_conf_guard self-test: {len(bad) + len(good) + len(chronyc) + 1} known answers hold")
    return 1 if failures else 0


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv[0] == "--self-test":
        return self_test()
    if argv[0] == "--chronyc":
        violations = check_chronyc(argv[1:])
        report("chronyc " + " ".join(argv[1:]), [(0, v) for v in violations])
        return 1 if violations else 0
    if argv[0] == "--audit":
        if len(argv) < 2:
            print("chrony_conf_guard: --audit needs a directory", file=sys.stderr)
            return 2
        required, rest = [], argv[2:]
        while rest:
            if rest[0] != "--require" or len(rest) < 2:
                print(f"chrony_conf_guard: unexpected argument {rest[0]!r}", file=sys.stderr)
                return 2
            required.append(rest[1])
            rest = rest[2:]
        return audit(argv[1], required)
    origin = "unnamed"
    if argv[0] == "--origin":
        if len(argv) < 3:
            print("chrony_conf_guard: --origin needs a name and files", file=sys.stderr)
            return 2
        origin, argv = argv[1], argv[2:]
    return 1 if check_files(argv, origin) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
