#!/bin/sh
# Checks the SAM template and builds the functions as SAM would deploy them.
#   tests/aws/check-template.sh            lint, validate, policy tests, sam build
#   SKIP_SAM_BUILD=1 tests/aws/check-template.sh   everything but the (release, arm64) build
# Needs: pip install cfn-lint aws-sam-cli cargo-lambda pytest pyyaml; rustup.
set -eu
cd "$(dirname "$0")/../.."
export SAM_CLI_TELEMETRY=0

echo "== cfn-lint"
cfn-lint infra/template.yaml

echo "== sam validate --lint"
sam validate --lint --template infra/template.yaml --region us-east-1

echo "== policy tests"
python3 -m pytest -q tests/aws/test_template.py

if [ "${SKIP_SAM_BUILD:-0}" != 1 ]; then
  echo "== sam build (release, arm64, cargo lambda)"
  # cargo lambda would add the target itself; do it first so a failure shows here.
  rustup target add aarch64-unknown-linux-gnu
  sam build --config-file samconfig.toml
  for f in PumpFunction Co2Function ArchiveFunction; do
    b=.aws-sam/build/$f/bootstrap
    test -x "$b" || { echo "missing $b" >&2; exit 1; }
    printf '%s bootstrap: %s bytes\n' "$f" "$(wc -c < "$b")"
  done
fi
echo "template checks passed"
