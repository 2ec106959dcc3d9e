#!/usr/bin/env bash
# Two comparisons with pandas, in one run (benchmarks, not tests):
#
# 1. Parse + CO2 intensity over the February 2025 monthly zip (8246 readings): ny-power
#    (criterion, benches/parse.rs) against the same work in pandas (scripts/bench_parse_pandas.py).
# 2. Whole process, like for like: `ny-power inspect` (release binary) over the February 2025 zip
#    given twelve times (tests/fixtures/nyiso/20250201rtfuelmix_csv.zip as twelve arguments: every
#    file is unzipped and parsed; the rows combine into the month's 8246 readings) against pandas
#    reading the same twelve zips, computing the same three intensities and writing the same JSON
#    lines (`bench_parse_pandas.py --inspect`). Both write to a file; runs alternate; medians of
#    RUNS runs (default 7) after one warm-up each, wall and CPU time (user + system, all
#    threads: on a busy machine the wall time is mostly waiting). Also prints pandas' time
#    without the Python start and `import pandas`, and whether the two outputs are the same
#    bytes.
#
# Prints the medians and the ratios. Target: ny-power >= 20x faster in both.
#
# Usage: scripts/bench-parse.sh [--whole-only]   (from anywhere; needs cargo, python3 with pandas)
#        RUNS=15 scripts/bench-parse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-7}"

if [ "${1:-}" != "--whole-only" ]; then
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
fi

echo
echo "== whole process: ny-power inspect vs pandas, the Feb-2025 zip x 12, JSON lines to a file =="
cargo build --release --locked --bin ny-power
python3 - "$RUNS" <<'PY'
import os, statistics, subprocess, sys, tempfile, time

runs = int(sys.argv[1])
zips = ["tests/fixtures/nyiso/20250201rtfuelmix_csv.zip"] * 12
tmp = tempfile.mkdtemp(prefix="bench-parse-")
rust_out = os.path.join(tmp, "inspect.jsonl")
pandas_out = os.path.join(tmp, "pandas.jsonl")
rust_cmd = ["target/release/ny-power", "inspect", *zips]
pandas_cmd = [sys.executable, "scripts/bench_parse_pandas.py", "--inspect", *zips, "--out", pandas_out]


def timed(cmd, stdout):
    """Wall time, CPU time (user + system, all threads) and stderr of one run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    err = p.stderr.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({p.returncode}): {err}")
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000, err


rust, rust_cpu, pandas, pandas_cpu, work = [], [], [], [], []
for i in range(runs + 1):  # the first run of each warms the page cache and the .pyc files
    with open(rust_out, "wb") as f:
        t, c, _ = timed(rust_cmd, f)
    if i:
        rust.append(t)
        rust_cpu.append(c)
    t, c, err = timed(pandas_cmd, subprocess.DEVNULL)
    if i:
        pandas.append(t)
        pandas_cpu.append(c)
        work.append(float(err.split("pandas_work_ms=", 1)[1].split()[0]))

a = open(rust_out, "rb").read().splitlines()
b = open(pandas_out, "rb").read().splitlines()
same = sum(x == y for x, y in zip(a, b))
med = statistics.median
r, p, w, rc, pc = med(rust), med(pandas), med(work), med(rust_cpu), med(pandas_cpu)
print(f"ny-power inspect median: {r:9.1f} ms wall, {rc:8.1f} ms CPU  (whole process, {len(a)} lines)")
print(f"pandas           median: {p:9.1f} ms wall, {pc:8.1f} ms CPU  (whole process, {len(b)} lines)")
print(f"pandas work only median: {w:9.1f} ms wall  (without Python start and `import pandas`)")
print(f"outputs: {len(a)} vs {len(b)} lines, {same} byte-identical"
      + ("" if same == len(a) == len(b) else " (the rest differ in the last digits of an intensity:"
         " numpy's matrix product sums in another order)"))
print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
      " (wall times on a busy machine include waiting for a CPU; CPU times do not)")
for name, base, own in (
    ("whole process, wall", p, r),
    ("whole process, CPU", pc, rc),
    ("pandas work only vs inspect whole process, wall", w, r),
):
    ratio = base / own
    print(f"ratio ({name}): ny-power is {ratio:.1f}x faster than pandas (target >= 20x): "
          + ("MET" if ratio >= 20 else "NOT MET"))
PY
