#!/bin/sh
# Every test of the web dashboard: pinned install, build, unit tests, browser tests.
# Needs Node >= 20, mosquitto + mosquitto_pub and /usr/bin/chromium (see TOOLING.md);
# override the paths with MOSQUITTO, MOSQUITTO_PUB, CHROMIUM. Exits non-zero on failure.
set -eu
cd "$(dirname "$0")"

for tool in "${MOSQUITTO:-/usr/sbin/mosquitto}" "${MOSQUITTO_PUB:-mosquitto_pub}" "${CHROMIUM:-/usr/bin/chromium}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "web/test.sh: $tool not found (apt-get install -y mosquitto mosquitto-clients chromium)" >&2
    exit 1
  fi
done

npm ci --no-audit --no-fund
npm run build
node --test test/
node --test --test-concurrency=1 e2e/*.e2e.mjs
