#!/usr/bin/env bash
# Soak: the control plane's resident memory over DEPLOYS canary deploys of one service under
# steady traffic. Each deploy is a canary (50%, then promoted) of demo-service, while
# `bellwether load` sends RATE requests/s through the service's router the whole time.
# Prints the resident size of `bellwether up` (VmRSS) every STEP deploys, and the growth
# after the first STEP (the warm-up: allocator arenas, the store's page cache in the process).
#
#   bench/soak.sh                     # 1,000 deploys, 200 requests/s, a sample every 100
#   DEPLOYS=200 STEP=20 bench/soak.sh
#   BIN=/path/to/bellwether bench/soak.sh   # another build, e.g. an earlier commit's
set -euo pipefail
cd "$(dirname "$0")/.."

DEPLOYS=${DEPLOYS:-1000}
STEP=${STEP:-100}
RATE=${RATE:-200}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet -p bellwether
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/bellwether
fi
WORK=$(mktemp -d)
UP=
LOAD=
cleanup() {
  [ -z "$LOAD" ] || kill "$LOAD" 2> /dev/null || true
  [ -z "$UP" ] || { kill "$UP" 2> /dev/null && wait "$UP" 2> /dev/null; } || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
LISTEN=$(port)
cat > "$WORK/bellwether.yaml" <<YAML
services:
  web:
    replicas: 1
    listen: 127.0.0.1:$LISTEN
    run: {command: ["$BIN", demo-service]}
    health: {path: /health, interval: 100ms}
    strategy:
      canary:
        scaleDownDelay: 0s
        steps: [{setWeight: 50}]
YAML
"$BIN" up -f "$WORK/bellwether.yaml" --listen 127.0.0.1:0 > "$WORK/up.out" 2> "$WORK/up.err" &
UP=$!
for _ in $(seq 200); do
  grep -q "admin token in " "$WORK/up.out" 2> /dev/null && grep -q "API listening on " "$WORK/up.out" && break
  sleep 0.1
done
export BELLWETHER_SERVER
BELLWETHER_SERVER=$(sed -n 's/.*API listening on \([^ ]*\).*/\1/p' "$WORK/up.out" | head -1)
BELLWETHER_TOKEN=$(cat "$(sed -n 's/.*admin token in \([^ ]*\) (.*/\1/p' "$WORK/up.out" | head -1)")
export BELLWETHER_TOKEN

deploy() {
  "$BIN" deploy web --version "v$1" > /dev/null
  "$BIN" status web --timeout 60s > /dev/null
}
deploy 0

cat > "$WORK/load.yaml" <<YAML
scenarios:
  steady:
    executor: constant-arrival-rate
    rate: $RATE
    timeUnit: 1s
    duration: 24h
    preAllocatedVUs: 20
requests:
  - url: http://127.0.0.1:$LISTEN/
YAML
"$BIN" load "$WORK/load.yaml" > "$WORK/load.out" 2>&1 &
LOAD=$!

rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$UP/status"; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $DEPLOYS deploys, $RATE requests/s"
printf '%8s  %10s  %8s\n' deploys "RSS (MiB)" seconds
start=$(date +%s)
printf '%8d  %10s  %8d\n' 0 "$(rss)" 0
base=
for i in $(seq "$DEPLOYS"); do
  deploy "$i"
  if [ $((i % STEP)) -eq 0 ]; then
    now=$(rss)
    printf '%8d  %10s  %8d\n' "$i" "$now" $(($(date +%s) - start))
    [ -n "$base" ] || base=$now
  fi
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c "print('growth after the first $STEP deploys: %+.1f MiB' % ($(rss) - $base))"
