#!/usr/bin/env bash
# Screenshots of the dashboard's pages (services, a service paused and promoted, runs, a run
# waiting and done, a phone-width service page and run page), taken by the browser test as it walks a real
# control plane. They are written to target/screenshots/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-$PWD/target/screenshots}"
scripts/browser-deps.sh
BELLWETHER_SCREENSHOTS="$out" cargo test --locked -p bellwether --test dashboard a_canary_is_watched -- --exact a_canary_is_watched_and_promoted_and_a_run_approved_in_a_real_browser
ls -1 "$out"
