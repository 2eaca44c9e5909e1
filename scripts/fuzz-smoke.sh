#!/usr/bin/env bash
# Fuzz smoke test: builds the cargo-fuzz targets of fuzz/ (docs/ARCHITECTURE.md, Fuzzing and
# soak) and runs each, one after the other on one worker, for FUZZ_SECS seconds (default 30;
# e.g. 600 for a long run). Fails if any target finds a crash: a panic, a broken property
# (tests/properties/), a time-out (an input taking over 10 s: a hang) or memory over 2 GiB.
#
# Runs on the stable toolchain: cargo-fuzz passes nightly-only flags (-Z sanitizer options,
# coverage instrumentation) to rustc, which RUSTC_BOOTSTRAP=1 allows on stable. Installs
# cargo-fuzz (`cargo install cargo-fuzz --locked`) when it is missing.
#
# The seed corpus is made at each run from the repo's files (the real Codex captures in
# tests/fixtures/codex, conf/bridge.yaml) and a few upstream streams and texts written here,
# each behind the control bytes the targets read (tests/properties/mod.rs); it goes into
# fuzz/corpus/<target>, which the runs grow and keep (git-ignored, as are fuzz/artifacts,
# where a crashing input is written). Reproduce a crash with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -s <sanitizer> <target> fuzz/artifacts/<target>/crash-…
# and turn it into a regression test in tests/fuzz_properties.rs.
#
# Prints one line per target (time, executions, corpus, findings), also written to
# target/fuzz-results.md. Build output goes to target/fuzz (CARGO_TARGET_DIR/fuzz).
#
# Env: FUZZ_SECS (30), FUZZ_TARGETS ("request stream leaked config"), FUZZ_SANITIZER
# (address; `none` builds and runs faster), FUZZ_SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${FUZZ_SECS:-30}
TARGETS=${FUZZ_TARGETS:-request stream leaked config}
SANITIZER=${FUZZ_SANITIZER:-address}
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
OUT=target/fuzz-results.md
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
    echo "== building the fuzz targets (sanitizer: $SANITIZER)" >&2
    cargo fuzz build -s "$SANITIZER" --target-dir "$TARGET_DIR"
fi

# --- seed corpus: <flags byte><8 split-seed bytes><rest> (tests/properties/mod.rs)
seed() { # target name flags-hex seed-hex(16) [file]: rest from the file, else from stdin
    local dir=fuzz/corpus/$1 file=${5:-}
    mkdir -p "$dir"
    {
        printf "\\x$3"
        printf '%s' "$4" | sed 's/../\\x&/g' | xargs -0 printf
        if [[ -n $file ]]; then cat "$file"; else cat; fi
    } >"$dir/seed-$2"
}

for file in tests/fixtures/codex/*.json; do
    case $file in *.chat.json | *.headers.json) continue ;; esac
    name=$(basename "$file" .json)
    seed request "$name" 00 0000000000000000 "$file"
    seed request "$name-merge-key" 03 0000000000000000 "$file"
    seed request "$name-protect-search" 34 0000000000000000 "$file"
done
seed request structured 80 0000000000000000 tests/fixtures/codex/first_turn.json

chunk() { # one chat.completion.chunk frame with this delta and finish_reason
    printf 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}\n\n' "$1" "$2"
}
{
    printf ': heartbeat\n\n: x-clawrouter-debug profile=auto\n\n'
    chunk '{"role":"assistant","content":"Hello"}' null
    chunk '{"tool_calls":[{"id":"c1","type":"function","function":{"name":"exec_command","arguments":"{\"cmd\":\"ls\"}"}}]}' null
    chunk '{}' '"tool_calls"'
    printf 'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}\n\ndata: [DONE]\n\n'
} | seed stream clawrouter 00 0000000000000000
{
    chunk '{"role":"assistant","reasoning_content":"Thinking"}' null
    chunk '{"content":"<think>why</think>Héllo 🦀 "}' null
    chunk '{"content":"{\"name\": \"exec_command\", \"arguments\": {\"cmd\": \"ls\"}}"}' null
    chunk '{"tool_calls":[{"index":0,"id":"c1","function":{"name":"apply_patch","arguments":"{\"input\":\""}}]}' null
    chunk '{"tool_calls":[{"index":0,"function":{"arguments":"*** Begin Patch\\n\"}"}}]}' null
    chunk '{}' '"stop"'
    printf 'data: [DONE]\n\n'
} | sed 's/$/\r/' | seed stream openai-crlf 02 0123456789abcdef
{
    chunk '{"tool_calls":[{"index":0,"id":"s1","function":{"name":"web_search","arguments":"{\"query\":\"rust\"}"}}]}' '"tool_calls"'
    printf 'data: [DONE]\n\n'
} | seed stream web-search 01 00000000000000ff
printf 'data: {"error":{"message":"insufficient funds","status":402}}\n\n' |
    seed stream error 00 0000000000000000
printf '{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","reasoning_content":"r","tool_calls":[{"id":"c1","type":"function","function":{"name":"exec_command","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}' |
    seed stream completion 03 0000000000000101
seed stream structured 87 0011223344556677 tests/fixtures/codex/first_turn.json

printf 'I will list the files.\n\n```json\n{"name": "exec_command", "arguments": {"cmd": "ls -la"}}\n```\nThen more.' |
    seed leaked fenced 00 0000000000000003
printf 'Let me check.\n<tool_call>{"name":"view_image","arguments":{"path":"a.png"}}</tool_call>' |
    seed leaked tag 00 0000000000000001
printf '[{"name":"exec_command","arguments":{}},{"tool_calls":[{"type":"function","function":{"name":"mcp__demo__add_numbers","arguments":"{\\"a\\":1}"}}]}] {"result": {"name": "exec_command", "arguments": {}}}' |
    seed leaked nested 00 0000000000000002
seed leaked structured 80 0000000000000004 tests/fixtures/codex/first_turn.json

seed config documented 00 0000000000000000 conf/bridge.yaml
seed config documented-env 7f 0102030405060708 conf/bridge.yaml
seed config structured 80 0000000000000000 tests/fixtures/codex/first_turn.json

# --- runs
declare -A MAX_LEN=([request]=65536 [stream]=16384 [leaked]=16384 [config]=8192)
FAILED=()
ROWS=()
for target in $TARGETS; do
    mkdir -p "fuzz/artifacts/$target"
    before=$(find "fuzz/artifacts/$target" -type f | wc -l)
    log=$(mktemp)
    echo "== fuzz $target for ${SECS}s" >&2
    status=0
    cargo fuzz run -s "$SANITIZER" --target-dir "$TARGET_DIR" "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len="${MAX_LEN[$target]:-16384}" \
        -dict=fuzz/dict/tokens.dict -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(==[0-9]+==|thread|SUMMARY|.*panicked)' "$log" | head -20 >&2 || true
    execs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log" | tail -1)
    rate=$(awk '/stat::average_exec_per_sec/ {print $NF}' "$log" | tail -1)
    corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
    found=$(($(find "fuzz/artifacts/$target" -type f | wc -l) - before))
    if [[ $status != 0 ]]; then
        FAILED+=("$target")
        tail -40 "$log" >&2
    fi
    ROWS+=("| $target | ${SECS} s | ${execs:-?} | ${rate:-?} | $corpus | $found | $([[ $status == 0 ]] && echo ok || echo "FAILED ($status)") |")
    rm -f "$log"
done

mkdir -p target
{
    echo "# Fuzz smoke — $(date -u '+%Y-%m-%d %H:%M UTC'), sanitizer $SANITIZER, 1 worker"
    echo
    echo "| target | time | executions | exec/s | corpus | new crash files | result |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
} | tee "$OUT"
echo "(written to $OUT)" >&2
if ((${#FAILED[@]})); then
    echo "fuzz targets with findings: ${FAILED[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
