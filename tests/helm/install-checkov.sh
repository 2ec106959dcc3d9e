#!/usr/bin/env bash
# Install checkov, pinned by tests/helm/requirements-checkov.txt, into its own virtualenv made
# from the system python3 (checkov pins boto3/botocore, networkx and packaging to versions that
# conflict with scripts/requirements-ci.txt; see the requirements file). Only PyPI is needed.
#
# Usage: tests/helm/install-checkov.sh [DEST_DIR]      (default: <repo>/.tools/checkov)
# Prints the path of the checkov executable on stdout. Idempotent: a virtualenv that already
# has the pinned checkov is reused.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dest=${1:-"$repo/.tools/checkov"}
reqs="$here/requirements-checkov.txt"
want=$(sed -n 's/^checkov==//p' "$reqs")
bin="$dest/bin/checkov"
[ -n "$want" ] || { echo "error: no checkov== pin in $reqs" >&2; exit 1; }

if [ -x "$bin" ] && [ "$("$dest/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null)" = "$want" ]; then
  echo "$bin"
  exit 0
fi

echo "installing checkov $want into $dest" >&2
rm -rf "$dest"
python3 -m venv "$dest" || {
  echo "error: python3 -m venv failed (on a Debian python3: apt-get install python3-venv)" >&2
  exit 1
}
"$dest/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$reqs" >&2
"$bin" --version >&2
echo "$bin"
