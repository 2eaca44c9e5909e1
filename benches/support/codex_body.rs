//! Codex-like request bodies and upstream answers for the benchmarks (`benches/translate.rs`)
//! and the load generator (`examples/bench_load.rs`). Deterministic: the same size always
//! gives the same bytes.
//!
//! A body starts from the real capture `tests/fixtures/codex/shell_call_followup.json`
//! (developer prompts, environment context, `exec_command`/`apply_patch` and six more tools
//! with JSON-schema parameters, `client_metadata`), gets four MCP-style function tools (a
//! dozen tools plus `web_search`), and is grown turn by turn until it reaches the wanted size:
//! each turn is a user message, an assistant message, a reasoning item with a foreign blob
//! (skipped by the translator, as OpenAI's are), an `exec_command` `function_call` with its
//! long `function_call_output` (a build log with quotes, backslashes, tabs and non-ASCII), and
//! an `apply_patch` `custom_tool_call` with its output. Bodies smaller than the capture keep
//! fewer tools and drop the skills prompt.

#![allow(dead_code)]

use serde_json::{json, Value};

const FIXTURE: &str = include_str!("../../tests/fixtures/codex/shell_call_followup.json");

/// Deterministic pseudo-random numbers (an LCG; quality does not matter here).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

const WORDS: &[&str] = &[
    "the",
    "bridge",
    "translates",
    "each",
    "request",
    "stream",
    "chunk",
    "into",
    "Responses",
    "events",
    "while",
    "Codex",
    "waits",
    "for",
    "tokens",
    "and",
    "tool",
    "calls",
    "upstream",
    "returns",
    "a",
    "completion",
    "with",
    "usage",
    "fix",
    "the",
    "failing",
    "test",
    "in",
    "src/proxy/responses.rs",
    "so",
    "that",
    "keep-alive",
    "works",
    "naïve",
    "café",
    "→",
];

fn sentence(rng: &mut Lcg, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    s.push('.');
    s
}

/// A long shell output: a cargo-test-like log with the characters JSON must escape.
fn shell_output(rng: &mut Lcg, lines: usize) -> String {
    let mut s = String::from(
        "Chunk ID: 9ed1de\nWall time: 1.2034 seconds\nProcess exited with code 101\nOriginal token count: 2210\nOutput:\n",
    );
    for i in 0..lines {
        match rng.next() % 4 {
            0 => s.push_str(&format!(
                "test translate::stream::tests::split_at_every_byte_{i} ... ok\n"
            )),
            1 => s.push_str(&format!(
                "   Compiling clawrouter-codex v0.1.0 (/tmp/work) \"{}\"\n",
                sentence(rng, 4)
            )),
            2 => s.push_str(&format!(
                "error[E0308]: mismatched types\n  --> src\\proxy\\responses.rs:{i}:9\n\t|\n\t= note: expected `Vec<u8>`, found `&str` — {}\n",
                sentence(rng, 6)
            )),
            _ => s.push_str(&format!(
                "{{\"level\":\"debug\",\"msg\":\"{}\",\"n\":{i}}}\n",
                sentence(rng, 8)
            )),
        }
    }
    s
}

fn patch(rng: &mut Lcg, turn: usize, lines: usize) -> String {
    let mut s = format!("*** Begin Patch\n*** Update File: src/module_{turn}.rs\n@@ fn handle()\n");
    for i in 0..lines {
        let line = sentence(rng, 6);
        match i % 3 {
            0 => s.push_str(&format!("-    let old_{i} = \"{line}\";\n")),
            1 => s.push_str(&format!("+    let new_{i} = \"{line}\";\n")),
            _ => s.push_str(&format!("     // {line}\n")),
        }
    }
    s.push_str("*** End Patch\n");
    s
}

fn mcp_tool(name: &str, description: &str) -> Value {
    json!({
        "type": "function",
        "name": name,
        "description": description,
        "strict": false,
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for, in plain words."},
                "path": {"type": "string", "description": "Repository-relative path to search under."},
                "limit": {"type": "integer", "description": "Largest number of results.", "minimum": 1, "maximum": 200},
                "filters": {
                    "type": "array",
                    "description": "Optional filters, applied in order.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string", "enum": ["path", "language", "author", "date"]},
                            "value": {"type": "string"}
                        },
                        "required": ["field", "value"],
                        "additionalProperties": false
                    }
                }
            },
            "required": ["query"],
            "additionalProperties": false
        }
    })
}

fn turn(rng: &mut Lcg, n: usize, output_lines: usize) -> Vec<Value> {
    let call = format!("call_exec_{n}");
    let patch_call = format!("call_patch_{n}");
    vec![
        json!({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": sentence(rng, 30)}
        ]}),
        json!({"type": "reasoning", "id": format!("rs_{n}"), "summary": [],
               "encrypted_content": format!("gAAAAB{}", "x".repeat(200))}),
        json!({"type": "message", "role": "assistant", "id": format!("msg_a{n}"), "content": [
            {"type": "output_text", "text": sentence(rng, 40)}
        ]}),
        json!({"type": "function_call", "id": format!("fc_{n}"), "name": "exec_command",
               "call_id": call,
               "arguments": json!({"cmd": format!("cargo test --all-targets 2>&1 | tail -n {}", 50 + n), "workdir": "/tmp/work", "yield_time_ms": 10000}).to_string()}),
        json!({"type": "function_call_output", "call_id": call,
               "output": shell_output(rng, output_lines)}),
        json!({"type": "custom_tool_call", "id": format!("ctc_{n}"), "status": "completed",
               "call_id": patch_call, "name": "apply_patch", "input": patch(rng, n, 24)}),
        json!({"type": "custom_tool_call_output", "call_id": patch_call,
               "output": "Exit code: 0\nWall time: 0 seconds\nOutput:\nSuccess. Updated the following files:\nM src/module.rs\n"}),
    ]
}

/// A Codex-like Responses request body of about `target` bytes (never much more than 1 turn
/// past it), `stream` as given.
pub fn responses_body(target: usize, stream: bool) -> Vec<u8> {
    let mut body: Value = serde_json::from_str(FIXTURE).expect("fixture is JSON");
    body["stream"] = json!(stream);
    {
        let tools = body["tools"].as_array_mut().expect("fixture has tools");
        tools.push(mcp_tool(
            "mcp__github__search_code",
            "Search code in the repository's GitHub mirror.",
        ));
        tools.push(mcp_tool(
            "mcp__github__list_issues",
            "List issues matching a query.",
        ));
        tools.push(mcp_tool(
            "mcp__docs__lookup",
            "Look a symbol up in the documentation index.",
        ));
        tools.push(mcp_tool(
            "mcp__ci__logs",
            "Fetch the logs of the latest CI run.",
        ));
    }
    let size = |b: &Value| serde_json::to_vec(b).expect("serializable").len();
    // Smaller than the capture: fewer tools (exec_command and apply_patch stay), no skills.
    while size(&body) > target {
        let tools = body["tools"].as_array_mut().expect("tools");
        if tools.len() > 4 {
            // Drop the last tool that is neither exec_command nor apply_patch.
            let at = tools
                .iter()
                .rposition(|t| !matches!(t["name"].as_str(), Some("exec_command" | "apply_patch")))
                .expect("a droppable tool");
            tools.remove(at);
        } else if body["input"].as_array().expect("input").len() > 5 {
            body["input"].as_array_mut().expect("input").remove(1);
        } else {
            break;
        }
    }
    let mut rng = Lcg(0x5eed);
    let mut n = 0;
    let mut current = size(&body);
    while current < target {
        // Outputs grow with the body: long histories carry long tool outputs.
        let lines = ((target - current) / 120).clamp(4, 120);
        let items = turn(&mut rng, n, lines);
        current += items.iter().map(|i| size(i) + 1).sum::<usize>();
        body["input"].as_array_mut().expect("input").extend(items);
        n += 1;
    }
    serde_json::to_vec(&body).expect("serializable")
}

/// A minimal Responses request: one short user message, no tools.
pub fn small_responses_body(stream: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "test-model",
        "instructions": "You are a helpful coding assistant.",
        "input": [{"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Say hello in one short sentence."}
        ]}],
        "store": false,
        "stream": stream
    }))
    .expect("serializable")
}

/// A `chat.completion` answer with text and two tool calls (exec_command, apply_patch).
pub fn chat_completion_json() -> Vec<u8> {
    let mut rng = Lcg(7);
    let text = (0..6)
        .map(|_| sentence(&mut rng, 25))
        .collect::<Vec<_>>()
        .join(" ");
    serde_json::to_vec(&json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1795528920u64,
        "model": "test-model",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": text,
                "tool_calls": [
                    {"id": "call_b1", "type": "function", "function": {
                        "name": "exec_command",
                        "arguments": "{\"cmd\":\"cargo test --all-targets\",\"workdir\":\"/tmp/work\"}"}},
                    {"id": "call_b2", "type": "function", "function": {
                        "name": "apply_patch",
                        "arguments": json!({"input": patch(&mut rng, 0, 12)}).to_string()}}
                ]
            },
            "finish_reason": "tool_calls"
        }],
        "usage": {"prompt_tokens": 25000, "completion_tokens": 412, "total_tokens": 25412,
                  "prompt_tokens_details": {"cached_tokens": 24000}}
    }))
    .expect("serializable")
}

/// A plain-text `chat.completion` (the load benchmark's answer: a short reply).
pub fn chat_completion_text_json() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1795528920u64,
        "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant",
            "content": "Hello! How can I help you with your code today?"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}
    }))
    .expect("serializable")
}

/// One SSE frame of an OpenAI-style chunk.
fn frame(v: &Value) -> Vec<u8> {
    let mut f = b"data: ".to_vec();
    f.extend_from_slice(&serde_json::to_vec(v).expect("serializable"));
    f.extend_from_slice(b"\n\n");
    f
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1795528920u64,
           "model": "test-model",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

/// An OpenAI-style streamed answer as separate SSE frames: a role chunk, `text_chunks` text
/// deltas of a few words, one exec_command call streamed in argument fragments (by `index`),
/// a finish chunk, a usage chunk, `[DONE]`.
pub fn openai_stream_frames(text_chunks: usize) -> Vec<Vec<u8>> {
    let mut rng = Lcg(11);
    let mut frames = vec![frame(&chunk(
        json!({"role": "assistant", "content": ""}),
        None,
    ))];
    for _ in 0..text_chunks {
        let words = 1 + (rng.next() % 4) as usize;
        let mut piece = sentence(&mut rng, words);
        piece.push(' ');
        frames.push(frame(&chunk(json!({"content": piece}), None)));
    }
    frames.push(frame(&chunk(
        json!({"tool_calls": [{"index": 0, "id": "call_s1", "type": "function",
               "function": {"name": "exec_command", "arguments": ""}}]}),
        None,
    )));
    for piece in [
        "{\"cmd\":",
        "\"cargo test",
        " --all-targets\"",
        ",\"workdir\":\"/tmp/work\"}",
    ] {
        frames.push(frame(&chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
            None,
        )));
    }
    frames.push(frame(&chunk(json!({}), Some("tool_calls"))));
    frames.push(frame(
        &json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
        "created": 1795528920u64, "model": "test-model", "choices": [],
        "usage": {"prompt_tokens": 25000, "completion_tokens": 412, "total_tokens": 25412}}),
    ));
    frames.push(b"data: [DONE]\n\n".to_vec());
    frames
}

/// A ClawRouter-shaped streamed answer: heartbeat comments while it pays and waits, then the
/// whole answer in a few big frames (text, then each tool call whole without `index`), a
/// `choices: []` usage chunk with `cost`, `[DONE]`; CRLF line ends.
pub fn clawrouter_stream_frames(heartbeats: usize) -> Vec<Vec<u8>> {
    let mut rng = Lcg(13);
    let mut frames: Vec<Vec<u8>> = (0..heartbeats)
        .map(|_| b": heartbeat\r\n\r\n".to_vec())
        .collect();
    let crlf = |v: &Value| {
        let mut f = b"data: ".to_vec();
        f.extend_from_slice(&serde_json::to_vec(v).expect("serializable"));
        f.extend_from_slice(b"\r\n\r\n");
        f
    };
    let text = (0..8)
        .map(|_| sentence(&mut rng, 25))
        .collect::<Vec<_>>()
        .join(" ");
    frames.push(crlf(&chunk(
        json!({"role": "assistant", "content": text}),
        None,
    )));
    frames.push(crlf(&chunk(
        json!({"tool_calls": [{"id": "call_c1", "type": "function", "function": {
            "name": "exec_command",
            "arguments": "{\"cmd\":\"cargo test --all-targets\",\"workdir\":\"/tmp/work\"}"}}]}),
        None,
    )));
    frames.push(crlf(&chunk(
        json!({"tool_calls": [{"id": "call_c2", "type": "function", "function": {
            "name": "apply_patch",
            "arguments": json!({"input": patch(&mut rng, 1, 12)}).to_string()}}]}),
        None,
    )));
    frames.push(crlf(&chunk(json!({}), Some("tool_calls"))));
    frames.push(crlf(
        &json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
        "created": 1795528920u64, "model": "test-model", "choices": [],
        "usage": {"prompt_tokens": 25000, "completion_tokens": 412, "total_tokens": 25412,
                  "cost": 0.0123}}),
    ));
    frames.push(b"data: [DONE]\r\n\r\n".to_vec());
    frames
}
