#!/usr/bin/env bash
# The build commands of the ny-power image. infra/Dockerfile RUNs this script, and the tests run
# the very same script outside Docker (tests/helm/test_helm_image.py), so what the image contains is
# what was tested.
#
# Usage: infra/docker-build.sh {rust|web|all} OUT_DIR
#   rust  cargo build --release --locked --bin ny-power        -> OUT_DIR/bin/ny-power
#   web   cd web && npm ci && npm run build (if it has a build) -> OUT_DIR/web
# Environment: CARGO_TARGET_DIR (default <repo>/target); WEB_DIST, the build output directory
# relative to web/ (default dist) when web/package.json has a "build" script.
set -euo pipefail

usage() { echo "usage: infra/docker-build.sh {rust|web|all} OUT_DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
what=$1
out=$2
case "$what" in rust | web | all) ;; *) usage ;; esac
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

build_rust() {
  cd "$repo"
  cargo build --release --locked --bin ny-power
  install -D -m 0755 "${CARGO_TARGET_DIR:-$repo/target}/release/ny-power" "$out/bin/ny-power"
}

build_web() {
  cd "$repo/web"
  rm -rf "$out/web"
  if [ -f package.json ] && node -e 'process.exit(require("./package.json").scripts?.build ? 0 : 1)'; then
    npm ci --no-audit --no-fund
    npm run build
    dist=${WEB_DIST:-dist}
    [ -f "$dist/index.html" ] || { echo "error: web build left no $dist/index.html" >&2; exit 1; }
    mkdir -p "$out/web"
    cp -R "$dist/." "$out/web/"
  else
    # A dashboard without a build step: ship its static files as they are.
    [ -f index.html ] || { echo "error: web/index.html not found" >&2; exit 1; }
    mkdir -p "$out/web"
    tar -c --exclude=./node_modules --exclude=./package.json --exclude=./package-lock.json \
      --exclude=./test --exclude=./tests --exclude='*.test.js' --exclude='*.test.mjs' . \
      | tar -x -C "$out/web"
  fi
}

case "$what" in
  rust) build_rust ;;
  web) build_web ;;
  all) build_rust; build_web ;;
  *) usage ;;
esac
