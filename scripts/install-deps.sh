#!/usr/bin/env bash
# Installs what building and testing need beyond the Rust toolchain, Node 20 and npm:
#   - cmake (Pingora's build compiles zlib-ng with it), via apt-get when missing;
#   - the pinned Codex CLI for the end-to-end tests, into .tools/codex (only with --codex).
set -euo pipefail
cd "$(dirname "$0")/.."

CODEX_VERSION="0.169.0"

if ! command -v cmake >/dev/null 2>&1; then
  echo "==> installing cmake (needed by Pingora's build)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq cmake >/dev/null
fi

if [ "${1:-}" = "--codex" ]; then
  bin=".tools/codex/node_modules/.bin/codex"
  if [ ! -x "$bin" ] || [ "$("$bin" --version 2>/dev/null)" != "codex-cli $CODEX_VERSION" ]; then
    echo "==> installing @openai/codex@$CODEX_VERSION into .tools/codex"
    mkdir -p .tools/codex
    (cd .tools/codex && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
      && npm install --no-audit --no-fund --loglevel=error "@openai/codex@$CODEX_VERSION")
  fi
  "$bin" --version
fi
