#!/usr/bin/env python3
"""The pandas baseline for `benches/parse.rs`: the same work on the same file.

Unzip the February 2025 monthly zip, read each daily CSV, convert (time stamp, zone) to UTC,
pivot to one row per reading with the seven fuels (the later row of a duplicate wins), drop
incomplete readings, and compute the CO2 intensity of every reading with the three factor tables
(read from data/factors/*.csv). Prints the median time of one run in milliseconds as
`pandas_median_ms=…` (and the check values on stderr).

With `--inspect ZIP…`, the baseline of `ny-power inspect ZIP…` as a whole process instead: read
every given zip (rows of all files combined, the later row of a duplicate winning, as
`inspect` does), compute the three intensities, and write one JSON line per reading in
`inspect`'s format to `--out` (default /dev/null), once; `scripts/bench-parse.sh` times the
whole process. Prints the time of the work itself (after `import pandas`) as
`pandas_work_ms=…` on stderr.

Usage: python3 scripts/bench_parse_pandas.py [--runs N]
       python3 scripts/bench_parse_pandas.py --inspect ZIP… [--out FILE]
"""
import argparse
import csv
import io
import json
import statistics
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
ZIP = ROOT / "tests/fixtures/nyiso/20250201rtfuelmix_csv.zip"
TABLES = ["direct", "lifecycle", "ny-power-2016"]
FUELS = ["Dual Fuel", "Natural Gas", "Nuclear", "Other Fossil Fuels", "Other Renewables", "Wind", "Hydro"]
SLUGS = ["dual_fuel", "natural_gas", "nuclear", "other_fossil_fuels", "other_renewables", "wind", "hydro"]
OFFSET_HOURS = {"EST": 5, "EDT": 4}


def factor_matrix():
    """7 × 3: g/kWh of each fuel (FUELS order) in each table (TABLES order)."""
    m = np.zeros((7, 3))
    for j, table in enumerate(TABLES):
        with open(ROOT / "data/factors" / f"{table}.csv", newline="") as f:
            for row in csv.DictReader(f):
                m[SLUGS.index(row["fuel"]), j] = float(row["g_per_kwh"])
    return m


def zip_frames(zip_bytes):
    """One frame per daily CSV of a monthly zip, in name order."""
    z = zipfile.ZipFile(io.BytesIO(zip_bytes))
    return [
        pd.read_csv(io.BytesIO(z.read(name)), encoding="utf-8-sig")
        for name in sorted(z.namelist())
        if name.lower().endswith(".csv")
    ]


def month(zip_bytes, factors):
    """The measured work. Returns (readings, intensities[readings × 3])."""
    return readings(zip_frames(zip_bytes), factors)


def readings(frames, factors):
    """Readings (one row per instant, the seven fuels) and their intensities of these frames."""
    df = pd.concat(frames, ignore_index=True)
    df.columns = ["time", "zone", "fuel", "mw"]
    local = pd.to_datetime(df["time"], format="%m/%d/%Y %H:%M:%S")
    df["ts"] = local + pd.to_timedelta(df["zone"].map(OFFSET_HOURS), unit="h")
    wide = df.pivot_table(index="ts", columns="fuel", values="mw", aggfunc="last")
    wide = wide.reindex(columns=FUELS).dropna().sort_index()
    mw = wide.to_numpy(dtype=float)
    intensity = (mw @ factors) / mw.sum(axis=1, keepdims=True)
    return wide, intensity


def write_lines(wide, intensity, out):
    """`ny-power inspect`'s JSON lines: ts, the seven fuels (MW), their total, the intensity
    under each table (`null` without generation)."""
    stamps = wide.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    mw = wide.to_numpy(dtype=float)
    totals = mw.sum(axis=1)
    dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=True).encode
    for ts, row, total, co2 in zip(stamps, mw.tolist(), totals.tolist(), intensity.tolist()):
        line = {
            "ts": ts,
            "fuels": dict(zip(SLUGS, row)),
            "total_mw": total,
            "co2": {t: (v if total > 0 else None) for t, v in zip(TABLES, co2)},
        }
        out.write(dumps(line))
        out.write("\n")


def inspect(paths, out_path):
    """`ny-power inspect ZIP…` in pandas, once; the work's time on stderr."""
    t0 = time.perf_counter()
    factors = factor_matrix()
    frames = [f for p in paths for f in zip_frames(Path(p).read_bytes())]
    wide, intensity = readings(frames, factors)
    with open(out_path, "w", encoding="utf-8", newline="\n") as out:
        write_lines(wide, intensity, out)
    print(f"pandas_work_ms={(time.perf_counter() - t0) * 1000:.3f}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--inspect", nargs="+", metavar="ZIP")
    ap.add_argument("--out", default="/dev/null")
    args = ap.parse_args()
    if args.inspect:
        inspect(args.inspect, args.out)
        return
    zip_bytes = ZIP.read_bytes()
    factors = factor_matrix()

    wide, intensity = month(zip_bytes, factors)  # warm-up and check
    first = intensity[0]
    print(
        f"pandas: {len(wide)} readings; first {wide.index[0]}Z: "
        f"direct {first[0]:.2f}, lifecycle {first[1]:.2f}, ny-power-2016 {first[2]:.2f}",
        file=sys.stderr,
    )
    assert len(wide) == 8246, len(wide)
    assert f"{first[0]:.2f} {first[1]:.2f} {first[2]:.2f}" == "248.75 326.08 277.27"

    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        month(zip_bytes, factors)
        times.append(time.perf_counter() - t0)
    print(f"pandas_median_ms={statistics.median(times) * 1000:.3f}")


if __name__ == "__main__":
    main()
