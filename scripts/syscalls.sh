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
command -v strace >/dev/null || { echo "strace is not installed" >&2; exit 1; }
# shellcheck source=scripts/lib/local-services.sh
source scripts/lib/local-services.sh
build_release
start_mock --chunks 20 --interval-ms 0
start_bridge

measure() { # label, bench_load args...
    local label=$1; shift
    # Warm up (pool, probe), then count.
    "$LOAD" "$@" --max 50 --secs 5 >/dev/null
    strace -c -f -q -p "$BRIDGE_PID" -o "$TMP/strace.txt" &
    local tracer=$!
    sleep 0.5
    "$LOAD" "$@" --max "$REQUESTS" --secs 60 >/dev/null
    sleep 0.3
    kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
    echo "== $label: system calls per request ($REQUESTS requests)"
    awk -v n="$REQUESTS" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ { printf "  %-16s %6.2f\n", $NF, $4 / n }' "$TMP/strace.txt" \
        | sort -k2 -nr | head -14
}
measure "stream:false" load --addr "127.0.0.1:$BRIDGE_PORT" --target bridge --body small --conc 1
measure "stream:true" stream --addr "127.0.0.1:$BRIDGE_PORT" --target bridge --count "$REQUESTS" --chunks 20 --interval-ms 0
