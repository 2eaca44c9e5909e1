#!/usr/bin/env bash
# Runs every test: formatting and lint checks, unit tests, integration tests against the
# strict mock upstream, and end-to-end tests that drive the real Codex CLI (pinned, installed
# into .tools/codex by this script) through the real bridge.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --codex
export CODEX_BIN="$PWD/.tools/codex/node_modules/.bin/codex"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "==> cargo test"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --all-targets 2>&1 | tee "$log"
# One closing line for the whole run (each test binary prints its own).
awk '/^test result:/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
