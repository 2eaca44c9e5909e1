//! Living with what the real ClawRouter does to requests, against a mock that does the same
//! (tests/common/mock_upstream/clawrouter.rs): its whitespace rewriting of big bodies must not
//! reach code the model reads, and its 30-second replay of identical bodies (failures included)
//! must not swallow Codex's retries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::bridge::BridgeGuard;
use common::client::post_json;
use common::codex::{run_codex, CodexHome};
use common::mock_upstream::{content_text, ChatCall, FreeFallback, MockUpstream, Reply};
use serde_json::{json, Value};

const MAKEFILE: &str = "CC = cc\nCFLAGS  = -O2 -Wall\n\nall: app\n\napp: main.o util.o\n\t$(CC) $(CFLAGS) -o app main.o util.o\n\nclean:\n\trm -f app *.o\n";

/// About 7 KB of indented Python, different for each `n`.
fn python_module(n: usize) -> String {
    let mut s = String::new();
    for f in 0..70 {
        s.push_str(&format!(
            "def handler_{n}_{f}(request):\n    if request.ok:\n        return  {{'status':  200}}\n    return None\n\n"
        ));
    }
    s
}

/// A manifest as an MCP tool returns it: JSON indented by two spaces (which ClawRouter's
/// whitespace rules leave alone, but its JSON layer compacts).
const MANIFEST: &str = "{\n  \"name\": \"app\",\n  \"version\": \"1.0.0\",\n  \"scripts\": {\n    \"build\": \"make\"\n  }\n}";

/// A Codex-shaped history of 30 tool turns (> 180 KB): turn 1 reads the Makefile, turn 2 the
/// manifest (through an MCP tool), every later turn a Python module; then the user asks for a
/// change.
fn long_session() -> Value {
    let mut input = vec![
        json!({"type": "message", "role": "developer",
               "content": [{"type": "input_text", "text": "You are Codex."}]}),
        json!({"type": "message", "role": "user",
               "content": [{"type": "input_text", "text": "Tidy up the build."}]}),
    ];
    for turn in 1..=30 {
        let id = format!("call_{turn}");
        let (name, args, out) = match turn {
            1 => (
                "exec_command",
                json!({"cmd": "cat Makefile"}),
                MAKEFILE.to_owned(),
            ),
            2 => ("mcp__npm__manifest", json!({}), MANIFEST.to_owned()),
            _ => (
                "exec_command",
                json!({"cmd": format!("cat mod{turn}.py")}),
                python_module(turn),
            ),
        };
        input.push(json!({"type": "function_call", "call_id": id, "name": name,
                          "arguments": args.to_string()}));
        input.push(json!({"type": "function_call_output", "call_id": id, "output": out}));
    }
    input.push(json!({"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "Now add -g to CFLAGS."}]}));
    json!({"model": "blockrun/auto", "stream": false, "input": input,
           "tools": [{"type": "function", "name": "exec_command", "strict": false,
                      "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
                     {"type": "function", "name": "mcp__npm__manifest", "strict": false,
                      "parameters": {"type": "object", "properties": {}}}]})
}

/// What the model saw of the long session's first two tool outputs, and what was sent.
struct Seen {
    makefile: String,
    manifest: String,
    /// String contents ClawRouter's compression rewrote.
    rewritten: usize,
    /// The Chat body's size.
    size: usize,
    /// The Chat body's first message (the instructions), as sent.
    instructions: Value,
}

/// Sends the long session through a bridge with `preserve_whitespace` to a mock that
/// compresses like ClawRouter, and returns what the model saw.
fn seen_by_the_model(preserve_whitespace: Option<&str>) -> Seen {
    let seen = Arc::new(Mutex::new((String::new(), String::new())));
    let seen_by_script = seen.clone();
    let mock = MockUpstream::builder()
        .compress_like_clawrouter()
        .start(move |call: &ChatCall| {
            let output = |id: &str| {
                call.messages()
                    .iter()
                    .find(|m| m["role"] == "tool" && m["tool_call_id"] == id)
                    .map(content_text)
                    .unwrap_or_default()
            };
            *seen_by_script.lock().unwrap() = (output("call_1"), output("call_2"));
            Reply::text("Done.")
        });
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        if let Some(upstream) = file.upstream.as_mut() {
            upstream.preserve_whitespace = preserve_whitespace.map(str::to_owned);
        }
    });
    let answer = post_json(&bridge.url("/v1/responses"), &long_session());
    assert_eq!(answer.status, 200, "{}", answer.body);
    mock.assert_no_rejections();
    let chat = mock.requests().into_iter().find(|r| r.is_chat()).unwrap();
    let (makefile, manifest) = seen.lock().unwrap().clone();
    Seen {
        makefile,
        manifest,
        rewritten: mock.rewritten_contents(),
        size: chat.body.len(),
        instructions: serde_json::from_slice::<Value>(&chat.body).unwrap()["messages"][0].clone(),
    }
}

#[test]
fn code_whitespace_reaches_the_model_byte_exact_in_a_long_session() {
    let seen = seen_by_the_model(None);
    assert!(
        seen.size > 180 * 1024,
        "the session is big enough to be rewritten: {} bytes",
        seen.size
    );
    assert_eq!(
        seen.makefile, MAKEFILE,
        "turn 1's Makefile as the model reads it in turn 30"
    );
    assert_eq!(seen.manifest, MANIFEST, "turn 2's JSON, not compacted");
    assert_eq!(
        seen.instructions,
        json!({"role": "system", "content": "You are Codex."}),
        "the instructions stay a string, for ClawRouter's router"
    );
    assert_eq!(
        seen.rewritten, 0,
        "ClawRouter found no string content to rewrite"
    );
}

#[test]
fn without_protection_clawrouter_mangles_the_makefile() {
    // The control: proves the test above can fail, and shows what the model would read.
    let seen = seen_by_the_model(Some("never"));
    assert!(seen.rewritten > 0);
    assert_eq!(
        seen.makefile,
        "CC = cc\nCFLAGS = -O2 -Wall\n\nall: app\n\napp: main.o util.o\n  $(CC) $(CFLAGS) -o app main.o util.o\n\nclean:\n  rm -f app *.o",
        "tabs became spaces, the aligned `=` lost a space, the last newline went"
    );
    assert_eq!(
        seen.manifest,
        r#"{"name":"app","version":"1.0.0","scripts":{"build":"make"}}"#
    );
}

#[test]
fn small_requests_stay_plain_strings() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a\tb"}]}]});
    assert_eq!(post_json(&bridge.url("/v1/responses"), &body).status, 200);
    let call = &mock.chat_calls()[0];
    assert_eq!(call.messages()[0]["content"], "a\tb");
}

// ---- ClawRouter's 30 s replay -----------------------------------------------------------

/// A mock that replays like ClawRouter, failing the first `failures` model calls with 500.
fn replaying_mock(failures: usize) -> MockUpstream {
    MockUpstream::builder()
        .replay_like_clawrouter(Duration::from_secs(30))
        .start(move |call: &ChatCall| {
            if call.index < failures {
                Reply::json(
                    500,
                    json!({"error": {"message": "upstream overloaded", "type": "server_error"}}),
                )
            } else {
                Reply::text("Recovered.")
            }
        })
}

fn request() -> Value {
    json!({"model": "blockrun/auto", "stream": false, "input": "Say something."})
}

#[test]
fn the_mock_replays_an_identical_failed_request_like_clawrouter() {
    // The control for the next test: the same Chat body twice, straight to the mock.
    let mock = replaying_mock(1);
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let url = format!("{}/chat/completions", mock.base_url());
    assert_eq!(post_json(&url, &body).status, 500);
    assert_eq!(
        post_json(&url, &body).status,
        500,
        "replayed, even though the model recovered"
    );
    assert_eq!(mock.replayed(), 1);
    assert_eq!(mock.chat_calls().len(), 1);
}

#[test]
fn retries_of_a_failed_request_reach_the_model() {
    let mock = replaying_mock(2);
    let bridge = BridgeGuard::start(&mock.base_url());
    let url = bridge.url("/v1/responses");
    assert_eq!(post_json(&url, &request()).status, 502);
    assert_eq!(
        post_json(&url, &request()).status,
        502,
        "the model failed again"
    );
    let answer = post_json(&url, &request());
    assert_eq!(
        answer.status,
        200,
        "{} replayed={} calls={:?}",
        answer.body,
        mock.replayed(),
        mock.chat_calls()
            .iter()
            .map(|c| c.messages().to_vec())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        mock.replayed(),
        0,
        "no retry was answered from ClawRouter's memory"
    );
    let calls = mock.chat_calls();
    assert_eq!(calls.len(), 3);
    let last_user = |call: &ChatCall| content_text(call.messages().last().unwrap());
    assert_eq!(last_user(&calls[0]), "Say something.");
    assert_eq!(last_user(&calls[1]), "Say something.\n");
    assert_eq!(last_user(&calls[2]), "Say something.\n\n");
    // Within ClawRouter's window the same request again is sent like the retry that
    // succeeded (whose answer ClawRouter may replay), never like the ones that failed.
    let again = post_json(&url, &request());
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains("Recovered."));
}

#[test]
fn requests_that_did_not_fail_are_never_nudged() {
    let mock = MockUpstream::start(|_| Reply::text("fine"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let url = bridge.url("/v1/responses");
    for _ in 0..3 {
        assert_eq!(post_json(&url, &request()).status, 200);
    }
    let bodies: Vec<Vec<u8>> = mock
        .requests()
        .into_iter()
        .filter(|r| r.is_chat())
        .map(|r| r.body)
        .collect();
    assert_eq!(bodies.len(), 3);
    assert!(bodies.iter().all(|b| b == &bodies[0]));
}

// ---- the real Codex CLI -----------------------------------------------------------------

/// Codex reads a tab-indented Makefile, then big files until its history is over 180 KB, then
/// patches the Makefile with context lines copied from what the model saw of it. Returns the
/// Makefile afterwards and the largest Chat body the upstream got.
fn codex_patch_session(preserve_whitespace: Option<&str>) -> (String, usize) {
    const READS: usize = 10;
    let mock = MockUpstream::builder()
        .compress_like_clawrouter()
        .start(|call: &ChatCall| {
            let tool_turns = call.messages().iter().filter(|m| m["role"] == "tool").count();
            match tool_turns {
                0 => Reply::tool_calls(vec![("exec_command", json!({"cmd": "cat Makefile"}))]),
                n if n <= READS => Reply::tool_calls(vec![(
                    "exec_command",
                    json!({"cmd": format!("cat big{n}.py")}),
                )]),
                n if n == READS + 1 => {
                    // The Makefile as this model call shows it: patch with those very lines.
                    let first_output = call
                        .messages()
                        .iter()
                        .find(|m| m["role"] == "tool")
                        .map(content_text)
                        .unwrap_or_default();
                    let start = first_output.find("CC =").unwrap_or(0);
                    let lines: Vec<&str> = first_output[start..].lines().take(7).collect();
                    let patch = format!(
                        "*** Begin Patch\n*** Update File: Makefile\n@@\n {}\n-{}\n+CFLAGS  = -O2 -Wall -g\n {}\n {}\n {}\n {}\n {}\n*** End Patch\n",
                        lines[0], lines[1], lines[2], lines[3], lines[4], lines[5], lines[6]
                    );
                    Reply::tool_calls(vec![("apply_patch", json!({"input": patch}))])
                }
                _ => Reply::text("Done."),
            }
        });
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        if let Some(upstream) = file.upstream.as_mut() {
            upstream.preserve_whitespace = preserve_whitespace.map(str::to_owned);
        }
    });
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("Makefile"), MAKEFILE).unwrap();
    for n in 1..=READS {
        std::fs::write(
            work.path().join(format!("big{n}.py")),
            python_module(n).repeat(3),
        )
        .unwrap();
    }
    let run = run_codex(
        &home,
        work.path(),
        "Add -g to CFLAGS in the Makefile",
        Duration::from_secs(180),
    );
    run.assert_success();
    mock.assert_no_rejections();
    let biggest = mock
        .requests()
        .iter()
        .filter(|r| r.is_chat())
        .map(|r| r.body.len())
        .max()
        .unwrap_or(0);
    let makefile = std::fs::read_to_string(work.path().join("Makefile")).unwrap();
    (makefile, biggest)
}

#[test]
fn codex_patches_a_tab_indented_makefile_after_a_long_history() {
    let (makefile, biggest) = codex_patch_session(None);
    assert!(
        biggest > 180 * 1024,
        "the history grew past 180 KB: {biggest} bytes"
    );
    assert_eq!(
        makefile,
        MAKEFILE.replace("CFLAGS  = -O2 -Wall\n", "CFLAGS  = -O2 -Wall -g\n"),
        "the patch applied, tabs intact"
    );
    // The control: through ClawRouter's rewriting the model's patch no longer matches.
    let (makefile, _) = codex_patch_session(Some("never"));
    assert_eq!(makefile, MAKEFILE, "the mangled context did not apply");
}

/// The user's case: the model fails once, Codex retries at once with the same request, and
/// the retry gets the model's answer instead of ClawRouter's replay of the failure.
#[test]
fn codex_retry_after_a_500_gets_the_answer() {
    let mock = replaying_mock(1);
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(
        &home,
        work.path(),
        "Say something.",
        Duration::from_secs(120),
    );
    run.assert_success();
    assert_eq!(run.final_message.as_deref(), Some("Recovered."));
    assert_eq!(mock.replayed(), 0);
    assert_eq!(mock.chat_calls().len(), 2);
}

// ---- an unfunded wallet: a free model answers (translate/model_notice.rs) ------------------

const PAID: &str = "anthropic/claude-sonnet-4.6";
const LINE: &str = "Note: ClawRouter answered with the free model nvidia/gpt-oss-120b instead of \
     anthropic/claude-sonnet-4.6 — the wallet could not pay. Fund it: `clawrouter-codex wallet`.";

/// A bridge on a mock ClawRouter whose wallet cannot pay (`fallback`), answering `Hi!`.
fn unfunded(fallback: FreeFallback) -> (MockUpstream, BridgeGuard) {
    let mock = MockUpstream::builder()
        .wallet_cannot_pay(fallback)
        .start(|_| Reply::text("Hi!\n\n  indented"));
    let bridge = BridgeGuard::start(&mock.base_url());
    (mock, bridge)
}

/// The text Codex shows for an answer to `model`, streamed (the deltas, checked against the
/// final `output`) or not (the Response object's message items).
fn text_shown(bridge: &BridgeGuard, model: &str, stream: bool) -> String {
    let body = json!({"model": model, "stream": stream, "input": "Say hi."});
    let answer = post_json(&bridge.url("/v1/responses"), &body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    if !stream {
        return message_text(&answer.json());
    }
    let events = answer.events();
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap().to_owned())
        .collect();
    let done = events.last().unwrap();
    assert_eq!(done["type"], "response.completed");
    assert_eq!(message_text(&done["response"]), deltas);
    deltas
}

/// The text of a Response object's message items.
fn message_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "message")
        .map(|item| item["content"][0]["text"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_silent_free_model_fallback_is_announced_in_one_line() {
    let (mock, bridge) = unfunded(FreeFallback::Silent);
    // Streaming first, as Codex always does: that request tells the bridge it talks to ClawRouter.
    for stream in [true, false] {
        let text = text_shown(&bridge, PAID, stream);
        assert_eq!(
            text,
            format!("{LINE}\n\nHi!\n\n  indented"),
            "stream: {stream}"
        );
    }
    // A profile is as paid as a model.
    assert!(text_shown(&bridge, "blockrun/auto", true).starts_with(
        "Note: ClawRouter answered with the free model nvidia/gpt-oss-120b instead of \
         blockrun/auto"
    ));
    // The model list is asked for once, not per request.
    let lists = mock
        .requests()
        .iter()
        .filter(|r| r.route() == "/v1/models")
        .count();
    assert_eq!(lists, 1);
    mock.assert_no_rejections();
}

#[test]
fn clawrouters_balance_notice_is_kept_and_not_doubled() {
    let (_mock, bridge) = unfunded(FreeFallback::PreCheck);
    for stream in [true, false] {
        let text = text_shown(&bridge, PAID, stream);
        assert!(
            text.starts_with(
                "> **⚠️ Insufficient balance** ($0.00) — using free model instead of \
                 anthropic/claude-sonnet-4.6."
            ),
            "{text}"
        );
        assert!(text.ends_with(".\n\nHi!\n\n  indented"), "{text}");
        assert!(!text.contains("Note:"), "one notice, not two: {text}");
    }
}

#[test]
fn asking_for_a_free_model_or_paying_brings_no_line() {
    let (_mock, bridge) = unfunded(FreeFallback::Silent);
    assert_eq!(
        text_shown(&bridge, "free/gpt-oss-120b", true),
        "Hi!\n\n  indented"
    );
    let funded = MockUpstream::start(|_| Reply::text("Hi!"));
    let bridge = BridgeGuard::start(&funded.base_url());
    assert_eq!(text_shown(&bridge, PAID, true), "Hi!");
}
