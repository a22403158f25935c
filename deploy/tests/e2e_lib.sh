# Shared helpers for the end-to-end scripts (sourced).
# SPDX-License-Identifier: Apache-2.0 OR MIT
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# find_binary [PATH]: prints the clockwatch binary to test, or returns 1.
find_binary() {
    local c
    for c in "${1:-}" "${CLOCKWATCH_BIN:-}" \
             "$REPO/target/x86_64-unknown-linux-musl/release/clockwatch" \
             "$REPO/target/release/clockwatch"; do
        if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
    done
    return 1
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL SECONDS
wait_http() {
    local i
    for ((i = 0; i < $2 * 5; i++)); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "timed out waiting for $1" >&2
    return 1
}

PASS=0 FAIL=0
check() {  # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then PASS=$((PASS + 1)); echo "ok   $what"; else FAIL=$((FAIL + 1)); echo "FAIL $what"; fi
}
