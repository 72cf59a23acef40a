#!/usr/bin/env bash
# Benchmark of `bellwether load` against wrk and oha, in one run, on the same local targets.
#
#   bench/load.sh            # 10 s per run
#   DURATION=30 bench/load.sh
#
# Needs wrk, nginx, jq and time (Debian: apt-get install -y wrk nginx-light jq time; run as root, the
# script installs what is missing) and optionally oha (`cargo install oha`; tried when
# missing, skipped with a message if that fails). Builds `bellwether` in release mode, then:
#
# 1. Maximum throughput with CONNECTIONS keep-alive connections (bellwether: as many VUs in
#    constant-vus, no think time) against `bellwether demo-service` and nginx (a fixed 200),
#    with each tool's p50/p90/p99 and the CPU it took per request (its user and system time
#    over its requests: the generator and the target share the cores).
# 2. Accuracy of constant-arrival-rate at several RATES against nginx: iterations started ÷
#    rate × duration, and the rate nginx saw, from the times in its own access log.
# 3. Peak resident memory of `bellwether load` with 1,000 and 10,000 VUs (constant-vus) held
#    live by a demo-service that answers each request after 1 s.
#
# Prints Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
RATES=${RATES:-"1000 5000 20000"}
DEMO_PORT=19201 NGINX_PORT=19202 SLOW_PORT=19203

if ! command -v wrk > /dev/null || ! command -v nginx > /dev/null || ! command -v jq > /dev/null \
    || [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        apt-get install -y wrk nginx-light jq time >&2
    else
        echo "wrk, nginx, jq or time is missing: apt-get install -y wrk nginx-light jq time" >&2
        exit 1
    fi
fi
OHA=$(command -v oha || true)
if [ -z "$OHA" ] && cargo install oha --locked >&2; then
    OHA=$(command -v oha || true)
fi
[ -n "$OHA" ] || echo "oha is not installed and could not be: its columns are skipped" >&2

cargo build --release -p bellwether --bin bellwether >&2
BIN=${CARGO_TARGET_DIR:-target}/release/bellwether

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    wait 2> /dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
# 10,000 VUs are 10,000 sockets in the generator and as many in the target.
ulimit -n "$(ulimit -Hn)"

wait_port() {
    for _ in $(seq 300); do
        (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

PORT=$DEMO_PORT DEMO_SEED=1 $BIN demo-service > /dev/null & PIDS+=($!)
PORT=$SLOW_PORT DEMO_LATENCY=1s DEMO_LATENCY_SIGMA=0 $BIN demo-service > /dev/null & PIDS+=($!)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx.conf" << CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
    log_format times '\$msec';
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx;
    fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx;
    scgi_temp_path $WORK/nginx;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 200 "hello\n"; }
        location /logged { access_log $WORK/nginx/access.log times buffer=64k; return 200 "hello\n"; }
    }
}
CONF
nginx -c "$WORK/nginx.conf" -g 'daemon off;' & PIDS+=($!)
for port in $DEMO_PORT $SLOW_PORT $NGINX_PORT; do wait_port "$port"; done

cat > "$WORK/report.lua" << 'LUA'
done = function(summary, latency, requests)
    io.write(string.format("%.0f %.3f %.3f %.3f\n", summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
LUA

# Each prints "RPS P50 P90 P99" (milliseconds) and leaves the CPU it took, "USER SYS"
# seconds, in $WORK/cpu.
timed() { /usr/bin/time -f "%U %S" -o "$WORK/cpu" "$@"; }
run_wrk() { timed wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/report.lua" "$1" | tail -1; }
run_oha() {
    timed "$OHA" --no-tui --output-format json -z "${DURATION}s" -c "$CONNECTIONS" "$1" 2> /dev/null \
        | jq -r '"\(.summary.requestsPerSec) \(.latencyPercentiles.p50 * 1000) \(.latencyPercentiles.p90 * 1000) \(.latencyPercentiles.p99 * 1000)"'
}
run_load() {
    cat > "$WORK/max.yaml" << YAML
scenarios:
  max: {executor: constant-vus, vus: $CONNECTIONS, duration: ${DURATION}s}
requests:
  - url: $1
YAML
    timed "$BIN" load "$WORK/max.yaml" --summary-export "$WORK/max.json" > /dev/null
    jq -r '.metrics | "\(.http_reqs.values.rate) \(.http_req_duration.values.med) \(.http_req_duration.values["p(90)"]) \(.http_req_duration.values["p(99)"])"' "$WORK/max.json"
}
# The line of a run, and the CPU it took per request in microseconds (user + system).
fmt() {
    awk -v d="$DURATION" -v cpu="$(cat "$WORK/cpu")" '{
        split(cpu, c, " ")
        printf "%.0f | %.2f | %.2f | %.2f | %.1f", $1, $2, $3, $4, (c[1] + c[2]) * 1e6 / ($1 * d)
    }' <<< "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "date: $(date -u +%F), $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "${DURATION}s per run, $CONNECTIONS connections; wrk -t$THREADS; bellwether load: constant-vus with $CONNECTIONS VUs"
echo
echo '| target | tool | req/s | p50 ms | p90 ms | p99 ms | CPU µs/req | ÷ wrk |'
echo '|---|---|---|---|---|---|---|---|'
for target in "demo-service http://127.0.0.1:$DEMO_PORT/" "nginx http://127.0.0.1:$NGINX_PORT/"; do
    name=${target%% *} url=${target#* }
    wrk -t1 -c"$CONNECTIONS" -d2s "$url" > /dev/null
    WRK=$(run_wrk "$url")
    WRK_ROW=$(fmt "$WRK")
    LOAD=$(run_load "$url")
    LOAD_ROW=$(fmt "$LOAD")
    echo "| $name | wrk | $WRK_ROW | 1.00 |"
    if [ -n "$OHA" ]; then
        OHA_LINE=$(run_oha "$url")
        echo "| $name | oha | $(fmt "$OHA_LINE") | $(ratio "${OHA_LINE%% *}" "${WRK%% *}") |"
    else
        echo "| $name | oha | not installed | | | | | |"
    fi
    echo "| $name | bellwether load | $LOAD_ROW | $(ratio "${LOAD%% *}" "${WRK%% *}") |"
done

echo
echo "constant-arrival-rate against nginx for ${DURATION}s (preAllocatedVUs 50, maxVUs 1000):"
echo
echo '| target rate/s | iterations | dropped | iterations ÷ (rate × duration) | rate nginx logged | ÷ target | p99 ms |'
echo '|---|---|---|---|---|---|---|'
for rate in $RATES; do
    : > "$WORK/nginx/access.log"
    kill -USR1 "$(cat "$WORK/nginx/nginx.pid")"
    cat > "$WORK/rate.yaml" << YAML
scenarios:
  rate: {executor: constant-arrival-rate, rate: $rate, duration: ${DURATION}s, preAllocatedVUs: 50, maxVUs: 1000}
requests:
  - url: http://127.0.0.1:$NGINX_PORT/logged
YAML
    $BIN load "$WORK/rate.yaml" --summary-export "$WORK/rate.json" > /dev/null
    # nginx writes its buffered log on reopen.
    kill -USR1 "$(cat "$WORK/nginx/nginx.pid")"
    sleep 1
    read -r ITER DROPPED P99 < <(jq -r '.metrics | "\(.iterations.values.count) \(.dropped_iterations.values.count) \(.http_req_duration.values["p(99)"])"' "$WORK/rate.json")
    LOGGED=$(sort -n "$WORK/nginx/access.log" | awk 'NR == 1 { first = $1 } { last = $1; n++ } END { if (last > first) printf "%.1f", (n - 1) / (last - first); else print 0 }')
    printf '| %s | %s | %s | %s | %s | %s | %.2f |\n' "$rate" "$ITER" "$DROPPED" \
        "$(awk -v i="$ITER" -v r="$rate" -v d="$DURATION" 'BEGIN { printf "%.4f", i / (r * d) }')" \
        "$LOGGED" "$(awk -v l="$LOGGED" -v r="$rate" 'BEGIN { printf "%.4f", l / r }')" "$P99"
done

echo
echo "peak resident memory of bellwether load, constant-vus for ${DURATION}s against a demo-service answering after 1 s:"
echo
echo '| VUs | requests | peak RSS MiB | KiB per VU |'
echo '|---|---|---|---|'
for vus in 1000 10000; do
    cat > "$WORK/vus.yaml" << YAML
scenarios:
  held: {executor: constant-vus, vus: $vus, duration: ${DURATION}s}
requests:
  - url: http://127.0.0.1:$SLOW_PORT/
YAML
    /usr/bin/time -f '%M' -o "$WORK/rss" $BIN load "$WORK/vus.yaml" --summary-export "$WORK/vus.json" > /dev/null
    KIB=$(cat "$WORK/rss")
    printf '| %s | %s | %.1f | %.1f |\n' "$vus" "$(jq -r '.metrics.http_reqs.values.count' "$WORK/vus.json")" \
        "$(awk -v k="$KIB" 'BEGIN { print k / 1024 }')" "$(awk -v k="$KIB" -v v="$vus" 'BEGIN { print k / v }')"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
