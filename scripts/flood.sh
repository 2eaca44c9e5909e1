#!/usr/bin/env bash
# Connection floods: the release bridge (defaults: server.max_connections 512) is sent
# FLOOD_BURSTS bursts of FLOOD_CONNS connections opened at once, each asking GET /health and
# held open until the whole burst is answered (`bench_load flood`, examples/bench_load.rs), so
# all but the first 512 are refused with 503. The bridge's RSS is read idle, after each burst
# and FLOOD_SETTLE_SECS later: memory a flood leaves behind shows as the settled RSS rising
# from burst to burst (docs/ARCHITECTURE.md, "Client connections").
#
# Prints a markdown table (also written to target/flood-results.md). Exits 1 when the RSS
# settled after the last burst is over FLOOD_MAX_RATIO (2) times the idle RSS. Sends nothing
# beyond 127.0.0.1; everything started here is stopped on exit.
#
# Env: FLOOD_CONNS (10000), FLOOD_BURSTS (5), FLOOD_SETTLE_SECS (5), FLOOD_MAX_RATIO (2),
# FLOOD_BRIDGE_YAML (top-level lines added to the bridge's config), BENCH_BRIDGE_BIN (another
# bridge binary), BENCH_SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/local-services.sh

CONNS=${FLOOD_CONNS:-10000}
BURSTS=${FLOOD_BURSTS:-5}
SETTLE=${FLOOD_SETTLE_SECS:-5}
MAX_RATIO=${FLOOD_MAX_RATIO:-2}
OUT=target/flood-results.md

# Both ends hold a file descriptor per connection.
ulimit -n "$(( CONNS * 2 + 1024 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
build_release
start_mock
start_bridge "${FLOOD_BRIDGE_YAML:-}"
echo "== $BURSTS bursts of $CONNS connections at once against the bridge (pid $BRIDGE_PID)" >&2
timeout 900 "$LOAD" flood --addr "127.0.0.1:$BRIDGE_PORT" --pid "$BRIDGE_PID" \
    --conns "$CONNS" --bursts "$BURSTS" --settle-secs "$SETTLE" | tee "$TMP/flood.out"
grep -v '^{' "$TMP/flood.out" >"$OUT"
python3 - "$MAX_RATIO" "$TMP/flood.out" <<'PY'
import json, sys
line = [l for l in open(sys.argv[2]) if l.startswith("{")][-1]
figures = json.loads(line)
idle, last = figures["idle_rss_mib"], figures["settled_rss_mib"][-1]
ratio = last / idle
print(f"settled RSS after the last burst: {last:.1f} MiB = {ratio:.2f} x idle ({idle:.1f} MiB)")
sys.exit(0 if ratio <= float(sys.argv[1]) else 1)
PY
