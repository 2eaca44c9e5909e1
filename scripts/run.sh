#!/usr/bin/env bash
# Builds (release) and runs the bridge in the foreground with conf/bridge.yaml.
# Extra arguments go to clawrouter-codex, e.g. `scripts/run.sh -v`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --quiet
exec target/release/clawrouter-codex -c conf/bridge.yaml "$@" bridge
