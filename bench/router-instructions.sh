#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: a measure that
# the machine's other load does not move, for comparing changes to the router's request path.
#
#   bench/router-instructions.sh                          # this tree's router and HAProxy
#   BASELINE=/path/to/other/bellwether bench/router-instructions.sh   # and another build
#
# Needs valgrind and haproxy (Debian: apt-get install -y valgrind haproxy). Builds in release
# mode, starts two demo backends (stable v1, canary v2) and runs each proxy single-threaded
# under callgrind at 90/10; after a warm-up that fills the connection pools the counters are
# zeroed, REQUESTS requests are sent at a fixed rate over 64 keep-alive connections, and the
# instructions counted are divided by the requests answered. Kernel time (the socket calls,
# the same four per request for every proxy here) is not in these counts.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-5000}
RATE=${RATE:-500}
CONNECTIONS=64
STABLE_PORT=19201 CANARY_PORT=19202 PROXY_PORT=18280
. bench/router-common.sh
need valgrind haproxy
build -p bellwether -p bellwether-router --bin bellwether --example fixed_rate
start_backends
haproxy_cfg $PROXY_PORT 1 > "$WORK/haproxy.cfg"

# Prints the instructions per request of the proxy started by the given command.
count() {
    local out="$WORK/callgrind.out"
    rm -f "$out"*
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" > /dev/null 2>&1 &
    local pid=$!
    wait_port $PROXY_PORT
    $FIXED "http://127.0.0.1:$PROXY_PORT/" "$RATE" 2 $CONNECTIONS > /dev/null
    callgrind_control --zero $pid > /dev/null 2>&1
    local result
    result=$($FIXED "http://127.0.0.1:$PROXY_PORT/" "$RATE" "$((REQUESTS / RATE))" $CONNECTIONS | grep RESULT)
    callgrind_control --dump $pid > /dev/null 2>&1
    kill $pid
    wait $pid 2> /dev/null || true
    local rps instructions
    rps=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<< "$result")
    # The dump taken after zeroing holds the measured requests alone.
    instructions=$(cat "$out".* | sed -n 's/^summary: \([0-9]*\).*/\1/p' | tail -1)
    awk -v i="$instructions" -v r="$rps" -v s="$((REQUESTS / RATE))" \
        'BEGIN { printf "%.0f", i / (r * s) }'
}

read -r -a ROUTER_ARGS <<< "$(router_args $PROXY_PORT) --threads 1"
echo "date: $(date -u +%F), $REQUESTS requests at $RATE/s over $CONNECTIONS connections, one thread each"
echo
echo '| proxy | instructions per request | ÷ HAProxy |'
echo '|---|---|---|'
HAPROXY=$(count haproxy -db -f "$WORK/haproxy.cfg")
ROUTER=$(count "$BIN" "${ROUTER_ARGS[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| router (this tree) | $ROUTER | $(ratio "$ROUTER" "$HAPROXY") |"
if [ -n "${BASELINE:-}" ]; then
    OTHER=$(count "$BASELINE" "${ROUTER_ARGS[@]}")
    echo "| router ($BASELINE) | $OTHER | $(ratio "$OTHER" "$HAPROXY") |"
fi
echo "| HAProxy $(haproxy -v | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1) | $HAPROXY | 1.00 |"
