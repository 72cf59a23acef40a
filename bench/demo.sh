#!/usr/bin/env bash
# Benchmark: how fast `bellwether demo` rolls back its failing canary (v3, 5% of requests
# failing at random), over RUNS runs of the whole demo in release mode: the reaction (from the
# measurement that failed the canary to 0% of traffic on it, as the control plane stored it)
# and the detection (canary requests counted by that measurement, and the time from the
# canary's first failed request, as its clients saw it, to 0%). Also prints each run's duration
# and its client requests that failed for any reason but the injected errors (0 expected).
#
#   bench/demo.sh            # 5 runs
#   RUNS=10 bench/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
cargo build --release --quiet -p bellwether
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/bellwether

# A run whose releases did not all end as planned still prints its summary (and says why).
for i in $(seq "$RUNS"); do
  "$BIN" demo --json 2> /dev/null || true
done | python3 -c '
import json, statistics, sys
decoder, text, runs = json.JSONDecoder(), sys.stdin.read(), []
while text.strip():
    run, end = decoder.raw_decode(text.lstrip())
    runs.append(run)
    text = text.lstrip()[end:]
for n, r in enumerate(runs, 1):
    outcomes = " ".join(x["version"] + ":" + x["outcome"].replace(" ", "-") for x in r["rollouts"])
    print("run %d: reaction %d ms, detection %d requests / %d ms, %.1f s in all, %d requests, %d failed otherwise; %s" % (
        n, r["rollback_reaction_ms"], r["detection_requests"], r["detection_ms"], r["seconds"],
        r["requests"], r["other_failures"], outcomes))
    for x in r["rollouts"]:
        if not x["expected"]:
            print("  %s did not end as planned: %s" % (x["version"], x["reason"]))
reactions = sorted(r["rollback_reaction_ms"] for r in runs)
detections = sorted(r["detection_ms"] for r in runs)
requests = sorted(r["detection_requests"] for r in runs)
failed = sum(r["other_failures"] for r in runs)
print("reaction over %d runs: median %.0f ms, min %d ms, max %d ms; requests failed otherwise: %d" % (
    len(runs), statistics.median(reactions), reactions[0], reactions[-1], failed))
print("detection: median %.0f canary requests (max %d), median %.0f ms (max %d ms)" % (
    statistics.median(requests), requests[-1], statistics.median(detections), detections[-1]))
'
