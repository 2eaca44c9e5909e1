#!/usr/bin/env bash
# Runs every test: formatting and lint checks, unit tests, integration tests against the
# strict mock upstream, and end-to-end tests that drive the real Codex CLI (pinned, installed
# into .tools/ by this script) through the real bridge: every one on the newest supported
# release over both transports (HTTP, then WebSocket), a text turn and a tool turn on the
# previous one (both transports too). Then a 30-second fuzz run per
# cargo-fuzz target (scripts/fuzz-smoke.sh; FUZZ_SECS=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --codex --browser --solana --actionlint --viem --solana-web3 --x402-svm
export CODEX_BIN="$PWD/.tools/codex/node_modules/.bin/codex"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "==> cargo test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --all-targets 2>&1 | tee "$log"
echo "==> the real Codex over WebSocket: the e2e suite again (supports_websockets = true)"
CODEX_E2E_TRANSPORT=websocket cargo test --test codex_e2e --test codex_direct 2>&1 | tee -a "$log"
echo "==> the previous Codex release: a text turn and a tool turn ($("$PWD/.tools/codex-previous/node_modules/.bin/codex" --version))"
CODEX_BIN="$PWD/.tools/codex-previous/node_modules/.bin/codex" \
  cargo test --test codex_e2e -- --exact plain_text_turn_streams_the_answer shell_tool_call_creates_a_file \
  2>&1 | tee -a "$log"
CODEX_BIN="$PWD/.tools/codex-previous/node_modules/.bin/codex" CODEX_E2E_TRANSPORT=websocket \
  cargo test --test codex_e2e -- --exact plain_text_turn_streams_the_answer shell_tool_call_creates_a_file \
  2>&1 | tee -a "$log"
if [[ "${FUZZ_SECS:-30}" != 0 ]]; then
  echo "==> fuzz smoke: each cargo-fuzz target for ${FUZZ_SECS:-30} s"
  # No sanitizer here: the code the targets reach has no `unsafe`, a panic or a broken property is what the
  # smoke run is for, and the build is faster. Long runs use AddressSanitizer (the default).
  FUZZ_SANITIZER=${FUZZ_SANITIZER:-none} scripts/fuzz-smoke.sh
fi
# One closing line for the whole run (each test binary prints its own).
awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
