#!/usr/bin/env bash
# Benchmark: what a fresh workspace per job costs for this repository. Runs a chain of JOBS
# jobs (one step, `true`, each needing the one before) with `bellwether run`, in a clone of
# this repository (each job's workspace is a copy of its files) and in an empty directory
# outside git (each job's workspace is an empty copy), and prints the median wall time of
# REPEAT runs of each and the difference per job: what making and removing one job's
# workspace takes.
#
#   bench/workspace.sh                          # 20 jobs, 3 runs each, release build
#   JOBS=50 REPEAT=5 PROFILE=dev bench/workspace.sh
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-20}
REPEAT=${REPEAT:-3}
PROFILE=${PROFILE:-release}

cargo build --profile "$PROFILE" --quiet -p bellwether
case "$PROFILE" in dev) OUT=debug ;; *) OUT=$PROFILE ;; esac
BIN=${CARGO_TARGET_DIR:-$PWD/target}/$OUT/bellwether
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

git clone --quiet --no-hardlinks . "$WORK/repo"
mkdir "$WORK/empty"
{
  printf 'pipelines:\n  chain:\n    jobs:\n'
  for i in $(seq 1 "$JOBS"); do
    printf '      j%d:\n' "$i"
    if [ "$i" -gt 1 ]; then printf '        needs: [j%d]\n' $((i - 1)); fi
    printf '        steps: [{run: "true"}]\n'
  done
} > "$WORK/bellwether.yaml"
cp "$WORK/bellwether.yaml" "$WORK/repo/bellwether.yaml"
cp "$WORK/bellwether.yaml" "$WORK/empty/bellwether.yaml"

median() {
  local dir=$1 times=()
  for _ in $(seq 1 "$REPEAT"); do
    local start end
    start=$(date +%s%N)
    "$BIN" run chain -f "$WORK/$dir/bellwether.yaml" --data-dir "$WORK/data-$dir" --plain > /dev/null
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((REPEAT + 1) / 2))p"
}

# For comparison: the same files copied with cp and removed, as a shell script would.
cp_median() {
  local times=()
  for _ in $(seq 1 "$REPEAT"); do
    local start end
    start=$(date +%s%N)
    mkdir "$WORK/cp"
    (cd "$WORK/repo" && git ls-files -z | xargs -0 cp -a --parents --reflink=auto -t "$WORK/cp")
    rm -rf "$WORK/cp"
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((REPEAT + 1) / 2))p"
}

files=$(git -C "$WORK/repo" ls-files | wc -l)
size=$(du -sh --exclude=.git "$WORK/repo" | cut -f1)
repo=$(median repo)
empty=$(median empty)
cp=$(cp_median)
echo "this repository: $files files, $size"
echo "chain of $JOBS jobs in a clone of it:     ${repo} ms"
echo "chain of $JOBS jobs in an empty directory: ${empty} ms"
echo "cp -a --reflink=auto of its files, then rm -rf: ${cp} ms"
awk -v r="$repo" -v e="$empty" -v n="$JOBS" \
  'BEGIN { printf "one job'"'"'s workspace: %.1f ms\n", (r - e) / n }'
