#!/usr/bin/env bash
# Fan-out benchmark (issue 17): N WebSocket subscribers on loopback against the chart's Mosquitto
# configuration and against the demo's embedded broker, readings published by the real pump;
# reports whether every subscriber got every reading, the fan-out latency p50/p99, the broker's
# peak RSS and the client's CPU time. The driver is scripts/bench_fanout.py (see its docstring
# for what is measured and how).
#
# Usage: scripts/bench-fanout.sh [--clients 1000,5000,10000] [--brokers mosquitto,demo] [--timeout S]
# Needs: mosquitto (apt), python3 with pyyaml, cargo; helm comes from scripts/install-helm.sh.
# Bounded: every wait has a timeout (default 300 s per run); everything listens on 127.0.0.1
# (Mosquitto's WebSocket listener on a free port of its own, see TOOLING.md).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# 10,000 subscribers: one socket each in the client, one in Mosquitto, three in the demo process
# (its WebSocket front's two and rumqttd's). Raise the limit as far as allowed (a container may
# cap the hard limit; the driver then skips the runs that cannot fit and says so).
want=65536
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  ulimit -Hn "$want" 2>/dev/null || want=$hard
fi
ulimit -n "$want"
echo "open files: $(ulimit -n)" >&2
helm=$("$repo/scripts/install-helm.sh")
cargo build --release --locked --bin ny-power --example fanout_client >&2
exec python3 scripts/bench_fanout.py --helm "$helm" "$@"
