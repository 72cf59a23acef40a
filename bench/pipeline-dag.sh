#!/usr/bin/env bash
# Benchmark: a generated DAG of 1,000 jobs whose steps are `true`, run by `bellwether run` and
# by `make -j` with the same dependencies and the same parallelism, in one go. Prints the wall
# time of each (median of REPEAT runs), the ratio, and the time per job.
#
#   bench/pipeline-dag.sh                       # 1,000 jobs, -j $(nproc), 5 runs each
#   JOBS=2000 PARALLEL=4 REPEAT=3 bench/pipeline-dag.sh
#
# The DAG: job i needs up to three jobs picked among the 50 before it (a fixed seed, so every
# run builds the same graph). Make runs each recipe `true` directly (its shell-less fast path);
# "make, bash" makes it start bash for each recipe, as bellwether does for each step by
# default; "bellwether, sh" runs the steps with `shell: sh` instead.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-1000}
PARALLEL=${PARALLEL:-$(nproc)}
REPEAT=${REPEAT:-5}

cargo build --release --quiet -p bellwether
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/bellwether
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The graph, as "job: needs…" lines.
awk -v n="$JOBS" 'BEGIN {
  srand(42)
  for (i = 0; i < n; i++) {
    line = "j" i ":"
    if (i > 0) {
      k = int(rand() * 4)
      for (d = 0; d < k; d++) {
        lo = i - 50; if (lo < 0) lo = 0
        line = line " j" (lo + int(rand() * (i - lo)))
      }
    }
    print line
  }
}' > "$WORK/graph"

# The same graph for make and for bellwether.
{
  printf '.PHONY: all'
  awk -F: '{ printf " %s", $1 }' "$WORK/graph"
  printf '\nall:'
  awk -F: '{ printf " %s", $1 }' "$WORK/graph"
  printf '\n'
  awk -F: '{ printf "%s:%s\n\t@true\n", $1, $2 }' "$WORK/graph"
} > "$WORK/Makefile"

pipeline() {
  local shell=$1
  printf 'pipelines:\n  dag:\n'
  if [ -n "$shell" ]; then printf '    defaults: {run: {shell: %s}}\n' "$shell"; fi
  printf '    jobs:\n'
  awk -F: '{
    printf "      %s:\n", $1
    n = split($2, needs, " ")
    if (n > 0) {
      printf "        needs: ["
      seen = ""
      first = 1
      for (d = 1; d <= n; d++) {
        if (index(seen, " " needs[d] " ")) continue
        seen = seen " " needs[d] " "
        printf "%s%s", (first ? "" : ", "), needs[d]
        first = 0
      }
      printf "]\n"
    }
    printf "        steps: [{run: \"true\"}]\n"
  }' "$WORK/graph"
}
mkdir -p "$WORK/bash" "$WORK/sh"
pipeline "" > "$WORK/bash/bellwether.yaml"
pipeline sh > "$WORK/sh/bellwether.yaml"
"$BIN" validate --strict "$WORK/bash/bellwether.yaml" > /dev/null

now() { date +%s.%N; }
# Seconds "$@" takes.
timed() {
  local start end
  start=$(now)
  "$@" > /dev/null
  end=$(now)
  echo "$end - $start" | bc -l
}
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f–%.3f s", lo, hi }'; }

run_bellwether() {
  "$BIN" run dag -f "$WORK/$1/bellwether.yaml" -j "$PARALLEL" --plain --quiet --data-dir "$WORK/data-$1"
}

# The runners take turns in every round, so that other work on the machine weighs on all
# of them alike.
mp=() mb=() bb=() bs=()
for _ in $(seq "$REPEAT"); do
  mp+=("$(timed make -s -j "$PARALLEL" -f "$WORK/Makefile" all)")
  mb+=("$(timed make -s -j "$PARALLEL" -f "$WORK/Makefile" SHELL=/bin/bash all)")
  bb+=("$(timed run_bellwether bash)")
  bs+=("$(timed run_bellwether sh)")
done
make_plain=$(median "${mp[@]}")
make_bash=$(median "${mb[@]}")
bw_bash=$(median "${bb[@]}")
bw_sh=$(median "${bs[@]}")

edges=$(awk -F: '{ n += split($2, a, " ") } END { print n }' "$WORK/graph")
printf '%s jobs, %s dependencies, -j %s, median of %s runs, %s\n\n' "$JOBS" "$edges" "$PARALLEL" "$REPEAT" "$(date -u +%F)"
printf '| runner | wall time (median) | min–max | per job | ÷ make |\n|---|---|---|---|---|\n'
row() {
  printf '| %s | %.3f s | %s | %.2f ms | %.2f |\n' "$1" "$2" "$3" "$(echo "$2 * 1000 / $JOBS" | bc -l)" "$(echo "$2 / $make_plain" | bc -l)"
}
row "make -j$PARALLEL" "$make_plain" "$(spread "${mp[@]}")"
row "make -j$PARALLEL, SHELL=/bin/bash" "$make_bash" "$(spread "${mb[@]}")"
row "bellwether run -j$PARALLEL (bash -e, the default)" "$bw_bash" "$(spread "${bb[@]}")"
row "bellwether run -j$PARALLEL (shell: sh)" "$bw_sh" "$(spread "${bs[@]}")"
printf '\nbellwether'"'"'s overhead over make: %.2f ms of wall time per job (bash), %.2f ms (sh)\n' \
  "$(echo "($bw_bash - $make_plain) * 1000 / $JOBS" | bc -l)" \
  "$(echo "($bw_sh - $make_plain) * 1000 / $JOBS" | bc -l)"
