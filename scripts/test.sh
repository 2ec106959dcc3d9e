#!/usr/bin/env bash
# Runs every test of ny-power: Rust (unit + integration against real Mosquitto, InfluxDB,
# moto, cargo lambda), the dashboard (Node unit tests + Playwright/Chromium end-to-end),
# the Helm chart and the SAM template checks. First installs what of that is missing
# (scripts/setup-test-deps.sh: Debian packages, pinned Python tools, a Rust target; skipped when
# present). Ends with one line `tests: N passed, N failed` summed over every runner.
set -euo pipefail
cd "$(dirname "$0")/.."

printf '==> setup\n'
scripts/setup-test-deps.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failures=()
run() {
  local name=$1; shift
  printf '\n==> %s\n' "$name"
  if "$@" 2>&1 | tee -a "$log"; then echo "ok: $name"; else echo "FAILED: $name"; failures+=("$name"); fi
}

run "cargo fmt --check" cargo fmt --all -- --check
run "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
run "cargo test" cargo test --workspace --locked --no-fail-fast
run "dashboard tests (node + chromium)" web/test.sh
run "helm chart tests" tests/helm/run.sh
run "SAM template checks" tests/aws/check-template.sh

# Sum what the runners reported: cargo (`test result: ok. N passed; M failed`),
# node (`# pass N` / `# fail N`), pytest (`N passed`, `N failed`).
read -r passed failed < <(python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
p = f = 0
for m in re.finditer(r"test result: \w+\. (\d+) passed; (\d+) failed", text):
    p += int(m[1]); f += int(m[2])
for m in re.finditer(r"^# pass (\d+)$", text, re.M): p += int(m[1])
for m in re.finditer(r"^# fail (\d+)$", text, re.M): f += int(m[1])
for m in re.finditer(r"^(?:=+ )?((?:\d+ \w+(?:, )?)+) in [\d.]+s", text, re.M):
    for n, kind in re.findall(r"(\d+) (passed|failed)", m[1]):
        if kind == "passed": p += int(n)
        else: f += int(n)
print(p, f)
PY
)
echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "FAILED suites: ${failures[*]}"
  [ "$failed" -gt 0 ] || failed=${#failures[@]}
fi
echo "tests: $passed passed, $failed failed"
[ ${#failures[@]} -eq 0 ]
