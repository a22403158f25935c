#!/usr/bin/env bash
# Tests of the deployment assets (deploy/, Dockerfile): Helm chart, plain
# manifests, Prometheus rules, Grafana dashboard, Azure files, systemd unit.
# Non-interactive; exits non-zero on failure; the last line reads
#   deploy: N passed, M failed
# As root it installs what it needs (Debian's prometheus, PyPI packages);
# otherwise it says loudly what is missing, and the tests needing it SKIP.
# SPDX-License-Identifier: Apache-2.0 OR MIT
set -u
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
PIP_PACKAGES=(pytest pytest-xdist pyyaml jsonschema helm-python-sdk kubernetes-validate)
declare -A MODULE_OF=([pytest]=pytest [pytest-xdist]=xdist [pyyaml]=yaml [jsonschema]=jsonschema
                      [helm-python-sdk]=helm_python [kubernetes-validate]=kubernetes_validate)
is_root() { [ "$(id -u)" = 0 ]; }
# Installing needs the network: never inside the isolated test namespace
# (scripts/isolated); scripts/test.sh runs `--prepare` before it.
may_install() { is_root && [ "${CLOCKWATCH_ISOLATED:-}" != 1 ]; }
PREPARE_ONLY=0
if [ "${1:-}" = --prepare ]; then PREPARE_ONLY=1; shift; fi
loud() { printf '\n!!! %s\n\n' "$*" >&2; }

if ! command -v "$PY" >/dev/null; then
    loud "MISSING: $PY; cannot run the deployment tests"
    echo "deploy: 0 passed, 1 failed"
    exit 1
fi

# Debian packages: prometheus (prometheus, promtool), prometheus-alertmanager
# (amtool), docker-registry (a local OCI registry for the guide's push
# commands), qemu-user-static (the arm64 binary), buildah (images).
declare -A TOOL_OF=([prometheus]=promtool [prometheus-alertmanager]=amtool [docker-registry]=docker-registry
                    [qemu-user-static]=qemu-aarch64-static [buildah]=buildah)
apt_missing=()
for pkg in "${!TOOL_OF[@]}"; do
    command -v "${TOOL_OF[$pkg]}" >/dev/null || apt_missing+=("$pkg")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
    if may_install && command -v apt-get >/dev/null; then
        echo "installing Debian packages: ${apt_missing[*]}"
        (apt-get install -y -q --no-install-recommends "${apt_missing[@]}" >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 &&
              apt-get install -y -q --no-install-recommends "${apt_missing[@]}" >/dev/null 2>&1; }) ||
            loud "could not install Debian packages ${apt_missing[*]}"
    fi
    for pkg in "${apt_missing[@]}"; do
        command -v "${TOOL_OF[$pkg]}" >/dev/null ||
            loud "SKIP: ${TOOL_OF[$pkg]} missing (apt-get install $pkg): tests needing it will be skipped"
    done
fi

# PyPI packages.
missing=()
for pkg in "${PIP_PACKAGES[@]}"; do
    "$PY" -c "import ${MODULE_OF[$pkg]}" 2>/dev/null || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if may_install; then
        echo "installing from PyPI: ${missing[*]}"
        "$PY" -m pip install -q --disable-pip-version-check "${missing[@]}" ||
            loud "pip install ${missing[*]} failed"
    else
        loud "SKIP: python packages missing (pip install ${missing[*]}): tests needing them will be skipped"
    fi
fi
if [ "$PREPARE_ONLY" = 1 ]; then
    exit 0
fi
if ! "$PY" -c "import pytest, yaml" 2>/dev/null; then
    loud "MISSING: pytest and pyyaml are required to run anything"
    echo "deploy: 0 passed, 1 failed"
    exit 1
fi

counts=$(mktemp)
trap 'rm -f "$counts"' EXIT
# Several test files at once (pytest-xdist; DEPLOY_JOBS, default 3): most
# of the time is helm, promtool, buildah and qemu processes. A file's tests
# stay on one worker (--dist loadfile), as they share fixtures.
parallel=()
if "$PY" -c "import xdist" 2>/dev/null; then
    parallel=(-n "${DEPLOY_JOBS:-3}" --dist loadfile)
else
    loud "pytest-xdist missing (pip install pytest-xdist): the deployment tests run one at a time"
fi
DEPLOY_COUNTS_FILE="$counts" "$PY" -m pytest -q -rs -p no:cacheprovider "${parallel[@]}" deploy/tests "$@"
rc=$?

"$PY" - "$counts" "$rc" <<'PYEOF'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    c = json.load(open(path))
except Exception:
    c = {"passed": 0, "failed": 0, "skipped": 0}
failed = c["failed"] or (1 if rc not in (0,) else 0)
if c["skipped"]:
    print(f"!!! {c['skipped']} deployment test(s) SKIPPED: see the SKIP lines above")
print(f"deploy: {c['passed']} passed, {failed} failed")
PYEOF
exit $rc
