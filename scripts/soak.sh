#!/usr/bin/env bash
# Soak: the release bridge under a bounded, mixed load with injected upstream failures, its
# memory and open file descriptors sampled, to show they stay flat, that no error reaches the
# client but the injected ones, and that no upstream connection is leaked.
#
# Starts the bench mock upstream (examples/bench_upstream.rs, counting its connections) and the
# bridge (defaults) on free 127.0.0.1 ports, then runs `bench_load soak`
# (examples/bench_load.rs) for SOAK_SECS: SOAK_CONC keep-alive connections sending
# /v1/responses requests back to back, each drawn at random — the small or the 200 KB Codex
# body (SOAK_LARGE_PERCENT), streaming or not (SOAK_STREAM_PERCENT), and SOAK_INJECT_PERCENT of
# them with a failure the mock injects (a 503, a reset before the answer, an answer cut off).
# Every SOAK_SAMPLE_SECS the bridge's RSS and open fds and the mock's connection counts are
# sampled; after the load, a few seconds more (idle pooled connections close).
#
# Prints a markdown summary (also written to target/soak-results.md; the samples to
# target/soak-samples.jsonl): requests, errors by class (injected vs other), RSS and fds at the
# start, after the warm-up, at the end and after the load, upstream connections opened and
# still open. Exits 1 when an error other than an injected one reached the client or an
# upstream connection stayed open after the load. Bounded: the run is under `timeout`, and
# everything started here is stopped on exit. Sends nothing beyond 127.0.0.1.
#
# Env: SOAK_SECS (600), SOAK_CONC (16), SOAK_INJECT_PERCENT (5), SOAK_LARGE_PERCENT (25),
# SOAK_STREAM_PERCENT (50), SOAK_SAMPLE_SECS (5), SOAK_WARMUP_SECS (60, at most a tenth of the
# run), SOAK_BRIDGE_YAML (lines added to the bridge's config after `upstream:`'s own, e.g.
# "  read_timeout_secs: 60"), BENCH_BRIDGE_BIN (another bridge binary), BENCH_SKIP_BUILD=1.
# The bridge's /metrics at the end go to target/soak-metrics.txt (when curl is installed).
#
# Memory: Pingora's fast timer holds each time-out until its deadline even when cancelled; the
# bridge sends time-outs over 30 s to Tokio's timers (docs/ARCHITECTURE.md, Fuzzing and soak),
# so RSS is flat after the warm-up. A regression shows as RSS rising for the length of the
# longest time-out (600 s).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SOAK_SECS:-600}
CONC=${SOAK_CONC:-16}
OUT=target/soak-results.md
SAMPLES=target/soak-samples.jsonl
METRICS=target/soak-metrics.txt

# shellcheck source=scripts/lib/local-services.sh
source scripts/lib/local-services.sh
build_release
start_mock --answer tools --stats-file "$TMP/mock-stats.json"
start_bridge "${SOAK_BRIDGE_YAML:-}"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p target
status=0
timeout $((SECS + 300)) "$LOAD" soak --addr "127.0.0.1:$BRIDGE_PORT" --pid "$BRIDGE_PID" \
    --secs "$SECS" --conc "$CONC" \
    --inject-percent "${SOAK_INJECT_PERCENT:-5}" \
    --large-percent "${SOAK_LARGE_PERCENT:-25}" \
    --stream-percent "${SOAK_STREAM_PERCENT:-50}" \
    --sample-secs "${SOAK_SAMPLE_SECS:-5}" \
    ${SOAK_WARMUP_SECS:+--warmup-secs "$SOAK_WARMUP_SECS"} \
    --mock-stats "$TMP/mock-stats.json" --samples-file "$SAMPLES" >"$TMP/summary.md" || status=$?
# What an operator's scraper would have seen at the end.
if command -v curl >/dev/null; then
    curl -s "http://127.0.0.1:$BRIDGE_PORT/metrics" >"$METRICS" || true
fi

{
    echo "# Soak — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
    echo
    REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    echo "Bridge: \`$BRIDGE\` (tree at $REV). Load average before/after: $LOAD_BEFORE /" \
        "$(cut -d' ' -f1-3 /proc/loadavg). Bridge log: $(grep -c -E 'WARN|ERROR' "$TMP/bridge.log" || true)" \
        "WARN/ERROR lines (the injected failures are logged)."
    echo
    cat "$TMP/summary.md"
} | tee "$OUT"
echo "(written to $OUT; samples in $SAMPLES)" >&2
exit "$status"
