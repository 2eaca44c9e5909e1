#!/usr/bin/env bash
# Bridge vs direct-to-mock benchmark (docs/ARCHITECTURE.md, Performance), measured in one run.
#
# Builds the release bridge and the bench examples, starts a fast mock upstream
# (examples/bench_upstream.rs) and the bridge (its own temp config, upstream.stream auto,
# keepalive_secs default) on free 127.0.0.1 ports, then measures with examples/bench_load.rs:
#
#   load cells   body small|1mb × concurrency 1|16|64 × target direct|bridge, and the
#                pass-through cell: small × 1|64, the direct Chat body sent to the bridge's
#                /v1/chat/completions (Pingora's own proxy path), for translate ÷ pass-through
#                bridge: the Responses body (stream:false) → POST /v1/responses
#                direct: the Chat body the bridge sends upstream for it (same bytes, computed
#                        with the bridge's own translator) → POST /v1/chat/completions on the mock
#                both get the mock's fixed chat.completion (text + 2 tool calls); the bridge
#                translates it into a Response object. Keep-alive connections, warm-up first.
#   CPU          bridge utime+stime (/proc/PID/stat) over each measured window ÷ requests
#   RSS          bridge VmHWM (/proc/PID/status), peak reset before the 1 MB c=64 cell
#   streaming    the ~10 KB Codex body, stream:true, mock answers 40 text chunks 25 ms apart
#                (the bridge's auto mode streams from this upstream: its /health names no
#                wallet); time to first byte, to first text delta, and per delta the receive
#                time minus the mock's write time stamped in it, bridge vs direct.
#
# Prints one markdown table (also written to target/bench-results.md). Bounded: every load
# cell runs BENCH_SECS (default 3) seconds or BENCH_MAX requests, every step is under
# `timeout`, and everything started here is stopped on exit. Sends nothing beyond 127.0.0.1.
#
# Env: BENCH_SECS (3), BENCH_WARMUP_MS (300), BENCH_STREAMS (6), BENCH_SKIP_BUILD=1,
# BENCH_BRIDGE_BIN (another bridge binary to measure, e.g. a patched build; default the
# release build of this tree).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${BENCH_SECS:-3}
WARMUP_MS=${BENCH_WARMUP_MS:-300}
STREAMS=${BENCH_STREAMS:-6}
CHUNKS=40
INTERVAL_MS=25
OUT=target/bench-results.md

# shellcheck source=scripts/lib/local-services.sh
source scripts/lib/local-services.sh
build_release
start_mock --chunks "$CHUNKS" --interval-ms "$INTERVAL_MS"
start_bridge
IDLE_RSS=$(awk '/^VmRSS/ {print $2}' "/proc/$BRIDGE_PID/status")

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
RESULTS="$TMP/results.jsonl"
: >"$RESULTS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)

run_load() { # target body conc [extra…]
    local target=$1 body=$2 conc=$3
    shift 3
    local addr pid max
    if [[ $target == bridge || $target == passthrough ]]; then
        addr=127.0.0.1:$BRIDGE_PORT pid=$BRIDGE_PID
    else
        addr=127.0.0.1:$MOCK_PORT pid=$MOCK_PID
    fi
    if [[ $body == 1mb ]]; then max=4000; else max=60000; fi
    echo "== load $target body=$body c=$conc" >&2
    timeout 120 "$LOAD" load --addr "$addr" --target "$target" --body "$body" --conc "$conc" \
        --secs "$SECS" --max "$max" --warmup-ms "$WARMUP_MS" --pid "$pid" \
        --clk-tck "$CLK_TCK" "$@" >>"$RESULTS"
}

for conc in 1 64; do
    # Pingora's own proxying of the same Chat body through the same bridge: what the
    # translation is compared with.
    run_load passthrough small "$conc"
done
for body in small 1mb; do
    for conc in 1 16 64; do
        run_load direct "$body" "$conc"
        if [[ $body == 1mb && $conc == 64 ]]; then
            run_load bridge "$body" "$conc" --reset-hwm
        else
            run_load bridge "$body" "$conc"
        fi
    done
done

for target in direct bridge; do
    if [[ $target == bridge ]]; then addr=127.0.0.1:$BRIDGE_PORT; else addr=127.0.0.1:$MOCK_PORT; fi
    echo "== stream $target ($STREAMS × $CHUNKS chunks ${INTERVAL_MS} ms apart)" >&2
    timeout 120 "$LOAD" stream --addr "$addr" --target "$target" --count "$STREAMS" \
        --chunks "$CHUNKS" --interval-ms "$INTERVAL_MS" >>"$RESULTS"
done

END_RSS=$(awk '/^VmRSS/ {print $2}' "/proc/$BRIDGE_PID/status")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ERRORS=$(grep -c -E 'WARN|ERROR' "$TMP/bridge.log" || true)

mkdir -p target
{
    echo "# Bridge vs direct-to-mock — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
    echo
    REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    DIRTY=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
    echo "Bridge: \`$BRIDGE\` (tree at $REV, $DIRTY modified tracked files)."
    echo
    echo "Load average before/after: $LOAD_BEFORE / $LOAD_AFTER (other work on the machine adds noise)." \
        "Measured in $(($(date +%s) - START)) s; ${SECS} s per load cell after ${WARMUP_MS} ms warm-up." \
        "Bridge RSS idle ${IDLE_RSS} KiB, at the end ${END_RSS} KiB; WARN/ERROR lines in its log: ${ERRORS}."
    echo
    "$LOAD" report --file "$RESULTS" --clk-tck "$CLK_TCK"
} | tee "$OUT"
echo "(written to $OUT)" >&2
