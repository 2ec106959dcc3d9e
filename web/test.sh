#!/bin/sh
# Every test of the web dashboard: pinned install, build, unit tests (the contract checked
# against `ny-power contract --json`), browser tests (against Mosquitto, and against the real
# `ny-power demo --replay`).
# Needs Node >= 20, mosquitto + mosquitto_pub, /usr/bin/chromium (see TOOLING.md) and the
# ny-power binary: NYPOWER_BIN, else `cargo build --bin ny-power` here (cheap when cargo
# test already built it). Override the tool paths with MOSQUITTO, MOSQUITTO_PUB, CHROMIUM.
# Exits non-zero on failure.
set -eu
cd "$(dirname "$0")"

for tool in "${MOSQUITTO:-/usr/sbin/mosquitto}" "${MOSQUITTO_PUB:-mosquitto_pub}" "${CHROMIUM:-/usr/bin/chromium}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "web/test.sh: $tool not found (apt-get install -y mosquitto mosquitto-clients chromium)" >&2
    exit 1
  fi
done

if [ -z "${NYPOWER_BIN:-}" ]; then
  if ! command -v cargo >/dev/null 2>&1; then
    echo "web/test.sh: cargo not found: install Rust or set NYPOWER_BIN to a built ny-power" >&2
    exit 1
  fi
  (cd .. && cargo build --bin ny-power)
  NYPOWER_BIN="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}/debug/ny-power"
fi
if [ ! -x "$NYPOWER_BIN" ]; then
  echo "web/test.sh: NYPOWER_BIN=$NYPOWER_BIN is not an executable" >&2
  exit 1
fi
export NYPOWER_BIN

# The stream's own description of the contract (topics, retained flags, QoS, example payloads
# the pump and calculator publish), which test/contract-stream.test.js checks the page against.
mkdir -p test/generated
env -u TOPIC_ROOT "$NYPOWER_BIN" contract --json > test/generated/contract.json
env -u TOPIC_ROOT "$NYPOWER_BIN" contract --json --topic-root test-42/ny > test/generated/contract.test-42.json

npm ci --no-audit --no-fund
npm run build
node --test test/
node --test --test-concurrency=1 e2e/*.e2e.mjs
