# Sourced by scripts/bench.sh, scripts/soak.sh and scripts/syscalls.sh: builds the release
# bridge and the bench examples, starts the bench mock upstream (examples/bench_upstream.rs)
# and the bridge on free 127.0.0.1 ports, and stops everything started here on exit.
#
# After sourcing: $TMP (removed on exit), $BRIDGE, $MOCK, $LOAD (the binaries);
# `build_release` (skipped with BENCH_SKIP_BUILD=1); `start_mock ARGS…` sets MOCK_PID and
# MOCK_PORT; `start_bridge [EXTRA_YAML]` sets BRIDGE_PID and BRIDGE_PORT (defaults except the
# listen address and the upstream, plus EXTRA_YAML's top-level lines; its log goes to
# $TMP/bridge.log). For more of each: `start_stand_in NAME ARGS…` (another bench_upstream,
# log $TMP/NAME.log) and `start_bridge_config NAME CONFIG [VAR=VALUE…]` (another bridge with
# its own config file and environment, log $TMP/NAME.log) set STARTED_PID and STARTED_PORT.
# Env: BENCH_BRIDGE_BIN (another bridge binary to run).

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BRIDGE=${BENCH_BRIDGE_BIN:-target/release/clawrouter-codex}
MOCK=target/release/examples/bench_upstream
LOAD=target/release/examples/bench_load

build_release() {
    if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
        echo "== building (release)" >&2
        timeout 1800 cargo build --release --quiet --bin clawrouter-codex \
            --example bench_upstream --example bench_load
    fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! port_open "$port"; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

wait_port() {
    for _ in $(seq 1 200); do
        port_open "$1" && return 0
        sleep 0.05
    done
    echo "nothing listens on 127.0.0.1:$1 after 10 s" >&2
    return 1
}

start_mock() { # bench_upstream options…
    "$MOCK" --port-file "$TMP/mock.port" "$@" 2>"$TMP/mock.log" &
    MOCK_PID=$!
    PIDS+=("$MOCK_PID")
    for _ in $(seq 1 200); do [[ -s "$TMP/mock.port" ]] && break; sleep 0.05; done
    MOCK_PORT=$(cat "$TMP/mock.port")
    wait_port "$MOCK_PORT"
}

start_bridge() { # [extra top-level YAML]
    BRIDGE_PORT=$(free_port)
    cat >"$TMP/bridge.yaml" <<YAML
listen: 127.0.0.1:$BRIDGE_PORT
upstream:
  url: http://127.0.0.1:$MOCK_PORT/v1
  stream: auto
${1:-}
YAML
    env -u PORT -u CLAWROUTER_PROXY_URL -u RUST_LOG "$BRIDGE" -c "$TMP/bridge.yaml" bridge \
        2>"$TMP/bridge.log" &
    BRIDGE_PID=$!
    PIDS+=("$BRIDGE_PID")
    wait_port "$BRIDGE_PORT"
}

start_stand_in() { # name, bench_upstream options…
    local name=$1
    shift
    "$MOCK" --port-file "$TMP/$name.port" "$@" 2>"$TMP/$name.log" &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    for _ in $(seq 1 200); do [[ -s "$TMP/$name.port" ]] && break; sleep 0.05; done
    STARTED_PORT=$(cat "$TMP/$name.port")
    wait_port "$STARTED_PORT"
}

start_bridge_config() { # name, config file (listening on $STARTED_PORT), VAR=VALUE…
    local name=$1 config=$2
    shift 2
    env -u PORT -u CLAWROUTER_PROXY_URL -u RUST_LOG -u UPSTREAM_KIND -u BLOCKRUN_API_URL \
        -u DIRECT_CHAIN -u DIRECT_MAX_PER_REQUEST_USD -u DIRECT_MAX_PER_DAY_USD \
        -u BASE_RPC_URL -u SOLANA_RPC_URL -u BLOCKRUN_HOME -u BLOCKRUN_WALLET_KEY \
        -u WALLET_KEY_FILE "$@" "$BRIDGE" -c "$config" bridge 2>"$TMP/$name.log" &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    wait_port "$STARTED_PORT"
}
