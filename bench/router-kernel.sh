#!/usr/bin/env bash
# Where the router's and HAProxy's CPU goes at saturation: CPU time, system calls and context
# switches per request (perf stat), and the share of samples in the kernel, under `send`, under
# `recv` and in `finish_task_switch` (perf record).
#
#   bench/router-kernel.sh
#
# Needs wrk, haproxy and perf (Debian: apt-get install -y wrk haproxy linux-perf) and the
# permission to trace other processes (root, or kernel.perf_event_paranoid <= 1). Builds in
# release mode, starts two demo backends, the router (one thread per core) and HAProxy (as
# many threads) at 90/10, and for each proxy runs `wrk -t2 -c64` for 10 s, counting over
# seconds 1–4 and sampling over seconds 5–8.
set -euo pipefail
cd "$(dirname "$0")/.."

STABLE_PORT=19401 CANARY_PORT=19402 ROUTER_PORT=18480 HAPROXY_PORT=18481
. bench/router-common.sh
need wrk haproxy perf
build -p bellwether --bin bellwether
start_backends
# shellcheck disable=SC2046
$BIN $(router_args $ROUTER_PORT) > /dev/null & ROUTER_PID=$!; PIDS+=($ROUTER_PID)
haproxy_cfg $HAPROXY_PORT "$(nproc)" > "$WORK/haproxy.cfg"
haproxy -f "$WORK/haproxy.cfg" & HAPROXY_PID=$!; PIDS+=($HAPROXY_PID)
for port in $ROUTER_PORT $HAPROXY_PORT; do wait_port "$port"; done
for port in $ROUTER_PORT $HAPROXY_PORT; do wrk -t1 -c64 -d2s "http://127.0.0.1:$port/" > /dev/null; done

# Percentage of the samples in `$2` whose symbol (with what it calls, if $3 is children) is $1.
share() {
    perf report -i "$2" --"$3" --sort symbol -g none 2> /dev/null \
        | awk -v sym="$1" '$0 !~ /^#/ && $NF != "" {
            for (i = 1; i <= NF; i++) if ($i == sym) { v = $1; sub("%", "", v); print v; exit } }'
}

measure() { # NAME PID PORT
    local name=$1 pid=$2 port=$3
    wrk -t2 -c64 -d10s "http://127.0.0.1:$port/" > "$WORK/wrk-$name.txt" & local wrk=$!
    sleep 1
    perf stat -x, -e raw_syscalls:sys_enter,context-switches,task-clock -p "$pid" -- sleep 3 \
        2> "$WORK/stat-$name.txt" > /dev/null
    sleep 1
    perf record -q -g -p "$pid" -o "$WORK/$name.data" -- sleep 3 > /dev/null 2>&1
    wait $wrk
    local rps kernel
    rps=$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk-$name.txt")
    kernel=$(perf report -i "$WORK/$name.data" --no-children --sort dso -g none 2> /dev/null \
        | awk '/\[kernel.kallsyms\]/ { v = $1; sub("%", "", v); print v; exit }')
    awk -F, -v name="$name" -v rps="$rps" -v kernel="$kernel" \
        -v send="$(share __send "$WORK/$name.data" children)" \
        -v recv="$(share __libc_recv "$WORK/$name.data" children)" \
        -v switch="$(share finish_task_switch.isra.0 "$WORK/$name.data" no-children)" \
        '{ v[$3] = $1 } END {
            n = rps * 3
            printf "| %s | %.0f | %.1f | %.2f | %.3f | %s | %s | %s | %s |\n", name, rps,
                v["task-clock"] * 1000 / n, v["raw_syscalls:sys_enter"] / n,
                v["context-switches"] / n, kernel, send, recv, switch
        }' "$WORK/stat-$name.txt"
}

echo "date: $(date -u +%F), $(nproc) cores, wrk -t2 -c64, 90/10, one thread per core in both proxies"
echo
echo '| proxy | req/s | CPU µs per request | system calls per request | context switches per request | % samples in kernel | % under send | % under recv | % in finish_task_switch |'
echo '|---|---|---|---|---|---|---|---|---|'
measure router $ROUTER_PID $ROUTER_PORT
measure haproxy $HAPROXY_PID $HAPROXY_PORT
