#!/usr/bin/env bash
# Installs what building and testing need beyond the Rust toolchain, Node 20 and npm:
#   - cmake (Pingora's build compiles zlib-ng with it), via apt-get when missing;
#   - with --codex, the pinned Codex CLIs for the end-to-end tests: the newest supported
#     release into .tools/codex (every end-to-end test runs on it) and the previous one into
#     .tools/codex-previous (a short run keeps it supported).
set -euo pipefail
cd "$(dirname "$0")/.."

CODEX_VERSION="0.171.0"
CODEX_PREVIOUS_VERSION="0.169.0"

if ! command -v cmake >/dev/null 2>&1; then
  echo "==> installing cmake (needed by Pingora's build)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq cmake >/dev/null
fi

install_codex() { # version dir
  local version=$1 dir=$2
  local bin="$dir/node_modules/.bin/codex"
  if [ ! -x "$bin" ] || [ "$("$bin" --version 2>/dev/null)" != "codex-cli $version" ]; then
    echo "==> installing @openai/codex@$version into $dir"
    mkdir -p "$dir"
    (cd "$dir" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
      && npm install --no-audit --no-fund --loglevel=error "@openai/codex@$version")
  fi
  "$bin" --version
}

if [ "${1:-}" = "--codex" ]; then
  install_codex "$CODEX_VERSION" .tools/codex
  install_codex "$CODEX_PREVIOUS_VERSION" .tools/codex-previous
fi
