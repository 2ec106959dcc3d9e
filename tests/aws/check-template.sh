#!/bin/sh
# Checks the SAM template and builds the functions as SAM would deploy them.
#   tests/aws/check-template.sh            lint, validate, policy tests, checkov, sam build
#   SKIP_SAM_BUILD=1 tests/aws/check-template.sh   everything but the (release, arm64) build
# Also checks that no Lambda crate compiles the self-hosted stack (cargo tree, as SAM resolves
# each crate on its own).
# Needs: pip install cfn-lint aws-sam-cli cargo-lambda pytest pyyaml; rustup; python3-venv
# (checkov is installed into its own virtualenv by tests/helm/install-checkov.sh).
set -eu
cd "$(dirname "$0")/../.."
export SAM_CLI_TELEMETRY=0

echo "== cfn-lint"
cfn-lint infra/template.yaml

echo "== sam validate --lint"
sam validate --lint --template infra/template.yaml --region us-east-1

echo "== Lambda crates: no self-hosted stack"
# Resolved per crate, as `sam build` (cargo lambda in the crate's directory) does: the core
# without its `self-hosted` feature, and no test fakes. tower-http is allowed only as reqwest's
# own dependency (its redirect/decompression layers), never the web server's.
forbidden='rumqttc rumqttd rusqlite axum clap indicatif'
bad=0
for manifest in functions/*/Cargo.toml; do
  pkg=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)
  tree=$(cargo tree --locked -e normal,features -p "$pkg" --prefix none)
  for crate in $forbidden; do
    if printf '%s\n' "$tree" | grep -q "^$crate v"; then
      echo "$pkg depends on $crate" >&2; bad=1
    fi
  done
  for feature in self-hosted fakes; do
    if printf '%s\n' "$tree" | grep -q "^ny-power feature \"$feature\""; then
      echo "$pkg enables ny-power feature $feature" >&2; bad=1
    fi
  done
  users=$(cargo tree --locked -e normal -p "$pkg" -i tower-http --prefix none --depth 1 2>/dev/null |
    tail -n +2 | cut -d' ' -f1 | sort -u | grep -vx reqwest || true)
  if [ -n "$users" ]; then
    echo "$pkg: tower-http used by $users (only reqwest may)" >&2; bad=1
  fi
done
[ "$bad" = 0 ] || exit 1
echo "no Lambda crate depends on: $forbidden (tower-http only through reqwest)"

echo "== policy tests (every ArchiveBackend)"
python3 -m pytest -q tests/aws/test_template.py

echo "== checkov (clean, reasoned skips only)"
CHECKOV=$(tests/helm/install-checkov.sh) python3 -m pytest -q tests/aws/test_checkov.py

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
