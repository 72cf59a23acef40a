#!/usr/bin/env bash
# Benchmark of the built-in router against a direct connection and HAProxy, on loopback.
#
#   bench/router.sh            # 10 s per run
#   DURATION=30 bench/router.sh
#
# Needs wrk and haproxy (Debian: apt-get install -y wrk haproxy). Builds in release mode,
# starts two demo backends (stable v1, canary v2), then measures with wrk at saturation and
# with the repository's fixed-rate generator (crates/router/examples/fixed_rate.rs; Debian has
# no wrk2) at half the direct maximum: direct to the stable backend, through `bellwether
# router` at 90/10, and through HAProxy at 90/10. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
STABLE_PORT=19001 CANARY_PORT=19002 ROUTER_PORT=18080 HAPROXY_PORT=18081 HAPROXY1_PORT=18082
. bench/router-common.sh
need wrk haproxy
build -p bellwether -p bellwether-router --bin bellwether --example fixed_rate
start_backends
# shellcheck disable=SC2046
$BIN $(router_args $ROUTER_PORT) > /dev/null & ROUTER_PID=$!; PIDS+=($ROUTER_PID)
# HAProxy with a thread per core, like the router, and single-threaded for reference.
CORES=$(nproc)
haproxy_cfg $HAPROXY_PORT "$CORES" > "$WORK/haproxy.cfg"
haproxy_cfg $HAPROXY1_PORT 1 > "$WORK/haproxy1.cfg"
haproxy -f "$WORK/haproxy.cfg" & HAPROXY_PID=$!; PIDS+=($HAPROXY_PID)
haproxy -f "$WORK/haproxy1.cfg" & PIDS+=($!)
for port in $ROUTER_PORT $HAPROXY_PORT $HAPROXY1_PORT; do wait_port "$port"; done

cat > "$WORK/report.lua" << 'LUA'
done = function(summary, latency, requests)
    local errors = summary.errors.connect + summary.errors.read + summary.errors.write
        + summary.errors.status + summary.errors.timeout
    io.write(string.format("RESULT rps=%.0f p50=%.3f p99=%.3f p999=%.3f errors=%d\n",
        summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, errors))
end
LUA

# Peak resident memory (VmHWM) of a process, in MiB.
peak_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<< "$2"; }

saturate() { wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/report.lua" "http://127.0.0.1:$1/" | grep RESULT; }
fixed() { $FIXED "http://127.0.0.1:$1/" "$2" "$DURATION" "$CONNECTIONS" | grep RESULT; }

# A short warm-up fills the connection pools of both proxies.
for port in $STABLE_PORT $ROUTER_PORT $HAPROXY_PORT $HAPROXY1_PORT; do wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$port/" > /dev/null; done

TARGETS="direct:$STABLE_PORT router:$ROUTER_PORT haproxy:$HAPROXY_PORT haproxy-1-thread:$HAPROXY1_PORT"
declare -A SAT FIX
for target in $TARGETS; do
    SAT[${target%%:*}]=$(saturate "${target#*:}")
done
# The issue's fixed rate is half the direct maximum; where that overloads both proxies, their
# latencies only measure queues, so a second rate, half HAProxy's maximum, compares them below
# saturation.
RATE=$(awk -v r="$(field rps "${SAT[direct]}")" 'BEGIN { printf "%d", r / 2 }')
LOW=$(awk -v r="$(field rps "${SAT[haproxy]}")" 'BEGIN { printf "%d", r / 2 }')
declare -A LOWFIX
for target in $TARGETS; do
    FIX[${target%%:*}]=$(fixed "${target#*:}" "$RATE")
    LOWFIX[${target%%:*}]=$(fixed "${target#*:}" "$LOW")
done
ROUTER_MEM=$(peak_mib $ROUTER_PID)
HAPROXY_MEM=$(peak_mib $HAPROXY_PID)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() {
    local load=$1 name=$2 line=$3 direct=$4 haproxy=$5
    local rps; rps=$(field rps "$line")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$load" "$name" "$rps" \
        "$(field p50 "$line")" "$(field p99 "$line")" "$(field p999 "$line")" "$(field errors "$line")" \
        "$(ratio "$rps" "$(field rps "$direct")")" "$(ratio "$rps" "$(field rps "$haproxy")")"
}
echo "date: $(date -u +%F), $CORES cores, ${DURATION}s per run, $CONNECTIONS connections, wrk -t$THREADS; ÷ HAProxy is against HAProxy with $CORES threads"
echo
echo '| load | target | req/s | p50 ms | p99 ms | p99.9 ms | errors | ÷ direct | ÷ HAProxy |'
echo '|---|---|---|---|---|---|---|---|---|'
NAMES="direct router haproxy haproxy-1-thread"
for name in $NAMES; do row saturation "$name" "${SAT[$name]}" "${SAT[direct]}" "${SAT[haproxy]}"; done
for name in $NAMES; do row "fixed $RATE/s (½ direct)" "$name" "${FIX[$name]}" "${FIX[direct]}" "${FIX[haproxy]}"; done
for name in $NAMES; do row "fixed $LOW/s (½ HAProxy)" "$name" "${LOWFIX[$name]}" "${LOWFIX[direct]}" "${LOWFIX[haproxy]}"; done
echo
echo "peak resident memory: router ${ROUTER_MEM} MiB, HAProxy ${HAPROXY_MEM} MiB"
echo "p99 router ÷ HAProxy: $(ratio "$(field p99 "${FIX[router]}")" "$(field p99 "${FIX[haproxy]}")") at $RATE/s, $(ratio "$(field p99 "${LOWFIX[router]}")" "$(field p99 "${LOWFIX[haproxy]}")") at $LOW/s"
