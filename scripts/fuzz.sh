#!/usr/bin/env bash
# Coverage-guided fuzzing with AFL++ (Debian's afl++, installed when missing) on the stable
# toolchain: builds `bellwether-fuzz` instrumented (LLVM's sanitizer coverage, AFL++'s runtime)
# and runs each target under afl-fuzz for SECONDS, starting from fuzz/seeds/TARGET/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    # default: 60 s for each of the five targets
#
# An input that crashes or hangs a target is copied to fuzz/findings/TARGET/ and the script
# fails: fix the bug, then move the input to fuzz/regressions/TARGET/, where
# `cargo test -p bellwether-fuzz` replays it from then on. Queues are kept in
# $FUZZ_OUT (default target/fuzz-out) and resumed by the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(config expressions conditions webhook backend-http)
fi

runtime=/usr/lib/afl/afl-compiler-rt.o
if ! command -v afl-fuzz > /dev/null || [ ! -f "$runtime" ]; then
  SUDO=
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  echo "installing Debian's afl++ (the fuzzer and its runtime)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq afl++ > /dev/null
fi

# Instrumented builds go to a target directory of their own (beside the usual one, so a cache
# of it is reused too): their flags differ.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/fuzz}"
export RUSTFLAGS="--cfg fuzzing -C debug-assertions -C overflow-checks -C opt-level=3 \
  -C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=3 \
  -C llvm-args=-sanitizer-coverage-trace-pc-guard -C llvm-args=-sanitizer-coverage-prune-blocks=0 \
  -C link-arg=$runtime"
cargo build --release --locked -p bellwether-fuzz --features afl --example bellwether-fuzz
binary="$CARGO_TARGET_DIR/release/examples/bellwether-fuzz"

out="${FUZZ_OUT:-target/fuzz-out}"
found=0
for target in "${targets[@]}"; do
  seeds="fuzz/seeds/$target"
  [ -d "$seeds" ] || { echo "no seeds for target $target in $seeds" >&2; exit 2; }
  mkdir -p "$out"
  # Resume a queue left by an earlier run; start from the seeds otherwise.
  input="$seeds"
  if [ -d "$out/$target/default/queue" ]; then input=-; fi
  echo "== fuzzing $target for ${seconds}s" >&2
  AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    AFL_NO_AFFINITY=1 AFL_SHUFFLE_QUEUE=1 \
    afl-fuzz -V "$seconds" -t 2000 -m none -i "$input" -o "$out/$target" -- "$binary" "$target" \
    > "$out/$target.log" 2>&1 || { tail -20 "$out/$target.log" >&2; exit 1; }
  stats="$out/$target/default/fuzzer_stats"
  grep -E '^(execs_done|execs_per_sec|corpus_count|edges_found|saved_crashes|saved_hangs) ' "$stats" | tr -s ' ' >&2
  for kind in crashes hangs; do
    for f in "$out/$target/default/$kind"/id:*; do
      [ -e "$f" ] || continue
      mkdir -p "fuzz/findings/$target"
      cp "$f" "fuzz/findings/$target/"
      echo "FOUND: $target $kind: fuzz/findings/$target/$(basename "$f")" >&2
      found=1
    done
  done
done
exit "$found"
