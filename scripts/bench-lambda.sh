#!/usr/bin/env bash
# Benchmark (not a test): the Lambda functions of the working tree against those of a git
# revision, each built in its crate's directory (so resolved on its own, as `sam build` does),
# in the same run:
#   - bootstrap sizes, arm64: `cargo lambda build --release --arm64`, what is deployed;
#   - init time of each x86_64 release build (`cargo build --release`, the host build; it
#     shares third-party artifacts with `cargo build --release --bin ny-power`, where cargo
#     lambda's x86_64 build would add panic=abort and the zig linker): process start to its first
#     `GET /2018-06-01/runtime/invocation/next` on a local Runtime API emulator on loopback
#     (scripts/lambda_init_time.py), median of RUNS starts, the two builds' starts interleaved.
#
#   scripts/bench-lambda.sh [REV]      REV: the baseline revision (default HEAD)
#   RUNS=20                            starts per function and build
#
# The baseline is checked out in a temporary `git worktree` (removed at the end) and built
# into this tree's target/ (shared third-party artifacts; each bootstrap is copied out right
# after its build). Results under target/bench-lambda/. Needs cargo-lambda (+ zig) and the
# aarch64-unknown-linux-gnu target.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rev=${1:-HEAD}
runs=${RUNS:-20}
functions=(pump co2 archive)
out=$root/target/bench-lambda

base_rev=$(git rev-parse --verify "$rev^{commit}")
base_src=$(mktemp -d "${TMPDIR:-/tmp}/ny-power-bench-lambda.XXXXXX")
cleanup() {
  git -C "$root" worktree remove --force "$base_src" 2>/dev/null || rm -rf "$base_src"
  git -C "$root" worktree prune
}
trap cleanup EXIT
git worktree add --detach --quiet "$base_src" "$base_rev"
rm -rf "$out/base" "$out/current"

# build TREE LABEL ARCH: the three bootstraps of TREE to $out/LABEL/ARCH/FUNCTION/bootstrap.
build() {
  local tree=$1 label=$2 arch=$3 f bin
  for f in "${functions[@]}"; do
    bin=ny-power-$f-fn
    if [ "$arch" = arm64 ]; then
      echo "== cargo lambda build --release --arm64 --bin $bin ($label)" >&2
      (cd "$tree/functions/$f" &&
        CARGO_TARGET_DIR=$root/target cargo lambda build --release --arm64 --bin "$bin" \
          --locked >&2)
      install -D -m 755 "$root/target/lambda/$bin/bootstrap" "$out/$label/$arch/$f/bootstrap"
    else
      echo "== cargo build --release --bin $bin ($label)" >&2
      (cd "$tree/functions/$f" &&
        CARGO_TARGET_DIR=$root/target cargo build --release --bin "$bin" --locked >&2)
      install -D -m 755 "$root/target/release/$bin" "$out/$label/$arch/$f/bootstrap"
    fi
  done
}
for arch in arm64 x86_64; do
  build "$base_src" base "$arch"
  build "$root" current "$arch"
done

ratio() { python3 -c "import sys; print(f'{float(sys.argv[2]) / float(sys.argv[1]):.2f}')" "$@"; }
mb() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1e6:.1f}')" "$1"; }

dirty=$(git status --porcelain --untracked-files=no | head -n 1)
echo
echo "baseline: $(git log -1 --format='%h %s' "$base_rev" | cut -c1-72)"
echo "current:  working tree at $(git rev-parse --short HEAD)${dirty:+ (uncommitted changes)}"
echo
echo "bootstrap size (MB)   arm64 base  arm64 now  now/base   x86_64 base  x86_64 now  now/base"
for f in "${functions[@]}"; do
  row=()
  for arch in arm64 x86_64; do
    b=$(wc -c < "$out/base/$arch/$f/bootstrap")
    c=$(wc -c < "$out/current/$arch/$f/bootstrap")
    row+=("$(mb "$b")" "$(mb "$c")" "$(ratio "$b" "$c")")
  done
  printf '%-20s  %10s  %9s  %8s   %11s  %10s  %8s\n' "$f" "${row[@]}"
done

echo
echo "init time, x86_64 (ms, median of $runs starts; min-max)   base                now                 now/base"
for f in "${functions[@]}"; do
  result=$(python3 scripts/lambda_init_time.py --runs "$runs" "$f" \
    "base=$out/base/x86_64/$f/bootstrap" "current=$out/current/x86_64/$f/bootstrap")
  read -r _ _ bmed bmin bmax < <(grep '^[a-z0-9]* base ' <<<"$result")
  read -r _ _ cmed cmin cmax < <(grep '^[a-z0-9]* current ' <<<"$result")
  printf '%-56s  %6s (%s-%s)  %6s (%s-%s)  %5s\n' "$f" "$bmed" "$bmin" "$bmax" \
    "$cmed" "$cmin" "$cmax" "$(ratio "$bmed" "$cmed")"
done
