#!/usr/bin/env bash
# Runs the report's tests (crates/report: unit tests of the analysis, error
# paths against tiny local servers, and the end-to-end test against a real
# Prometheus (promtool-built history) with Chromium rendering the HTML), then
# those of the node's `clockwatch report`, which runs clockwatch-report.
#
#   scripts/test-report.sh            run the tests
#   scripts/test-report.sh --samples  also regenerate docs/samples/report.{md,html}
#
# Needs prometheus, promtool and chromium (Debian: apt-get install
# prometheus chromium); without them the end-to-end test prints SKIP.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--samples" ]]; then
  export CLOCKWATCH_UPDATE_SAMPLES=1
fi
# Both binaries first: report_exec runs the real clockwatch-report that
# cargo builds beside clockwatch.
cargo build -p clockwatch -p clockwatch-report
cargo test -p clockwatch-report -- --nocapture
cargo test -p clockwatch --lib report::
cargo test -p clockwatch --test report_exec --test report_counters_live
echo "HTML screenshot: target/test-output/report.png"
