#!/usr/bin/env bash
# Parse + CO2 intensity over the February 2025 monthly zip (8246 readings): ny-power (criterion,
# benches/parse.rs) against the same work in pandas (scripts/bench_parse_pandas.py), in one run.
# Prints both medians and the ratio. Target: ny-power ≥ 20× faster.
#
# Usage: scripts/bench-parse.sh            (from anywhere; needs cargo, python3 with pandas)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== ny-power (criterion, release) =="
cargo bench --bench parse -- --noplot feb2025/parse_intensity

echo "== pandas $(python3 -c 'import pandas; print(pandas.__version__)') =="
pandas_line=$(python3 scripts/bench_parse_pandas.py)
echo "$pandas_line"

estimates="target/criterion/feb2025/parse_intensity/new/estimates.json"
python3 - "$estimates" "$pandas_line" <<'PY'
import json, sys
rust_ms = json.load(open(sys.argv[1]))["median"]["point_estimate"] / 1e6
pandas_ms = float(sys.argv[2].split("=", 1)[1])
ratio = pandas_ms / rust_ms
print()
print(f"ny-power median: {rust_ms:9.3f} ms  (unzip + parse + 3 intensities, 8246 readings)")
print(f"pandas   median: {pandas_ms:9.3f} ms  (same work)")
print(f"ratio: ny-power is {ratio:.1f}x faster than pandas (target >= 20x): "
      + ("MET" if ratio >= 20 else "NOT MET"))
PY
