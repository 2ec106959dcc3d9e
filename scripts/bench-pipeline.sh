#!/bin/sh
# End-to-end measurements of the live pipeline against a real Mosquitto (see
# examples/pipeline_bench.rs): pump start -> first reading acknowledged, peak RSS, and the
# latency from a NYISO file append to `computed/co2` at a subscriber (poll wait excluded).
# Usage: scripts/bench-pipeline.sh [RUNS]   (needs mosquitto; builds in release mode)
set -eu
cd "$(dirname "$0")/.."
cargo build --release --bin ny-power --example pipeline_bench
RUNS="${1:-10}" NYPOWER_BIN=target/release/ny-power target/release/examples/pipeline_bench
