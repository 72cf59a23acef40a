# Shared by the router benchmarks (source it from bench/): tool checks, the release build, a
# work directory and processes cleaned up on exit, the two demo backends and HAProxy's
# configuration. Set STABLE_PORT and CANARY_PORT before sourcing.

# need TOOL... : stops unless every tool is installed.
need() {
    for tool in "$@"; do
        command -v "$tool" > /dev/null || { echo "$tool is missing: see the top of $0 for the packages" >&2; exit 1; }
    done
}

# build PACKAGE_ARGS... : cargo build --release with them; sets BIN and FIXED.
build() {
    cargo build --release "$@" >&2
    local target=${CARGO_TARGET_DIR:-target}
    BIN=$target/release/bellwether
    FIXED=$target/release/examples/fixed_rate
}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    wait 2> /dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 300); do
        (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

# Starts the stable (v1) and canary (v2) demo backends and waits for them.
start_backends() {
    PORT=$STABLE_PORT DEMO_VERSION=v1 $BIN demo-service > /dev/null & PIDS+=($!)
    PORT=$CANARY_PORT DEMO_VERSION=v2 $BIN demo-service > /dev/null & PIDS+=($!)
    wait_port "$STABLE_PORT"
    wait_port "$CANARY_PORT"
}

# The arguments of `bellwether router` at 90/10 on PORT.
router_args() {
    echo router --listen "127.0.0.1:$1" \
        --backend "stable=127.0.0.1:$STABLE_PORT" --backend "canary=127.0.0.1:$CANARY_PORT" \
        --weight canary=10
}

# haproxy_cfg PORT THREADS: HAProxy at 90/10 with pooled keep-alive backend connections.
haproxy_cfg() {
cat << CFG
global
    maxconn 4096
    nbthread $2
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend bench
    bind 127.0.0.1:$1
    default_backend service
backend service
    balance roundrobin
    server stable 127.0.0.1:$STABLE_PORT weight 90
    server canary 127.0.0.1:$CANARY_PORT weight 10
CFG
}
