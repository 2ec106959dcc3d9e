#!/usr/bin/env bash
# Installs what the test suite needs and is not part of Rust or Node: Mosquitto, InfluxDB 1.x,
# Chromium and unzip (Debian packages), the pinned Python tools of scripts/requirements-ci.txt,
# and the aarch64 Rust target the arm64 Lambda build uses. Idempotent: anything already present
# (same pinned version, for the Python tools) is skipped, so a second run installs nothing.
# scripts/test.sh runs this first; run it alone to prepare a machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# Debian package → a file it installs that the tests use.
packages=(
  "mosquitto:/usr/sbin/mosquitto"
  "mosquitto-clients:/usr/bin/mosquitto_pub"
  "influxdb:/usr/bin/influxd"
  "chromium:/usr/bin/chromium"
  "unzip:/usr/bin/unzip"
  "ca-certificates:/etc/ssl/certs/ca-certificates.crt"
)
missing=()
for entry in "${packages[@]}"; do
  [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: Debian packages present"
else
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo --preserve-env=DEBIAN_FRONTEND)
    else
      echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
      echo "setup: install them yourself with: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  # Wait for the dpkg lock rather than failing if something else is installing at boot.
  apt_get() { "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=600 "$@"; }
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # A package may start its service, which would hold the default ports; the tests start their
  # own instances. Stop only the instances these packages just started: their systemd units
  # when systemd runs, else by the PIDs in their pid files.
  if [ -d /run/systemd/system ]; then
    "${as_root[@]}" systemctl stop mosquitto influxdb 2>/dev/null || true
  fi
  for pidfile in /run/mosquitto/mosquitto.pid /var/run/mosquitto.pid /var/run/influxdb/influxd.pid; do
    if [ -s "$pidfile" ]; then "${as_root[@]}" kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
fi

# Python tools: install only when one pinned requirement is absent or at another version.
if python3 - scripts/requirements-ci.txt <<'PY'
import re, sys
from importlib.metadata import PackageNotFoundError, version
wrong = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)", line)
    if not m:
        wrong.append(line)
        continue
    try:
        if version(m[1]) != m[2]:
            wrong.append(line)
    except PackageNotFoundError:
        wrong.append(line)
sys.exit(1 if wrong else 0)
PY
then
  echo "setup: Python tools present"
else
  echo "setup: installing Python tools (scripts/requirements-ci.txt)"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r scripts/requirements-ci.txt
fi

# The arm64 Lambda build (sam build, tests/aws) needs the aarch64 standard library.
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "setup: Rust target aarch64-unknown-linux-gnu present"
else
  echo "setup: adding Rust target aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu >/dev/null
fi
