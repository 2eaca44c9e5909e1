#!/usr/bin/env bash
# WebSocket vs HTTP benchmark of Codex sessions (issue #18; docs/ARCHITECTURE.md, WebSocket).
#
# Builds the release bridge and examples/bench_ws.rs, starts the fast mock upstream
# (examples/bench_upstream.rs: one text chunk per answer, no pacing) and the bridge on free
# 127.0.0.1 ports, then:
#   CPU      BENCH_WS_SESSIONS (default 10) sessions of 100 turns growing to ~1 MiB, one after
#            the other, per transport; the bridge's CPU per turn (all threads' schedstat) and
#            the client's turn time at turns 1, 10, 50 and 100.
#   memory   64 sessions at once, each to ~1 MiB and held open until all are done, per
#            transport, each on a fresh bridge: its peak RSS (VmHWM), and its RSS once all
#            are open and idle (what the WebSocket conversations cost to keep).
# Prints a markdown table (also written to target/bench-ws-results.md). Sends nothing beyond
# 127.0.0.1; everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SESSIONS=${BENCH_WS_SESSIONS:-10}
CONCURRENCY=${BENCH_WS_CONCURRENCY:-64}
OUT=target/bench-ws-results.md
WS=target/release/examples/bench_ws

# shellcheck source=scripts/lib/local-services.sh
source scripts/lib/local-services.sh
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    echo "== building (release)" >&2
    timeout 1800 cargo build --release --quiet --bin clawrouter-codex \
        --example bench_upstream --example bench_ws
fi
start_mock --chunks 1 --interval-ms 0 --answer text

RESULTS="$TMP/results.jsonl"
: >"$RESULTS"
stop_bridge() {
    kill "$BRIDGE_PID" 2>/dev/null || true
    wait "$BRIDGE_PID" 2>/dev/null || true
}

start_bridge
for transport in http websocket; do
    echo "== CPU per turn: $transport, $SESSIONS sessions" >&2
    timeout 1200 "$WS" --port "$BRIDGE_PORT" --pid "$BRIDGE_PID" --transport "$transport" \
        --mode cpu --sessions "$SESSIONS" >>"$RESULTS"
done
stop_bridge

for transport in websocket http; do
    start_bridge
    echo "== memory: $CONCURRENCY $transport sessions at once" >&2
    timeout 1200 "$WS" --port "$BRIDGE_PORT" --pid "$BRIDGE_PID" --transport "$transport" \
        --mode load --concurrency "$CONCURRENCY" >"$TMP/load.json" &
    load_pid=$!
    for _ in $(seq 1 12000); do [[ -s "$TMP/load.json" ]] && break; sleep 0.1; done
    # Every session is open and idle now: what the bridge keeps for them (after the
    # allocator gave back what the turns used).
    sleep 2
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$BRIDGE_PID/status")
    wait "$load_pid"
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$BRIDGE_PID/status")
    echo "{\"memory\":\"$transport\",\"hwm_kib\":$hwm,\"idle_rss_kib\":$rss,\"load\":$(cat "$TMP/load.json")}" >>"$RESULTS"
    stop_bridge
done

python3 - "$RESULTS" >"$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cpu = {(r["transport"], r["turn"]): r for r in rows if "turn" in r}
print("| turn | input | HTTP CPU µs | WebSocket CPU µs | WS ÷ HTTP | HTTP p50 ms | WebSocket p50 ms |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for t in sorted({k[1] for k in cpu}):
    h, w = cpu[("http", t)], cpu[("websocket", t)]
    print(f"| {t} | {h['input_bytes']/1024:.0f} KiB | {h['cpu_us_median']:.0f} | {w['cpu_us_median']:.0f} "
          f"| {w['cpu_us_median']/h['cpu_us_median']:.2f} | {h['wall_ms_p50']:.2f} | {w['wall_ms_p50']:.2f} |")
print()
for r in rows:
    if "memory" in r:
        load = r["load"]
        print(f"- peak RSS, {load['concurrency']} {r['memory']} sessions of {load['turns']} turns at once "
              f"(~{load['input_bytes']/1048576:.2f} MiB each): **{r['hwm_kib']/1024:.1f} MiB**; "
              f"all open and idle afterwards: {r['idle_rss_kib']/1024:.1f} MiB ({load['secs']:.1f} s)")
PY
cat "$OUT"
