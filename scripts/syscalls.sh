#!/usr/bin/env bash
# System calls the bridge makes per request (strace -c on the running bridge), for the small
# request of scripts/bench.sh at concurrency 1: `stream:false` (the mock answers JSON) and
# `stream:true` (the mock streams 20 chunks). Counts are per request; `connect` counts the
# upstream connections opened. Needs strace (apt-get install strace) and the release build of
# the bench examples (scripts/bench.sh builds them; BENCH_SKIP_BUILD=1 skips building here too).
#
# Env: BENCH_BRIDGE_BIN (another bridge binary), REQUESTS (default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-2000}
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    cargo build --release --quiet --bin clawrouter-codex --example bench_upstream --example bench_load
fi
command -v strace >/dev/null || { echo "strace is not installed" >&2; exit 1; }
BRIDGE=${BENCH_BRIDGE_BIN:-target/release/clawrouter-codex}
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
target/release/examples/bench_upstream --port-file "$TMP/mock.port" --chunks 20 --interval-ms 0 2>/dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s "$TMP/mock.port" ]] && break; sleep 0.05; done
MOCK_PORT=$(cat "$TMP/mock.port")
PORT=$((20000 + RANDOM % 30000))
printf 'listen: 127.0.0.1:%s\nupstream:\n  url: http://127.0.0.1:%s/v1\n' "$PORT" "$MOCK_PORT" >"$TMP/bridge.yaml"
env -u RUST_LOG "$BRIDGE" -c "$TMP/bridge.yaml" bridge 2>/dev/null &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
for _ in $(seq 1 100); do port_open "$PORT" && break; sleep 0.05; done

measure() { # label, bench_load args...
    local label=$1; shift
    # Warm up (pool, probe), then count.
    target/release/examples/bench_load "$@" --max 50 --secs 5 >/dev/null
    strace -c -f -q -p "$BRIDGE_PID" -o "$TMP/strace.txt" &
    local tracer=$!
    sleep 0.5
    target/release/examples/bench_load "$@" --max "$REQUESTS" --secs 60 >/dev/null
    sleep 0.3
    kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
    echo "== $label: system calls per request ($REQUESTS requests)"
    awk -v n="$REQUESTS" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ { printf "  %-16s %6.2f\n", $NF, $4 / n }' "$TMP/strace.txt" \
        | sort -k2 -nr | head -14
}
measure "stream:false" load --addr "127.0.0.1:$PORT" --target bridge --body small --conc 1
measure "stream:true" stream --addr "127.0.0.1:$PORT" --target bridge --count "$REQUESTS" --chunks 20 --interval-ms 0
