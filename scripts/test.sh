#!/usr/bin/env bash
# Runs every test of ny-power: Rust (unit + integration against real Mosquitto, InfluxDB,
# moto, cargo lambda), the dashboard (Node unit tests + Playwright/Chromium end-to-end),
# the Helm chart and the SAM template checks. Needs the tools .ci/run installs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
failures=()
run() {
  local name=$1; shift
  step "$name"
  if "$@"; then echo "ok: $name"; else echo "FAILED: $name"; failures+=("$name"); fi
}

run "cargo fmt --check" cargo fmt --all -- --check
run "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
run "cargo test" cargo test --workspace --locked
[ -x web/test.sh ] && run "dashboard tests (node + chromium)" web/test.sh
[ -x tests/helm/run.sh ] && run "helm chart tests" tests/helm/run.sh
[ -x tests/aws/check-template.sh ] && run "SAM template checks" tests/aws/check-template.sh

echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "FAILED suites: ${failures[*]}"
  exit 1
fi
echo "all test suites passed"
