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
#   direct mode  the same streaming request (model deepseek/deepseek-chat) three ways, each on
#                its own processes: the bridge in direct mode (upstream.kind: direct, a
#                Hardhat test key) against bench_upstream --blockrun (x402: the warm-up
#                request pays through the 402, later ones sign ahead; BlockRun streams); the
#                bridge against bench_upstream --clawrouter (today's default path: ClawRouter
#                generates with BlockRun non-streaming, then sends it all); and the paced
#                mock with no bridge (baseline). Time to first byte, to the first and last
#                text delta, their spread, receive − generation time per delta; the two
#                bridges' RSS afterwards. BENCH_CLAWROUTER=1 also starts the real ClawRouter
#                (BENCH_CLAWROUTER_CMD, default `npx -y @blockrun/clawrouter@0.12.246`; it
#                needs the package, so it is off by default) with a throwaway HOME, the
#                test key and its upstream proxy set to a dead 127.0.0.1 port (it cannot
#                reach BlockRun), and records its RSS idle and after /health and /v1/models
#                calls, for bridge + ClawRouter against the one direct-mode process.
#
# Prints one markdown table (also written to target/bench-results.md). Bounded: every load
# cell runs BENCH_SECS (default 3) seconds or BENCH_MAX requests, every step is under
# `timeout`, and everything started here is stopped on exit. Sends nothing beyond 127.0.0.1.
#
# Env: BENCH_SECS (3), BENCH_WARMUP_MS (300), BENCH_STREAMS (6), BENCH_SKIP_BUILD=1,
# BENCH_BRIDGE_BIN (another bridge binary to measure, e.g. a patched build; default the
# release build of this tree), BENCH_CLAWROUTER=1, BENCH_CLAWROUTER_CMD, BENCH_LEDGER_DIR
# (where the direct-mode bridge keeps its payment ledger, default under $TMP: its SQLite
# commits sit before the paid call and before the first delta, so the disk shows there).
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

# ---- direct mode: streaming from BlockRun, against the ClawRouter path and the baseline
TEST_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
MODEL=deepseek/deepseek-chat
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

start_stand_in blockrun --blockrun --chunks "$CHUNKS" --interval-ms "$INTERVAL_MS"
BLOCKRUN_PORT=$STARTED_PORT
start_stand_in clawrouter --clawrouter --chunks "$CHUNKS" --interval-ms "$INTERVAL_MS"
CLAW_STANDIN_PORT=$STARTED_PORT

mkdir -p "$TMP/direct-home"
LEDGER_DIR=${BENCH_LEDGER_DIR:-$TMP/direct-home}
mkdir -p "$LEDGER_DIR"
rm -f "$LEDGER_DIR/bench-payments.sqlite"*
STARTED_PORT=$(free_port)
cat >"$TMP/direct.yaml" <<YAML
listen: 127.0.0.1:$STARTED_PORT
upstream:
  kind: direct
direct:
  api_url: http://127.0.0.1:$BLOCKRUN_PORT/api
  chain: base
  ledger: $LEDGER_DIR/bench-payments.sqlite
  max_per_request_usd: 0.5
  max_per_day_usd: 0
  base_rpc_url: http://127.0.0.1:$BLOCKRUN_PORT/rpc
  solana_rpc_url: http://127.0.0.1:$BLOCKRUN_PORT/rpc
YAML
start_bridge_config bridge-direct "$TMP/direct.yaml" HOME="$TMP/direct-home" \
    BLOCKRUN_WALLET_KEY="$TEST_KEY"
DIRECT_PID=$STARTED_PID DIRECT_PORT=$STARTED_PORT

STARTED_PORT=$(free_port)
cat >"$TMP/proxy.yaml" <<YAML
listen: 127.0.0.1:$STARTED_PORT
upstream:
  url: http://127.0.0.1:$CLAW_STANDIN_PORT/v1
  stream: auto
YAML
start_bridge_config bridge-proxy "$TMP/proxy.yaml"
PROXY_PID=$STARTED_PID PROXY_PORT=$STARTED_PORT

run_stream() { # label target port
    echo "== stream $1 ($STREAMS × $CHUNKS chunks ${INTERVAL_MS} ms apart)" >&2
    timeout 120 "$LOAD" stream --addr "127.0.0.1:$3" --target "$2" --label "$1" \
        --model "$MODEL" --count "$STREAMS" --chunks "$CHUNKS" --interval-ms "$INTERVAL_MS" \
        >>"$RESULTS"
}
run_stream stream-baseline direct "$BLOCKRUN_PORT"
run_stream stream-direct-mode bridge "$DIRECT_PORT"
run_stream stream-via-clawrouter bridge "$PROXY_PORT"

X402_REQUIRED=$(grep -c '^x402: 402' "$TMP/blockrun.log" || true)
X402_PAID=$(grep -c '^x402: paid' "$TMP/blockrun.log" || true)
DIRECT_ERRORS=$(grep -c -E 'WARN|ERROR' "$TMP/bridge-direct.log" || true)
RSS_JSON="\"direct_rss_kib\":$(status_kib "$DIRECT_PID" VmRSS),\"direct_hwm_kib\":$(status_kib "$DIRECT_PID" VmHWM)"
RSS_JSON+=",\"proxy_rss_kib\":$(status_kib "$PROXY_PID" VmRSS),\"proxy_hwm_kib\":$(status_kib "$PROXY_PID" VmHWM)"
RSS_JSON+=",\"x402_required\":$X402_REQUIRED,\"x402_paid\":$X402_PAID"
RSS_JSON+=",\"ledger_fs\":\"$(stat -f -c %T "$LEDGER_DIR")\""
if [[ -n "${BENCH_LEDGER_DIR:-}" ]]; then rm -f "$LEDGER_DIR/bench-payments.sqlite"*; fi

# The real ClawRouter (optional): RSS of its process tree, idle and after some calls.
tree_kib() { # pid key → the sum over the process and its descendants
    local total=0 pid kib
    for pid in $1 $(pgrep -P "$1" 2>/dev/null) \
        $(for c in $(pgrep -P "$1" 2>/dev/null); do pgrep -P "$c"; done); do
        kib=$(status_kib "$pid" "$2" 2>/dev/null || true)
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}
CLAW_NOTE="not started (set BENCH_CLAWROUTER=1)"
if [[ "${BENCH_CLAWROUTER:-0}" == 1 ]]; then
    CLAW_PORT=$(free_port)
    DEAD_PORT=$(free_port)
    mkdir -p "$TMP/claw-home"
    read -r -a CLAW_CMD <<<"${BENCH_CLAWROUTER_CMD:-npx -y @blockrun/clawrouter@0.12.246}"
    echo "== real ClawRouter: ${CLAW_CMD[*]} --port $CLAW_PORT" >&2
    (
        cd "$TMP/claw-home"
        exec env HOME="$TMP/claw-home" BLOCKRUN_WALLET_KEY="$TEST_KEY" \
            CLAWROUTER_PAYMENT_CHAIN=base BLOCKRUN_RESPONSE_STORE=off \
            BLOCKRUN_UPSTREAM_PROXY="http://127.0.0.1:$DEAD_PORT" \
            HTTPS_PROXY="http://127.0.0.1:$DEAD_PORT" HTTP_PROXY="http://127.0.0.1:$DEAD_PORT" \
            NO_PROXY= "${CLAW_CMD[@]}" --port "$CLAW_PORT"
    ) >"$TMP/clawrouter-real.log" 2>&1 &
    CLAW_PID=$!
    PIDS+=("$CLAW_PID")
    CLAW_UP=0
    for _ in $(seq 1 600); do # up to 60 s (npx may fetch the package first)
        if curl -sf --max-time 2 "http://127.0.0.1:$CLAW_PORT/health" >/dev/null 2>&1; then
            CLAW_UP=1
            break
        fi
        kill -0 "$CLAW_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ $CLAW_UP == 1 ]]; then
        sleep 2
        CLAW_IDLE=$(tree_kib "$CLAW_PID" VmRSS)
        for _ in $(seq 1 20); do
            curl -s --max-time 5 "http://127.0.0.1:$CLAW_PORT/health" >/dev/null || true
            curl -s --max-time 5 "http://127.0.0.1:$CLAW_PORT/v1/models" >/dev/null || true
        done
        # One chat call each way: BlockRun is unreachable (the dead proxy), so they fail fast;
        # they still run its routing, balance check and error path.
        for stream in false true; do
            curl -s --max-time 20 -H 'content-type: application/json' \
                -d "{\"model\":\"$MODEL\",\"stream\":$stream,\"messages\":[{\"role\":\"user\",\"content\":\"hi $stream\"}]}" \
                "http://127.0.0.1:$CLAW_PORT/v1/chat/completions" >/dev/null || true
        done
        RSS_JSON+=",\"clawrouter_idle_kib\":$CLAW_IDLE,\"clawrouter_rss_kib\":$(tree_kib "$CLAW_PID" VmRSS)"
        RSS_JSON+=",\"clawrouter_hwm_kib\":$(tree_kib "$CLAW_PID" VmHWM)"
        CLAW_NOTE="after /health, /v1/models ×20 and 2 failing chat calls (idle: $((CLAW_IDLE / 1024)) MiB; the process tree of \`${CLAW_CMD[*]}\`)"
    else
        CLAW_NOTE="\`${CLAW_CMD[*]}\` did not answer /health within 60 s (log: $(tail -n 1 "$TMP/clawrouter-real.log" | tr -cd '[:alnum:] .,:;/@()_-' | cut -c1-160))"
    fi
fi
RSS_JSON+=",\"clawrouter_note\":\"$CLAW_NOTE\""
echo "{\"target\":\"rss\",$RSS_JSON}" >>"$RESULTS"

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
        "Bridge RSS idle ${IDLE_RSS} KiB, at the end ${END_RSS} KiB; WARN/ERROR lines in its log: ${ERRORS}" \
        "(the direct-mode bridge's: ${DIRECT_ERRORS})."
    echo
    "$LOAD" report --file "$RESULTS" --clk-tck "$CLK_TCK"
} | tee "$OUT"
echo "(written to $OUT)" >&2
