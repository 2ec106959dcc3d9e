#!/usr/bin/env bash
# Measures what a newcomer waits for: a cold `cargo run --release -- demo` from a fresh checkout
# (empty target/, dashboard not built) until the demo prints READY.
#
#   scripts/bench-cold-demo.sh [REV…]      (default: HEAD)
#
# Each REV is checked out into its own temporary worktree with its own empty target directory
# and built in turn, so revisions are compared in one run on the same machine. Crates are
# fetched first (`cargo fetch`), so the figure is compile time, not download time; npm's
# install of the dashboard is included, as the newcomer waits for it too. The demo runs with
# `--replay` (no wait on the network) on free loopback ports and is stopped by its PID once READY
# is printed. Reports per revision: wall seconds to READY, CPU seconds of the whole run (user +
# system of cargo, rustc, the linker, npm and the demo: less sensitive to what else the machine
# does), crates compiled and the size of target/ afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
revs=("$@")
[ ${#revs[@]} -gt 0 ] || revs=(HEAD)
work=$(mktemp -d /tmp/ny-power-cold.XXXXXX)
cleanup() {
  for dir in "$work"/wt-*; do
    [ -d "$dir" ] && git -C "$repo" worktree remove --force "$dir" >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

printf '%-10s %8s %8s %7s %10s\n' rev wall_s cpu_s crates target_MB
i=0
for rev in "${revs[@]}"; do
  i=$((i + 1))
  dir="$work/wt-$i"
  git -C "$repo" worktree add --detach "$dir" "$rev" >/dev/null 2>&1
  (cd "$dir" && cargo fetch --locked >/dev/null 2>&1)
  python3 - "$dir" "$work/demo-$i.log" "$(git -C "$repo" rev-parse --short "$rev")" <<'PY'
import os, signal, subprocess, sys, time
dir_, log_path, rev = sys.argv[1:]
cmd = ["cargo", "run", "--release", "--locked", "--", "demo", "--replay",
       "--http-port", "0", "--mqtt-port", "0", "--ws-port", "0",
       "--data-dir", os.path.join(os.path.dirname(log_path), f"data-{rev}")]
env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(dir_, "target"), NO_COLOR="1")
with open(log_path, "wb") as log:
    start = time.monotonic()
    # `cargo run` execs the demo in place on Unix, so this PID is cargo, then the demo, and
    # its resource usage counts every child it waited for (rustc, build scripts, npm).
    proc = subprocess.Popen(cmd, cwd=dir_, env=env, stdout=log, stderr=subprocess.STDOUT)
    ready = None
    while proc.poll() is None:
        with open(log_path, "rb") as f:
            if any(line.startswith(b"READY ") for line in f):
                ready = time.monotonic()
                break
        time.sleep(0.5)
    if ready is None:
        sys.stderr.write(f"{rev}: the demo exited before READY; its log:\n")
        sys.stderr.write(open(log_path, errors="replace").read()[-3000:])
        sys.exit(1)
    proc.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(proc.pid, 0)
text = open(log_path, errors="replace").read()
crates = sum(1 for line in text.splitlines() if line.lstrip().startswith("Compiling "))
size = subprocess.run(["du", "-sm", os.path.join(dir_, "target")], capture_output=True,
                      text=True).stdout.split()[0]
cpu = usage.ru_utime + usage.ru_stime
print(f"{rev:<10} {ready - start:8.1f} {cpu:8.1f} {crates:7d} {size:>10}")
PY
done
